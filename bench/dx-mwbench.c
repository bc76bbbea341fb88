/*
 * dx-mwbench DEVICE ADDRESS [ROUNDS]: what a layout's rkey costs to create
 * at grant and to kill at recall, two ways, on one device in one run:
 *   mr  an MR per layout: ibv_reg_mr of the range, ibv_dereg_mr at recall
 *   mw  one long-lived MR (IBV_ACCESS_MW_BIND) over the whole buffer, and a
 *       type-2 memory window per layout, bound to the range by an
 *       IBV_WR_BIND_MW posted on the QP and invalidated by an
 *       IBV_WR_LOCAL_INV; each waited for, as the daemon would wait before
 *       it answers a grant or releases a lease
 * on an RC QP connected to itself through ADDRESS's GID on port 1. Sizes
 * 4 KiB to 64 MiB of anonymous memory (a staging buffer), and a recall of 16
 * layouts of 64 KiB at once (one post of 16 chained LOCAL_INVs against 16
 * ibv_dereg_mr), the shape of one client's share of a recall at scale.
 * After it measures it proves the windows work: a WRITE through a bound
 * window lands, and once it is invalidated a WRITE with its old rkey fails
 * and changes nothing.
 * Prints one line per row: row=... mode=mr|mw grant_us=... recall_us=...
 * (medians of ROUNDS, default 50).
 */
#include <errno.h>
#include <infiniband/verbs.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "common/loopqp.h"

#define BUF_SIZE (64u << 20)
#define BATCH 16
#define DEADLINE_MS 5000

