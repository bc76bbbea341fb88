/*
 * dx-soak: mixed load against daxrdmad, checked against a model of every byte.
 *
 *   dx-soak [-d SECONDS] [-c CLIENTS] [-f FILES] [-z MAX_SIZE] [-k CHECK_S]
 *           [-a] [-S SAMPLE_CMD] HOST EXPORT=DIR...
 *
 * EXPORT is an export's name and DIR its directory here; the files are
 * soak/soak-N.dat and soak/soak-clientN.dat in each, created empty.
 *
 * CLIENTS threads (8) each connect their own client and do random OPEN,
 * ALLOCATE, LAYOUT_GET (READ and RW), RDMA writes and reads, COMMIT, set-size
 * and RETURN on FILES files (6) per export, all shared, plus a private file
 * per client. One client in eight ignores recalls: it takes an RW layout,
 * never returns it, and keeps writing the poison byte 0xE5 into it with the
 * layout's raw rkey (under the library, as a hostile client would) until it
 * is fenced; then it connects again. Two local threads truncate, punch,
 * extend, write and read the same files through the file system (blocking
 * calls, which wait for the daemon's lease break).
 *
 * The model holds each byte's last committed value, zero after a local
 * truncate or punch. Every operation that changes bytes runs under its
 * file's token (a pipe holding one byte: a client waiting for it keeps
 * polling its library fd, so it answers recalls meanwhile) and updates the
 * model with what it did: a committed write sets the bytes; a write whose
 * commit failed may or may not have landed, so each byte may then be either
 * value; an ignoring client's layout may hold anything until something
 * overwrites or zeroes it. Every RDMA read and every local read is checked:
 * a byte that differs is WRONG, or a FENCE MISS if it is the poison (nobody
 * else writes 0xE5), which only a fenced client's write can have put there.
 *
 * Every CHECK_S seconds (30) every thread stops, every client disconnects,
 * and SAMPLE_CMD runs (sh -c) so the caller can sample the quiescent daemon.
 * -a keeps every RDMA I/O page-aligned (for rxe's ODP data path).
 * DXSOAK_DEBUG set: the library's debug log and every layout got and
 * returned, per thread, on stderr.
 *
 * Prints a line per checkpoint and, at the end, one SOAK line of key=value
 * figures. Exits 0 if no byte was wrong or a fence miss and every thread
 * ran; 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "client/client_internal.h"

#define PAGE 4096u
#define POISON 0xE5u
#define MAX_FILES 64
#define MAX_EXPORTS 4
#define MAX_CLIENTS 64
#define MAX_IO (256u * 1024u)

enum byte_state { KNOWN = 0, EITHER, UNKNOWN };

struct mfile {
	char export[64];
	char name[64];   /* path inside the export */
	char local[512]; /* path on this machine */
	int token[2];    /* a pipe holding one byte while nobody has the file */
	uint64_t size;
	uint8_t *val, *alt, *st; /* cap bytes each; bytes at or past size are KNOWN 0 */
};

static struct {
	const char *host;
	int seconds, clients, files, check_s;
	uint64_t cap;
	bool aligned;
	const char *sample_cmd;
	struct { char name[64], dir[400]; } exports[MAX_EXPORTS];
	int n_exports;
	struct mfile f[MAX_FILES]; /* FILES per export, shared; then one per client */
	int n_files, n_shared;
} cfg = { .seconds = 120, .clients = 8, .files = 6, .check_s = 30, .cap = 2u << 20 };

/* Figures, all threads. */
static atomic_ullong n_ops, n_writes, n_commits, n_commit_fail, n_reads, n_local, n_local_reads,
	n_allocs, n_setsize, n_returns, n_recalls_seen, n_fenced, n_lost_conn, n_reconnects, n_poison_ok,
	n_poison_refused, n_bytes_verified, n_bytes_unsure, n_wrong, n_fence_miss, n_busy,
	n_errors, max_local_ms;
static atomic_bool stop_all;
static atomic_int phase_epoch;

static int log_level = LOG_WARNING; /* DXSOAK_DEBUG: LOG_DEBUG */

