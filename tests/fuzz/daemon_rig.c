/*
 * The daemon as a state machine, driven by any sequence of steps a client
 * (or three) can take, with the lease bound as the oracle (issue 19 §5).
 * fuzz_session feeds it; fuzz_ctlmsg uses it for a daemon with clients and
 * layouts to run control commands against. daemon_rig.h has the step format.
 *
 * Under it: the real modules (conn, session, layout, recall, seal, reap,
 * work) on real files in a real directory with real kernel leases, the fake
 * verbs and rdma_cm of tests/unit/fakeverbs.c (requests arrive through the
 * daemon's own receive slots, completion channel and CQ) and a fake clock
 * (tests/unit/fakeclock.c) that only moves when a step says so.
 *
 * Steps: clients connect, say HELLO with any credits, OPEN, ALLOCATE,
 * LAYOUT_GET, return layouts and recalls (or not), COMMIT, CLOSE, RENAME
 * over each other and REMOVE files, send
 * garbage, answer recalls at once, just in time or never, go silent or
 * disconnect; local processes open, truncate and punch the files (breaking
 * the leases); the admin recalls and evicts; the clock jumps. After every
 * step (fz_check):
 *   - no MR is registered on a file whose lease is released, and none that
 *     no layout or connection owns;
 *   - past a breaking file's lease bound (the kernel's signal +
 *     lease-break-time - margin), nothing on it holds an rkey, is recalled
 *     or copies: no recall, queued or sent, outlives it;
 *   - no request is answered twice;
 *   - nothing grows beyond its limit (layouts, recalls, requests in
 *     flight, work, completions).
 * At the end, once the work is done, every request of a client still
 * connected has had its answer; after every client disconnects, nothing is
 * left: no file, layout, MR or connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/net.h"
#include "common/proto.h"
#include "daemon/conn.h"
#include "daemon/daemon.h"
#include "daemon/layout.h"
#include "daemon/loop.h"
#include "daemon/reap.h"
#include "daemon/recall.h"
#include "daemon/seal.h"
#include "daemon_rig.h"
#include "fakeclock.h"
#include "fakeverbs.h"
#include "scratch.h"

#define N_CLIENTS 3
#define N_FILES 3
#define FILE_SIZE (256u << 10)
#define MAX_TAGS 512
#define MAX_HELD 32
#define CLOCK_STEP_MS 10

/* Why the oracle stops the run; libFuzzer keeps the input. */
#define violation(...)                                                  \
	do {                                                            \
		fprintf(stderr, "fuzz_session: INVARIANT BROKEN: ");    \
		fprintf(stderr, __VA_ARGS__);                           \
		fprintf(stderr, "\n");                                  \
		abort();                                                \
	} while (0)

static const char *const file_names[N_FILES] = { "a", "b", "c" };

/* What a scripted client knows: its handles, layouts and recalls, from the
 * daemon's messages, and the answers each of its requests got. */
struct client {
	struct fv_peer *p;
	uint64_t next_tag;
	uint8_t op_of[MAX_TAGS];
	uint8_t answers[MAX_TAGS];
	uint64_t fh[MAX_HELD];
	unsigned int n_fh;
	struct dxp_stateid layouts[MAX_HELD];
	unsigned int n_layouts;
	struct { uint64_t recall_id; struct dxp_stateid sid; int64_t at_ms; } recalls[MAX_HELD];
	unsigned int n_recalls;
	/* How it answers recalls by itself as time goes: never (the input's
	 * steps do), at once, or just before the deadline the recall names. */
	enum { ANSWER_BY_STEP, ANSWER_AT_ONCE, ANSWER_JUST_IN_TIME } policy;
};

struct rig {
	struct dxd d;
	struct dx_config cfg;
	struct dx_export_cfg xcfg;
	struct dx_export x;
	struct dx_exports xs;
	struct dx_listener listener;
	struct rdma_cm_id listen_id;
	struct dx_cidr acl;
	int lease_break_time_s;
	char dir[64];
	struct client cl[N_CLIENTS];
	struct fv_peer *gone[64]; /* peers of past connections, freed at the end */
	unsigned int n_gone;
};

static struct rig *R;