struct bench {
	struct ibv_pd *pd;
	struct dx_loopqp lq;
	char *buf, *src;
	struct ibv_mr *bind_mr, *src_mr;
	struct ibv_mw *mw[BATCH];
	uint32_t rkey[BATCH];
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* Wait for N signalled completions; their status, or -errno. */
static int wait_n(struct bench *b, int n, enum ibv_wc_status *status)
{
	struct ibv_wc wc;

	*status = IBV_WC_SUCCESS;
	while (n--) {
		int got = dx_loopqp_wait(&b->lq, DEADLINE_MS, &wc);

		if (got <= 0)
			return got < 0 ? got : -ETIMEDOUT;
		if (wc.status != IBV_WC_SUCCESS)
			*status = wc.status;
	}
	return 0;
}

static int post(struct bench *b, struct ibv_send_wr *wr, const char *what)
{
	struct ibv_send_wr *bad;
	int ret = ibv_post_send(b->lq.qp, wr, &bad);

	if (ret)
		fprintf(stderr, "dx-mwbench: ibv_post_send (%s): %s\n", what, strerror(ret));
	return -ret;
}

/* Bind windows 0..N-1 to N consecutive ranges of LEN at OFF, one post. */
static int bind_windows(struct bench *b, int n, size_t off, size_t len)
{
	struct ibv_send_wr wr[BATCH];
	enum ibv_wc_status st;
	int ret;

	memset(wr, 0, sizeof(wr));
	for (int i = 0; i < n; i++) {
		b->rkey[i] = ibv_inc_rkey(b->rkey[i]);
		wr[i].opcode = IBV_WR_BIND_MW;
		wr[i].send_flags = i == n - 1 ? IBV_SEND_SIGNALED : 0;
		wr[i].bind_mw.mw = b->mw[i];
		wr[i].bind_mw.rkey = b->rkey[i];
		wr[i].bind_mw.bind_info.mr = b->bind_mr;
		wr[i].bind_mw.bind_info.addr = (uintptr_t)b->buf + off + (size_t)i * len;
		wr[i].bind_mw.bind_info.length = len;
		wr[i].bind_mw.bind_info.mw_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
		wr[i].next = i < n - 1 ? &wr[i + 1] : NULL;
	}
	ret = post(b, wr, "BIND_MW");
	/* The next bind names the window by the key it has now (as
	 * ibv_bind_mw() does for type 1). */
	for (int i = 0; i < n && !ret; i++)
		b->mw[i]->rkey = b->rkey[i];
	if (!ret)
		ret = wait_n(b, 1, &st);
	if (!ret && st != IBV_WC_SUCCESS) {
		fprintf(stderr, "dx-mwbench: BIND_MW: %s\n", ibv_wc_status_str(st));
		ret = -EIO;
	}
	return ret;
}

static int invalidate(struct bench *b, int n)
{
	struct ibv_send_wr wr[BATCH];
	enum ibv_wc_status st;
	int ret;

	memset(wr, 0, sizeof(wr));
	for (int i = 0; i < n; i++) {
		wr[i].opcode = IBV_WR_LOCAL_INV;
		wr[i].send_flags = i == n - 1 ? IBV_SEND_SIGNALED : 0;
		wr[i].invalidate_rkey = b->rkey[i];
		wr[i].next = i < n - 1 ? &wr[i + 1] : NULL;
	}
	ret = post(b, wr, "LOCAL_INV");
	if (!ret)
		ret = wait_n(b, 1, &st);
	if (!ret && st != IBV_WC_SUCCESS) {
		fprintf(stderr, "dx-mwbench: LOCAL_INV: %s\n", ibv_wc_status_str(st));
		ret = -EIO;
	}
	return ret;
}

/* An RDMA WRITE of 64 bytes from src to RADDR with RKEY: its status. */
static int write_status(struct bench *b, uint64_t raddr, uint32_t rkey, enum ibv_wc_status *st)
{
	struct ibv_sge sge = { .addr = (uintptr_t)b->src, .length = 64, .lkey = b->src_mr->lkey };
	struct ibv_send_wr wr = { .sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_RDMA_WRITE,
				  .send_flags = IBV_SEND_SIGNALED };
	int ret;

	wr.wr.rdma.remote_addr = raddr;
	wr.wr.rdma.rkey = rkey;
	ret = post(b, &wr, "RDMA WRITE");
	return ret ? ret : wait_n(b, 1, st);
}

/* A bound window takes a WRITE; an invalidated one refuses it. The refusal
 * puts the QP in error: this runs last. */
static int prove(struct bench *b)
{
	uint64_t raddr = (uintptr_t)b->buf + 8192;
	enum ibv_wc_status st = IBV_WC_SUCCESS;
	uint32_t old;
	int ret;

	memset(b->src, 0x5a, 64);
	memset(b->buf + 8192, 0, 64);
	ret = bind_windows(b, 1, 8192, 4096);
	if (!ret)
		ret = write_status(b, raddr, b->rkey[0], &st);
	if (ret || st != IBV_WC_SUCCESS || memcmp(b->buf + 8192, b->src, 64) != 0) {
		fprintf(stderr, "dx-mwbench: a WRITE through a bound window did not land (%s)\n",
			ret ? strerror(-ret) : ibv_wc_status_str(st));
		return -EIO;
	}
	old = b->rkey[0];
	ret = invalidate(b, 1);
	memset(b->src, 0xee, 64);
	if (!ret)
		ret = write_status(b, raddr, old, &st);
	/* Refused: a remote access error (6.1), or, where the responder's
	 * side of this one QP goes to error first, a flush (7.3). */
	if (ret || st == IBV_WC_SUCCESS || b->buf[8192] != 0x5a) {
		fprintf(stderr, "dx-mwbench: a WRITE with an invalidated window's rkey: %s\n",
			ret ? strerror(-ret) : ibv_wc_status_str(st));
		return -EIO;
	}
	printf("proof: a bound window takes a WRITE; after LOCAL_INV a WRITE with its old rkey fails (%s) "
	       "and changes nothing\n", ibv_wc_status_str(st));
	return 0;
}

/* One row: N layouts of LEN at once (N = 1: a single layout of LEN), their
 * rkeys made at grant and killed at recall, ROUNDS times each way. */
static int row(struct bench *b, int n, size_t len, int rounds, double *g, double *r)
{
	int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
	struct ibv_mr *mr[BATCH];
	char name[32];

	if (n == 1)
		snprintf(name, sizeof(name), "%zu", len);
	else
		snprintf(name, sizeof(name), "%dx%zu", n, len);
	for (int i = 0; i < rounds; i++) {
		double t0 = now_us(), t1, t2;

		for (int k = 0; k < n; k++) {
			mr[k] = ibv_reg_mr(b->pd, b->buf + (size_t)k * len, len, access);
			if (!mr[k]) {
				perror("dx-mwbench: ibv_reg_mr");
				return -1;
			}
		}
		t1 = now_us();
		for (int k = 0; k < n; k++)
			ibv_dereg_mr(mr[k]);
		t2 = now_us();
		g[i] = t1 - t0;
		r[i] = t2 - t1;
	}
	printf("row=%s mode=mr grant_us=%.1f", name, median(g, rounds));
	printf(" recall_us=%.1f\n", median(r, rounds));
	for (int i = 0; i < rounds; i++) {
		double t0 = now_us(), t1, t2;

		if (bind_windows(b, n, 0, len))
			return -1;
		t1 = now_us();
		if (invalidate(b, n))
			return -1;
		t2 = now_us();
		g[i] = t1 - t0;
		r[i] = t2 - t1;
	}
	printf("row=%s mode=mw grant_us=%.1f", name, median(g, rounds));
	printf(" recall_us=%.1f\n", median(r, rounds));
	return 0;
}

static struct ibv_context *open_device(const char *name)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_context *ctx = NULL;

