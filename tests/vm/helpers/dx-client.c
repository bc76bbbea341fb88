/*
 * dx-client: a scriptable client for the guest tests, built on the library's
 * internals so it can also misbehave (ignore recalls, RDMA with dead rkeys).
 *
 *   dx-client HOST EXPORT PATH write OFF LEN SEED     create/extend, RW layout, write pattern, commit
 *                                 (not with DX_NO_COMMIT set: the return makes it land;
 *                                 with DX_SHOW_PERSIST, PERSIST commit|read-after-write|rdma-flush says
 *                                 how the commit persisted; DX_COMMIT_MESSAGE sets the
 *                                 client flag DAXRDMA_COMMIT_MESSAGE; with DX_SAY_COMMIT,
 *                                 COMMITTING just before the commit)
 *   dx-client HOST EXPORT PATH read OFF LEN           READ layout, bytes to stdout
 *   dx-client HOST EXPORT PATH try OPEN_MODE OFF LEN IOMODE
 *                                 print OK or the errno name of the first refusal
 *   dx-client HOST EXPORT PATH hold OFF LEN SEED MODE [IOMODE]
 *        MODE cooperate: return the layout when recalled; ignore: never answer;
 *        loop: keep writing (for 30 s at most). Prints READY, RECALLED reason=N,
 *        IDLE_WAKEUPS N (how often poll() woke before the recall came),
 *        RETURNED (RETURNED ERR NAME: returned, its writes not persisted)
 *        or FENCED (connection lost), then STALE_WRITE status=... of
 *        an RDMA WRITE with the old rkey, and HOLD_DONE. While it waits it
 *        blocks in poll() on the library's fd with no timeout, as
 *        libdaxrdma-client(3) says an application does.
 *        serve: after READY, wait for the file named by $DX_GO, RDMA READ the
 *        layout and print INTACT or CLOBBERED (someone else changed it), then
 *        write the pattern of SEED + 1, commit, return: WORKS.
 *        With DX_DIRTY set, hold also writes the pattern of SEED + 1 after
 *        its commit and leaves it uncommitted; on a recall (cooperate) it
 *        tries to COMMIT it first: RECALL_COMMIT OK or RECALL_COMMIT ERR NAME.
 *        With DX_AGAIN set, after the recall it asks for the layout again
 *        on the same handle: AGAIN OK or AGAIN ERR NAME.
 *        With DX_KEEP=EXPORT/PATH2, it first gets an RW layout of 64 KiB on
 *        PATH2 (created) and keeps it to the end, written with SEED + 7
 *        (KEEP rkey=...); a recall of it is deferred (KEEPER_RECALLED
 *        reason=N), not taken for the main layout's. Just before the stale
 *        write, an RDMA READ through the kept layout says whether the
 *        connection still works: KEEPER works, or KEEPER status=...; so a
 *        stale write's failure can only be its rkey's.
 *   dx-client HOST EXPORT PATH create MODE        OPEN CREATE with MODE (octal): OK
 *   dx-client HOST EXPORT PATH allocate OFF LEN   OPEN CREATE RW, ALLOCATE [OFF, +LEN):
 *        ALLOCATED ms=T (from the OPEN)
 *   dx-client HOST EXPORT PATH layouts N LEN   READ layouts of LEN bytes at 0, LEN,
 *        2 LEN...: GOT N (or GOT K and ERR layout_get NAME at=K), then wait
 *        for $DX_GO (30 s at most)
 *   dx-client HOST EXPORT PATH many N LEN   READ layouts of LEN bytes at 0, LEN, ...:
 *        GOT N; then sleep in poll() and let the library return what is
 *        recalled: RETURNED_ALL N ms=T (from the first return it saw), or
 *        FENCED after K returned
 *   dx-client HOST EXPORT PREFIX openmany N   create and keep open PREFIX0..N-1:
 *        OPENED N (or ERR open NAME at=I), then wait for $DX_GO (30 s at most)
 *   dx-client HOST EXPORT PATH busy LEN SECONDS    keep the daemon busy: get two RW
 *        layouts of LEN bytes, COMMIT each whole, return them, again, for
 *        SECONDS; prints BUSY, then OPS N (layouts granted and committed)
 *   dx-client HOST EXPORT PATH late OFF LEN SEED PATH2   an RW layout on PATH, READY;
 *        then, without calling the library, wait for $DX_GO (30 s at most), so
 *        whatever the daemon sent meanwhile (a recall) waits in the queue; then
 *        write the pattern of SEED to PATH2 as "write" does (OK), and print
 *        FIRST recalled|valid for the layout on PATH
 *   dx-client HOST EXPORT PATH survive LEN SEED   with DAXRDMA_RELAYOUT: an RW layout over
 *        [0, LEN), the pattern of SEED written and committed, READY; wait for $DX_GO
 *        (60 s at most, handling what arrives on the library's fd; meanwhile the
 *        daemon restarts or the device goes and comes back); write SEED + 1 through the
 *        same layout handle: LOST (the error) when the connection is gone; then
 *        daxrdma_reconnect() every 200 ms for up to 20 s: RECONNECTED (also on its ESTALE:
 *        connected, with no file back); the same
 *        write again through the same file and layout handles, committed: WORKS
 *   dx-client HOST EXPORT PATH steal write|read RADDR RKEY LEN
 *        on this client's own connection, RDMA with another client's
 *        raddr and rkey: STEAL_WRITE|STEAL_READ status=...
 *
 * The pattern byte at file offset o is (o * 7 + SEED) & 0xff.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "client/client_internal.h"

static int recalled_reason;
static struct daxrdma_layout *keeper; /* hold's other layout (DX_KEEP) */