/* ---- reading the input ---- */

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t byte(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint64_t u16(struct input *in)
{
	return byte(in) | (uint64_t)byte(in) << 8;
}

/* ---- what the daemon sends ---- */

static struct client *client_of(const struct fv_peer *p)
{
	for (unsigned int i = 0; i < N_CLIENTS; i++)
		if (R->cl[i].p == p)
			return &R->cl[i];
	return NULL;
}

static void hold_layout(struct client *k, const struct dxp_stateid *sid)
{
	if (k->n_layouts < MAX_HELD)
		k->layouts[k->n_layouts++] = *sid;
}

static void on_sent(struct fv_peer *p, const struct dxp_msg *m, void *arg)
{
	struct client *k = client_of(p);
	uint64_t tag;

	if (!m)
		violation("the daemon sent a message its own decoder refuses");
	if (!k)
		return; /* a past connection's last words */
	if (!(m->hdr.flags & DXP_F_REPLY)) {
		if ((m->hdr.op == DXP_LAYOUT_RECALL || m->hdr.op == DXP_FILE_RECALL) && k->n_recalls < MAX_HELD) {
			bool file = m->hdr.op == DXP_FILE_RECALL;
			uint32_t timeout = file ? m->u.frecall.timeout_ms : m->u.recall.timeout_ms;

			memset(&k->recalls[k->n_recalls], 0, sizeof(k->recalls[0]));
			if (file)
				k->recalls[k->n_recalls].recall_id = m->u.frecall.recall_id;
			else
				k->recalls[k->n_recalls].sid = m->u.recall.stateid;
			k->recalls[k->n_recalls++].at_ms =
				dx_now_ms() + (k->policy == ANSWER_JUST_IN_TIME && timeout > CLOCK_STEP_MS ?
					       timeout - CLOCK_STEP_MS : 0);
		}
		return;
	}
	tag = m->hdr.tag;
	if (tag == 0)
		return; /* an answer to bytes too short to carry a tag */
	if (tag >= k->next_tag || tag >= MAX_TAGS)
		violation("an answer (%s) to tag %llu, which was never sent", dxp_op_name(m->hdr.op),
			  (unsigned long long)tag);
	if (++k->answers[tag] > 1)
		violation("request %llu (%s) answered twice", (unsigned long long)tag, dxp_op_name(k->op_of[tag]));
	if (m->hdr.op == DXP_OPEN && k->n_fh < MAX_HELD)
		k->fh[k->n_fh++] = m->u.open_rep.fh;
	else if (m->hdr.op == DXP_LAYOUT_GET)
		hold_layout(k, &m->u.lget_rep.stateid);
}

/* ---- the oracle ---- */

static bool file_lease_held(const struct dx_file *f)
{
	return f->device || f->lease == LEASE_LEASED || f->lease == LEASE_BREAKING;
}

/* The bound, as the issue states it, computed here and not by the daemon. */
static int64_t lease_bound(const struct dx_file *f)
{
	return f->break_ms + (int64_t)R->lease_break_time_s * 1000 - DX_LEASE_MARGIN_MS;
}

static void check_mr(struct ibv_mr *mr, void *arg)
{
	struct dx_conn *c;
	struct dx_file *f;
	struct dx_layout *l;

	TAILQ_FOREACH(c, &R->d.conns, link)
		if (c->slots.mr == mr)
			return;
	TAILQ_FOREACH(f, &R->d.files, link)
		TAILQ_FOREACH(l, &f->layouts, by_file)
			if (l->mr == mr) {
				if (!file_lease_held(f))
					violation("layout %llu's MR (rkey %#x) is registered on %s, whose lease is %s",
						  (unsigned long long)l->id, mr->rkey, f->relpath,
						  dx_lease_state_name(f->lease));
				return;
			}
	violation("MR rkey %#x [%p, +%zu) is owned by no layout and no connection", mr->rkey, mr->addr, mr->length);
}

static void check_bound(const struct dx_file *f)
{
	const struct dx_layout *l;
	int64_t now = dx_now_ms();

	if (f->lease != LEASE_BREAKING || now <= lease_bound(f))
		return;
	TAILQ_FOREACH(l, &f->layouts, by_file)
		if (l->mr || !dx_layout_dead(l) || !TAILQ_EMPTY(&l->jobs))
			violation("%s: %lld ms after the break, %lld ms past its lease bound, layout %llu of client %llu "
				  "is %s%s%s", f->relpath, (long long)(now - f->break_ms),
				  (long long)(now - lease_bound(f)), (unsigned long long)l->id,
				  (unsigned long long)l->c->id, dx_layout_state_name(l->state),
				  l->mr ? ", its rkey live" : "", TAILQ_EMPTY(&l->jobs) ? "" : ", a job running");
}

static void check_growth(void)
{
	const struct dx_conn *c;

	if ((int64_t)R->d.n_layouts > R->cfg.max_layouts)
		violation("%zu layouts, limit %lld", R->d.n_layouts, (long long)R->cfg.max_layouts);
	TAILQ_FOREACH(c, &R->d.conns, link) {
		if (c->recalls_outstanding > c->recall_credits && c->state != CONN_CLOSING)
			violation("client %llu: %u recalls outstanding on %u credits", (unsigned long long)c->id,
				  c->recalls_outstanding, c->recall_credits);
		if (c->recalls_outstanding + c->recalls_queued > c->n_layouts)
			violation("client %llu: %u recalls for %u layouts", (unsigned long long)c->id,
				  c->recalls_outstanding + c->recalls_queued, c->n_layouts);
		if (c->inflight > DX_SRV_CREDITS)
			violation("client %llu: %u requests in flight", (unsigned long long)c->id, c->inflight);
		if ((int64_t)c->n_handles > R->cfg.max_files_per_client)
			violation("client %llu: %u handles", (unsigned long long)c->id, c->n_handles);
	}
	if (R->d.work.n > R->d.n_layouts * (DX_SRV_CREDITS + 1))
		violation("%u work items for %zu layouts", R->d.work.n, R->d.n_layouts);
}

/*
 * The oracle's own state space as coverage: libFuzzer counts these bytes
 * as it counts edges, so an input that brings a breaking file closer to its
 * bound with layouts still recalled (queued or sent) or rkeys alive is kept
 * and mutated further, although no new line of the daemon ran. Code
 * coverage alone does not see how near a sequence came to breaking the
 * invariant.
 */
__attribute__((section("__libfuzzer_extra_counters"))) static uint8_t oracle_cov[512];

static unsigned int bucket(unsigned int n)
{
	return n < 3 ? n : 3;
}

static void note_states(void)
{
	const struct dx_file *f;
	const struct dx_layout *l;
	const struct dx_conn *c;
	int64_t now = dx_now_ms();

	TAILQ_FOREACH(f, &R->d.files, link) {
		unsigned int queued = 0, sent = 0, live = 0, near;

		if (f->lease != LEASE_BREAKING)
			continue;
		TAILQ_FOREACH(l, &f->layouts, by_file) {
			queued += l->state == LAYOUT_RECALL_QUEUED;
			sent += l->state == LAYOUT_RECALL_SENT;
			live += l->mr != NULL;
		}
		/* how far from the break towards the bound, in eighths */
		near = (unsigned int)((now - f->break_ms) * 8 / (lease_bound(f) - f->break_ms + 1));
		near = near < 7 ? near : 7;
		oracle_cov[(near * 4 + bucket(queued)) * 8 + bucket(sent) * 2 + (live > 0)]++;
	}
	TAILQ_FOREACH(c, &R->d.conns, link) {
		/* Which of its files the client's recalls are on, queued or sent,
		 * and whether those files are breaking: one client's recalls of
		 * one file stand in the way of another's. */
		const struct dx_file *sent_on[4] = { 0 }, *queued_on[4] = { 0 };
		unsigned int n_sent = 0, n_queued = 0, queued_breaking = 0, sent_leased = 0;

		oracle_cov[256 + bucket(c->recalls_queued) * 16 + bucket(c->recalls_outstanding) * 4 +
			   bucket(c->recall_credits)]++;
		TAILQ_FOREACH(l, &c->layouts, by_conn) {
			bool sent = l->state == LAYOUT_RECALL_SENT, queued = l->state == LAYOUT_RECALL_QUEUED;
			const struct dx_file **on = sent ? sent_on : queued_on;
			unsigned int *n = sent ? &n_sent : &n_queued, i;

			if (!sent && !queued)
				continue;
			queued_breaking |= queued && l->f->lease == LEASE_BREAKING;
			sent_leased |= sent && l->f->lease == LEASE_LEASED;
			for (i = 0; i < *n && on[i] != l->f; i++)
				;
			if (i == *n && *n < 3)
				on[(*n)++] = l->f;
		}
		oracle_cov[320 + (n_sent * 4 + n_queued) * 4 + queued_breaking * 2 + sent_leased]++;
	}
}

void fz_check(void)
{
	const struct dx_file *f;

	fv_mrs_live(true, check_mr, NULL);
	TAILQ_FOREACH(f, &R->d.files, link)
		check_bound(f);
	check_growth();
	note_states();
}

/* ---- driving ---- */

static void turn(void)
{
	for (int i = 0; i < 4; i++)
		event_base_loop(R->d.base, EVLOOP_NONBLOCK);
}

static struct dx_conn *conn_of(const struct client *k)
{
	return k->p && !fv_peer_destroyed(k->p) ? fv_peer_id(k->p)->context : NULL;
}

static void forget_peer(struct client *k)
{
	if (k->p && R->n_gone < sizeof(R->gone) / sizeof(R->gone[0]))
		R->gone[R->n_gone++] = k->p;
	else
		fv_peer_free(k->p); /* not reached: MAX_STEPS connections at most */
	memset(k, 0, sizeof(*k));
}

static void op_connect(struct client *k, struct input *in)
{
	uint8_t b = byte(in);

	if (k->p && !fv_peer_destroyed(k->p))
		return;
	if (k->p)
		forget_peer(k);
	if (R->n_gone >= sizeof(R->gone) / sizeof(R->gone[0]))
		return;
	/* One address in eight is one no export admits. */
	k->p = fv_peer_new(b % 8 == 7 ? 0xc0a80001u : 0x0a000001u + (uint32_t)(k - R->cl));
	if (!k->p)
		return;
	k->next_tag = 1;
	fv_cm_event(&R->d, k->p, RDMA_CM_EVENT_CONNECT_REQUEST);
	if (!fv_peer_destroyed(k->p) && conn_of(k) && b % 4 != 3)
		fv_cm_event(&R->d, k->p, RDMA_CM_EVENT_ESTABLISHED);
}

/* Send M from K with a fresh tag; the daemon reads it at the next turn. */
static void request(struct client *k, struct dxp_msg *m)
{
	uint8_t buf[DXP_MAX_MSG];
	ssize_t len;

	if (!conn_of(k) || k->next_tag >= MAX_TAGS)
		return;
	m->hdr.tag = k->next_tag;
	len = dxp_encode(m, buf, sizeof(buf));
	if (len < 0)
		return;
	if (fv_peer_deliver(k->p, buf, (size_t)len) == 0)
		k->op_of[k->next_tag++] = m->hdr.op;
}

static void op_raw(struct client *k, struct input *in)
{
	uint8_t buf[DXP_MAX_MSG + 64];
	size_t len = byte(in) % 96;
	uint64_t tag = k->next_tag;

	if (byte(in) == 0xff)
		len = sizeof(buf); /* larger than a receive slot */
	for (size_t i = 0; i < len; i++)
		buf[i] = byte(in);
	if (!conn_of(k) || tag >= MAX_TAGS)
		return;
	if (len >= sizeof(struct dxp_hdr))
		memcpy(buf + offsetof(struct dxp_hdr, tag), &tag, sizeof(tag)); /* little-endian hosts */
	if (fv_peer_deliver(k->p, buf, len) == 0 && len >= sizeof(struct dxp_hdr))
		k->op_of[k->next_tag++] = buf[offsetof(struct dxp_hdr, op)];
}

static uint64_t pick_fh(struct client *k, struct input *in)
{
	uint8_t b = byte(in);

	return k->n_fh && b < 250 ? k->fh[b % k->n_fh] : b;
}

static struct dxp_stateid pick_layout(struct client *k, struct input *in)
{
	uint8_t b = byte(in);

	if (k->n_layouts && b < 250)
		return k->layouts[b % k->n_layouts];
	return (struct dxp_stateid){ .id = b, .seq = 1 };
}

static void op_client(struct client *k, unsigned int op, struct input *in)
{
	struct dxp_msg m;
	uint8_t b;

	memset(&m, 0, sizeof(m));
	switch (op) {
	case 0: /* HELLO */
		m.hdr.op = DXP_HELLO;
		m.u.hello.magic = DXP_MAGIC;
		m.u.hello.version = DXP_VERSION;
		b = byte(in);
		m.u.hello.credits = b < 200 ? b % 5 : b; /* 0 (refused), few, or many */
		m.u.hello.max_msg = DXP_MAX_MSG;
		m.u.hello.features = byte(in) & (DXP_FEAT_FILE_RECALL | DXP_FEAT_REMOTE_PERSIST | DXP_FEAT_FILE_ID);
		break;
	case 1: /* OPEN */
		b = byte(in);
		m.hdr.op = DXP_OPEN;
		m.u.open.flags = (b & 1 ? DXP_OPEN_RW : 0) | (b & 2 ? DXP_OPEN_CREATE : 0) |
				 (b & 4 ? DXP_OPEN_TRUNC : 0) | (b & 8 ? DXP_OPEN_EXCL : 0);
		m.u.open.mode = 0644;
		m.s1 = "x";
		m.u.open.export_len = 1;
		m.s2 = file_names[(b >> 4) % N_FILES];
		m.u.open.path_len = 1;
		break;
	case 2: /* ALLOCATE */
		m.hdr.op = DXP_ALLOCATE;
		m.u.alloc.fh = pick_fh(k, in);
		m.u.alloc.off = u16(in) * 512;
		m.u.alloc.len = u16(in) * 512;
		m.u.alloc.flags = byte(in) & 1 ? DXP_ALLOC_SETSIZE : 0;
		break;
	case 3: /* LAYOUT_GET */
		m.hdr.op = DXP_LAYOUT_GET;
		m.u.lget.fh = pick_fh(k, in);
		b = byte(in);
		m.u.lget.off = (uint64_t)(b % 64) * DXP_PAGE;
		b = byte(in);
		m.u.lget.len = b == 255 ? 16u << 20 : (uint64_t)(1 + b % 16) * DXP_PAGE;
		m.u.lget.iomode = byte(in) & 1 ? DXP_IOMODE_RW : DXP_IOMODE_READ;
		break;
	case 4: /* LAYOUT_RETURN */
		m.hdr.op = DXP_LAYOUT_RETURN;
		m.u.lret.stateid = pick_layout(k, in);
		m.u.lret.flags = byte(in) & 1 ? DXP_RETURN_CLEAN : 0;
		break;
	case 5: /* COMMIT */
		m.hdr.op = DXP_COMMIT;
		m.u.commit.stateid = pick_layout(k, in);
		m.u.commit.off = u16(in) * 512;
		m.u.commit.len = u16(in) * 512;
		break;
	case 6: /* CLOSE */
		m.hdr.op = DXP_CLOSE;
		m.u.fh.fh = pick_fh(k, in);
		break;
	case 7: /* BYE */
		m.hdr.op = DXP_BYE;
		break;
	case 9: /* RENAME over one of the names, or REMOVE */
		b = byte(in);
		if (b & 1) {
			m.hdr.op = DXP_REMOVE;
			m.u.fh.fh = pick_fh(k, in);
		} else {
			m.hdr.op = DXP_RENAME;
			m.u.rename.fh = pick_fh(k, in);
			m.s1 = file_names[(b >> 1) % N_FILES];
			m.u.rename.path_len = 1;
		}
		break;
	default: /* STAT */
		m.hdr.op = DXP_STAT;
		m.u.fh.fh = pick_fh(k, in);
		break;
	}
	request(k, &m);
}

static void answer_first(struct client *k, unsigned int n, bool clean)
{
	struct dxp_msg m;

	for (unsigned int i = 0; i < n; i++) {
		memset(&m, 0, sizeof(m));
		if (k->recalls[i].recall_id) {
			m.hdr.op = DXP_RECALL_RETURN;
			m.u.rret.recall_id = k->recalls[i].recall_id;
			m.u.rret.flags = clean ? DXP_RETURN_CLEAN : 0;
		} else {
			m.hdr.op = DXP_LAYOUT_RETURN;
			m.u.lret.stateid = k->recalls[i].sid;
			m.u.lret.flags = clean ? DXP_RETURN_CLEAN : 0;
		}
		request(k, &m);
	}
	memmove(k->recalls, k->recalls + n, (k->n_recalls - n) * sizeof(k->recalls[0]));
	k->n_recalls -= n;
}

/* Give back what the daemon recalled, in the order it asked, or only the
 * oldest. */
static void op_answer_recalls(struct client *k, struct input *in)
{
	uint8_t b = byte(in);

	answer_first(k, b & 1 ? k->n_recalls : (k->n_recalls ? 1 : 0), b & 2);
}

/* Clients that answer by themselves answer what is due, oldest first. */
static void answer_due(void)
{
	for (unsigned int i = 0; i < N_CLIENTS; i++) {
		struct client *k = &R->cl[i];
		unsigned int n = 0;

		if (k->policy == ANSWER_BY_STEP)
			continue;
		while (n < k->n_recalls && k->recalls[n].at_ms <= dx_now_ms())
			n++;
		answer_first(k, n, false);
	}
}

static struct dx_file *served(const char *name)
{
	struct dx_file *f;

	TAILQ_FOREACH(f, &R->d.files, link)
		if (strcmp(f->relpath, name) == 0)
			return f;
	return NULL;
}

/*
 * A local process wants file NAME: it opens it without blocking (a blocking
 * open would wait for the lease, and this is the only thread). While the
 * daemon holds a lease the open fails and the kernel signals the break; the
 * step waits (in real time) until the daemon has seen it. Otherwise the
 * process truncates, punches or writes, as it likes.
 */
static void op_local(struct input *in)
{
	const char *name = file_names[byte(in) % N_FILES];
	uint8_t what = byte(in);
	struct dx_file *f;
	char path[128];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", R->dir, name);
	fd = open(path, O_RDWR | O_NONBLOCK);
	if (fd < 0) {
		if (errno != EWOULDBLOCK)
			return;
		/* The watcher thread passes the kernel's signal to the loop. */
		for (int i = 0; i < 500 && (f = served(name)) && f->lease == LEASE_LEASED; i++) {
			event_base_loop(R->d.base, EVLOOP_NONBLOCK);
			usleep(200);
		}
		if ((f = served(name)) && f->lease == LEASE_LEASED)
			violation("%s: the kernel refused a local open for the daemon's lease, and after 100 ms the "
				  "daemon still thinks its lease whole", name);
		return;
	}
	/* What the local process does may fail (a punch past the end): no matter. */
	if (what % 4 == 0)
		ret = ftruncate(fd, (off_t)(what / 4) * 8192);
	else if (what % 4 == 1)
		ret = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(what / 4) * 4096, (off_t)3 * 4096);
	else if (what % 4 == 2)
		ret = (int)pwrite(fd, "local", 5, (off_t)what * 1000);
	(void)ret;
	close(fd);
}

