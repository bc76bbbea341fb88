/*
 * daxrdma: move data to and from files that daxrdmad serves, over RDMA.
 * See daxrdma(1).
 *   daxrdma put LOCAL HOST:EXPORT/PATH     daxrdma get HOST:EXPORT/PATH LOCAL
 *   daxrdma cat HOST:EXPORT/PATH           daxrdma stat HOST:EXPORT/PATH
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "client/daxrdma.h"

#define PAGE 4096u
#define CHUNK_MAX (16u << 20)   /* one layout per chunk */
#define PROGRESS_MIN (8u << 20) /* smaller transfers show no bar */

struct remote {
	char host[256];
	char export_name[256];
	const char *path;
};

struct opts {
	const char *port;
	int timeout_ms;
	bool quiet, verbose;
};

struct progress {
	bool on;
	uint64_t total, done;
	double start, last;
	const char *what;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_show(struct progress *p, bool final)
{
	double t = now_s(), rate;
	int width = 30, fill;

	if (!p->on || (!final && t - p->last < 0.2))
		return;
	p->last = t;
	rate = (double)p->done / (t - p->start > 1e-6 ? t - p->start : 1e-6) / 1e6;
	fill = p->total ? (int)((double)width * (double)p->done / (double)p->total) : width;
	fprintf(stderr, "\r%s [%.*s%*s] %3d%% %8.1f MiB %7.1f MB/s", p->what, fill,
		"##############################", width - fill, "",
		p->total ? (int)(100.0 * (double)p->done / (double)p->total) : 100, (double)p->done / 1048576.0, rate);
	if (final)
		fputc('\n', stderr);
}

static void log_to_stderr(void *arg, int prio, const char *msg)
{
	fprintf(stderr, "daxrdma: %s\n", msg);
}

/* HOST:EXPORT/PATH, HOST may be [IPv6]. */
static int parse_remote(const char *s, struct remote *r)
{
	const char *colon, *slash, *rest;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(r->host))
			return -EINVAL;
		snprintf(r->host, sizeof(r->host), "%.*s", (int)(close - s - 1), s + 1);
		rest = close + 2;
	} else {
		colon = strchr(s, ':');
		if (!colon || colon == s || (size_t)(colon - s) >= sizeof(r->host))
			return -EINVAL;
		snprintf(r->host, sizeof(r->host), "%.*s", (int)(colon - s), s);
		rest = colon + 1;
	}
	slash = strchr(rest, '/');
	if (!slash || slash == rest || slash[1] == '\0' || (size_t)(slash - rest) >= sizeof(r->export_name))
		return -EINVAL;
	snprintf(r->export_name, sizeof(r->export_name), "%.*s", (int)(slash - rest), rest);
	r->path = slash + 1;
	return 0;
}

static int connect_to(const struct opts *o, const struct remote *r, struct daxrdma_client **c)
{
	struct daxrdma_client_opts co = {
		.size = sizeof(co), .log = log_to_stderr, .log_level = o->verbose ? LOG_INFO : LOG_ERR,
		.timeout_ms = o->timeout_ms, .flags = DAXRDMA_RELAYOUT,
	};
	int ret = daxrdma_client_new(&co, c);

	if (ret)
		return ret;
	ret = daxrdma_connect(*c, r->host, o->port);
	if (ret) {
		fprintf(stderr, "daxrdma: cannot connect to daxrdmad at %s: %s\n", r->host, strerror(-ret));
		daxrdma_client_delete(c);
	}
	return ret;
}

static uint64_t chunk_size(struct daxrdma_client *c)
{
	uint64_t m = daxrdma_client_max_layout_size(c);

	m = m && m < CHUNK_MAX ? m : CHUNK_MAX;
	return m / PAGE * PAGE;
}

static int fail(const char *what, const char *name, int err)
{
	fprintf(stderr, "daxrdma: %s %s: %s\n", what, name, strerror(-err));
	return 1;
}