static void log_fn(void *arg, int prio, const char *msg)
{
	if (prio <= log_level)
		fprintf(stderr, "lib %d: %s\n", *(const int *)arg, msg);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void atomic_max(atomic_ullong *a, unsigned long long v)
{
	unsigned long long cur = atomic_load(a);

	while (v > cur && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

/* xorshift64*, one per thread */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

/* Data nobody confuses with the poison. */
static void fill(uint64_t *s, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		buf[i] = (uint8_t)rnd(s);
		if (buf[i] == POISON)
			buf[i] = 0x5E;
	}
}

/* ---- the model ---- */

static void m_known(struct mfile *f, uint64_t off, const uint8_t *data, uint64_t len)
{
	memcpy(f->val + off, data, len);
	memset(f->st + off, KNOWN, len);
}

static void m_zero(struct mfile *f, uint64_t off, uint64_t len)
{
	memset(f->val + off, 0, len);
	memset(f->st + off, KNOWN, len);
}

/* A write that may or may not have landed, byte by byte. */
static void m_either(struct mfile *f, uint64_t off, const uint8_t *data, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++) {
		uint64_t o = off + i;

		if (f->st[o] == KNOWN) {
			if (f->val[o] != data[i]) {
				f->alt[o] = data[i];
				f->st[o] = EITHER;
			}
		} else if (f->st[o] == EITHER && f->val[o] != data[i] && f->alt[o] != data[i]) {
			f->st[o] = UNKNOWN;
		}
	}
}

static void m_unknown(struct mfile *f, uint64_t off, uint64_t len)
{
	memset(f->st + off, UNKNOWN, len);
}

static void m_resize(struct mfile *f, uint64_t size)
{
	if (size < f->size)
		m_zero(f, size, f->size - size);
	f->size = size;
}

/* After a call that failed, the file may or may not have its new size:
 * stat() tells (it takes no lease), and the bytes it gained are zeros. */
static void m_sync_size(struct mfile *f)
{
	struct stat st;

	if (stat(f->local, &st) == 0)
		m_resize(f, (uint64_t)st.st_size);
}

/* Check LEN bytes read at OFF (all below the model's size). */
static void m_check(struct mfile *f, uint64_t off, const uint8_t *got, uint64_t len, const char *who)
{
	unsigned long long ok = 0, unsure = 0, wrong = 0, miss = 0;
	uint64_t first_bad = UINT64_MAX;

	for (uint64_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		bool good;

		switch (f->st[o]) {
		case KNOWN:
			good = got[i] == f->val[o];
			break;
		case EITHER:
			good = got[i] == f->val[o] || got[i] == f->alt[o];
			break;
		default:
			unsure++;
			continue;
		}
		if (good) {
			ok++;
			continue;
		}
		if (first_bad == UINT64_MAX)
			first_bad = o;
		if (got[i] == POISON)
			miss++;
		else
			wrong++;
	}
	n_bytes_verified += ok;
	n_bytes_unsure += unsure;
	if (wrong || miss) {
		n_wrong += wrong;
		n_fence_miss += miss;
		printf("MISMATCH %s %s/%s: %llu wrong, %llu fence-miss bytes in [%" PRIu64 ", +%" PRIu64
		       "); first at %" PRIu64 ": got 0x%02x, model %s 0x%02x/0x%02x\n",
		       who, f->export, f->name, wrong, miss, off, len, first_bad, got[first_bad - off],
		       f->st[first_bad] == KNOWN ? "known" : "either", f->val[first_bad], f->alt[first_bad]);
		fflush(stdout);
	}
}

/* ---- file tokens ---- */

static void token_put(struct mfile *f)
{
	char b = 1;

	if (write(f->token[1], &b, 1) != 1)
		abort();
}

static bool token_try(struct mfile *f)
{
	char b;

	return read(f->token[0], &b, 1) == 1;
}

/* A local thread: block until the token is ours. */
static void token_wait(struct mfile *f)
{
	struct pollfd p = { .fd = f->token[0], .events = POLLIN };

	while (!token_try(f))
		poll(&p, 1, -1);
}

/* A client: wait for the token and answer the daemon meanwhile. -ENOTCONN
 * if the client broke while it waited (the token is not taken then). */
static int token_wait_client(struct mfile *f, struct daxrdma_client *c)
{
	struct pollfd p[2] = {
		{ .fd = f->token[0], .events = POLLIN },
		{ .fd = daxrdma_client_fd(c), .events = POLLIN },
	};

	while (!token_try(f)) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return -errno;
		if (p[1].revents) {
			int ret = daxrdma_client_process(c);
			if (ret == -ENOTCONN)
				return ret;
		}
	}
	return 0;
}

