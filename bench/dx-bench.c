/*
 * dx-bench: what a libdaxrdma-client application sees, timed. Uses only the
 * public API. One line of key=value results per run, for bench/guest-bench.sh.
 *
 *   dx-bench HOST EXPORT PATH stat SIZE COUNT
 *       COUNT STAT requests: the control path's round trip (SEND, the
 *       daemon's event loop, SEND back). Prints us_per_stat.
 *   dx-bench HOST EXPORT PATH cycle SIZE COUNT
 *       COUNT times: LAYOUT_GET (RW) of SIZE bytes, then LAYOUT_RETURN.
 *       Prints us_per_cycle: the grant and return cost (sealing, MR
 *       registration, and in bounce mode the staging copies). With
 *       $DX_HOLD=N, the client first takes N READ layouts of 4 KiB past SIZE
 *       and holds them meanwhile: what a grant costs among many layouts.
 *   dx-bench HOST EXPORT PATH write SIZE CHUNK
 *       One RW layout of SIZE bytes; RDMA WRITE it in CHUNK pieces, then one
 *       COMMIT. Prints get_ms, write_MBps, commit_MBps, return_ms.
 *   dx-bench HOST EXPORT PATH lat SIZE COUNT
 *       One RW layout of SIZE bytes; COUNT times RDMA WRITE it and COMMIT:
 *       the latency of a small persistent write. Prints median_us, p99_us.
 *       $DX_BUSY_POLL_US sets the client's busy_poll_us; $DX_COMMIT_MESSAGE
 *       sends COMMIT even where one-sided persistence is on offer, and
 *       $DX_NO_RDMA_FLUSH persists one-sided by READ where FLUSH is. Prints
 *       persist=commit|read-after-write|rdma-flush too.
 *   dx-bench HOST EXPORT PATH read SIZE CHUNK
 *       One READ layout; RDMA READ it in CHUNK pieces. Prints get_ms, read_MBps.
 *
 * PATH is created (and allocated to SIZE) in EXPORT if needed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "daxrdma.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void logger(void *arg, int prio, const char *msg)
{
	fprintf(stderr, "dx-bench: %s\n", msg);
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "dx-bench: %s: %s\n", what, strerror(-err));
	return 1;
}

static double mbps(uint64_t bytes, double s)
{
	return s > 0 ? (double)bytes / s / 1e6 : 0;
}

/* COUNT cycles of GET and RETURN of [0, SIZE), timed, while HOLD READ
 * layouts of 4 KiB past SIZE are held. */
static int cycles(struct daxrdma_file *f, uint64_t size, unsigned long count, unsigned long hold,
		  struct daxrdma_layout **held)
{
	struct daxrdma_layout *l;
	double t0;
	int ret = 0;

	for (unsigned long i = 0; i < hold && !ret; i++)
		ret = daxrdma_layout_get(f, size + i * 4096, 4096, DAXRDMA_READ, &held[i]);
	if (ret)
		return fail("layout_get (held)", ret);
	t0 = now_s();
	for (unsigned long i = 0; i < count; i++) {
		ret = daxrdma_layout_get(f, 0, size, DAXRDMA_RW, &l);
		if (ret)
			return fail("layout_get", ret);
		ret = daxrdma_layout_return(&l);
		if (ret)
			return fail("layout_return", ret);
	}
	printf("cycle size=%llu count=%lu held=%lu us_per_cycle=%.0f\n", (unsigned long long)size, count, hold,
	       (now_s() - t0) / (double)count * 1e6);
	return 0;
}

static int bench_cycle(struct daxrdma_file *f, uint64_t size, unsigned long count, unsigned long hold)
{
	struct daxrdma_layout **held = calloc(hold + 1, sizeof(struct daxrdma_layout *));
	int ret;

	if (!held)
		return fail("calloc", -ENOMEM);
	ret = cycles(f, size, count, hold, held);
	for (unsigned long i = 0; i < hold; i++)
		if (held[i])
			daxrdma_layout_return(&held[i]);
	free(held);
	return ret;
}

static int bench_stat(struct daxrdma_file *f, unsigned long count)
{
	struct daxrdma_stat st;
	double t0 = now_s();
	int ret;

	for (unsigned long i = 0; i < count; i++) {
		ret = daxrdma_stat(f, &st);
		if (ret)
			return fail("stat", ret);
	}
	printf("stat count=%lu us_per_stat=%.0f\n", count, (now_s() - t0) / (double)count * 1e6);
	return 0;
}