static void op_admin(struct input *in)
{
	struct dx_file *f = served(file_names[byte(in) % N_FILES]);
	uint8_t b = byte(in);

	if (f && !f->device && b < 128)
		dx_recall_file(f, (uint64_t)(b % 64) * DXP_PAGE, UINT64_MAX, DXP_RECALL_ADMIN);
	else if (f && !TAILQ_EMPTY(&f->layouts))
		dx_conn_fence(TAILQ_FIRST(&f->layouts)->c, "evicted by the fuzzer"); /* daxrdmactl evict */
}

/* The NIC refuses: the next ibv_dereg_mr, ibv_modify_qp or ibv_destroy_qp,
 * or two of them, fail once. Never all three: then no rkey can be killed
 * and the daemon stops by design at the lease bound (test_layouts shows it). */
static void op_verbs_failures(struct input *in)
{
	static const uint8_t which[5][3] = { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 }, { 1, 1, 0 }, { 1, 0, 1 } };
	const uint8_t *w = which[byte(in) % 5];

	fv_fail_dereg = w[0];
	fv_fail_modify_qp = w[1];
	fv_fail_destroy_qp = w[2];
}

/* The clock jumps by up to 2.5 s, a step at a time, the daemon turning and
 * the oracle looking at every step. */
static void op_clock(struct input *in)
{
	unsigned int steps = 1 + byte(in) % 250;

	for (unsigned int i = 0; i < steps; i++) {
		dx_fake_clock_advance(CLOCK_STEP_MS);
		turn();
		answer_due();
		turn();
		fz_check();
	}
}