/* ---- checkpoints: every thread parks, clients disconnected ---- */

static pthread_barrier_t park_in, park_out;

static bool parking_due(const int *epoch)
{
	return atomic_load(&phase_epoch) != *epoch;
}

static void park(int *epoch)
{
	pthread_barrier_wait(&park_in);
	pthread_barrier_wait(&park_out);
	*epoch = atomic_load(&phase_epoch);
}

/* ---- cooperating clients ---- */

struct cstate {
	int id;
	uint64_t seed;
	struct daxrdma_client *c;
	struct daxrdma_file *fh[MAX_FILES];
	struct daxrdma_layout *lay[MAX_FILES]; /* at most one cached layout per file */
	uint8_t *buf;
};

static int on_recall(void *arg, struct daxrdma_layout *l, int reason)
{
	(void)arg, (void)l, (void)reason;
	n_recalls_seen++;
	return DAXRDMA_RECALL_RETURN;
}

static void drop_layout(struct cstate *s, int fi)
{
	if (s->lay[fi]) {
		if (log_level == LOG_DEBUG)
			fprintf(stderr, "soak %d: return id %llu state %d\n", s->id,
				(unsigned long long)s->lay[fi]->sid.id, (int)s->lay[fi]->state);
		daxrdma_layout_return(&s->lay[fi]);
		n_returns++;
	}
}

static void client_down(struct cstate *s)
{
	for (int i = 0; i < cfg.n_files; i++) {
		drop_layout(s, i);
		if (s->fh[i])
			daxrdma_close(&s->fh[i]);
	}
	daxrdma_client_delete(&s->c);
}

static int client_up(struct cstate *s)
{
	struct daxrdma_client_opts o = {
		.size = sizeof(o), .log = log_fn, .log_arg = &s->id, .log_level = log_level,
		.recall = on_recall, .recall_arg = s,
	};
	int ret;

	ret = daxrdma_client_new(&o, &s->c);
	if (ret == 0)
		ret = daxrdma_connect(s->c, cfg.host, NULL);
	if (ret) {
		fprintf(stderr, "client %d: connect: %s\n", s->id, strerror(-ret));
		daxrdma_client_delete(&s->c);
	}
	return ret;
}

static struct daxrdma_file *file_of(struct cstate *s, int fi)
{
	if (!s->fh[fi]) {
		int ret = daxrdma_open(s->c, cfg.f[fi].export, cfg.f[fi].name,
				       DAXRDMA_O_RDWR | DAXRDMA_O_CREAT, 0644, &s->fh[fi]);
		if (ret)
			return NULL;
	}
	return s->fh[fi];
}

/* A layout of IOMODE covering [lo, hi) on file FI: the cached one if it does. */
static struct daxrdma_layout *layout_for(struct cstate *s, int fi, uint64_t lo, uint64_t hi, int iomode, int *err)
{
	struct daxrdma_layout_info li;
	struct daxrdma_file *fh = file_of(s, fi);

	*err = -EIO;
	if (!fh)
		return NULL;
	if (s->lay[fi] && daxrdma_layout_info(s->lay[fi], &li) == 0 && !li.recalled &&
	    li.off <= lo && li.off + li.len >= hi && (li.iomode == DAXRDMA_RW || iomode == DAXRDMA_READ))
		return s->lay[fi];
	drop_layout(s, fi);
	*err = daxrdma_layout_get(fh, lo, hi - lo, iomode, &s->lay[fi]);
	if (log_level == LOG_DEBUG)
		fprintf(stderr, "soak %d: layout_get %s fh %llu -> %d id %llu\n", s->id, cfg.f[fi].name,
			(unsigned long long)fh->fh, *err, *err ? 0ull : (unsigned long long)s->lay[fi]->sid.id);
	return *err ? NULL : s->lay[fi];
}