static int bench_data(struct daxrdma_file *f, bool write, uint64_t size, size_t chunk, uint8_t *buf)
{
	struct daxrdma_layout *l;
	double t0, t1, t2, t3;
	int ret;

	t0 = now_s();
	ret = daxrdma_layout_get(f, 0, size, write ? DAXRDMA_RW : DAXRDMA_READ, &l);
	if (ret)
		return fail("layout_get", ret);
	t1 = now_s();
	for (uint64_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? (size_t)(size - off) : chunk;

		ret = write ? daxrdma_write(l, off, buf, n) : daxrdma_read(l, off, buf, n);
		if (ret)
			return fail(write ? "write" : "read", ret);
	}
	t2 = now_s();
	if (write) {
		ret = daxrdma_commit(l, 0, size);
		if (ret)
			return fail("commit", ret);
	}
	t3 = now_s();
	ret = daxrdma_layout_return(&l);
	if (ret)
		return fail("layout_return", ret);
	if (write)
		printf("write size=%llu chunk=%zu get_ms=%.1f write_MBps=%.1f commit_MBps=%.1f return_ms=%.1f\n",
		       (unsigned long long)size, chunk, (t1 - t0) * 1e3, mbps(size, t2 - t1), mbps(size, t3 - t2),
		       (now_s() - t3) * 1e3);
	else
		printf("read size=%llu chunk=%zu get_ms=%.1f read_MBps=%.1f\n", (unsigned long long)size, chunk,
		       (t1 - t0) * 1e3, mbps(size, t2 - t1));
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* COUNT times: RDMA WRITE SIZE bytes at 0 and COMMIT them: a small
 * persistent write's latency, median and 99th percentile. */
static int bench_lat(struct daxrdma_file *f, uint64_t size, unsigned long count, uint8_t *buf)
{
	double *t = calloc(count, sizeof(*t));
	struct daxrdma_layout *l;
	int ret, method = 0;

	if (!t)
		return fail("calloc", -ENOMEM);
	ret = daxrdma_layout_get(f, 0, size, DAXRDMA_RW, &l);
	for (unsigned long i = 0; i < count && !ret; i++) {
		double t0 = now_s();

		buf[0] = (uint8_t)i;
		ret = daxrdma_write(l, 0, buf, (size_t)size);
		if (!ret)
			ret = daxrdma_commit_method(l, 0, size, &method);
		t[i] = (now_s() - t0) * 1e6;
	}
	if (!ret)
		ret = daxrdma_layout_return(&l);
	if (ret) {
		free(t);
		return fail("lat", ret);
	}
	qsort(t, count, sizeof(*t), cmp_double);
	printf("lat size=%llu count=%lu median_us=%.1f p99_us=%.1f persist=%s\n", (unsigned long long)size, count,
	       t[count / 2], t[count * 99 / 100], method == DAXRDMA_PERSIST_FLUSH ? "rdma-flush"
	       : method == DAXRDMA_PERSIST_READ_AFTER_WRITE ? "read-after-write" : "commit");
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	const char *env = getenv("DX_BUSY_POLL_US");
	struct daxrdma_client_opts o = { .size = sizeof(o), .log = logger, .log_level = LOG_ERR, .timeout_ms = 30000,
					 .busy_poll_us = env ? (unsigned int)atoi(env) : 0,
					 .flags = (getenv("DX_COMMIT_MESSAGE") ? DAXRDMA_COMMIT_MESSAGE : 0) |
						  (getenv("DX_NO_RDMA_FLUSH") ? DAXRDMA_NO_RDMA_FLUSH : 0) };
	struct daxrdma_client *c = NULL;
	struct daxrdma_file *f = NULL;
	uint64_t size;
	unsigned long n, hold;
	uint8_t *buf = NULL;
	int ret;

	if (argc != 7) {
		fprintf(stderr, "usage: dx-bench HOST EXPORT PATH stat|cycle|lat|write|read SIZE COUNT|CHUNK\n");
		return 2;
	}
	size = strtoull(argv[5], NULL, 0);
	n = strtoul(argv[6], NULL, 0);
	env = getenv("DX_HOLD");
	hold = env ? strtoul(env, NULL, 0) : 0;
	if (!size || !n) {
		fprintf(stderr, "dx-bench: SIZE and COUNT|CHUNK must be positive\n");
		return 2;
	}
	ret = daxrdma_client_new(&o, &c);
	if (!ret)
		ret = daxrdma_connect(c, argv[1], getenv("DX_PORT"));
	if (!ret)
		ret = daxrdma_open(c, argv[2], argv[3], DAXRDMA_O_RDWR | DAXRDMA_O_CREAT, 0644, &f);
	if (!ret)
		ret = daxrdma_allocate(f, 0, size + hold * 4096);
	if (ret) {
		daxrdma_client_delete(&c);
		return fail("setup", ret);
	}
	if (!strcmp(argv[4], "stat")) {
		ret = bench_stat(f, n);
	} else if (!strcmp(argv[4], "cycle")) {
		ret = bench_cycle(f, size, n, hold);
	} else if (!strcmp(argv[4], "lat")) {
		buf = calloc(1, size);
		ret = buf ? bench_lat(f, size, n, buf) : fail("calloc", -ENOMEM);
	} else if (!strcmp(argv[4], "write") || !strcmp(argv[4], "read")) {
		buf = calloc(1, n);
		ret = buf ? bench_data(f, argv[4][0] == 'w', size, n, buf) : fail("calloc", -ENOMEM);
	} else {
		fprintf(stderr, "dx-bench: unknown benchmark %s\n", argv[4]);
		ret = 2;
	}
	free(buf);
	daxrdma_close(&f);
	daxrdma_client_delete(&c);
	return ret;
}