static void logger(void *arg, int prio, const char *msg)
{
	fprintf(stderr, "dx-client: %s\n", msg);
}

/* cppcheck-suppress constParameter ; the signature is daxrdma_recall_fn's */
static int on_recall(void *arg, struct daxrdma_layout *l, int reason)
{
	if (l == keeper) {
		printf("KEEPER_RECALLED reason=%d\n", reason);
		fflush(stdout);
		return DAXRDMA_RECALL_DEFER;
	}
	recalled_reason = reason;
	printf("RECALLED reason=%d\n", reason);
	fflush(stdout);
	return DAXRDMA_RECALL_DEFER;
}

static unsigned char *pattern(uint64_t off, size_t len, unsigned int seed)
{
	unsigned char *p = malloc(len ? len : 1);

	for (size_t i = 0; p && i < len; i++)
		p[i] = (unsigned char)(((off + i) * 7 + seed) & 0xff);
	return p;
}

static int fail(const char *what, int err)
{
	printf("ERR %s %s\n", what, strerrorname_np(-err) ? strerrorname_np(-err) : "?");
	return 1;
}

static uint64_t num(const char *s)
{
	return strtoull(s, NULL, 0);
}

static int do_write(struct daxrdma_client *c, const char *ex, const char *path, uint64_t off, uint64_t len,
		    unsigned int seed)
{
	uint64_t lo = off / 4096 * 4096, hi = (off + len + 4095) / 4096 * 4096;
	struct daxrdma_layout *l;
	struct daxrdma_file *f;
	unsigned char *p = pattern(off, len, seed);
	int ret;

	ret = daxrdma_open(c, ex, path, DAXRDMA_O_RDWR | DAXRDMA_O_CREAT, 0644, &f);
	if (ret)
		return fail("open", ret);
	ret = daxrdma_allocate(f, lo, hi - lo);
	if (ret)
		return fail("allocate", ret);
	ret = daxrdma_layout_get(f, lo, hi - lo, DAXRDMA_RW, &l);
	if (ret)
		return fail("layout_get", ret);
	ret = daxrdma_write(l, off, p, len);
	if (ret)
		return fail("write", ret);
	if (!getenv("DX_NO_COMMIT")) {
		int method = 0;

		if (getenv("DX_SAY_COMMIT"))
			printf("COMMITTING\n");
		ret = daxrdma_commit_method(l, off, len, &method);
		if (ret)
			return fail("commit", ret);
		if (getenv("DX_SHOW_PERSIST"))
			printf("PERSIST %s\n", method == DAXRDMA_PERSIST_FLUSH ? "rdma-flush"
			       : method == DAXRDMA_PERSIST_READ_AFTER_WRITE ? "read-after-write" : "commit");
	}
	ret = daxrdma_layout_return(&l);
	if (ret)
		return fail("layout_return", ret);
	free(p);
	printf("OK\n");
	return daxrdma_close(&f) ? 1 : 0;
}