/* A random I/O range inside [0, LIMIT) (a multiple of PAGE, at least one):
 * page-aligned [lo, hi), and the bytes [off, off + len) inside it that the
 * I/O touches. */
static void pick_range(struct cstate *s, uint64_t limit, uint64_t *lo, uint64_t *hi, uint64_t *off,
		       uint64_t *len)
{
	uint64_t max_pages = limit / PAGE < MAX_IO / PAGE ? limit / PAGE : MAX_IO / PAGE;
	uint64_t pages = 1 + rnd_below(&s->seed, max_pages);

	*lo = rnd_below(&s->seed, limit / PAGE - pages + 1) * PAGE;
	*hi = *lo + pages * PAGE;
	if (cfg.aligned) {
		*off = *lo;
		*len = *hi - *lo;
	} else {
		*off = *lo + rnd_below(&s->seed, PAGE);
		*len = 1 + rnd_below(&s->seed, *hi - *off);
	}
}

static int op_write(struct cstate *s, int fi)
{
	struct mfile *f = &cfg.f[fi];
	uint64_t lo, hi, off, len;
	struct daxrdma_layout *l;
	bool sent = false;
	int ret;

	pick_range(s, cfg.cap, &lo, &hi, &off, &len);
	fill(&s->seed, s->buf, len);
	ret = token_wait_client(f, s->c);
	if (ret)
		return ret;
	if (!file_of(s, fi)) {
		ret = -EIO;
		goto out;
	}
	if (hi > f->size) {
		/* RDMA never extends a file. */
		ret = daxrdma_allocate(s->fh[fi], lo, hi - lo);
		if (ret) {
			m_sync_size(f);
			goto out;
		}
		n_allocs++;
		m_resize(f, hi);
	}
	l = layout_for(s, fi, lo, hi, DAXRDMA_RW, &ret);
	if (!l)
		goto out;
	sent = true;
	ret = daxrdma_write(l, off, s->buf, len);
	if (ret == 0)
		ret = daxrdma_commit(l, off, len);
	n_writes++;
	if (ret == 0) {
		n_commits++;
		m_known(f, off, s->buf, len);
	}
out:
	if (ret && sent) {
		/* It may have landed, in part: each byte is old or new. */
		n_commit_fail++;
		m_either(f, off, s->buf, len);
		drop_layout(s, fi);
	}
	token_put(f);
	return ret;
}

static int op_read(struct cstate *s, int fi)
{
	struct mfile *f = &cfg.f[fi];
	uint64_t lo, hi, off, len;
	struct daxrdma_layout *l;
	int ret;

	ret = token_wait_client(f, s->c);
	if (ret)
		return ret;
	if (f->size == 0) {
		ret = 0;
		goto out;
	}
	/* Inside the file: a READ layout may cover the rest of the last page,
	 * which reads as zeros, as the model's bytes past the size are. */
	pick_range(s, (f->size + PAGE - 1) / PAGE * PAGE, &lo, &hi, &off, &len);
	/* An RW layout lies wholly inside the file; a READ one may end the page. */
	l = layout_for(s, fi, lo, hi, (rnd(&s->seed) & 1) && hi <= f->size ? DAXRDMA_RW : DAXRDMA_READ, &ret);
	if (!l)
		goto out;
	ret = daxrdma_read(l, off, s->buf, len);
	if (ret == 0) {
		n_reads++;
		m_check(f, off, s->buf, len, "rdma-read");
	}
out:
	token_put(f);
	return ret;
}

static int op_set_size(struct cstate *s, int fi)
{
	struct mfile *f = &cfg.f[fi];
	uint64_t size = rnd_below(&s->seed, cfg.cap + 1);
	int ret;

	ret = token_wait_client(f, s->c);
	if (ret)
		return ret;
	if (!file_of(s, fi)) {
		ret = -EIO;
		goto out;
	}
	drop_layout(s, fi);
	ret = daxrdma_set_size(s->fh[fi], size);
	if (ret == 0) {
		n_setsize++;
		m_resize(f, size);
	} else {
		m_sync_size(f);
	}
out:
	token_put(f);
	return ret;
}