static void step(struct input *in)
{
	uint8_t op = byte(in), b;
	struct client *k = &R->cl[(op >> 4) % N_CLIENTS];
	struct dx_conn *c;

	switch (op % 16) {
	case 0: op_connect(k, in); break;
	case 1: case 2: case 3: case 4: case 5:
		op_client(k, (unsigned int)(op % 16 - 1) * 2 + (byte(in) & 1), in);
		break;
	case 6: op_answer_recalls(k, in); break;
	case 7: op_raw(k, in); break;
	case 8: /* how the client behaves */
		b = byte(in);
		if (k->p && !fv_peer_destroyed(k->p))
			fv_peer_mute(k->p, b & 1);
		k->policy = (b >> 1) % 3;
		break;
	case 9: /* the peer's end goes: rdma_cm says DISCONNECTED */
		if (k->p && !fv_peer_destroyed(k->p))
			fv_cm_event(&R->d, k->p, RDMA_CM_EVENT_DISCONNECTED);
		break;
	case 10: case 11: op_local(in); break;
	case 12: op_admin(in); break;
	case 15: op_verbs_failures(in); break;
	default: op_clock(in); break;
	}
	turn();
	fz_check();
	/* A connection the daemon closed: rdma_cm's DISCONNECTED comes (or not:
	 * then the daemon's reap timer destroys it). */
	c = conn_of(k);
	if (byte(in) & 1 && c && c->state == CONN_CLOSING)
		fv_cm_event(&R->d, k->p, RDMA_CM_EVENT_DISCONNECTED);
}