static int do_read(struct daxrdma_client *c, const char *ex, const char *path, uint64_t off, uint64_t len)
{
	struct daxrdma_layout *l;
	struct daxrdma_file *f;
	unsigned char *p = malloc(len);
	int ret;

	if (!p)
		return fail("malloc", -ENOMEM);
	ret = daxrdma_open(c, ex, path, 0, 0, &f);
	if (!ret)
		ret = daxrdma_layout_get(f, off, len, DAXRDMA_READ, &l);
	if (!ret)
		ret = daxrdma_read(l, off, p, len);
	if (ret) {
		free(p);
		return fail("read", ret);
	}
	fwrite(p, 1, len, stdout);
	free(p);
	daxrdma_layout_return(&l);
	return daxrdma_close(&f) ? 1 : 0;
}

/* try rw|ro|create|trunc OFF LEN rw|read: what the daemon answers, as a word. */
static int do_try(struct daxrdma_client *c, const char *ex, const char *path, const char *omode, uint64_t off,
		  uint64_t len, const char *iomode)
{
	unsigned int flags = strcmp(omode, "ro") == 0 ? 0 : DAXRDMA_O_RDWR;
	struct daxrdma_layout *l;
	struct daxrdma_file *f;
	int ret;

	if (strcmp(omode, "create") == 0)
		flags |= DAXRDMA_O_CREAT;
	if (strcmp(omode, "trunc") == 0)
		flags |= DAXRDMA_O_TRUNC;
	ret = daxrdma_open(c, ex, path, flags, 0644, &f);
	if (ret)
		return fail("open", ret) - 1;
	ret = daxrdma_layout_get(f, off, len, strcmp(iomode, "rw") == 0 ? DAXRDMA_RW : DAXRDMA_READ, &l);
	if (ret)
		return fail("layout_get", ret) - 1;
	printf("OK\n");
	return 0;
}

static bool go_file_appears(int64_t end)
{
	const char *go = getenv("DX_GO");

	while (go && access(go, F_OK) != 0 && dxc_now_ms() < end)
		usleep(20000);
	return go && access(go, F_OK) == 0;
}

/* hold ... serve: does the layout still hold our bytes and still work? */
static int serve(struct daxrdma_layout *l, uint64_t off, uint64_t len, unsigned int seed, unsigned char *p,
		 int64_t end)
{
	unsigned char *back = malloc(len), *next = pattern(off, len, seed + 1);
	int ret;

	if (!back || !next || !go_file_appears(end))
		return fail("serve", -ETIMEDOUT);
	ret = daxrdma_read(l, off, back, len);
	if (ret)
		return fail("read", ret);
	printf(memcmp(back, p, len) ? "CLOBBERED\n" : "INTACT\n");
	ret = daxrdma_write(l, off, next, len);
	if (!ret)
		ret = daxrdma_commit(l, off, len);
	if (!ret)
		ret = daxrdma_layout_return(&l);
	if (ret)
		return fail("write", ret);
	printf("WORKS\n");
	free(back);
	free(next);
	free(p);
	return 0;
}

