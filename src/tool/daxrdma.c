/*
 * daxrdma: move data to and from files that daxrdmad serves, over RDMA.
 * See daxrdma(1).
 *   daxrdma put LOCAL HOST:EXPORT/PATH     daxrdma get HOST:EXPORT/PATH LOCAL
 *   daxrdma cat HOST:EXPORT/PATH           daxrdma stat HOST:EXPORT/PATH
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "client/daxrdma.h"
#include "common/parse.h"

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
		/* A slash before the colon makes it a local path ("./a:b/c"). */
		if (!colon || colon == s || memchr(s, '/', (size_t)(colon - s)) ||
		    (size_t)(colon - s) >= sizeof(r->host))
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

static int fail(const char *what, const char *name, int err)
{
	fprintf(stderr, "daxrdma: %s %s: %s\n", what, name, strerror(-err));
	return 1;
}

/* One remote file, open over its own connection, and a transfer buffer. */
struct remote_file {
	struct daxrdma_client *c;
	struct daxrdma_file *f;
	char *buf;
	uint64_t chunk; /* bytes per layout and per buffer */
};

static void remote_close(struct remote_file *rf)
{
	free(rf->buf);
	rf->buf = NULL;
	if (rf->f)
		daxrdma_close(&rf->f);
	daxrdma_client_delete(&rf->c);
}

/* Connect, open R with FLAGS (and MODE if it creates the file), size the
 * chunk from the daemon's largest layout. Prints what failed; 0 or 1. */
static int remote_open(const struct opts *o, const struct remote *r, unsigned int flags, unsigned int mode,
		       struct remote_file *rf)
{
	struct daxrdma_client_opts co = {
		.size = sizeof(co), .log = log_to_stderr, .log_level = o->verbose ? LOG_INFO : LOG_ERR,
		.timeout_ms = o->timeout_ms, .flags = DAXRDMA_RELAYOUT,
	};
	uint64_t m;
	int ret;

	memset(rf, 0, sizeof(*rf));
	ret = daxrdma_client_new(&co, &rf->c);
	if (ret)
		return fail("cannot start the client for", r->host, ret);
	ret = daxrdma_connect(rf->c, r->host, o->port);
	if (ret) {
		fprintf(stderr, "daxrdma: cannot connect to daxrdmad at %s: %s\n", r->host, strerror(-ret));
		goto err;
	}
	ret = daxrdma_open(rf->c, r->export_name, r->path, flags, mode, &rf->f);
	if (ret) {
		fail("cannot open", r->path, ret);
		goto err;
	}
	m = daxrdma_client_max_layout_size(rf->c);
	m = m && m < CHUNK_MAX ? m : CHUNK_MAX;
	rf->chunk = m / PAGE * PAGE;
	rf->buf = malloc(rf->chunk);
	if (!rf->buf) {
		fail("cannot allocate a buffer for", r->path, -ENOMEM);
		goto err;
	}
	return 0;

err:
	remote_close(rf);
	return 1;
}

/* Read up to LEN bytes (less only at the end: pipes give short reads). */
static ssize_t read_full(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n < len) {
		ssize_t got = read(fd, buf + n, len - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		n += (size_t)got;
	}
	return (ssize_t)n;
}

static int write_full(int fd, const char *buf, size_t len)
{
	for (size_t w = 0; w < len;) {
		ssize_t n = write(fd, buf + w, len - w);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		w += (size_t)n;
	}
	return 0;
}