/* Think for up to 5 ms, answering the daemon. */
static int think(struct cstate *s)
{
	struct pollfd p = { .fd = daxrdma_client_fd(s->c), .events = POLLIN };

	if (poll(&p, 1, (int)rnd_below(&s->seed, 6)) > 0)
		return daxrdma_client_process(s->c) == -ENOTCONN ? -ENOTCONN : 0;
	return 0;
}

static void *client_main(void *arg)
{
	struct cstate *s = arg;
	int epoch = atomic_load(&phase_epoch);
	int priv = cfg.n_shared + s->id; /* this client's own file */

	while (!atomic_load(&stop_all)) {
		int fi, ret, r;

		if (parking_due(&epoch)) {
			if (s->c)
				client_down(s);
			park(&epoch);
			continue;
		}
		if (!s->c) {
			if (client_up(s)) {
				usleep(200000);
				continue;
			}
			n_reconnects++;
		}
		r = (int)rnd_below(&s->seed, 100);
		fi = r % 5 == 0 ? priv : (int)rnd_below(&s->seed, (uint64_t)cfg.n_shared);
		if (r < 45)
			ret = op_write(s, fi);
		else if (r < 85)
			ret = op_read(s, fi);
		else if (r < 88)
			ret = op_set_size(s, fi);
		else if (r < 94) {
			drop_layout(s, fi);
			ret = 0;
		} else if (r < 96) {
			drop_layout(s, fi);
			if (s->fh[fi])
				daxrdma_close(&s->fh[fi]);
			ret = 0;
		} else
			ret = 0;
		n_ops++;
		if (ret == 0)
			ret = think(s);
		if (ret == -ENOTCONN) {
			/* Fenced or evicted: connect again, as an application would. */
			n_lost_conn++;
			client_down(s);
		} else if (ret == -EAGAIN) {
			n_busy++;
		} else if (ret && ret != -ESTALE) {
			n_errors++;
			fprintf(stderr, "client %d: %s\n", s->id, strerror(-ret));
		}
	}
	if (s->c)
		client_down(s);
	return NULL;
}

/* ---- the client that ignores recalls ---- */

static int ignore_recall(void *arg, struct daxrdma_layout *l, int reason)
{
	(void)l, (void)reason;
	*(bool *)arg = true;
	n_recalls_seen++;
	return DAXRDMA_RECALL_DEFER; /* and never return it */
}

static void *ignorer_main(void *arg)
{
	struct cstate *s = arg;
	int epoch = atomic_load(&phase_epoch);

	while (!atomic_load(&stop_all)) {
		struct daxrdma_client_opts o = {
			.size = sizeof(o), .log = log_fn, .log_arg = &s->id, .log_level = log_level,
			.recall = ignore_recall,
		};
		struct daxrdma_layout_info li;
		bool recalled = false;
		uint64_t lo, hi;
		int fi, ret;

		if (parking_due(&epoch)) {
			park(&epoch);
			continue;
		}
		o.recall_arg = &recalled;
		if (daxrdma_client_new(&o, &s->c) || daxrdma_connect(s->c, cfg.host, NULL)) {
			daxrdma_client_delete(&s->c);
			usleep(200000);
			continue;
		}
		n_reconnects++;
		fi = (int)rnd_below(&s->seed, (uint64_t)cfg.n_shared);
		lo = rnd_below(&s->seed, cfg.cap / PAGE - 4) * PAGE;
		hi = lo + PAGE * (1 + rnd_below(&s->seed, 4));
		ret = token_wait_client(&cfg.f[fi], s->c);
		if (ret == 0) {
			if (file_of(s, fi) && (hi <= cfg.f[fi].size ||
					       daxrdma_allocate(s->fh[fi], lo, hi - lo) == 0)) {
				m_sync_size(&cfg.f[fi]);
				ret = daxrdma_layout_get(s->fh[fi], lo, hi - lo, DAXRDMA_RW, &s->lay[fi]);
				/* From now on it may hold anything. */
				if (ret == 0)
					m_unknown(&cfg.f[fi], lo, hi - lo);
			} else {
				ret = -EIO;
			}
			token_put(&cfg.f[fi]);
		}
		if (ret == 0 && daxrdma_layout_info(s->lay[fi], &li) == 0) {
			uint8_t poison[PAGE];

			memset(poison, POISON, sizeof(poison));
			/* Poison through the raw rkey until the daemon fences us. */
			while (!atomic_load(&stop_all) && !parking_due(&epoch)) {
				int st = dxc_rdma_raw(s->c, true, li.raddr, li.rkey, poison, PAGE);

				if (st == IBV_WC_SUCCESS) {
					n_poison_ok++;
				} else {
					n_poison_refused++;
					break;
				}
				struct pollfd p = { .fd = daxrdma_client_fd(s->c), .events = POLLIN };
				if (poll(&p, 1, 20) > 0 && daxrdma_client_process(s->c) == -ENOTCONN)
					break;
			}
			if (recalled)
				n_fenced++;
		}
		/* Gone without a word: no BYE, no return. */
		s->lay[fi] = NULL;
		s->fh[fi] = NULL;
		daxrdma_client_delete(&s->c);
	}
	return NULL;
}