static int do_layouts(struct daxrdma_client *c, const char *ex, const char *path, unsigned int n, uint64_t len)
{
	struct daxrdma_layout *l;
	struct daxrdma_file *f;
	unsigned int i;
	int ret;

	ret = daxrdma_open(c, ex, path, 0, 0, &f);
	if (ret)
		return fail("open", ret);
	for (i = 0; i < n; i++) {
		ret = daxrdma_layout_get(f, (uint64_t)i * len, len, DAXRDMA_READ, &l);
		if (ret)
			break;
	}
	printf("GOT %u\n", i);
	if (ret)
		printf("ERR layout_get %s at=%u\n", strerrorname_np(-ret) ? strerrorname_np(-ret) : "?", i);
	fflush(stdout);
	go_file_appears(dxc_now_ms() + 30000);
	return 0; /* daxrdma_client_delete() returns them */
}

/* many N LEN: N READ layouts, then the man page's event loop; the library
 * returns recalled layouts itself (no recall callback). */
static int do_many(struct daxrdma_client *c, const char *ex, const char *path, unsigned int n, uint64_t len)
{
	struct daxrdma_layout **l = calloc(n ? n : 1, sizeof(*l));
	struct daxrdma_layout_info info;
	struct daxrdma_file *f;
	unsigned int i, back = 0;
	int64_t first = 0;
	int ret;

	if (!l)
		return fail("many", -ENOMEM);
	ret = daxrdma_open(c, ex, path, 0, 0, &f);
	for (i = 0; i < n && !ret; i++)
		ret = daxrdma_layout_get(f, (uint64_t)i * len, len, DAXRDMA_READ, &l[i]);
	if (ret) {
		free(l);
		return fail(i ? "layout_get" : "open", ret);
	}
	printf("GOT %u\n", n);
	fflush(stdout);
	while (back < n) {
		struct pollfd pfd = { .fd = daxrdma_client_fd(c), .events = POLLIN };

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		ret = daxrdma_client_process(c);
		for (back = 0, i = 0; i < n; i++)
			back += daxrdma_layout_info(l[i], &info) == 0 && info.recalled;
		if (back && !first)
			first = dxc_now_ms();
		if (ret == -ENOTCONN)
			break;
		ret = 0;
	}
	free(l); /* the layouts themselves go with the client */
	if (ret == -ENOTCONN) {
		printf("FENCED after %u returned\n", back);
		return 1;
	}
	if (ret)
		return fail("poll", ret);
	printf("RETURNED_ALL %u ms=%lld\n", n, (long long)(dxc_now_ms() - first));
	return 0;
}

static int do_openmany(struct daxrdma_client *c, const char *ex, const char *prefix, unsigned int n)
{
	struct daxrdma_file **f = calloc(n ? n : 1, sizeof(*f));
	char path[256];
	unsigned int i;
	int ret = 0;

	if (!f)
		return fail("openmany", -ENOMEM);
	for (i = 0; i < n && !ret; i++) {
		snprintf(path, sizeof(path), "%s%u", prefix, i);
		ret = daxrdma_open(c, ex, path, DAXRDMA_O_RDWR | DAXRDMA_O_CREAT, 0644, &f[i]);
	}
	if (ret)
		printf("ERR open %s at=%u\n", strerrorname_np(-ret) ? strerrorname_np(-ret) : "?", i - 1);
	else
		printf("OPENED %u\n", n);
	fflush(stdout);
	go_file_appears(dxc_now_ms() + 30000);
	free(f); /* daxrdma_client_delete() closes them all */
	return ret ? 1 : 0;
}

static int do_busy(struct daxrdma_client *c, const char *ex, const char *path, uint64_t len, int64_t secs)
{
	int64_t end = dxc_now_ms() + secs * 1000;
	struct daxrdma_layout *l[2];
	struct daxrdma_file *f;
	unsigned int ops = 0;
	int ret;

	ret = daxrdma_open(c, ex, path, DAXRDMA_O_RDWR | DAXRDMA_O_CREAT, 0644, &f);
	if (!ret)
		ret = daxrdma_allocate(f, 0, 2 * len);
	if (ret)
		return fail("busy setup", ret);
	printf("BUSY\n");
	fflush(stdout);
	while (dxc_now_ms() < end) {
		for (int i = 0; i < 2; i++) {
			ret = daxrdma_layout_get(f, (uint64_t)i * len, len, DAXRDMA_RW, &l[i]);
			if (!ret)
				ret = daxrdma_commit(l[i], (uint64_t)i * len, len);
			if (ret)
				return fail("busy", ret);
			ops++;
		}
		for (int i = 0; i < 2; i++) {
			ret = daxrdma_layout_return(&l[i]);
			if (ret)
				return fail("busy return", ret);
		}
	}
	printf("OPS %u\n", ops);
	return daxrdma_close(&f) ? 1 : 0;
}