/* ---- one daemon per input ---- */

struct dxd *fz_daemon(void)
{
	return &R->d;
}

const char *fz_dir(void)
{
	return R->dir;
}

void fz_rig_up(uint8_t b)
{
	static char acl0[] = "10.0.0.0/8", *acl[] = { acl0 };

	fv_fail_dereg = fv_fail_modify_qp = fv_fail_destroy_qp = 0;

	dx_fake_clock_freeze();

	R = calloc(1, sizeof(*R));
	if (!R)
		abort();
	dx_scratch_dir(R->dir, sizeof(R->dir));
	for (unsigned int i = 0; i < N_FILES; i++) {
		char path[128];
		int fd;

		snprintf(path, sizeof(path), "%s/%s", R->dir, file_names[i]);
		fd = open(path, O_RDWR | O_CREAT, 0644);
		if (fd < 0 || ftruncate(fd, FILE_SIZE))
			abort();
		close(fd);
	}
	R->cfg.recall_timeout_ms = b & 1 ? 600 : 200;
	R->lease_break_time_s = 2 + ((b >> 1) & 3) % 3;    /* the bound: 1 to 3 s after the break */
	R->cfg.keepalive_ms = b & 8 ? 1000 : 0;
	R->cfg.max_clients = 4;
	R->cfg.max_conns_per_addr = 2;
	R->cfg.max_layouts = 48;
	R->cfg.max_layouts_per_client = 24;
	R->cfg.max_files_per_client = 4;
	R->cfg.max_layout_size = 16 << 20;
	R->cfg.max_allocate_size = 16 << 20;
	R->cfg.max_layout_bytes_per_client = 32 << 20;
	R->cfg.staging_bytes = 48 << 20;
	R->xcfg.name = "x";
	R->xcfg.path = R->dir;
	R->xcfg.create_mask = 0777;
	R->xcfg.n_acl = 1;
	R->xcfg.acl = acl;
	R->xcfg.acl_cidr = &R->acl;
	if (dx_cidr_parse("10.0.0.0/8", &R->acl))
		abort();
	R->x.cfg = &R->xcfg;
	R->x.kind = DX_EXPORT_FS;
	R->x.mr_mode = b & 16 ? DX_MR_PINNED : DX_MR_BOUNCE;
	R->x.fd = open(R->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	R->xs.v = &R->x;
	R->xs.n = 1;
	R->listener.verbs = fv_device();
	R->listener.id = &R->listen_id;
	snprintf(R->listener.addr, sizeof(R->listener.addr), "fuzz");
	R->d.cfg = &R->cfg;
	R->d.exports = &R->xs;
	R->d.listener = &R->listener;
	R->d.lease_break_time_s = R->lease_break_time_s;
	TAILQ_INIT(&R->d.conns);
	TAILQ_INIT(&R->d.files);
	if (R->x.fd < 0 || dx_loop_new(&R->d.base) || dx_seal_init(&R->d) || dx_workq_init(&R->d) ||
	    dx_reap_init(&R->d))
		abort();
	fv_set_sent_hook(on_sent, NULL);
}

/* The bytes of each request's arguments, by op_client's number. */
static const uint8_t request_args[10] = { 2, 1, 6, 4, 2, 5, 1, 0, 1, 2 };

size_t fz_step_size(const uint8_t *p, size_t n)
{
	size_t len;

	if (n == 0)
		return 0;
	switch (p[0] % 16) {
	case 0: case 6: case 8: case 13: case 14: case 15: len = 2; break;
	case 9: len = 1; break;
	case 10: case 11: case 12: len = 3; break;
	case 7: /* raw: a length byte, a "too large" byte, the bytes */
		len = 3 + (n > 2 && p[2] == 0xff ? DXP_MAX_MSG + 64 : (n > 1 ? p[1] % 96 : 0));
		break;
	default: /* a request: which one, then its arguments */
		len = 2 + request_args[(p[0] % 16 - 1) * 2 + (n > 1 ? p[1] & 1 : 0)];
		break;
	}
	len++; /* the DISCONNECTED byte */
	return len < n ? len : n;
}

void fz_run(const uint8_t *steps, size_t n)
{
	struct input in = { steps, n };

	for (int i = 0; i < FZ_MAX_STEPS && in.n; i++) {
		size_t want = fz_step_size(in.p, in.n), before = in.n;

		step(&in);
		if (before - in.n != want)
			violation("fz_step_size says %zu bytes, the step read %zu: keep them together", want,
				  before - in.n);
	}
}

static void check_all_answered(void)
{
	for (unsigned int i = 0; i < N_CLIENTS; i++) {
		struct client *k = &R->cl[i];
		struct dx_conn *c = conn_of(k);

		if (!c || c->state == CONN_CLOSING)
			continue;
		for (uint64_t t = 1; t < k->next_tag; t++)
			if (!k->answers[t] && k->op_of[t] != DXP_BYE)
				violation("client %llu: request %llu (%s) never answered", (unsigned long long)c->id,
					  (unsigned long long)t, dxp_op_name(k->op_of[t]));
	}
}

static bool cqs_empty(void)
{
	for (unsigned int i = 0; i < N_CLIENTS; i++)
		if (conn_of(&R->cl[i]) && fv_peer_cq_depth(R->cl[i].p))
			return false;
	return true;
}

void fz_rig_down(void)
{

	fv_fail_dereg = fv_fail_modify_qp = fv_fail_destroy_qp = 0;
	/* The work finishes (the clock stands: no deadline passes). */
	for (int i = 0; i < 1000 && (R->d.work.n || !cqs_empty()); i++)
		turn();
	fz_check();
	check_all_answered();
	for (unsigned int i = 0; i < N_CLIENTS; i++) {
		if (R->cl[i].p && !fv_peer_destroyed(R->cl[i].p))
			fv_cm_event(&R->d, R->cl[i].p, RDMA_CM_EVENT_DISCONNECTED);
		forget_peer(&R->cl[i]);
	}
	dx_workq_drain(&R->d);
	dx_reap_now(&R->d);
	/* A message-buffer MR whose deregistration the NIC refused stays, as
	 * it must (the daemon logs it): it has no rkey. */
	if (!TAILQ_EMPTY(&R->d.conns) || !TAILQ_EMPTY(&R->d.files) || R->d.n_layouts || fv_mrs_live(true, NULL, NULL))
		violation("after every client left: %zu connections, %s, %zu layouts, %u MRs with an rkey",
			  R->d.n_conns, TAILQ_EMPTY(&R->d.files) ? "no file" : "files", R->d.n_layouts,
			  fv_mrs_live(true, NULL, NULL));
	for (unsigned int i = 0; i < R->n_gone; i++)
		fv_peer_free(R->gone[i]);
	dx_workq_fini(&R->d);
	dx_reap_fini(&R->d);
	dx_seal_fini(&R->d);
	event_base_free(R->d.base);
	close(R->x.fd);
	dx_scratch_remove(R->dir);
	free(R);
	R = NULL;
	dx_fake_clock_thaw();
}

void fz_init(void)
{
	sigset_t set;

	/* The lease-break signals (seal.c's SIGRTMIN + 1, and SIGIO) are for
	 * its watcher thread alone; libFuzzer's own threads start after this
	 * and inherit the mask, as the daemon's threads start after
	 * dx_seal_init. */
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	sigaddset(&set, SIGIO);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		abort();
	dx_log_init("fuzz", getenv("DXFUZZ_LOG") ? LOG_DEBUG : LOG_EMERG);
}