static int put(const struct opts *o, const char *local, const struct remote *r)
{
	struct progress pr = { .what = "put" };
	struct daxrdma_client *c;
	struct daxrdma_file *f;
	struct daxrdma_layout *l;
	uint64_t chunk, off = 0;
	char *buf = NULL;
	struct stat st;
	int fd, ret, rc = 1;

	fd = strcmp(local, "-") == 0 ? 0 : open(local, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st))
		return fail("cannot read", local, -errno);
	if (connect_to(o, r, &c))
		goto out_close;
	ret = daxrdma_open(c, r->export_name, r->path, DAXRDMA_O_RDWR | DAXRDMA_O_CREAT | DAXRDMA_O_TRUNC, 0644, &f);
	if (ret) {
		fail("cannot open", r->path, ret);
		goto out_client;
	}
	chunk = chunk_size(c);
	buf = malloc(chunk);
	if (!buf)
		goto out_file;
	pr.total = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	pr.on = !o->quiet && isatty(2) && (pr.total >= PROGRESS_MIN || !S_ISREG(st.st_mode));
	pr.start = now_s();
	for (;;) {
		size_t n = 0;
		uint64_t alen;

		while (n < chunk) { /* fill a chunk: pipes give short reads */
			ssize_t got = read(fd, buf + n, chunk - n);

			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				fail("cannot read", local, -errno);
				goto out_file;
			}
			if (got == 0)
				break;
			n += (size_t)got;
		}
		if (n == 0)
			break;
		/* Whole pages are allocated and laid out; set_size trims the tail. */
		alen = (n + PAGE - 1) / PAGE * PAGE;
		ret = daxrdma_allocate(f, off, alen);
		if (!ret)
			ret = daxrdma_layout_get(f, off, alen, DAXRDMA_RW, &l);
		if (ret) {
			fail("cannot lay out", r->path, ret);
			goto out_file;
		}
		ret = daxrdma_write(l, off, buf, n);
		if (!ret)
			ret = daxrdma_commit(l, off, n);
		daxrdma_layout_return(&l);
		if (ret) {
			fail("RDMA write to", r->path, ret);
			goto out_file;
		}
		off += n;
		pr.done = off;
		progress_show(&pr, false);
		if (n < chunk)
			break;
	}
	ret = daxrdma_set_size(f, off);
	if (ret) {
		fail("cannot set the size of", r->path, ret);
		goto out_file;
	}
	progress_show(&pr, true);
	rc = 0;
out_file:
	free(buf);
	daxrdma_close(&f);
out_client:
	daxrdma_client_delete(&c);
out_close:
	if (fd > 0)
		close(fd);
	return rc;
}

static int get(const struct opts *o, const struct remote *r, const char *local)
{
	struct progress pr = { .what = "get" };
	struct daxrdma_client *c;
	struct daxrdma_file *f;
	struct daxrdma_layout *l;
	struct daxrdma_stat st;
	uint64_t chunk;
	char *buf = NULL;
	int fd, ret, rc = 1;

	fd = strcmp(local, "-") == 0 ? 1 : open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail("cannot write", local, -errno);
	if (connect_to(o, r, &c))
		goto out_close;
	ret = daxrdma_open(c, r->export_name, r->path, 0, 0, &f);
	if (!ret)
		ret = daxrdma_stat(f, &st);
	if (ret) {
		fail("cannot open", r->path, ret);
		goto out_client;
	}
	chunk = chunk_size(c);
	buf = malloc(chunk);
	if (!buf)
		goto out_file;
	pr.total = st.size;
	pr.on = !o->quiet && isatty(2) && fd != 1 && st.size >= PROGRESS_MIN;
	pr.start = now_s();
	for (uint64_t off = 0; off < st.size; off += chunk) {
		size_t n = (size_t)(st.size - off < chunk ? st.size - off : chunk);
		uint64_t alen = (n + PAGE - 1) / PAGE * PAGE;

		ret = daxrdma_layout_get(f, off, alen, DAXRDMA_READ, &l);
		if (ret) {
			fail("cannot lay out", r->path, ret);
			goto out_file;
		}
		ret = daxrdma_read(l, off, buf, n);
		daxrdma_layout_return(&l);
		if (ret) {
			fail("RDMA read from", r->path, ret);
			goto out_file;
		}
		for (size_t w = 0; w < n;) {
			ssize_t put_n = write(fd, buf + w, n - w);

			if (put_n < 0 && errno == EINTR)
				continue;
			if (put_n <= 0) {
				fail("cannot write", local, -errno);
				goto out_file;
			}
			w += (size_t)put_n;
		}
		pr.done = off + n;
		progress_show(&pr, false);
	}
	progress_show(&pr, true);
	rc = 0;
out_file:
	free(buf);
	daxrdma_close(&f);
out_client:
	daxrdma_client_delete(&c);
out_close:
	if (fd > 1)
		close(fd);
	return rc;
}