/* steal write|read RADDR RKEY LEN: RDMA on our own QP with another client's key. */
static int do_steal(struct daxrdma_client *c, const char *op, uint64_t raddr, uint32_t rkey, size_t len)
{
	bool write = strcmp(op, "write") == 0;
	unsigned char *buf = malloc(len);
	int st;

	if (!buf || len > DXC_STAGE_SLOT)
		return fail("steal", -EINVAL);
	memset(buf, 0xEE, len);
	st = dxc_rdma_raw(c, write, raddr, rkey, buf, len);
	printf("STEAL_%s status=%s\n", write ? "WRITE" : "READ",
	       st < 0 ? strerror(-st) : ibv_wc_status_str((enum ibv_wc_status)st));
	free(buf);
	return 0;
}

static int do_create(struct daxrdma_client *c, const char *ex, const char *path, unsigned int mode)
{
	struct daxrdma_file *f;
	int ret = daxrdma_open(c, ex, path, DAXRDMA_O_RDWR | DAXRDMA_O_CREAT, mode, &f);

	if (ret)
		return fail("open", ret);
	printf("OK\n");
	return daxrdma_close(&f) ? 1 : 0;
}

static int do_allocate(struct daxrdma_client *c, const char *ex, const char *path, uint64_t off, uint64_t len)
{
	struct daxrdma_file *f;
	int64_t t0 = dxc_now_ms();
	int ret = daxrdma_open(c, ex, path, DAXRDMA_O_RDWR | DAXRDMA_O_CREAT, 0644, &f);

	if (ret)
		return fail("open", ret);
	ret = daxrdma_allocate(f, off, len);
	if (ret)
		return fail("allocate", ret);
	printf("ALLOCATED ms=%lld\n", (long long)(dxc_now_ms() - t0));
	return daxrdma_close(&f) ? 1 : 0;
}

/* DX_KEEP's layout: 64 KiB of EXPORT/PATH, RW, written with SEED. */
static int keep(struct daxrdma_client *c, const char *spec, unsigned int seed,
		struct daxrdma_layout_info *info)
{
	const char *slash = strchr(spec, '/');
	unsigned char *p = pattern(0, 65536, seed);
	struct daxrdma_file *f;
	char ex[256];
	int ret;

	if (!slash || !p || (size_t)(slash - spec) >= sizeof(ex))
		return fail("DX_KEEP is EXPORT/PATH", -EINVAL);
	snprintf(ex, sizeof(ex), "%.*s", (int)(slash - spec), spec);
	ret = daxrdma_open(c, ex, slash + 1, DAXRDMA_O_RDWR | DAXRDMA_O_CREAT, 0644, &f);
	if (ret == 0)
		ret = daxrdma_allocate(f, 0, 65536);
	if (ret == 0)
		ret = daxrdma_layout_get(f, 0, 65536, DAXRDMA_RW, &keeper);
	if (ret == 0)
		ret = daxrdma_write(keeper, 0, p, 65536);
	if (ret == 0)
		ret = daxrdma_commit(keeper, 0, 65536);
	free(p);
	if (ret)
		return fail("keep", ret);
	daxrdma_layout_info(keeper, info);
	printf("KEEP rkey=%#x\n", info->rkey);
	return 0;
}