/* ---- local processes ---- */

static void *local_main(void *arg)
{
	struct cstate *s = arg;
	int epoch = atomic_load(&phase_epoch);
	uint8_t *rbuf = malloc(cfg.cap);

	if (!rbuf)
		abort();
	while (!atomic_load(&stop_all)) {
		int fi = (int)rnd_below(&s->seed, (uint64_t)cfg.n_shared);
		struct mfile *f = &cfg.f[fi];
		int r = (int)rnd_below(&s->seed, 100), fd, ret = 0;
		uint64_t off, len;
		int64_t t0;

		if (parking_due(&epoch)) {
			park(&epoch);
			continue;
		}
		usleep((useconds_t)(50000 + rnd_below(&s->seed, 200000)));
		token_wait(f);
		t0 = now_ms();
		if (r < 20) { /* truncate: sizes of any alignment */
			uint64_t size = rnd_below(&s->seed, cfg.cap + 1);
			ret = truncate(f->local, (off_t)size) ? -errno : 0;
			if (ret == 0)
				m_resize(f, size);
		} else if (r < 40) { /* punch a hole */
			off = rnd_below(&s->seed, f->size + 1);
			len = rnd_below(&s->seed, f->size - off + 1);
			fd = open(f->local, O_RDWR);
			ret = fd < 0 ? -errno : 0;
			if (fd >= 0) {
				if (len && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len))
					ret = -errno;
				close(fd);
			}
			if (ret == 0)
				m_zero(f, off, len);
		} else if (r < 50) { /* extend */
			uint64_t size = f->size + rnd_below(&s->seed, cfg.cap - f->size + 1);
			ret = truncate(f->local, (off_t)size) ? -errno : 0;
			if (ret == 0)
				m_resize(f, size);
		} else if (r < 75) { /* write */
			off = rnd_below(&s->seed, cfg.cap);
			len = 1 + rnd_below(&s->seed, cfg.cap - off < MAX_IO ? cfg.cap - off : MAX_IO);
			fill(&s->seed, rbuf, len);
			fd = open(f->local, O_RDWR);
			ret = fd < 0 ? -errno : 0;
			if (fd >= 0) {
				if (pwrite(fd, rbuf, len, (off_t)off) != (ssize_t)len)
					ret = -EIO;
				close(fd);
			}
			if (ret == 0) {
				if (off + len > f->size)
					m_resize(f, off + len);
				m_known(f, off, rbuf, len);
			}
		} else { /* read the whole file */
			struct stat st;
			fd = open(f->local, O_RDONLY);
			ret = fd < 0 ? -errno : 0;
			if (fd >= 0) {
				if (fstat(fd, &st) == 0 && (uint64_t)st.st_size != f->size) {
					printf("MISMATCH local %s/%s: size %lld, model %" PRIu64 "\n", f->export,
					       f->name, (long long)st.st_size, f->size);
					n_wrong++;
				} else if (pread(fd, rbuf, f->size, 0) != (ssize_t)f->size) {
					ret = -EIO;
				} else {
					n_local_reads++;
					m_check(f, 0, rbuf, f->size, "local-read");
				}
				close(fd);
			}
		}
		atomic_max(&max_local_ms, (unsigned long long)(now_ms() - t0));
		token_put(f);
		if (ret == -ENOENT) /* not created yet */
			ret = 0;
		if (ret) {
			n_errors++;
			fprintf(stderr, "local %s: %s\n", f->local, strerror(-ret));
		}
		n_local++;
	}
	free(rbuf);
	return NULL;
}