/* Send CHUNK-sized pieces of FD to RF: allocate, RW layout, write, commit. */
static int put_pieces(struct remote_file *rf, int fd, const char *local, const char *path, struct progress *pr)
{
	struct daxrdma_layout *l;
	uint64_t off = 0, alen;
	ssize_t n;
	int ret;

	do {
		n = read_full(fd, rf->buf, rf->chunk);
		if (n < 0)
			return fail("cannot read", local, (int)n);
		if (n == 0)
			break;
		/* Whole pages are allocated and laid out; set_size trims the tail. */
		alen = ((uint64_t)n + PAGE - 1) / PAGE * PAGE;
		ret = daxrdma_allocate(rf->f, off, alen);
		if (!ret)
			ret = daxrdma_layout_get(rf->f, off, alen, DAXRDMA_RW, &l);
		if (ret)
			return fail("cannot lay out", path, ret);
		for (int tries = 0;; tries++) {
			ret = daxrdma_write(l, off, rf->buf, (size_t)n);
			if (!ret)
				ret = daxrdma_commit(l, off, (uint64_t)n);
			/* Recalled between the WRITE and its COMMIT, the layout went
			 * back: write again under the one the library gets next
			 * (DAXRDMA_RELAYOUT), and commit that. */
			if (ret != -ESTALE || tries == 3)
				break;
		}
		daxrdma_layout_return(&l);
		if (ret)
			return fail("RDMA write to", path, ret);
		off += (uint64_t)n;
		pr->done = off;
		progress_show(pr, false);
	} while ((uint64_t)n == rf->chunk);
	ret = daxrdma_set_size(rf->f, off);
	return ret ? fail("cannot set the size of", path, ret) : 0;
}

/* A new name beside PATH for its copy in progress: ".BASE.daxrdma-N" in
 * PATH's directory, N random. */
static int temp_beside(const char *path, char *tmp, size_t tmplen)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	uint64_t n;

	if (getrandom(&n, sizeof(n), 0) != sizeof(n))
		return -errno;
	/* The base is cut so that the name fits NAME_MAX. */
	if ((size_t)snprintf(tmp, tmplen, "%.*s.%.200s.daxrdma-%016llx", slash ? (int)(slash - path + 1) : 0, path,
			     base, (unsigned long long)n) >= tmplen)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * R is written as a new file beside it, renamed over R once every byte is
 * committed: a failure (of the local read, the connection, or midway) leaves
 * R as it was, and takes the partial copy away. The remote file gets the
 * local one's permission bits (stdin's: 0644).
 */
static int put(const struct opts *o, const char *local, const struct remote *r)
{
	struct progress pr = { .what = "put" };
	char tmppath[PATH_MAX];
	struct remote tmp = *r;
	struct remote_file rf;
	struct stat st;
	int fd, rc, ret;

	fd = strcmp(local, "-") == 0 ? 0 : open(local, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st))
		return fail("cannot read", local, -errno);
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return fail("cannot read", local, -EISDIR);
	}
	ret = temp_beside(r->path, tmppath, sizeof(tmppath));
	tmp.path = tmppath;
	rc = ret ? fail("cannot name a copy beside", r->path, ret)
		 : remote_open(o, &tmp, DAXRDMA_O_RDWR | DAXRDMA_O_CREAT | DAXRDMA_O_EXCL,
			       S_ISREG(st.st_mode) ? st.st_mode & 0777 : 0644, &rf);
	/* A daemon without RENAME (older than this tool) is found out before
	 * a byte is sent: renaming the new file to its own name. */
	if (!rc && (ret = daxrdma_rename(rf.f, tmppath)) != 0) {
		rc = fail("cannot rename on the daemon: put needs RENAME; left empty:", tmppath, ret);
		remote_close(&rf);
	} else if (!rc) {
		pr.total = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
		pr.on = !o->quiet && isatty(2) && (pr.total >= PROGRESS_MIN || !S_ISREG(st.st_mode));
		pr.start = now_s();
		rc = put_pieces(&rf, fd, local, r->path, &pr);
		ret = rc ? 0 : daxrdma_rename(rf.f, r->path);
		if (ret)
			rc = fail("cannot rename the finished copy to", r->path, ret);
		if (!rc)
			progress_show(&pr, true);
		else if ((ret = daxrdma_remove(rf.f)) != 0)
			fprintf(stderr, "daxrdma: the partial copy %s is left: %s\n", tmppath, strerror(-ret));
		remote_close(&rf);
	}
	if (fd > 0)
		close(fd);
	return rc;
}

/* Fetch RF's SIZE bytes to FD in CHUNK-sized READ layouts. */
static int get_pieces(struct remote_file *rf, uint64_t size, int fd, const char *local, const char *path,
		      struct progress *pr)
{
	struct daxrdma_layout *l;
	int ret;