static int do_hold(struct daxrdma_client *c, const char *ex, const char *path, uint64_t off, uint64_t len,
		   unsigned int seed, const char *mode, int iomode)
{
	struct daxrdma_layout_info kinfo;
	struct daxrdma_layout_info info;
	struct daxrdma_layout *l;
	struct daxrdma_file *f;
	unsigned char *p = pattern(off, len, seed), junk[4096];
	bool loop = strcmp(mode, "loop") == 0, cooperate = strcmp(mode, "cooperate") == 0;
	int64_t end = dxc_now_ms() + 30000;
	unsigned long wakeups = 0;
	bool said_wakeups = false, lost = false;
	int ret, st;

	if (getenv("DX_KEEP") && keep(c, getenv("DX_KEEP"), seed + 7, &kinfo))
		return 1;
	ret = daxrdma_open(c, ex, path, iomode == DAXRDMA_RW ? DAXRDMA_O_RDWR : 0, 0, &f);
	if (ret)
		return fail("open", ret);
	ret = daxrdma_layout_get(f, off, len, iomode, &l);
	if (ret)
		return fail("layout_get", ret);
	if (iomode == DAXRDMA_RW) {
		ret = daxrdma_write(l, off, p, len);
		if (!ret)
			ret = daxrdma_commit(l, off, len);
		if (ret)
			return fail("write", ret);
	}
	if (getenv("DX_DIRTY")) {
		unsigned char *next = pattern(off, len, seed + 1);

		ret = next ? daxrdma_write(l, off, next, len) : -ENOMEM;
		free(next);
		if (ret)
			return fail("write", ret);
	}
	daxrdma_layout_info(l, &info);
	printf("READY raddr=%#llx rkey=%#x\n", (unsigned long long)info.raddr, info.rkey);
	fflush(stdout);
	if (strcmp(mode, "serve") == 0)
		return serve(l, off, len, seed, p, end);
	/* The event loop of libdaxrdma-client(3): sleep in poll() with no
	 * timeout until the library's fd is readable, then process. */
	while (loop ? dxc_now_ms() < end : true) {
		struct pollfd pfd = { .fd = daxrdma_client_fd(c), .events = POLLIN };

		if (loop) {
			if (daxrdma_write(l, off, p, len))
				break;
		} else {
			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				return fail("poll", -errno);
			wakeups++;
		}
		ret = daxrdma_client_process(c);
		if (recalled_reason && !said_wakeups) {
			printf("IDLE_WAKEUPS %lu\n", wakeups); /* the one that brought the recall included */
			said_wakeups = true;
		}
		if (ret == -ENOTCONN) {
			printf("FENCED\n");
			lost = true;
			break;
		}
		if (recalled_reason && cooperate) {
			if (getenv("DX_DIRTY")) {
				ret = daxrdma_commit(l, off, len);
				printf("RECALL_COMMIT %s%s\n", ret ? "ERR " : "OK",
				       ret ? strerrorname_np(-ret) : "");
			}
			/* An error: returned all the same, its writes not persisted. */
			ret = daxrdma_layout_return(&l);
			printf("RETURNED%s%s\n", ret ? " ERR " : "", ret ? strerrorname_np(-ret) : "");
			break;
		}
	}
	fflush(stdout);
	if (!recalled_reason && !loop && !lost) {
		printf("NO_RECALL\n");
		return 1;
	}
	if (getenv("DX_AGAIN")) {
		struct daxrdma_layout *again;

		ret = daxrdma_layout_get(f, off, len, iomode, &again);
		printf("AGAIN %s%s\n", ret ? "ERR " : "OK", ret ? strerrorname_np(-ret) : "");
	}
	/* Wait for the local operation to finish first if the script says so. */
	if (getenv("DX_STALE_AFTER"))
		while (access(getenv("DX_STALE_AFTER"), F_OK) != 0 && dxc_now_ms() < end + 10000)
			usleep(20000);
	if (keeper) {
		st = dxc_rdma_raw(c, false, kinfo.raddr, kinfo.rkey, junk, sizeof(junk));
		if (st == IBV_WC_SUCCESS)
			printf("KEEPER works\n");
		else
			printf("KEEPER status=%s\n", st < 0 ? strerror(-st) : ibv_wc_status_str((enum ibv_wc_status)st));
	}
	memset(junk, 0xEE, sizeof(junk));
	st = dxc_rdma_raw(c, true, info.raddr, info.rkey, junk, sizeof(junk) < len ? sizeof(junk) : len);
	printf("STALE_WRITE status=%s\n", st < 0 ? strerror(-st) : ibv_wc_status_str((enum ibv_wc_status)st));
	printf("HOLD_DONE\n");
	fflush(stdout);
	free(p);
	return st == IBV_WC_SUCCESS ? 3 : 0;
}