static void add_file(int x, const char *prefix, int i)
{
	struct mfile *f = &cfg.f[cfg.n_files++];
	const char *dir = cfg.exports[x].dir;
	char name[64], local[sizeof(f->local)];
	int fd;

	snprintf(name, sizeof(name), "soak/%s%d.dat", prefix, i);
	snprintf(local, sizeof(local), "%s/%s", dir, name);
	memcpy(f->name, name, sizeof(name));
	memcpy(f->export, cfg.exports[x].name, sizeof(f->export));
	memcpy(f->local, local, sizeof(local));
	fd = open(f->local, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || pipe2(f->token, O_NONBLOCK | O_CLOEXEC)) {
		perror(f->local);
		exit(2);
	}
	close(fd);
	f->val = calloc(1, cfg.cap);
	f->alt = calloc(1, cfg.cap);
	f->st = calloc(1, cfg.cap);
	if (!f->val || !f->alt || !f->st)
		exit(2);
	token_put(f);
}

/* Every file is created locally, empty, in DIR/soak before the threads
 * start: FILES shared ones per export, then a private one per client,
 * exports in turn. */
static void add_files(void)
{
	for (int x = 0; x < cfg.n_exports; x++) {
		char dir[sizeof(cfg.exports[0].dir) + 8];

		snprintf(dir, sizeof(dir), "%s/soak", cfg.exports[x].dir);
		if (mkdir(dir, 0755) && errno != EEXIST) {
			perror(dir);
			exit(2);
		}
	}
	for (int x = 0; x < cfg.n_exports; x++)
		for (int i = 0; i < cfg.files; i++)
			add_file(x, "soak-", i);
	cfg.n_shared = cfg.n_files;
	for (int i = 0; i < cfg.clients; i++)
		add_file(i % cfg.n_exports, "soak-client", i);
}