	for (uint64_t off = 0; off < size; off += rf->chunk) {
		size_t n = (size_t)(size - off < rf->chunk ? size - off : rf->chunk);

		ret = daxrdma_layout_get(rf->f, off, (n + PAGE - 1) / PAGE * PAGE, DAXRDMA_READ, &l);
		if (ret)
			return fail("cannot lay out", path, ret);
		ret = daxrdma_read(l, off, rf->buf, n);
		daxrdma_layout_return(&l);
		if (ret)
			return fail("RDMA read from", path, ret);
		ret = write_full(fd, rf->buf, n);
		if (ret)
			return fail("cannot write", local, ret);
		pr->done = off + n;
		progress_show(pr, false);
	}
	return 0;
}

/*
 * LOCAL is written as a temporary file beside it (*TMP), renamed over LOCAL
 * once every byte is in (finish_local): a failure, of the connection or
 * midway, leaves LOCAL as it was, and a symlink at LOCAL is replaced, never
 * followed. An existing file's permission bits are kept; a new file gets
 * 0666 less the umask.
 */
static int open_local(const char *local, char *tmp, size_t tmplen)
{
	struct stat st;
	mode_t mode, mask;
	int fd;

	if (stat(local, &st) == 0 && S_ISDIR(st.st_mode))
		return -EISDIR;
	if ((size_t)snprintf(tmp, tmplen, "%s.daxrdma-XXXXXX", local) >= tmplen)
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	mask = umask(0);
	umask(mask);
	mode = lstat(local, &st) == 0 && S_ISREG(st.st_mode) ? st.st_mode & 07777 : 0666 & ~mask;
	if (fchmod(fd, mode)) {
		int err = -errno;

		close(fd);
		unlink(tmp);
		return err;
	}
	return fd;
}

/* Make the temporary file LOCAL, durably, or take it away if RC failed. */
static int finish_local(int fd, const char *tmp, const char *local, int rc)
{
	if (!rc && fsync(fd))
		rc = fail("cannot write", local, -errno);
	if (close(fd) && !rc)
		rc = fail("cannot write", local, -errno);
	if (!rc && rename(tmp, local))
		rc = fail("cannot rename the finished file to", local, -errno);
	if (rc)
		unlink(tmp);
	return rc;
}

static int get(const struct opts *o, const struct remote *r, const char *local)
{
	struct progress pr = { .what = "get" };
	struct remote_file rf;
	struct daxrdma_stat st;
	bool to_stdout = strcmp(local, "-") == 0;
	char tmp[PATH_MAX];
	int fd, ret, rc;

	fd = to_stdout ? 1 : open_local(local, tmp, sizeof(tmp));
	if (fd < 0)
		return fail("cannot write", local, fd);
	rc = remote_open(o, r, 0, 0, &rf);
	if (!rc) {
		ret = daxrdma_stat(rf.f, &st);
		rc = ret ? fail("cannot stat", r->path, ret) : 0;
		if (!rc) {
			pr.total = st.size;
			pr.on = !o->quiet && isatty(2) && !to_stdout && st.size >= PROGRESS_MIN;
			pr.start = now_s();
			rc = get_pieces(&rf, st.size, fd, local, r->path, &pr);
			if (!rc)
				progress_show(&pr, true);
		}
		remote_close(&rf);
	}
	return to_stdout ? rc : finish_local(fd, tmp, local, rc);
}

static int stat_remote(const struct opts *o, const struct remote *r)
{
	struct remote_file rf;
	struct daxrdma_stat st;
	int ret;

	if (remote_open(o, r, 0, 0, &rf))
		return 1;
	ret = daxrdma_stat(rf.f, &st);
	remote_close(&rf);
	if (ret)
		return fail("cannot stat", r->path, ret);
	printf("size:      %llu\nblocks:    %llu\nblksize:   %u\nmtime_ns:  %llu\ndax:       %s\nread_only: %s\n",
	       (unsigned long long)st.size, (unsigned long long)st.blocks, st.blksize,
	       (unsigned long long)st.mtime_ns, st.dax ? "yes" : "no", st.read_only ? "yes" : "no");
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
	uint64_t t;

	while ((c = getopt_long(argc, argv, "p:t:qvVh", lopts, NULL)) != -1) {
		switch (c) {
		case 'p': o.port = optarg; break;
		case 't':
			if (dx_parse_uint(optarg, 1, 3600, &t)) {
				fprintf(stderr, "daxrdma: --timeout takes 1 to 3600 seconds, not \"%s\"\n", optarg);
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