static int do_survive(struct daxrdma_client *c, const char *ex, const char *path, uint64_t len,
		      unsigned int seed)
{
	unsigned char *p = pattern(0, len, seed), *q = pattern(0, len, seed + 1);
	struct daxrdma_layout *l;
	struct daxrdma_file *f;
	int ret;

	ret = daxrdma_open(c, ex, path, DAXRDMA_O_RDWR | DAXRDMA_O_CREAT, 0644, &f);
	if (ret == 0)
		ret = daxrdma_allocate(f, 0, len);
	if (ret == 0)
		ret = daxrdma_layout_get(f, 0, len, DAXRDMA_RW, &l);
	if (ret == 0)
		ret = daxrdma_write(l, 0, p, len);
	if (ret == 0)
		ret = daxrdma_commit(l, 0, len);
	if (ret)
		return fail("before", ret);
	printf("READY\n");
	/* Waiting for $DX_GO, it answers the daemon (and the device's removal)
	 * as an application in its event loop does. */
	for (int i = 0; i < 6000 && access(getenv("DX_GO") ? getenv("DX_GO") : "/nonexistent", F_OK); i++) {
		struct pollfd pfd = { .fd = daxrdma_client_fd(c), .events = POLLIN };

		if (poll(&pfd, 1, 10) > 0)
			daxrdma_client_process(c);
	}
	ret = daxrdma_write(l, 0, q, len);
	if (ret == 0)
		ret = daxrdma_commit(l, 0, len);
	if (ret == 0)
		return fail("the daemon restarted, and the write", 0);
	printf("LOST %s\n", strerrorname_np(-ret) ? strerrorname_np(-ret) : "?");
	for (int i = 0; i < 100; i++) {
		ret = daxrdma_reconnect(c);
		if (ret != -ECONNREFUSED && ret != -ETIMEDOUT && ret != -ENODEV && ret != -EHOSTUNREACH)
			break;
		usleep(200000);
	}
	/* ESTALE: connected, but none of the files is back (another is at its path). */
	if (ret && ret != -ESTALE)
		return fail("reconnect", ret);
	printf("RECONNECTED\n");
	ret = daxrdma_write(l, 0, q, len);
	if (ret == 0)
		ret = daxrdma_commit(l, 0, len);
	if (ret)
		return fail("after", ret);
	printf("WORKS\n");
	daxrdma_layout_return(&l);
	free(p);
	free(q);
	return daxrdma_close(&f) ? 1 : 0;
}

static int do_late(struct daxrdma_client *c, const char *ex, const char *path, uint64_t off, uint64_t len,
		   unsigned int seed, const char *path2)
{
	uint64_t lo = off / 4096 * 4096, hi = (off + len + 4095) / 4096 * 4096;
	struct daxrdma_layout_info info;
	struct daxrdma_layout *l;
	struct daxrdma_file *f;
	int ret;

	ret = daxrdma_open(c, ex, path, DAXRDMA_O_RDWR | DAXRDMA_O_CREAT, 0644, &f);
	if (ret == 0)
		ret = daxrdma_allocate(f, lo, hi - lo);
	if (ret == 0)
		ret = daxrdma_layout_get(f, lo, hi - lo, DAXRDMA_RW, &l);
	if (ret)
		return fail("first layout", ret);
	printf("READY\n");
	go_file_appears(dxc_now_ms() + 30000);
	ret = do_write(c, ex, path2, off, len, seed);
	if (daxrdma_layout_info(l, &info) == 0)
		printf("FIRST %s\n", info.recalled ? "recalled" : "valid");
	return ret;
}