static void usage(void)
{
	fprintf(stderr, "usage: dx-soak [-d SECONDS] [-c CLIENTS] [-f FILES] [-z MAX_SIZE] [-k CHECK_S] [-a]\n"
			"               [-S SAMPLE_CMD] HOST EXPORT=DIR...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	enum { N_LOCAL = 2 };
	static struct cstate st[MAX_CLIENTS + N_LOCAL];
	pthread_t th[MAX_CLIENTS + N_LOCAL];
	int opt, n_threads, checkpoints = 0;
	int64_t t0, next_check;

	if (getenv("DXSOAK_DEBUG"))
		log_level = LOG_DEBUG;
	while ((opt = getopt(argc, argv, "d:c:f:z:k:aS:")) != -1) {
		switch (opt) {
		case 'd': cfg.seconds = atoi(optarg); break;
		case 'c': cfg.clients = atoi(optarg); break;
		case 'f': cfg.files = atoi(optarg); break;
		case 'z': cfg.cap = strtoull(optarg, NULL, 0) / PAGE * PAGE; break;
		case 'k': cfg.check_s = atoi(optarg); break;
		case 'a': cfg.aligned = true; break;
		case 'S': cfg.sample_cmd = optarg; break;
		default: usage();
		}
	}
	if (argc - optind < 2 || cfg.clients < 1 || cfg.clients > MAX_CLIENTS || cfg.files < 1 || cfg.cap > (1u << 30) ||
	    cfg.cap < MAX_IO || cfg.check_s < 1)
		usage();
	cfg.host = argv[optind++];
	for (; optind < argc && cfg.n_exports < MAX_EXPORTS; optind++) {
		char *eq = strchr(argv[optind], '=');
		if (!eq)
			usage();
		snprintf(cfg.exports[cfg.n_exports].name, sizeof(cfg.exports[0].name), "%.*s",
			 (int)(eq - argv[optind]), argv[optind]);
		snprintf(cfg.exports[cfg.n_exports].dir, sizeof(cfg.exports[0].dir), "%s", eq + 1);
		cfg.n_exports++;
	}
	if (cfg.n_exports * cfg.files + cfg.clients > MAX_FILES)
		usage();
	add_files();
	n_threads = cfg.clients + N_LOCAL;
	pthread_barrier_init(&park_in, NULL, (unsigned)n_threads + 1);
	pthread_barrier_init(&park_out, NULL, (unsigned)n_threads + 1);
	for (int i = 0; i < n_threads; i++) {
		st[i].id = i;
		st[i].seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) ^ (uint64_t)time(NULL);
		st[i].buf = malloc(MAX_IO);
		if (!st[i].buf)
			return 2;
		void *(*fn)(void *) = i >= cfg.clients ? local_main : i % 8 == 7 ? ignorer_main : client_main;
		if (pthread_create(&th[i], NULL, fn, &st[i]))
			return 2;
	}
	t0 = now_ms();
	next_check = t0 + cfg.check_s * 1000;
	for (;;) {
		int64_t now = now_ms();
		bool last = now >= t0 + cfg.seconds * 1000LL;

		if (!last && now < next_check) {
			usleep(100000);
			continue;
		}
		/* Park every thread, clients disconnected, and sample. */
		atomic_fetch_add(&phase_epoch, 1);
		pthread_barrier_wait(&park_in);
		checkpoints++;
		printf("CHECKPOINT %d t=%llds ops=%llu fenced=%llu\n", checkpoints, (long long)((now_ms() - t0) / 1000),
		       (unsigned long long)n_ops, (unsigned long long)n_fenced);
		fflush(stdout);
		if (cfg.sample_cmd && system(cfg.sample_cmd) != 0)
			fprintf(stderr, "dx-soak: the sample command failed\n");
		if (last)
			atomic_store(&stop_all, true);
		pthread_barrier_wait(&park_out);
		if (last)
			break;
		next_check = now_ms() + cfg.check_s * 1000LL;
	}
	for (int i = 0; i < n_threads; i++)
		pthread_join(th[i], NULL);
	/* Last, every file read locally and checked whole. */
	for (int i = 0; i < cfg.n_files; i++) {
		struct mfile *f = &cfg.f[i];
		uint8_t *b = malloc(cfg.cap + 1);
		int fd = open(f->local, O_RDONLY);
		ssize_t n = fd < 0 ? -1 : pread(fd, b, cfg.cap + 1, 0);

		if (fd >= 0)
			close(fd);
		if (n != (ssize_t)f->size) {
			printf("MISMATCH final %s/%s: size %zd, model %" PRIu64 "\n", f->export, f->name, n, f->size);
			n_wrong++;
		} else {
			m_check(f, 0, b, f->size, "final");
		}
		free(b);
	}
	printf("SOAK seconds=%d clients=%d files=%d ops=%llu writes=%llu commits=%llu commit_failed=%llu "
	       "reads=%llu allocates=%llu set_sizes=%llu local_ops=%llu local_reads=%llu recalls_seen=%llu "
	       "fenced=%llu lost_connection=%llu reconnects=%llu poison_landed_before_fence=%llu poison_refused=%llu busy=%llu "
	       "errors=%llu max_local_ms=%llu bytes_verified=%llu bytes_unsure=%llu wrong=%llu fence_miss=%llu "
	       "checkpoints=%d\n",
	       cfg.seconds, cfg.clients, cfg.n_files, (unsigned long long)n_ops, (unsigned long long)n_writes,
	       (unsigned long long)n_commits, (unsigned long long)n_commit_fail, (unsigned long long)n_reads,
	       (unsigned long long)n_allocs, (unsigned long long)n_setsize, (unsigned long long)n_local,
	       (unsigned long long)n_local_reads, (unsigned long long)n_recalls_seen,
	       (unsigned long long)n_fenced, (unsigned long long)n_lost_conn, (unsigned long long)n_reconnects,
	       (unsigned long long)n_poison_ok, (unsigned long long)n_poison_refused,
	       (unsigned long long)n_busy, (unsigned long long)n_errors, (unsigned long long)max_local_ms,
	       (unsigned long long)n_bytes_verified, (unsigned long long)n_bytes_unsure,
	       (unsigned long long)n_wrong, (unsigned long long)n_fence_miss, checkpoints);
	return n_wrong || n_fence_miss ? 1 : 0;
}