static int stat_remote(const struct opts *o, const struct remote *r)
{
	struct daxrdma_client *c;
	struct daxrdma_file *f;
	struct daxrdma_stat st;
	int ret;

	if (connect_to(o, r, &c))
		return 1;
	ret = daxrdma_open(c, r->export_name, r->path, 0, 0, &f);
	if (!ret)
		ret = daxrdma_stat(f, &st);
	if (ret) {
		daxrdma_client_delete(&c);
		return fail("cannot stat", r->path, ret);
	}
	printf("size:      %llu\nblocks:    %llu\nblksize:   %u\nmtime_ns:  %llu\ndax:       %s\nread_only: %s\n",
	       (unsigned long long)st.size, (unsigned long long)st.blocks, st.blksize,
	       (unsigned long long)st.mtime_ns, st.dax ? "yes" : "no", st.read_only ? "yes" : "no");
	daxrdma_close(&f);
	daxrdma_client_delete(&c);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: daxrdma [options] put LOCAL HOST:EXPORT/PATH\n"
		   "       daxrdma [options] get HOST:EXPORT/PATH LOCAL\n"
		   "       daxrdma [options] cp SRC DST        (one side HOST:EXPORT/PATH)\n"
		   "       daxrdma [options] cat HOST:EXPORT/PATH\n"
		   "       daxrdma [options] stat HOST:EXPORT/PATH\n"
		   "LOCAL may be - (stdin or stdout).\n"
		   "  -p, --port PORT      daxrdmad's port (default 20049)\n"
		   "  -t, --timeout SECS   deadline of each wait on the daemon (default 10)\n"
		   "  -q, --quiet          no progress bar\n"
		   "  -v, --verbose        log what the library does\n"
		   "  -V, --version\n"
		   "See daxrdma(1).\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "port", required_argument, NULL, 'p' }, { "timeout", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },      { "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },    { "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct opts o = { .timeout_ms = 10000 };
	struct remote r, r2;
	const char *cmd;
	int c, nargs;
	long t;

	while ((c = getopt_long(argc, argv, "p:t:qvVh", lopts, NULL)) != -1) {
		switch (c) {
		case 'p': o.port = optarg; break;
		case 't':
			t = strtol(optarg, NULL, 10);
			if (t < 1 || t > 3600) {
				fprintf(stderr, "daxrdma: --timeout takes 1 to 3600 seconds\n");
				return 2;
			}
			o.timeout_ms = (int)t * 1000;
			break;
		case 'q': o.quiet = true; break;
		case 'v': o.verbose = true; break;
		case 'V': printf("daxrdma %s\n", DAXRDMA_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	nargs = argc - optind;
	if (nargs < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if (strcmp(cmd, "cp") == 0 && nargs == 3)
		cmd = parse_remote(argv[optind + 1], &r2) == 0 ? "get" : "put";
	if (strcmp(cmd, "put") == 0 && nargs == 3 && parse_remote(argv[optind + 2], &r) == 0)
		return put(&o, argv[optind + 1], &r);
	if (strcmp(cmd, "get") == 0 && nargs == 3 && parse_remote(argv[optind + 1], &r) == 0)
		return get(&o, &r, argv[optind + 2]);
	if (strcmp(cmd, "cat") == 0 && nargs == 2 && parse_remote(argv[optind + 1], &r) == 0)
		return get(&o, &r, "-");
	if (strcmp(cmd, "stat") == 0 && nargs == 2 && parse_remote(argv[optind + 1], &r) == 0)
		return stat_remote(&o, &r);
	fprintf(stderr, "daxrdma: expected HOST:EXPORT/PATH where a remote file goes\n");
	usage(stderr);
	return 2;
}