	for (int i = 0; list && list[i]; i++)
		if (strcmp(ibv_get_device_name(list[i]), name) == 0)
			ctx = ibv_open_device(list[i]);
	ibv_free_device_list(list);
	return ctx;
}

/* Set up on CTX, measure every row, prove; 0 or 1. */
static int run(struct ibv_context *ctx, const struct sockaddr *addr, int rounds, double *g, double *r)
{
	struct bench b = { 0 };
	char why[160];
	int ret = 1;

	b.pd = ibv_alloc_pd(ctx);
	b.buf = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	b.src = malloc(4096);
	if (!b.pd || b.buf == MAP_FAILED || !b.src) {
		perror("dx-mwbench: setup");
		goto out;
	}
	if (dx_loopqp_new(b.pd, 1, addr, 2 * BATCH + 4, 2 * BATCH + 4, &b.lq, why, sizeof(why))) {
		fprintf(stderr, "dx-mwbench: %s\n", why);
		goto out;
	}
	b.bind_mr = ibv_reg_mr(b.pd, b.buf, BUF_SIZE, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
						       IBV_ACCESS_REMOTE_READ | IBV_ACCESS_MW_BIND);
	b.src_mr = ibv_reg_mr(b.pd, b.src, 4096, IBV_ACCESS_LOCAL_WRITE);
	if (!b.bind_mr || !b.src_mr) {
		perror("dx-mwbench: ibv_reg_mr");
		goto out;
	}
	for (int i = 0; i < BATCH; i++) {
		b.mw[i] = ibv_alloc_mw(b.pd, IBV_MW_TYPE_2);
		if (!b.mw[i]) {
			perror("dx-mwbench: ibv_alloc_mw (type 2)");
			goto out;
		}
		b.rkey[i] = b.mw[i]->rkey;
	}
	for (size_t len = 4096; len <= BUF_SIZE; len *= 16)
		if (row(&b, 1, len, rounds, g, r))
			goto out;
	if (row(&b, 1, BUF_SIZE, rounds, g, r) || row(&b, BATCH, 65536, rounds, g, r))
		goto out;
	ret = prove(&b) ? 1 : 0;
out:
	for (int i = 0; i < BATCH; i++)
		if (b.mw[i])
			ibv_dealloc_mw(b.mw[i]);
	if (b.bind_mr)
		ibv_dereg_mr(b.bind_mr);
	if (b.src_mr)
		ibv_dereg_mr(b.src_mr);
	dx_loopqp_free(&b.lq);
	if (b.buf != MAP_FAILED && b.buf)
		munmap(b.buf, BUF_SIZE);
	free(b.src);
	if (b.pd)
		ibv_dealloc_pd(b.pd);
	return ret;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int rounds = argc > 3 ? atoi(argv[3]) : 50;
	struct ibv_device_attr da;
	struct ibv_context *ctx;
	double *g, *r;
	int ret;

	if (argc < 3 || inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1 || rounds < 1 || rounds > 100000) {
		fprintf(stderr, "usage: dx-mwbench DEVICE IPV4-ADDRESS [ROUNDS]\n");
		return 2;
	}
	ctx = open_device(argv[1]);
	if (!ctx || ibv_query_device(ctx, &da)) {
		fprintf(stderr, "dx-mwbench: no device %s\n", argv[1]);
		return 1;
	}
	printf("device %s: max_mw %d, memory windows type 2%s\n", argv[1], da.max_mw,
	       da.device_cap_flags & (IBV_DEVICE_MEM_WINDOW_TYPE_2A | IBV_DEVICE_MEM_WINDOW_TYPE_2B) ? "" : ": no");
	g = calloc((size_t)rounds, sizeof(*g));
	r = calloc((size_t)rounds, sizeof(*r));
	ret = g && r ? run(ctx, (const struct sockaddr *)&sin, rounds, g, r) : 1;
	free(g);
	free(r);
	ibv_close_device(ctx);
	return ret;
}