int main(int argc, char **argv)
{
	struct daxrdma_client_opts o = {
		.size = sizeof(o), .log = logger, .log_level = getenv("DX_DEBUG") ? LOG_DEBUG : LOG_WARNING,
		.timeout_ms = 8000, .recall = on_recall,
	};
	struct daxrdma_client *c;
	const char *act;
	int ret;

	if (argc < 5) {
		fprintf(stderr, "usage: dx-client HOST EXPORT PATH write|read|try|hold ARGS...\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	act = argv[4];
	if (strcmp(act, "read") != 0 && strcmp(act, "hold") != 0)
		o.recall = NULL;
	if (getenv("DX_COMMIT_MESSAGE"))
		o.flags |= DAXRDMA_COMMIT_MESSAGE;
	if (strcmp(act, "survive") == 0)
		o.flags |= DAXRDMA_RELAYOUT;
	if (daxrdma_client_new(&o, &c))
		return 1;
	ret = daxrdma_connect(c, argv[1], getenv("DX_PORT"));
	if (ret)
		return fail("connect", ret);
	if (strcmp(act, "write") == 0 && argc == 8)
		ret = do_write(c, argv[2], argv[3], num(argv[5]), num(argv[6]), (unsigned int)num(argv[7]));
	else if (strcmp(act, "read") == 0 && argc == 7)
		ret = do_read(c, argv[2], argv[3], num(argv[5]), num(argv[6]));
	else if (strcmp(act, "try") == 0 && argc == 9)
		ret = do_try(c, argv[2], argv[3], argv[5], num(argv[6]), num(argv[7]), argv[8]);
	else if (strcmp(act, "hold") == 0 && (argc == 9 || argc == 10))
		ret = do_hold(c, argv[2], argv[3], num(argv[5]), num(argv[6]), (unsigned int)num(argv[7]), argv[8],
			      argc == 10 && strcmp(argv[9], "read") == 0 ? DAXRDMA_READ : DAXRDMA_RW);
	else if (strcmp(act, "allocate") == 0 && argc == 7)
		ret = do_allocate(c, argv[2], argv[3], num(argv[5]), num(argv[6]));
	else if (strcmp(act, "create") == 0 && argc == 6)
		ret = do_create(c, argv[2], argv[3], (unsigned int)strtoul(argv[5], NULL, 8));
	else if (strcmp(act, "busy") == 0 && argc == 7)
		ret = do_busy(c, argv[2], argv[3], num(argv[5]), (int64_t)num(argv[6]));
	else if (strcmp(act, "layouts") == 0 && argc == 7)
		ret = do_layouts(c, argv[2], argv[3], (unsigned int)num(argv[5]), num(argv[6]));
	else if (strcmp(act, "many") == 0 && argc == 7)
		ret = do_many(c, argv[2], argv[3], (unsigned int)num(argv[5]), num(argv[6]));
	else if (strcmp(act, "openmany") == 0 && argc == 6)
		ret = do_openmany(c, argv[2], argv[3], (unsigned int)num(argv[5]));
	else if (strcmp(act, "survive") == 0 && argc == 7)
		ret = do_survive(c, argv[2], argv[3], num(argv[5]), (unsigned int)num(argv[6]));
	else if (strcmp(act, "late") == 0 && argc == 9)
		ret = do_late(c, argv[2], argv[3], num(argv[5]), num(argv[6]), (unsigned int)num(argv[7]), argv[8]);
	else if (strcmp(act, "steal") == 0 && argc == 9)
		ret = do_steal(c, argv[5], num(argv[6]), (uint32_t)num(argv[7]), (size_t)num(argv[8]));
	else {
		fprintf(stderr, "dx-client: bad arguments for %s\n", act);
		ret = 2;
	}
	daxrdma_client_delete(&c);
	return ret;
}
