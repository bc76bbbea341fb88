/*
 * The daemon's layout, recall and lease logic without a NIC: the real
 * modules (session, layout, recall, conn, seal, reap, work) on a real file
 * with a real lease, the shared fake verbs (fakeverbs.h: ibv_reg_mr,
 * ibv_dereg_mr, ibv_modify_qp, rdma_disconnect, ...) and clients of this
 * test's own, whose QP's post_send captures every message the daemon sends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/proto.h"
#include "daemon/ban.h"
#include "daemon/conn.h"
#include "daemon/daemon.h"
#include "daemon/layout.h"
#include "daemon/loop.h"
#include "daemon/mediaerr.h"
#include "daemon/reap.h"
#include "daemon/recall.h"
#include "daemon/seal.h"
#include "daemon/session.h"
#include "fakeclock.h"
#include "fakeverbs.h"
#include "scratch.h"

/* ---- the fake verbs (fakeverbs.h) and this test's own clients ---- */

/* main.c's, which is not in the daemon library (commands.c calls it). */
int dxd_reload(struct dxd *d, dxd_reload_done done, void *arg)
{
	return -EOPNOTSUPP;
}

static struct dxp_msg sent[64];
static uint8_t sent_buf[64][DXP_MAX_MSG];
static unsigned int n_sent;

struct fake_client {
	struct ibv_context ctx;
	struct ibv_qp qp;
	struct rdma_cm_id id;
	struct dx_conn *c;
};

static bool sends_pending; /* the next sends do not complete until the test says so */
static unsigned int n_signaled;
static uint64_t pending_wr[64];
static unsigned int n_pending;

static int mock_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	struct fake_client *fc = qp->qp_context;
	const char *why;

	if (sends_pending) {
		n_signaled += (wr->send_flags & IBV_SEND_SIGNALED) != 0;
		if (wr->send_flags & IBV_SEND_SIGNALED)
			pending_wr[n_pending++] = wr->wr_id;
		return 0;
	}

	if (n_sent < sizeof(sent) / sizeof(sent[0])) {
		memcpy(sent_buf[n_sent], (void *)(uintptr_t)wr->sg_list->addr, wr->sg_list->length);
		assert_int_equal(dxp_decode(sent_buf[n_sent], wr->sg_list->length, &sent[n_sent], &why), 0);
		n_sent++;
	}
	dx_msgslots_sent(&fc->c->slots, wr->wr_id); /* as if completed at once */
	return 0;
}

static int mock_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	return 0;
}

/* ---- a daemon with one export on a real directory ---- */

struct rig {
	struct dxd d;
	struct dx_config cfg;
	struct dx_export_cfg xcfg;
	struct dx_export x;
	struct dx_exports xs;
	char dir[64];
	struct fake_client cl[2];
	struct ibv_pd pd;
};

static struct rig *R;

static void rig_up(enum dx_mr_mode mode)
{
	struct rig *r = calloc(1, sizeof(*r));

	R = r;
	fv_n_calls = n_sent = 0;
	fv_fail_dereg = fv_fail_modify_qp = fv_fail_destroy_qp = 0;
	dx_scratch_dir(r->dir, sizeof(r->dir));
	r->cfg.recall_timeout_ms = 200;
	r->d.lease_break_time_s = 45; /* the kernel's default; tests of the bound lower it */
	r->cfg.max_layouts = r->cfg.max_layouts_per_client = 64;
	r->cfg.max_files_per_client = 64;
	r->cfg.max_layout_size = r->cfg.max_layout_bytes_per_client = r->cfg.staging_bytes = 1 << 30;
	r->cfg.max_allocate_size = INT64_C(1) << 40;
	r->xcfg.name = "x";
	r->xcfg.path = r->dir;
	r->xcfg.create_mask = 0777;
	r->xcfg.n_acl = 1;
	r->xcfg.acl_cidr = calloc(1, sizeof(*r->xcfg.acl_cidr));
	assert_int_equal(dx_cidr_parse("10.0.0.0/8", r->xcfg.acl_cidr), 0);
	r->x.cfg = &r->xcfg;
	r->x.kind = DX_EXPORT_FS;
	r->x.mr_mode = mode;
	r->x.fd = open(r->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	r->xs.v = &r->x;
	r->xs.n = 1;
	r->d.cfg = &r->cfg;
	r->d.exports = &r->xs;
	TAILQ_INIT(&r->d.conns);
	TAILQ_INIT(&r->d.files);
	assert_int_equal(dx_loop_new(&r->d.base), 0);
	assert_int_equal(dx_seal_init(&r->d), 0);
	assert_int_equal(dx_workq_init(&r->d), 0);
	assert_int_equal(dx_reap_init(&r->d), 0);
}

static struct dx_conn *client(unsigned int i)
{
	struct fake_client *fc = &R->cl[i];
	struct dx_conn *c = calloc(1, sizeof(*c));
	struct sockaddr_in *sin = (struct sockaddr_in *)&c->peer_addr;

	fc->ctx.ops.post_send = mock_post_send;
	fc->ctx.ops.post_recv = mock_post_recv;
	fc->qp.context = &fc->ctx;
	fc->qp.qp_context = fc;
	fc->id.qp = &fc->qp;
	fc->c = c;
	c->d = &R->d;
	c->id = i + 1;
	c->cm = &fc->id;
	c->pd = &R->pd;
	c->state = CONN_READY;
	c->recall_credits = 16;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x0a000001 + i);
	snprintf(c->peer, sizeof(c->peer), "10.0.0.%u", i + 1);
	TAILQ_INIT(&c->layouts);
	TAILQ_INIT(&c->recall_queue);
	TAILQ_INIT(&c->recalls_sent);
	TAILQ_INIT(&c->handles);
	assert_int_equal(dx_msgslots_init(&c->slots, c->pd, DX_SRV_RECV, DX_SRV_SEND), 0);
	TAILQ_INSERT_TAIL(&R->d.conns, c, link);
	R->d.n_conns++;
	return c;
}

/* A file NAME of SIZE bytes in the rig's directory. */
static void make_file(const char *name, off_t size)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", R->dir, name);
	fd = open(path, O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

/* Open NAME (SIZE bytes) on C: the handle is fh 1. */
static struct dx_file *open_file(struct dx_conn *c, const char *name, off_t size)
{
	struct dx_handle *h = calloc(1, sizeof(*h));

	make_file(name, size);
	assert_int_equal(dx_file_open(&R->d, &R->x, name, DXP_OPEN_RW, 0644, &h->f), 0);
	h->fh = ++c->next_fh;
	h->x = &R->x;
	h->rw = true;
	TAILQ_INSERT_TAIL(&c->handles, h, link);
	c->n_handles++;
	return h->f;
}

static unsigned int request(struct dx_conn *c, struct dxp_msg *req)
{
	struct dxp_msg rep;
	char msg[DXP_MAX_ERRMSG + 1];
	bool reply;
	unsigned int code;

	memset(&rep, 0, sizeof(rep));
	req->hdr.tag = 1000 + n_sent;
	c->inflight++;
	code = dx_session_handle(c, req, &rep, msg, sizeof(msg), &reply);
	if (reply)
		dx_conn_answer(c, req->hdr.op, req->hdr.tag, code, msg, &rep);
	return code;
}

static unsigned int layout_get(struct dx_conn *c, uint64_t fh, uint64_t off, uint64_t len, uint32_t iomode)
{
	struct dxp_msg req = { .hdr.op = DXP_LAYOUT_GET };

	req.u.lget = (struct dxp_layout_get_req){ .fh = fh, .off = off, .len = len, .iomode = iomode };
	return request(c, &req);
}

/* LAYOUT_RETURN of L by C, with FLAGS (enum dxp_return_flags). */
static unsigned int layout_return(struct dx_conn *c, const struct dx_layout *l, uint32_t flags)
{
	struct dxp_msg ret = { .hdr.op = DXP_LAYOUT_RETURN };

	ret.u.lret.stateid = (struct dxp_stateid){ .id = l->id, .seq = l->seq };
	ret.u.lret.flags = flags;
	return request(c, &ret);
}

/* The byte at OFF of file NAME, as another process reads it. */
static char byte_at(const char *name, off_t off)
{
	char path[128], byte = 1;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", R->dir, name);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &byte, 1, off), 1);
	close(fd);
	return byte;
}

/* Turn the loop until COND holds, for up to about MS milliseconds of real
 * time (counted in turns: the fake clock may stand still). */
#define loop_until(cond, ms)                                                      \
	do {                                                                      \
		for (int i_ = 0; !(cond) && i_ < (ms); i_++) {                    \
			event_base_loop(R->d.base, EVLOOP_NONBLOCK);              \
			usleep(1000);                                             \
		}                                                                 \
	} while (0)

/* A few turns of the loop at the current (fake) time. */
static void turn(void)
{
	for (int i = 0; i < 4; i++)
		event_base_loop(R->d.base, EVLOOP_NONBLOCK);
}

static const struct dxp_msg *last_sent(void)
{
	return n_sent ? &sent[n_sent - 1] : NULL;
}

static const struct dxp_msg *last_recall(void)
{
	for (unsigned int i = n_sent; i-- > 0;)
		if (sent[i].hdr.op == DXP_LAYOUT_RECALL)
			return &sent[i];
	return NULL;
}

static int find_call(enum fv_call c, unsigned int from)
{
	for (unsigned int i = from; i < fv_n_calls; i++)
		if (fv_calls[i] == c)
			return (int)i;
	return -1;
}

static int lease_of(const struct dx_file *f)
{
	return fcntl(f->fd, F_GETLEASE);
}

/* The kernel's word: a non-blocking open fails while a lease is held. The
 * dx_file may be gone by then (freed with its last handle and layout). */
static bool lease_released(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", R->dir, name);
	fd = open(path, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool file_served(const char *name)
{
	struct dx_file *f;

	TAILQ_FOREACH(f, &R->d.files, link)
		if (strcmp(f->relpath, name) == 0)
			return true;
	return false;
}

/* The kernel's way: another open of the file breaks the lease. */
static void break_lease(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", R->dir, name);
	fd = open(path, O_RDONLY | O_NONBLOCK);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, EWOULDBLOCK);
}

static void rig_down(void)
{
	struct dx_conn *c;

	while ((c = TAILQ_FIRST(&R->d.conns))) {
		dx_conn_close(c, 0, false, "test over");
		dx_workq_drain(&R->d);
		dx_reap_now(&R->d);
		TAILQ_REMOVE(&R->d.conns, c, link);
		dx_staging_pool_drain(c);
		assert_int_equal(dx_msgslots_fini(&c->slots), 0);
		assert_true(TAILQ_EMPTY(&c->layouts));
		free(c);
	}
	dx_reap_now(&R->d);
	assert_true(TAILQ_EMPTY(&R->d.files));
	fv_on_call = NULL;
	dx_workq_fini(&R->d);
	dx_reap_fini(&R->d);
	dx_seal_fini(&R->d);
	event_base_free(R->d.base);
	close(R->x.fd);
	free(R->xcfg.acl_cidr);
	dx_scratch_remove(R->dir);
	free(R);
	dx_fake_clock_thaw();
}

/* A daemon whose export has MODE, one client, a file "a" of SIZE bytes and a
 * GRANTED layout over all of it. */
static struct dx_layout *granted_layout(enum dx_mr_mode mode, off_t size, uint32_t iomode, struct dx_conn **c)
{
	struct dx_layout *l;

	rig_up(mode);
	*c = client(0);
	open_file(*c, "a", size);
	layout_get(*c, 1, 0, (uint64_t)size, iomode);
	l = TAILQ_FIRST(&(*c)->layouts);
	loop_until(l->state == LAYOUT_GRANTED, 5000);
	assert_int_equal(l->state, LAYOUT_GRANTED);
	return l;
}

/* ---- the tests ---- */

static void grant__is_answered_when_its_job_ends(void **state)
{
	struct dx_conn *c;
	struct dx_file *f;
	struct dx_layout *l;

	rig_up(DX_MR_BOUNCE);
	c = client(0);
	f = open_file(c, "a", 8 << 20);
	assert_int_equal(layout_get(c, 1, 0, 8 << 20, DXP_IOMODE_RW), DX_SESSION_LATER);
	l = TAILQ_FIRST(&c->layouts);
	assert_int_equal(l->state, LAYOUT_GRANTING);
	assert_int_equal(n_sent, 0);                /* no rkey has left yet */
	assert_int_equal(lease_of(f), F_WRLCK);     /* but the lease is held */
	loop_until(l->state == LAYOUT_GRANTED && n_sent == 1, 5000);
	assert_int_equal(l->state, LAYOUT_GRANTED);
	assert_int_equal(last_sent()->hdr.op, DXP_LAYOUT_GET);
	assert_int_equal(last_sent()->u.lget_rep.rkey, l->mr->rkey);
	assert_int_equal(R->d.staging_bytes, 8 << 20);
	rig_down();
}

static void grant__of_a_small_layout_is_answered_at_once(void **state)
{
	struct dx_conn *c;

	rig_up(DX_MR_BOUNCE);
	c = client(0);
	open_file(c, "a", 1 << 20);
	assert_int_equal(layout_get(c, 1, 0, 1 << 20, DXP_IOMODE_RW), DX_SESSION_LATER);
	assert_int_equal(n_sent, 1); /* one slice of work: done in the request's turn */
	assert_int_equal(last_sent()->hdr.op, DXP_LAYOUT_GET);
	assert_int_equal(TAILQ_FIRST(&c->layouts)->state, LAYOUT_GRANTED);
	assert_int_equal(R->d.work.n, 0);
	rig_down();
}

static void lease_break__cancels_a_grant_in_progress(void **state)
{
	struct dx_conn *c;
	struct dx_file *f;
	struct dx_layout *l;

	rig_up(DX_MR_BOUNCE);
	c = client(0);
	f = open_file(c, "a", 64 << 20);
	assert_int_equal(layout_get(c, 1, 0, 64 << 20, DXP_IOMODE_RW), DX_SESSION_LATER);
	l = TAILQ_FIRST(&c->layouts);
	assert_int_equal(l->state, LAYOUT_GRANTING);
	break_lease("a");
	usleep(20000); /* the watcher thread notes it; the loop sees it before any slice */
	loop_until(lease_of(f) == F_UNLCK, 5000);
	assert_int_equal(lease_of(f), F_UNLCK);       /* the local process proceeds */
	assert_true(TAILQ_EMPTY(&f->layouts));        /* reaped */
	assert_int_equal(n_sent, 1);
	assert_int_equal(last_sent()->hdr.op, DXP_ERROR);
	assert_int_equal(last_sent()->u.error.code, DXP_E_BUSY_LOCAL);
	assert_int_equal(find_call(FV_QP_ERR, 0), -1); /* nobody was fenced */
	rig_down();
}

static void recall__fences_at_the_deadline_qp_first(void **state)
{
	struct dx_conn *c;
	struct dx_layout *l;
	int64_t t0;
	int qp, dereg;

	l = granted_layout(DX_MR_PINNED, 1 << 20, DXP_IOMODE_RW, &c);
	fv_n_calls = 0;
	t0 = dx_now_ms();
	break_lease("a");
	loop_until(n_sent == 2, 5000);
	assert_int_equal(last_sent()->hdr.op, DXP_LAYOUT_RECALL);
	assert_int_equal(last_sent()->u.recall.reason, DXP_RECALL_LOCAL);
	assert_int_equal(l->state, LAYOUT_RECALL_SENT);
	loop_until(!file_served("a"), 5000);            /* the client never answers */
	assert_false(file_served("a"));                /* fenced: its handle went too */
	assert_true(lease_released("a"));
	assert_true(dx_now_ms() - t0 >= 190);
	assert_int_equal(c->state, CONN_CLOSING);
	qp = find_call(FV_QP_ERR, 0);
	dereg = find_call(FV_DEREG, 0);
	assert_true(qp >= 0 && dereg > qp);           /* nothing lands while the MR goes */
	assert_int_equal(R->d.st.fenced, 1);
	rig_down();
}

/* A client with one recall credit and two READ layouts on "a", both granted;
 * the first one's recall is out after a lease break (lease-break-time LBT s,
 * recall_timeout_ms RECALL_MS). */
static struct dx_conn *two_layouts_one_credit(int lbt, int64_t recall_ms, struct dx_layout **l1,
					      struct dx_layout **l2)
{
	struct dx_conn *c;

	rig_up(DX_MR_PINNED);
	c = client(0);
	c->recall_credits = 1;
	open_file(c, "a", 1 << 20);
	layout_get(c, 1, 0, 4096, DXP_IOMODE_READ);
	layout_get(c, 1, 4096, 4096, DXP_IOMODE_READ);
	*l1 = TAILQ_FIRST(&c->layouts);
	*l2 = TAILQ_NEXT(*l1, by_conn);
	loop_until((*l1)->state == LAYOUT_GRANTED && (*l2)->state == LAYOUT_GRANTED, 5000);
	R->d.lease_break_time_s = lbt;
	R->cfg.recall_timeout_ms = recall_ms;
	break_lease("a");
	loop_until((*l1)->state == LAYOUT_RECALL_SENT, 5000);
	assert_int_equal((*l1)->state, LAYOUT_RECALL_SENT);
	assert_int_equal((*l2)->state, LAYOUT_RECALL_QUEUED); /* no credit left */
	return c;
}


/* Returns come back one by one while recalls wait for credits: a layout's
 * deadline runs from its own recall, so a client that answers each in time
 * is never fenced (it was, 200 ms after the break). */
static void recall__queued_behind_credits_is_timed_from_its_sending(void **state)
{
	struct dx_conn *c;
	struct dx_layout *l1, *l2;
	int64_t t0 = dx_now_ms();

	c = two_layouts_one_credit(45, 200, &l1, &l2);
	loop_until(dx_now_ms() - t0 >= 150, 1000);
	assert_int_equal(layout_return(c, l1, 0), DXP_E_OK);
	assert_int_equal(l2->state, LAYOUT_RECALL_SENT);       /* the freed credit sends it */
	assert_true(last_recall()->u.recall.timeout_ms > 150); /* its full time, from now */
	loop_until(dx_now_ms() - t0 >= 300, 1000);            /* past 200 ms from the break */
	assert_int_equal(c->state, CONN_READY);
	assert_int_equal(layout_return(c, l2, 0), DXP_E_OK);
	loop_until(lease_released("a"), 5000);
	assert_true(lease_released("a"));
	assert_int_equal(R->d.st.fenced, 0);
	rig_down();
}

/* ... but never past the lease's own bound: the kernel would take the lease
 * back at lease-break-time, so everything is fenced before: here at 1000 ms
 * (lease-break-time 2 s, less the margin), though recall_timeout_ms is 800. */
static void recall__never_outlasts_the_lease(void **state)
{
	struct dx_conn *c;
	struct dx_layout *l1, *l2;
	int64_t t0;

	dx_fake_clock_freeze();
	t0 = dx_now_ms();
	c = two_layouts_one_credit(2, 800, &l1, &l2);
	for (int i = 0; i < 75; i++) { /* 750 ms */
		dx_fake_clock_advance(10);
		turn();
	}
	assert_int_equal(layout_return(c, l1, 0), DXP_E_OK);
	assert_int_equal(l2->state, LAYOUT_RECALL_SENT);
	assert_true(last_recall()->u.recall.timeout_ms <= 250); /* what is left of the bound */
	while (c->state != CONN_CLOSING && dx_now_ms() - t0 < 2000) {
		dx_fake_clock_advance(10);
		turn();
	}
	assert_int_equal(c->state, CONN_CLOSING);
	assert_true(dx_now_ms() - t0 <= 1010);
	assert_int_equal(R->d.st.fenced, 1);
	loop_until(lease_released("a"), 5000);
	assert_true(lease_released("a"));
	rig_down();
}

/* A client that took DXP_FEAT_FILE_RECALL gets one FILE_RECALL for all its
 * layouts on a handle, which costs one credit, and gives them all back with
 * one RECALL_RETURN. */
static void file_recall__one_message_and_one_return_for_all(void **state)
{
	struct dxp_msg ret = { .hdr.op = DXP_RECALL_RETURN };
	const struct dxp_msg *m;
	struct dx_layout *l;
	struct dx_conn *c;
	unsigned int before;

	rig_up(DX_MR_PINNED);
	c = client(0);
	c->file_recall = true;
	c->recall_credits = 1;
	open_file(c, "a", 1 << 20);
	for (unsigned int i = 0; i < 3; i++)
		layout_get(c, 1, i * 4096, 4096, DXP_IOMODE_READ);
	loop_until(TAILQ_LAST(&c->layouts, dx_layout_head)->state == LAYOUT_GRANTED, 5000);
	before = n_sent;
	break_lease("a");
	loop_until(n_sent > before, 5000);
	assert_int_equal(n_sent, before + 1);                 /* one message for three */
	m = last_sent();
	assert_int_equal(m->hdr.op, DXP_FILE_RECALL);
	assert_int_equal(m->u.frecall.fh, 1);
	assert_int_equal(m->u.frecall.count, 3);
	assert_int_equal(m->u.frecall.max_id, TAILQ_LAST(&c->layouts, dx_layout_head)->id);
	assert_int_equal(m->u.frecall.reason, DXP_RECALL_LOCAL);
	TAILQ_FOREACH(l, &c->layouts, by_conn)
		assert_int_equal(l->state, LAYOUT_RECALL_SENT);
	assert_int_equal(c->recalls_outstanding, 1);
	ret.u.rret.recall_id = m->u.frecall.recall_id + 1;
	assert_int_equal(request(c, &ret), DXP_E_STALE_STATEID);
	ret.u.rret.recall_id = m->u.frecall.recall_id;
	assert_int_equal(request(c, &ret), DXP_E_OK);
	TAILQ_FOREACH(l, &c->layouts, by_conn)
		assert_int_equal(l->state, LAYOUT_RETURNED);
	assert_int_equal(c->recalls_outstanding, 0);
	loop_until(lease_released("a"), 5000);
	assert_true(lease_released("a"));
	assert_int_equal(R->d.st.fenced, 0);
	rig_down();
}

/*
 * Issue 27 §2: every path where an MR will not deregister fences the
 * client, its QP in the error state while the lease is still held (so the
 * rkey is dead before the file can change), and the lease goes after.
 * DEREG_FAILS runs one such path on a granted pinned RW layout of "a".
 */
static struct dx_file *watched;  /* the file whose lease fv_on_call looks at */
static int lease_at_qp_err;      /* its F_GETLEASE at the first QP_ERR; -2: none yet */

static void note_lease_at_qp_err(enum fv_call c)
{
	if (c == FV_QP_ERR && lease_at_qp_err == -2)
		lease_at_qp_err = lease_of(watched);
}

static void dereg_fails(void (*path)(struct dx_conn *c, struct dx_layout *l))
{
	struct dx_conn *c;
	struct dx_layout *l;

	l = granted_layout(DX_MR_PINNED, 1 << 20, DXP_IOMODE_RW, &c);
	watched = l->f;
	lease_at_qp_err = -2;
	fv_on_call = note_lease_at_qp_err;
	fv_n_calls = 0;
	fv_fail_dereg = 1;
	path(c, l);
	assert_true(find_call(FV_QP_ERR, 0) >= 0); /* synchronously, in the path */
	assert_int_equal(lease_at_qp_err, F_WRLCK);
	fv_on_call = NULL;
	loop_until(!file_served("a"), 5000);
	assert_true(lease_released("a"));
	rig_down();
}

static void return_it(struct dx_conn *c, struct dx_layout *l)
{
	layout_return(c, l, 0);
	assert_true(c->fenced);
}

static void dereg_failure__kills_the_qp_before_the_lease_goes(void **state)
{
	dereg_fails(return_it);
}

static void close_it(struct dx_conn *c, struct dx_layout *l)
{
	struct dxp_msg close_req = { .hdr.op = DXP_CLOSE, .u.fh.fh = 1 };

	request(c, &close_req);
}

static void dereg_failure_at_close__fences(void **state)
{
	dereg_fails(close_it);
}

static void recall_and_return_it(struct dx_conn *c, struct dx_layout *l)
{
	struct dxp_msg ret = { .hdr.op = DXP_RECALL_RETURN };

	c->file_recall = true;
	fv_fail_dereg = 0;
	dx_recall_file(l->f, 0, UINT64_MAX, DXP_RECALL_ADMIN);
	assert_int_equal(last_sent()->hdr.op, DXP_FILE_RECALL);
	ret.u.rret.recall_id = last_sent()->u.frecall.recall_id;
	fv_fail_dereg = 1;
	request(c, &ret);
}

static void dereg_failure_at_recall_return__fences(void **state)
{
	dereg_fails(recall_and_return_it);
}

static void close_politely(struct dx_conn *c, struct dx_layout *l)
{
	dx_conn_close(c, 0, true, "the client said BYE");
}

static void dereg_failure_at_a_polite_disconnect__kills_the_qp(void **state)
{
	dereg_fails(close_politely);
}

static void close_on_error(struct dx_conn *c, struct dx_layout *l)
{
	dx_conn_close(c, DXP_E_IO, false, "peer not responding");
}

/* (A layout fenced while its connection goes for another reason than a
 * fence: dx_layout_fence itself must kill the QP.) */
static void dereg_failure_at_a_broken_connection__kills_the_qp(void **state)
{
	dereg_fails(close_on_error);
}

static void conflict__rw_recalls_another_clients_read_layout(void **state)
{
	struct dx_conn *a, *b;
	struct dx_layout *la;

	rig_up(DX_MR_PINNED);
	a = client(0);
	b = client(1);
	open_file(a, "a", 1 << 20);
	open_file(b, "a", 1 << 20);
	layout_get(a, 1, 0, 1 << 20, DXP_IOMODE_READ);
	la = TAILQ_FIRST(&a->layouts);
	loop_until(la->state == LAYOUT_GRANTED, 5000);
	assert_int_equal(layout_get(b, 1, 0, 4096, DXP_IOMODE_RW), DXP_E_RECALL_PENDING);
	assert_int_equal(la->state, LAYOUT_RECALL_SENT);
	assert_int_equal(sent[n_sent - 2].hdr.op, DXP_LAYOUT_RECALL); /* to A, then B's answer */
	assert_int_equal(sent[n_sent - 2].u.recall.reason, DXP_RECALL_CONFLICT);
	/* Asking again: still pending, and A is not recalled twice. */
	assert_int_equal(layout_get(b, 1, 0, 4096, DXP_IOMODE_RW), DXP_E_RECALL_PENDING);
	assert_int_equal(sent[n_sent - 2].hdr.op, DXP_ERROR);
	assert_int_equal(a->recalls, 1);
	rig_down();
}

static void commit__cancelled_by_a_fence_is_never_answered_ok(void **state)
{
	struct dx_conn *c;
	struct dx_layout *l;
	struct dxp_msg commit = { .hdr.op = DXP_COMMIT };
	unsigned int before;

	l = granted_layout(DX_MR_BOUNCE, 16 << 20, DXP_IOMODE_RW, &c);
	commit.u.commit = (struct dxp_commit_req){ .stateid = { l->id, l->seq }, .off = 0, .len = 16 << 20 };
	assert_int_equal(request(c, &commit), DX_SESSION_LATER);
	before = n_sent;
	dx_conn_fence(c, "test");
	assert_int_equal(l->state, LAYOUT_FENCED);
	assert_true(TAILQ_EMPTY(&l->jobs));           /* the copy is dropped at once */
	loop_until(R->d.work.n == 0, 1000);
	assert_int_equal(n_sent, before);              /* no COMMIT reply, least of all OK */
	rig_down();
}

static void return__of_bounce_data_copies_back_before_the_lease_goes(void **state)
{
	struct dx_conn *c;
	struct dx_file *f;
	struct dx_layout *l;

	l = granted_layout(DX_MR_BOUNCE, 4 << 20, DXP_IOMODE_RW, &c);
	f = l->f;
	memset(l->staging, 0x5a, 4 << 20);            /* what the client's RDMA WRITEs left */
	assert_int_equal(layout_return(c, l, 0), DX_SESSION_LATER);
	assert_int_equal(l->state, LAYOUT_RETURNED);
	assert_int_equal(lease_of(f), F_WRLCK);        /* held while the copy runs */
	loop_until(lease_of(f) == F_UNLCK, 5000);
	assert_int_equal(last_sent()->hdr.op, DXP_LAYOUT_RETURN);
	assert_int_equal(byte_at("a", (4 << 20) - 1), 0x5a);
	rig_down();
}

/* Issue 26 §4: a return without CLEAN is a COMMIT of the layout in every
 * mode, so that a client whose layout a recall took between its writes and
 * their COMMIT knows them persistent. A pinned layout's return was
 * answered at once, nothing persisted. */
static void return__dirty_of_a_pinned_layout_persists_it_before_the_answer(void **state)
{
	struct dx_conn *c;
	struct dx_layout *l;

	l = granted_layout(DX_MR_PINNED, 4 << 20, DXP_IOMODE_RW, &c);
	assert_int_equal(layout_return(c, l, 0), DX_SESSION_LATER); /* a persist job of 4 slices */
	assert_int_equal(l->state, LAYOUT_RETURNED);
	loop_until(last_sent()->hdr.op == DXP_LAYOUT_RETURN, 5000);
	assert_int_equal(last_sent()->hdr.op, DXP_LAYOUT_RETURN);
	assert_int_equal(R->d.st.bytes_committed, 4 << 20);
	assert_int_equal(R->d.st.bytes_copied_back, 0);
	rig_down();
}

/* ... and where the client may no longer write (a reload made the export
 * read-only), the layout goes back all the same, and the answer says its
 * writes were not persisted. */
static void return__dirty_where_the_client_may_no_longer_write_says_not_persisted(void **state)
{
	struct dx_conn *c;
	struct dx_layout *l;

	l = granted_layout(DX_MR_PINNED, 1 << 20, DXP_IOMODE_RW, &c);
	R->xcfg.read_only = true;
	assert_int_equal(layout_return(c, l, 0), DXP_E_ROFS);
	assert_int_equal(l->state, LAYOUT_RETURNED);
	assert_int_equal(R->d.st.bytes_committed, 0);
	rig_down();
}

/* The client says all it wrote is committed: no copy-back, the reply goes
 * at once, and bytes it did not commit never reach the file. */
static void return__clean_needs_no_copy_back(void **state)
{
	struct dx_conn *c;
	struct dx_file *f;
	struct dx_layout *l;

	l = granted_layout(DX_MR_BOUNCE, 4 << 20, DXP_IOMODE_RW, &c);
	f = l->f;
	memset(l->staging, 0x5a, 4 << 20);            /* not committed: the client says it wrote nothing */
	assert_int_equal(layout_return(c, l, DXP_RETURN_CLEAN), DXP_E_OK); /* answered now: no job */
	assert_int_equal(l->state, LAYOUT_RETURNED);
	assert_true(TAILQ_EMPTY(&l->jobs));
	loop_until(lease_of(f) == F_UNLCK, 5000);
	assert_int_equal(byte_at("a", (4 << 20) - 1), 0);
	rig_down();
}

/* A range prepared under the lease is not prepared again while the lease
 * lasts (nothing else can change its blocks); ranges merge; the memory goes
 * with the lease and with the daemon's own shrinking. */
static void prepare__is_remembered_while_the_lease_is_held(void **state)
{
	const uint64_t mib = 1 << 20;
	struct dx_conn *c;
	struct dx_layout *l;
	struct dx_file *f;
	struct stat st;
	blkcnt_t full;

	l = granted_layout(DX_MR_BOUNCE, 1 << 20, DXP_IOMODE_RW, &c);
	f = l->f;
	assert_int_equal(f->n_prepared, 1);
	assert_true(f->prepared[0].lo == 0 && f->prepared[0].hi == mib);
	assert_int_equal(fstat(f->fd, &st), 0);
	full = st.st_blocks;
	/* The daemon's own fd punches (nothing else could): the memory says
	 * the range is prepared, so nothing is done... */
	assert_int_equal(fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 65536), 0);
	assert_int_equal(dx_seal_prepare(f, 0, mib), 0);
	assert_int_equal(fstat(f->fd, &st), 0);
	assert_true(st.st_blocks < full);
	/* ...until it is forgotten: then the hole is filled. */
	dx_seal_forget_prepared(f, 0);
	assert_int_equal(f->n_prepared, 0);
	assert_int_equal(dx_seal_prepare(f, 4096, mib - 4096), 0);
	assert_int_equal(dx_seal_prepare(f, 0, 4096), 0);        /* merges with the one after it */
	assert_int_equal(f->n_prepared, 1);
	assert_true(f->prepared[0].lo == 0 && f->prepared[0].hi == mib);
	assert_int_equal(fstat(f->fd, &st), 0);
	assert_int_equal(st.st_blocks, full);
	dx_seal_forget_prepared(f, 65536);                       /* a shrink cuts it */
	assert_true(f->n_prepared == 1 && f->prepared[0].hi == 65536);
	/* A lease break: someone else may change the blocks now. */
	break_lease("a");
	loop_until(f->lease != LEASE_LEASED, 5000);
	assert_int_equal(f->n_prepared, 0);
	rig_down();
}

/* The interval tree finds exactly what a scan of every range finds, in
 * order of lo, through random inserts and removals. */
struct found {
	const struct dx_inode *v[4096];
	unsigned int n;
};

static int collect(struct dx_inode *n, void *arg)
{
	struct found *f = arg;

	f->v[f->n++] = n;
	return 0;
}

static void itree__finds_what_a_scan_finds(void **state)
{
	enum { N = 3000, QUERIES = 2000 };
	static struct dx_inode nodes[N];
	static bool in[N];
	static struct found got;
	struct dx_itree t = { 0 };
	uint64_t seed = 12345;

#define RND() (seed = seed * 6364136223846793005ull + 1442695040888963407ull, seed >> 33)
	for (unsigned int i = 0; i < N; i++) {
		nodes[i].lo = RND() % 100000;
		nodes[i].hi = nodes[i].lo + 1 + RND() % (i % 10 ? 50 : 5000);
		dx_itree_insert(&t, &nodes[i]);
		in[i] = true;
	}
	for (unsigned int q = 0; q < QUERIES; q++) {
		uint64_t lo = RND() % 101000, hi = lo + 1 + RND() % 3000;
		unsigned int want = 0, i = (unsigned int)(RND() % N);

		/* one node leaves or comes back each round */
		if (in[i])
			dx_itree_remove(&t, &nodes[i]);
		else
			dx_itree_insert(&t, &nodes[i]);
		in[i] = !in[i];
		got.n = 0;
		assert_int_equal(dx_itree_visit(&t, lo, hi, collect, &got), 0);
		for (unsigned int k = 0; k < N; k++)
			if (in[k] && nodes[k].lo < hi && lo < nodes[k].hi)
				want++;
		assert_int_equal(got.n, want);
		for (unsigned int k = 0; k < got.n; k++) {
			assert_true(got.v[k]->lo < hi && lo < got.v[k]->hi);
			assert_true(in[got.v[k] - nodes]);
			if (k)
				assert_true(got.v[k - 1]->lo <= got.v[k]->lo);
		}
	}
#undef RND
}

/* A returned bounce layout's staging is kept, and the next grant of that
 * size takes it back, filled afresh from the file. */
static void staging__is_reused_and_filled_again(void **state)
{
	struct dx_conn *c;
	struct dx_layout *l;
	char path[128];
	void *first;
	int fd;

	l = granted_layout(DX_MR_BOUNCE, 1 << 20, DXP_IOMODE_RW, &c);
	first = l->staging;
	memset(l->staging, 0x5a, 1 << 20);             /* the client's writes, never committed */
	assert_int_equal(layout_return(c, l, DXP_RETURN_CLEAN), DXP_E_OK);
	dx_reap_now(&R->d);
	assert_int_equal(c->n_pool, 1);
	assert_int_equal(R->d.pooled_bytes, 1 << 20);
	snprintf(path, sizeof(path), "%s/a", R->dir);
	fd = open(path, O_WRONLY);
	assert_int_equal(pwrite(fd, "file", 4, 4096), 4);
	close(fd);
	layout_get(c, 1, 0, 1 << 20, DXP_IOMODE_RW);
	l = TAILQ_LAST(&c->layouts, dx_layout_head);
	loop_until(l->state == LAYOUT_GRANTED, 5000);
	assert_ptr_equal(l->staging, first);             /* no new mapping */
	assert_int_equal(c->n_pool, 0);
	assert_memory_equal((char *)l->staging + 4096, "file", 4);
	assert_int_equal(((unsigned char *)l->staging)[0], 0); /* not the old 0x5a */
	rig_down();
}

/* One SEND in signal_every asks for a completion, and that completion gives
 * back its slot and those of the unsignalled SENDs before it. */
static void msgslots__a_completion_frees_the_sends_before_it(void **state)
{
	struct dxp_msg m = { .hdr.op = DXP_BYE };
	struct dx_conn *c;
	struct dx_msgslots *s;
	unsigned int every, free0;

	rig_up(DX_MR_PINNED);
	c = client(0);
	s = &c->slots;
	every = s->signal_every;
	free0 = s->n_free;
	assert_int_equal(free0, DX_SRV_SEND + every); /* the reserve for unreaped sends */
	sends_pending = true;
	n_signaled = n_pending = 0;
	for (unsigned int i = 0; i < 2 * every; i++)
		assert_int_equal(dx_msgslots_send(s, c->cm->qp, &m), 0);
	assert_int_equal(n_signaled, 2);                 /* the every-th and the 2 every-th */
	assert_int_equal(s->n_free, free0 - 2 * every);
	dx_msgslots_sent(s, pending_wr[0]);             /* the first completion */
	assert_int_equal(s->n_free, free0 - every);
	dx_msgslots_sent(s, pending_wr[1]);
	assert_int_equal(s->n_free, free0);
	sends_pending = false;
	rig_down();
}


/*
 * At exit the answers already posted leave before the connections close: a
 * probe goes behind them on each live connection, and the loop ends once
 * the probes are in, or DX_EXIT_FLUSH_MS later. (With the loop broken at
 * once, a NIC may drop the last answers with the QP; rxe sends them fast
 * enough that no guest test sees it.)
 */
static void stop__waits_for_a_probe_behind_the_last_answers(void **state)
{
	rig_up(DX_MR_BOUNCE);
	client(0);
	sends_pending = true;
	n_signaled = n_pending = 0;
	R->d.stopping = true;
	dx_recall_check_stop(&R->d);
	assert_int_equal(n_pending, 1);                    /* the probe, behind the answers */
	assert_true(pending_wr[0] & DX_WR_KEEPALIVE);
	assert_false(event_base_got_break(R->d.base));    /* not gone yet */
	loop_until(event_base_got_exit(R->d.base), 2000); /* never heard: gone at the grace's end */
	assert_true(event_base_got_exit(R->d.base));
	sends_pending = false;
	R->d.stopping = false;
	rig_down();
}

/*
 * Issue 19 §1. A client with one recall credit keeps the daemon recalling
 * its own layouts on "b" (a conflict, as OPEN with TRUNC makes) and returns
 * each just before its deadline; the recall of its layout on "a", whose
 * lease the kernel is breaking, waits behind them in its queue. The lease
 * bound is per file: at the break + lease-break-time - margin, every holder
 * of a layout on "a" is fenced, whatever any queue holds. (It was not: the
 * queued recall had no deadline, and the kernel gave the file back with
 * the rkey alive.)
 */
static void lease_bound__fences_a_recall_queued_behind_credits(void **state)
{
	enum { N_B = 12, ALMOST_MS = 190 };
	struct dx_layout *lb[N_B];
	struct dx_file *fa, *fb;
	struct dx_conn *c;
	unsigned int next = 0;
	int64_t sent_at, bound, fenced_at = -1;

	rig_up(DX_MR_PINNED);
	dx_fake_clock_freeze();
	R->d.lease_break_time_s = 3; /* the bound: 2000 ms after the break */
	c = client(0);
	c->recall_credits = 1;
	fb = open_file(c, "b", 1 << 20);
	fa = open_file(c, "a", 1 << 20);
	for (unsigned int i = 0; i < N_B; i++) {
		assert_int_equal(layout_get(c, 1, i * 4096, 4096, DXP_IOMODE_READ), DX_SESSION_LATER);
		lb[i] = TAILQ_LAST(&c->layouts, dx_layout_head);
		assert_int_equal(lb[i]->state, LAYOUT_GRANTED);
	}
	assert_int_equal(layout_get(c, 2, 0, 4096, DXP_IOMODE_READ), DX_SESSION_LATER);
	dx_recall_file(fb, 0, UINT64_MAX, DXP_RECALL_CONFLICT);
	assert_int_equal(lb[0]->state, LAYOUT_RECALL_SENT);
	assert_int_equal(lb[1]->state, LAYOUT_RECALL_QUEUED);
	sent_at = dx_now_ms();
	break_lease("a");
	loop_until(fa->lease == LEASE_BREAKING, 2000);
	assert_int_equal(fa->lease, LEASE_BREAKING);
	assert_int_equal(TAILQ_FIRST(&fa->layouts)->state, LAYOUT_RECALL_QUEUED); /* behind b's */
	bound = fa->break_ms + 3000 - DX_LEASE_MARGIN_MS;
	while (dx_now_ms() < bound + 100) {
		dx_fake_clock_advance(10);
		turn();
		if (c->state == CONN_CLOSING) {
			fenced_at = dx_now_ms();
			break;
		}
		if (next < N_B && dx_now_ms() - sent_at >= ALMOST_MS) {
			assert_int_equal(lb[next]->state, LAYOUT_RECALL_SENT);
			assert_int_equal(layout_return(c, lb[next++], 0), DXP_E_OK);
			sent_at = dx_now_ms();
		}
	}
	assert_true(fenced_at >= bound && fenced_at <= bound + 10); /* at the bound, not a step later */
	assert_int_equal(R->d.st.fenced, 1);
	loop_until(lease_released("a"), 2000);
	assert_true(lease_released("a"));
	rig_down();
}

/*
 * Issue 19 §2. A non-clean return of a large bounce layout starts a
 * copy-back; on a file whose lease is breaking it stops at the lease bound:
 * the layout is fenced, the copy dropped, the return answered with an
 * error, and the file never gets a byte from the daemon after its lease is
 * gone. (The copy ran on, the lease held until it ended.)
 */
static void lease_bound__stops_a_copy_back(void **state)
{
	struct dx_conn *c;
	struct dx_layout *l;
	const struct dxp_msg *m;

	l = granted_layout(DX_MR_BOUNCE, 16 << 20, DXP_IOMODE_RW, &c);
	dx_fake_clock_freeze();
	R->d.lease_break_time_s = 3;
	memset(l->staging, 0x5a, 16 << 20);           /* written, never committed */
	break_lease("a");
	loop_until(l->state == LAYOUT_RECALL_SENT, 2000);
	dx_fake_clock_advance(150);
	assert_int_equal(layout_return(c, l, 0), DX_SESSION_LATER); /* a copy-back job of 16 slices */
	dx_fake_clock_advance(3000 - DX_LEASE_MARGIN_MS);           /* the bound passes before a slice runs */
	loop_until(lease_released("a"), 5000);
	assert_true(lease_released("a"));
	assert_int_equal(byte_at("a", 0), 0);
	assert_int_equal(byte_at("a", (16 << 20) - 1), 0);
	m = last_sent();
	assert_int_equal(m->hdr.op, DXP_ERROR);          /* the return tells the truth */
	assert_int_equal(R->d.st.fenced, 0);             /* the client did return it */
	rig_down();
}

/* A bad block under L's range, as the daemon meets one: the file shrinks
 * under its mapping (through the daemon's own fd: no lease breaks), so a
 * copy into it raises SIGBUS, which the media-error guard turns into EIO. */
static void bad_block_under(struct dx_layout *l)
{
	assert_int_equal(dx_mediaerr_init(), 0);
	assert_int_equal(ftruncate(l->f->fd, 0), 0);
}

static void expect_error(unsigned int code)
{
	assert_int_equal(last_sent()->hdr.op, DXP_ERROR);
	assert_int_equal(last_sent()->u.error.code, code);
}

/* Issue 19 §4: COMMIT, LAYOUT_RETURN and RECALL_RETURN all answer EIO when
 * the copy into the file meets a media error. */
static void media_error__fails_a_commit(void **state)
{
	struct dxp_msg commit = { .hdr.op = DXP_COMMIT };
	struct dx_conn *c;
	struct dx_layout *l;

	l = granted_layout(DX_MR_BOUNCE, 1 << 20, DXP_IOMODE_RW, &c);
	bad_block_under(l);
	commit.u.commit = (struct dxp_commit_req){ .stateid = { l->id, l->seq }, .off = 0, .len = 4096 };
	assert_int_equal(request(c, &commit), DX_SESSION_LATER);
	expect_error(DXP_E_IO);
	rig_down();
}

static void media_error__fails_a_layout_return(void **state)
{
	struct dx_conn *c;
	struct dx_layout *l;

	l = granted_layout(DX_MR_BOUNCE, 1 << 20, DXP_IOMODE_RW, &c);
	bad_block_under(l);
	assert_int_equal(layout_return(c, l, 0), DX_SESSION_LATER);
	expect_error(DXP_E_IO);
	rig_down();
}

/* (It answered OK: a copy-back of at most one slice runs inside the
 * request, and its failure was dropped.) */
static void media_error__fails_a_recall_return(void **state)
{
	struct dxp_msg ret = { .hdr.op = DXP_RECALL_RETURN };
	struct dx_conn *c;
	struct dx_layout *l;

	l = granted_layout(DX_MR_BOUNCE, 1 << 20, DXP_IOMODE_RW, &c);
	c->file_recall = true;
	dx_recall_file(l->f, 0, UINT64_MAX, DXP_RECALL_ADMIN);
	assert_int_equal(last_sent()->hdr.op, DXP_FILE_RECALL);
	ret.u.rret.recall_id = last_sent()->u.frecall.recall_id;
	bad_block_under(l);
	request(c, &ret);
	expect_error(DXP_E_IO);
	rig_down();
}

/* Issue 19 §4: if the QP cannot be moved to the error state either, it is
 * destroyed before the lease goes (the PD is the client's own: no rkey of
 * it works without its QP). The lease was released with the MR live and
 * the QP working. */
static void dereg_and_modify_failure__destroys_the_qp_before_the_lease_goes(void **state)
{
	struct dx_conn *c;
	struct dx_layout *l;

	l = granted_layout(DX_MR_PINNED, 1 << 20, DXP_IOMODE_RW, &c);
	fv_n_calls = 0;
	fv_fail_dereg = 1;
	fv_fail_modify_qp = 1;
	layout_return(c, l, 0);
	assert_true(find_call(FV_QP_DESTROY, 0) >= 0); /* synchronously, in the request */
	assert_null(c->cm->qp);
	assert_true(c->fenced);
	loop_until(!file_served("a"), 5000);
	assert_true(lease_released("a"));
	rig_down();
}

/* ... and if nothing can kill the rkey, the lease is never released by the
 * daemon (the kernel takes it at lease-break-time, not us). */
static void rkey_that_may_live__keeps_the_lease(void **state)
{
	struct dx_conn *c;
	struct dx_layout *l;

	l = granted_layout(DX_MR_PINNED, 1 << 20, DXP_IOMODE_RW, &c);
	fv_fail_dereg = fv_fail_modify_qp = fv_fail_destroy_qp = 100; /* every try */
	layout_return(c, l, 0);
	loop_until(false, 100);
	assert_true(file_served("a"));
	assert_false(lease_released("a"));
	assert_non_null(l->mr);
	fv_fail_dereg = fv_fail_modify_qp = fv_fail_destroy_qp = 0;
	c->qp_dead = true; /* as if the QP went at last: now it may go */
	dx_reap_now(&R->d);
	assert_false(file_served("a"));
	rig_down();
}

/* Issue 19 §4: an rkey is a capability; "daxrdmactl layouts" shows it to
 * root only (the daxrdma group's members saw every rkey). */
static void ctl_layouts__shows_rkeys_to_root_only(void **state)
{
	struct ucred root = { .pid = 1, .uid = 0 }, member = { .pid = 1, .uid = 4242 };
	struct dxbuf out = DXBUF_INIT;
	char *argv[] = { "layouts", NULL }, rkey[16];
	struct dx_conn *c;
	struct dx_layout *l;

	l = granted_layout(DX_MR_PINNED, 1 << 20, DXP_IOMODE_RW, &c);
	snprintf(rkey, sizeof(rkey), "%#x", l->mr->rkey);
	assert_int_equal(dxd_ctl_handle(&R->d, &root, 1, argv, REPORT_JSON, &out), 0);
	assert_non_null(strstr(dxbuf_str(&out), rkey));
	dxbuf_release(&out);
	assert_int_equal(dxd_ctl_handle(&R->d, &member, 1, argv, REPORT_JSON, &out), 0);
	assert_null(strstr(dxbuf_str(&out), rkey));
	assert_non_null(strstr(dxbuf_str(&out), "hidden"));
	dxbuf_release(&out);
	rig_down();
}

/* OPEN PATH through export EXPORT with FLAGS from C. */
static unsigned int open_via(struct dx_conn *c, const char *export, const char *path, uint32_t flags)
{
	struct dxp_msg req = { .hdr.op = DXP_OPEN };

	req.u.open = (struct dxp_open_req){ .flags = flags, .mode = 0644, .export_len = (uint16_t)strlen(export),
					    .path_len = (uint16_t)strlen(path) };
	req.s1 = export;
	req.s2 = path;
	return request(c, &req);
}

/*
 * Issue 19 §4: one file in two exports of the same directory, a read-only
 * one ("ro") and a writable one ("x"): each client's access is decided by
 * the export it opened the file through. (The first opener's export decided
 * for everyone: a client that opened it through "ro" first made a writable
 * client's RW layouts fail with ROFS.)
 */
static void access__is_decided_by_each_handles_export(void **state)
{
	struct dx_export_cfg rocfg;
	struct dx_export both[2];
	struct dx_conn *a, *b;

	rig_up(DX_MR_PINNED);
	rocfg = R->xcfg;
	rocfg.name = "ro";
	rocfg.read_only = true;
	both[0] = R->x;
	both[1] = R->x;
	both[1].cfg = &rocfg;
	R->xs.v = both;
	R->xs.n = 2;
	make_file("a", 1 << 20);
	a = client(0);
	b = client(1);
	assert_int_equal(open_via(a, "ro", "a", 0), DXP_E_OK);      /* first, through the read-only export */
	assert_int_equal(layout_get(a, 1, 8192, 4096, DXP_IOMODE_READ), DX_SESSION_LATER);
	assert_int_equal(last_sent()->hdr.op, DXP_LAYOUT_GET);
	/* The daemon's fd is read-only and leased: a's layout comes back first. */
	assert_int_equal(open_via(b, "x", "a", DXP_OPEN_RW), DXP_E_RECALL_PENDING);
	assert_int_equal(last_recall()->u.recall.reason, DXP_RECALL_CONFLICT);
	assert_int_equal(layout_return(a, TAILQ_FIRST(&a->layouts), 0), DXP_E_OK);
	loop_until(lease_released("a"), 2000);
	assert_int_equal(open_via(b, "x", "a", DXP_OPEN_RW), DXP_E_OK);
	assert_int_equal(layout_get(b, 1, 0, 4096, DXP_IOMODE_RW), DX_SESSION_LATER);
	assert_int_equal(last_sent()->hdr.op, DXP_LAYOUT_GET);       /* granted */
	assert_int_equal(layout_get(a, 1, 8192, 4096, DXP_IOMODE_READ), DX_SESSION_LATER);
	assert_int_equal(last_sent()->hdr.op, DXP_LAYOUT_GET);
	assert_int_equal(open_via(a, "ro", "a", DXP_OPEN_RW), DXP_E_ROFS); /* and "ro" stays read-only */
	rig_down();
}

/* C opens "a" through the rig's export: the OPEN reply's MR mode and
 * attributes, and the MR mode of a 4 KiB RW layout then granted on it. */
static void open_and_lay_out(struct dx_conn *c, uint8_t *open_mode, uint32_t *attrs, uint8_t *layout_mode)
{
	struct dx_layout *l;

	assert_int_equal(open_via(c, "x", "a", DXP_OPEN_RW), DXP_E_OK);
	assert_int_equal(last_sent()->hdr.op, DXP_OPEN);
	*open_mode = last_sent()->u.open_rep.mr_mode;
	*attrs = last_sent()->u.open_rep.attrs;
	assert_int_equal(layout_get(c, 1, 0, 4096, DXP_IOMODE_RW), DX_SESSION_LATER);
	l = TAILQ_FIRST(&c->layouts);
	loop_until(l->state == LAYOUT_GRANTED, 5000);
	assert_int_equal(l->state, LAYOUT_GRANTED);
	*layout_mode = l->mr_mode;
}

/*
 * Issue 20 §2: DAX is decided per file at OPEN. A file that is not DAX
 * itself (its DAX attribute off on a dax=inode mount; here a tmpfs file
 * below an export that says FS-DAX) is page cache: never pinned, never
 * persisted one-sided, whatever its export's mode. (It inherited the
 * export's pinned mode and remote-flush.) The control: through an export
 * whose own kind is that of the file (shmem, pinned), the same file is
 * served pinned, so the check sees what the daemon says.
 */
static void dax__is_decided_per_file_at_open(void **state)
{
	uint8_t open_mode, layout_mode;
	struct dx_conn *c;
	uint32_t attrs;

	rig_up(DX_MR_PINNED);
	R->x.kind = DX_EXPORT_FSDAX;
	R->x.remote_persist = true;
	make_file("a", 1 << 20);
	c = client(0);
	c->remote_persist = true;
	open_and_lay_out(c, &open_mode, &attrs, &layout_mode);
	assert_int_equal(open_mode, DXP_MR_BOUNCE);
	assert_int_equal(layout_mode, DXP_MR_BOUNCE);
	assert_false(attrs & DXP_ATTR_DAX);
	assert_false(attrs & DXP_ATTR_REMOTE_PERSIST);
	rig_down();

	rig_up(DX_MR_PINNED); /* the control: shmem served as shmem */
	make_file("a", 1 << 20);
	c = client(0);
	open_and_lay_out(c, &open_mode, &attrs, &layout_mode);
	assert_int_equal(open_mode, DXP_MR_PINNED);
	assert_int_equal(layout_mode, DXP_MR_PINNED);
	rig_down();
}

/*
 * Issue 20 §2: one-sided persistence is offered only where the platform
 * makes a placed NIC write durable. (remote-flush was offered whatever
 * libpmem2 said about the mapping.)
 */
static void persistence__remote_flush_needs_map_sync_and_a_platform_that_persists_nic_writes(void **state)
{
	static const struct {
		enum dx_export_kind kind;
		enum dx_mr_mode mode;
		int granularity, nic_writes, ret;
		bool remote;
		const char *why;
	} t[] = {
		{ DX_EXPORT_FSDAX, DX_MR_ODP, PMEM2_GRANULARITY_PAGE, DX_NICW_EADR, -EINVAL, false, "MAP_SYNC" },
		{ DX_EXPORT_DEVDAX, DX_MR_PINNED, PMEM2_GRANULARITY_CACHE_LINE, DX_NICW_CACHE, -EINVAL, false,
		  "nic_writes" },
		{ DX_EXPORT_DEVDAX, DX_MR_PINNED, PMEM2_GRANULARITY_CACHE_LINE, DX_NICW_MEMORY, 0, true, NULL },
		{ DX_EXPORT_FSDAX, DX_MR_ODP, PMEM2_GRANULARITY_CACHE_LINE, DX_NICW_EADR, 0, true, NULL },
		{ DX_EXPORT_FSDAX, DX_MR_ODP, PMEM2_GRANULARITY_BYTE, DX_NICW_CACHE, 0, true, NULL },
		{ DX_EXPORT_FSDAX, DX_MR_BOUNCE, PMEM2_GRANULARITY_BYTE, DX_NICW_CACHE, 0, false, NULL },
		{ DX_EXPORT_FS, DX_MR_PINNED, PMEM2_GRANULARITY_PAGE, DX_NICW_EADR, -EINVAL, false, "without DAX" },
	};
	struct dx_export_cfg cfg = { .name = "x", .persistence = DX_PERSIST_REMOTE_FLUSH };
	struct dx_export commit = { .cfg = &cfg, .kind = DX_EXPORT_FS, .granularity = PMEM2_GRANULARITY_PAGE };
	char why[300];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct dx_export x = { .cfg = &cfg, .kind = t[i].kind, .mr_mode = t[i].mode,
				       .granularity = t[i].granularity };

		why[0] = '\0';
		assert_int_equal(dx_export_resolve_persistence(&x, t[i].nic_writes, why, sizeof(why)), t[i].ret);
		assert_int_equal(x.remote_persist, t[i].remote);
		if (t[i].why)
			assert_non_null(strstr(why, t[i].why));
	}
	cfg.persistence = DX_PERSIST_COMMIT; /* COMMIT is right everywhere */
	assert_int_equal(dx_export_resolve_persistence(&commit, DX_NICW_CACHE, why, sizeof(why)), 0);
	assert_false(commit.remote_persist);
}

/* RENAME of handle FH to TO (REMOVE if TO is NULL). */
static unsigned int rename_to(struct dx_conn *c, uint64_t fh, const char *to)
{
	struct dxp_msg req = { .hdr.op = to ? DXP_RENAME : DXP_REMOVE };

	if (to) {
		req.u.rename = (struct dxp_rename_req){ .fh = fh, .path_len = (uint16_t)strlen(to) };
		req.s1 = to;
	} else {
		req.u.fh.fh = fh;
	}
	return request(c, &req);
}

/* The inode number at NAME in the export (0: none). */
static ino_t ino_at(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", R->dir, name);
	return lstat(path, &st) ? 0 : st.st_ino;
}

/* Issue 26 §4 (daxrdma put writes a copy beside the target and renames it
 * over): RENAME moves the handle's own file over another one, atomically,
 * and the handle keeps it, under its new name for the next RENAME; REMOVE
 * takes the name away and the handle still works. */
static void rename__moves_the_handles_file_over_another_and_keeps_it_open(void **state)
{
	struct dx_conn *c;
	ino_t t;

	rig_up(DX_MR_PINNED);
	c = client(0);
	assert_int_equal(open_via(c, "x", "old", DXP_OPEN_RW | DXP_OPEN_CREATE), DXP_E_OK);
	assert_int_equal(open_via(c, "x", "t", DXP_OPEN_RW | DXP_OPEN_CREATE), DXP_E_OK);
	t = ino_at("t");
	assert_int_equal(rename_to(c, 2, "old"), DXP_E_OK);
	assert_int_equal(ino_at("old"), t);
	assert_int_equal(ino_at("t"), 0);
	assert_int_equal(rename_to(c, 2, "new"), DXP_E_OK); /* its name is "old" now */
	assert_int_equal(ino_at("new"), t);
	assert_int_equal(ino_at("old"), 0);
	assert_int_equal(rename_to(c, 2, NULL), DXP_E_OK);
	assert_int_equal(ino_at("new"), 0);
	assert_int_equal(layout_get(c, 2, 0, 0, DXP_IOMODE_RW), DXP_E_RANGE); /* open still: empty */
	rig_down();
}

/* A name outside the export, or no name, is refused, and nothing moves; so
 * is a file that a local process moved (another file has its name now:
 * that one is not the client's), and a handle that cannot write. */
static void rename__refuses_escapes_other_files_and_readers(void **state)
{
	static const char *const bad[] = { "../out", "/tmp/out", "sub/../../out", "none/out", ".", "..", "a/" };
	struct dx_conn *c;
	char from[256], to[256];
	ino_t t;

	rig_up(DX_MR_PINNED);
	c = client(0);
	assert_int_equal(open_via(c, "x", "t", DXP_OPEN_RW | DXP_OPEN_CREATE), DXP_E_OK);
	assert_int_equal(open_via(c, "x", "t", 0), DXP_E_OK);
	t = ino_at("t");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(rename_to(c, 1, bad[i]), DXP_E_OK);
	/* Only a regular file is replaced: not a directory, not a symlink. */
	snprintf(from, sizeof(from), "%s/d", R->dir);
	assert_int_equal(mkdir(from, 0755), 0);
	snprintf(to, sizeof(to), "%s/lnk", R->dir);
	assert_int_equal(symlink("t", to), 0);
	assert_int_equal(rename_to(c, 1, "d"), DXP_E_EXIST);
	assert_int_equal(rename_to(c, 1, "lnk"), DXP_E_EXIST);
	assert_int_equal(ino_at("t"), t);
	assert_int_equal(rename_to(c, 2, "u"), DXP_E_ROFS); /* a READ handle */
	assert_int_equal(rename_to(c, 2, NULL), DXP_E_ROFS);
	/* A local process moves it away and puts another file at its name. */
	snprintf(from, sizeof(from), "%s/t", R->dir);
	snprintf(to, sizeof(to), "%s/moved", R->dir);
	assert_int_equal(rename(from, to), 0);
	close(open(from, O_CREAT | O_WRONLY, 0644));
	assert_int_equal(rename_to(c, 1, "u"), DXP_E_NOENT);
	assert_int_equal(rename_to(c, 1, NULL), DXP_E_NOENT);
	assert_int_not_equal(ino_at("t"), 0);          /* the other file stays */
	assert_int_equal(ino_at("u"), 0);
	assert_int_equal(ino_at("moved"), t);
	R->xcfg.read_only = true;                      /* and a reload made the export read-only */
	assert_int_equal(rename_to(c, 1, "u"), DXP_E_ROFS);
	rig_down();
}

/* A connection request from P's address through the real rdma_cm path
 * (fake verbs): whether the daemon took it. */
static bool connect_from(struct fv_peer *p)
{
	fv_cm_event(&R->d, p, RDMA_CM_EVENT_CONNECT_REQUEST);
	return !fv_peer_destroyed(p);
}

/* rdma_cm says DISCONNECTED for P's connection; P stays. */
static void disconnect_peer_keep(struct fv_peer *p)
{
	if (!fv_peer_destroyed(p))
		fv_cm_event(&R->d, p, RDMA_CM_EVENT_DISCONNECTED);
}

static void disconnect_peer(struct fv_peer *p)
{
	disconnect_peer_keep(p);
	fv_peer_free(p);
}

/*
 * Issue 19 §4: "daxrdmactl evict CLIENT --ban SECONDS" fences every
 * connection of the client's host and refuses its new ones until the ban
 * ends; "clients" lists the ban. (Evicted clients reconnected at once.)
 */
static void ctl_evict__ban_keeps_the_host_out(void **state)
{
	struct ucred root = { .pid = 1, .uid = 0 };
	struct dxbuf out = DXBUF_INIT;
	char *evict[] = { "evict", "10.0.0.1", "--ban=60", NULL }, *clients[] = { "clients", NULL };
	struct rdma_cm_id listen_id = { 0 };
	struct dx_listener l = { .verbs = fv_device(), .id = &listen_id };
	struct fv_peer *again, *other, *later;
	struct dx_conn *c, *c2;

	rig_up(DX_MR_PINNED);
	dx_fake_clock_freeze();
	R->d.listener = &l;
	R->cfg.max_clients = R->cfg.max_conns_per_addr = 8;
	c = client(0);
	c2 = client(0); /* a second connection from the same host */
	assert_int_equal(dxd_ctl_handle(&R->d, &root, 3, evict, REPORT_JSON, &out), 0);
	assert_int_equal(c->state, CONN_CLOSING);
	assert_int_equal(c2->state, CONN_CLOSING);
	dxbuf_release(&out);
	again = fv_peer_new(0x0a000001);
	other = fv_peer_new(0x0a000002);
	assert_false(connect_from(again));               /* the host is out */
	assert_true(connect_from(other));                /* others are not */
	assert_int_equal(dxd_ctl_handle(&R->d, &root, 1, clients, REPORT_JSON, &out), 0);
	assert_non_null(strstr(dxbuf_str(&out), "\"bans\""));
	assert_non_null(strstr(dxbuf_str(&out), "10.0.0.1\""));
	dxbuf_release(&out);
	dx_fake_clock_advance(60 * 1000);
	later = fv_peer_new(0x0a000001);
	assert_true(connect_from(later));                /* the ban is over */
	disconnect_peer(again);
	disconnect_peer(other);
	disconnect_peer(later);
	evict[2] = "--ban=0";
	assert_int_equal(dxd_ctl_handle(&R->d, &root, 3, evict, REPORT_JSON, &out), -EINVAL);
	dxbuf_release(&out);
	dx_bans_free(&R->d);
	R->d.listener = NULL;
	rig_down();
}

/* Issue 19 review: a connection whose QP can be neither moved to the error
 * state nor destroyed keeps its layouts whose MR would not deregister, and
 * so their file's lease, even after rdma_cm says DISCONNECTED. (Its
 * destruction counted as the QP's: the lease went with the rkey alive.) */
static void unkillable_qp__keeps_the_lease_past_its_connection(void **state)
{
	struct rdma_cm_id listen_id = { 0 };
	struct dx_listener lst = { .verbs = fv_device(), .id = &listen_id };
	struct fv_peer *p;
	struct dx_conn *c;
	struct dx_layout *l;

	rig_up(DX_MR_PINNED);
	R->d.listener = &lst;
	R->cfg.max_clients = R->cfg.max_conns_per_addr = 8;
	p = fv_peer_new(0x0a000001);
	assert_true(connect_from(p));
	c = fv_peer_id(p)->context;
	c->state = CONN_READY; /* as after HELLO */
	c->recall_credits = 16;
	open_file(c, "a", 1 << 20);
	layout_get(c, 1, 0, 1 << 20, DXP_IOMODE_RW);
	l = TAILQ_FIRST(&c->layouts);
	assert_int_equal(l->state, LAYOUT_GRANTED);
	fv_fail_dereg = fv_fail_modify_qp = fv_fail_destroy_qp = 100;
	layout_return(c, l, 0); /* dereg fails: fenced, the QP cannot be killed */
	assert_true(c->qp_unkillable);
	disconnect_peer_keep(p);
	loop_until(false, 100);
	assert_true(file_served("a"));
	assert_false(lease_released("a"));
	fv_fail_dereg = fv_fail_modify_qp = fv_fail_destroy_qp = 0;
	c->qp_gone = true; /* as if the QP went at last: the layout and the connection may go */
	dx_reap_now(&R->d);
	assert_false(file_served("a"));
	fv_peer_free(p);
	R->d.listener = NULL;
	rig_down();
}

/* ... and when the lease bound comes with such an rkey alive, the daemon
 * stops (the kernel then tears every QP and MR down), rather than let the
 * kernel give the file to a local process under a live rkey. */
static void unkillable_rkey_at_the_lease_bound__stops_the_daemon(void **state)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct dx_conn *c;
		struct dx_layout *l;

		l = granted_layout(DX_MR_PINNED, 1 << 20, DXP_IOMODE_RW, &c);
		dx_fake_clock_freeze();
		R->d.lease_break_time_s = 3;
		fv_fail_dereg = fv_fail_modify_qp = fv_fail_destroy_qp = 1000;
		break_lease("a");
		for (int i = 0; i < 2000 && l->state == LAYOUT_GRANTED; i++) {
			event_base_loop(R->d.base, EVLOOP_NONBLOCK);
			usleep(200);
		}
		for (int i = 0; i < 300; i++) { /* 3 s of fake time, past the bound */
			dx_fake_clock_advance(10);
			turn();
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* Issue 19 §4: an OPEN reply says which file it opened (DXP_FEAT_FILE_ID),
 * so that a client can tell a file renamed over its path from its own. */
static void open__says_which_file_it_opened(void **state)
{
	struct dxp_file_id first;
	struct dx_conn *c, *c2;
	char a[128], b[128];
	struct stat st;
	int fd;

	rig_up(DX_MR_PINNED);
	c = client(0);
	c2 = client(1);
	c->file_id = c2->file_id = true;
	snprintf(a, sizeof(a), "%s/a", R->dir);
	snprintf(b, sizeof(b), "%s/b", R->dir);
	fd = open(a, O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(open_via(c, "x", "a", 0), DXP_E_OK);
	assert_true(last_sent()->u.open_rep.attrs & DXP_ATTR_FILE_ID);
	first = last_sent()->file_id;
	assert_int_equal(stat(a, &st), 0);
	assert_int_equal(first.ino, st.st_ino);
	assert_int_equal(open_via(c2, "x", "a", 0), DXP_E_OK);     /* the same file: the same identity */
	assert_true(last_sent()->file_id.ino == first.ino && last_sent()->file_id.gen == first.gen);
	fd = open(b, O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(rename(b, a), 0);                          /* another file at the path */
	assert_int_equal(open_via(c2, "x", "a", 0), DXP_E_OK);
	assert_false(last_sent()->file_id.ino == first.ino && last_sent()->file_id.gen == first.gen);
	c2->file_id = false;                                        /* a client that did not ask */
	assert_int_equal(open_via(c2, "x", "a", 0), DXP_E_OK);
	assert_false(last_sent()->u.open_rep.attrs & DXP_ATTR_FILE_ID);
	rig_down();
}

/* ... and where no timer runs, the drain of copy-backs at exit, the copy
 * itself stops at the bound. (The drain ran it to the end.) */
static void lease_bound__stops_a_copy_back_in_the_exit_drain(void **state)
{
	struct dx_conn *c;
	struct dx_layout *l;

	l = granted_layout(DX_MR_BOUNCE, 16 << 20, DXP_IOMODE_RW, &c);
	dx_fake_clock_freeze();
	R->d.lease_break_time_s = 3;
	memset(l->staging, 0x5a, 16 << 20);
	break_lease("a");
	loop_until(l->state == LAYOUT_RECALL_SENT, 2000);
	assert_int_equal(layout_return(c, l, 0), DX_SESSION_LATER);
	dx_fake_clock_advance(3000 - DX_LEASE_MARGIN_MS);
	dx_workq_drain(&R->d);                       /* as at exit: no loop, no timer */
	loop_until(lease_released("a"), 5000);        /* then the lease goes (a reader would wait for it) */
	assert_true(lease_released("a"));
	assert_int_equal(byte_at("a", 0), 0);
	assert_int_equal(byte_at("a", (16 << 20) - 1), 0);
	rig_down();
}

/* ALLOCATE of FH [OFF, +LEN) by C (FLAGS: enum dxp_alloc_flags). */
static unsigned int allocate(struct dx_conn *c, uint64_t fh, uint64_t off, uint64_t len, uint32_t flags)
{
	struct dxp_msg req = { .hdr.op = DXP_ALLOCATE };

	req.u.alloc = (struct dxp_allocate_req){ .fh = fh, .off = off, .len = len, .flags = flags };
	return request(c, &req);
}

static off_t size_of(const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", R->dir, name);
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

#define BIG_ALLOC ((uint64_t)200 << 20) /* many slices of ALLOCATE */

/* Issue 19 §3: an ALLOCATE of many slices is a background job; the loop
 * turns between its slices, and the size changes once, at its end. */
static void allocate__runs_in_slices_and_answers_at_its_end(void **state)
{
	struct dx_conn *c;

	rig_up(DX_MR_BOUNCE);
	c = client(0);
	open_file(c, "a", 0);
	assert_int_equal(allocate(c, 1, 0, BIG_ALLOC, 0), DX_SESSION_LATER);
	assert_int_equal(n_sent, 0);                 /* nothing ran in the request's turn */
	assert_int_equal(R->d.work.n, 1);
	loop_until(n_sent == 1, 10000);
	assert_int_equal(last_sent()->hdr.op, DXP_ALLOCATE);
	assert_int_equal(last_sent()->u.alloc_rep.size, BIG_ALLOC);
	assert_int_equal(size_of("a"), (off_t)BIG_ALLOC);
	assert_int_equal(c->inflight, 0);
	/* SETSIZE at the end too: to exactly the end of the range. */
	assert_int_equal(allocate(c, 1, 4096, BIG_ALLOC, DXP_ALLOC_SETSIZE), DX_SESSION_LATER);
	assert_int_equal(size_of("a"), (off_t)BIG_ALLOC);
	loop_until(n_sent == 2, 10000);
	assert_int_equal(last_sent()->hdr.op, DXP_ALLOCATE);
	assert_int_equal(size_of("a"), (off_t)(BIG_ALLOC + 4096));
	rig_down();
}

static void allocate__beyond_the_limit_gets_LIMIT(void **state)
{
	struct dx_conn *c;

	rig_up(DX_MR_BOUNCE);
	R->cfg.max_allocate_size = 1 << 20;
	c = client(0);
	open_file(c, "a", 0);
	assert_int_equal(allocate(c, 1, 0, (1 << 20) + 4096, 0), DXP_E_LIMIT);
	assert_int_equal(size_of("a"), 0);
	assert_int_equal(allocate(c, 1, 0, 1 << 20, 0), DX_SESSION_LATER); /* one slice: answered at once */
	assert_int_equal(last_sent()->hdr.op, DXP_ALLOCATE);
	assert_int_equal(size_of("a"), 1 << 20);
	assert_int_equal(allocate(c, 1, 1 << 30, 0, DXP_ALLOC_SETSIZE), DX_SESSION_LATER); /* a size is no allocation */
	assert_int_equal(size_of("a"), 1 << 30);
	rig_down();
}

static void allocate__is_answered_before_the_close_that_cancels_it(void **state)
{
	struct dxp_msg req = { .hdr.op = DXP_CLOSE };
	struct dx_conn *c;

	rig_up(DX_MR_BOUNCE);
	c = client(0);
	open_file(c, "a", 0);
	assert_int_equal(allocate(c, 1, 0, BIG_ALLOC, 0), DX_SESSION_LATER);
	req.u.fh.fh = 1;
	assert_int_equal(request(c, &req), DXP_E_OK);
	assert_int_equal(n_sent, 2);
	assert_int_equal(sent[0].hdr.op, DXP_ERROR);
	assert_int_equal(sent[0].u.error.code, DXP_E_BADHANDLE);
	assert_int_equal(sent[1].hdr.op, DXP_CLOSE);
	assert_int_equal(R->d.work.n, 0);
	assert_int_equal(size_of("a"), 0);           /* the size never changed */
	assert_int_equal(c->inflight, 0);
	rig_down();
}

static void allocate__stops_when_a_local_process_wants_the_file(void **state)
{
	bool busy_local = false;
	struct dx_conn *c;

	granted_layout(DX_MR_BOUNCE, 1 << 20, DXP_IOMODE_READ, &c);
	assert_int_equal(allocate(c, 1, 1 << 20, BIG_ALLOC, 0), DX_SESSION_LATER);
	n_sent = 0;
	break_lease("a");
	usleep(20000); /* the watcher thread notes it; the loop sees it before any slice */
	loop_until(R->d.work.n == 0, 5000);
	assert_int_equal(R->d.work.n, 0);
	for (unsigned int i = 0; i < n_sent; i++) {
		assert_false(sent[i].hdr.op == DXP_ALLOCATE); /* never answered OK */
		busy_local |= sent[i].hdr.op == DXP_ERROR && sent[i].u.error.code == DXP_E_BUSY_LOCAL;
	}
	assert_true(busy_local);
	assert_int_equal(size_of("a"), 1 << 20);     /* the size never changed */
	loop_until(lease_released("a"), 5000);
	assert_true(lease_released("a"));            /* the local process proceeds */
	rig_down();
}

/* Rows ("id": N) in a `layouts` reply, and its continuation token. */
static unsigned int page_rows(const struct dxbuf *out, char *token, size_t toklen, uint8_t *seen)
{
	unsigned int n = 0;
	const char *p = dxbuf_str(out);
	unsigned long id;

	while ((p = strstr(p, "\"id\":"))) {
		id = strtoul(p + 5, NULL, 10);
		assert_true(id < 4096);
		assert_int_equal(seen[id]++, 0); /* never twice */
		n++;
		p++;
	}
	token[0] = '\0';
	if (strlen(out->buf) < out->len)
		snprintf(token, toklen, "--after=%s", out->buf + strlen(out->buf) + 1);
	return n;
}

/* Issue 19 §3: `layouts` answers a page of DX_CTL_PAGE rows at a time; the pages
 * together show every layout once, also when the row a page ended on is
 * gone before the next page is asked for. */
static void ctl_layouts__pages_show_every_layout_once(void **state)
{
	struct ucred root = { .pid = 1, .uid = 0 };
	char token[96], path[128], *argv[3] = { "layouts" };
	static uint8_t seen[4096];
	struct dxbuf out = DXBUF_INIT;
	struct dx_conn *c[2];
	struct dx_layout *l;
	unsigned int n;

	rig_up(DX_MR_PINNED);
	R->cfg.max_layouts = R->cfg.max_layouts_per_client = 2000;
	c[0] = client(0);
	c[1] = client(1);
	open_file(c[0], "a", 700 * 4096);
	open_file(c[1], "a", 700 * 4096);
	for (unsigned int i = 0; i < 1200; i++)
		assert_int_equal(layout_get(c[i % 2], 1, (uint64_t)(i / 2) * 4096, 4096, DXP_IOMODE_READ),
				 DX_SESSION_LATER);
	assert_int_equal(R->d.n_layouts, 1200);
	for (int with_file = 0; with_file < 2; with_file++) {
		int argc = 1 + with_file;

		snprintf(path, sizeof(path), "%s/a", R->dir);
		argv[1] = path;
		memset(seen, 0, sizeof(seen));
		assert_int_equal(dxd_ctl_handle(&R->d, &root, argc, argv, REPORT_JSON, &out), 0);
		n = page_rows(&out, token, sizeof(token), seen);
		dxbuf_release(&out);
		assert_int_equal(n, DX_CTL_PAGE);
		assert_true(token[0]);
		/* The row the page ended on is returned before the next page. */
		assert_int_equal(sscanf(token, "--after=%*u:%u", &n), 1);
		for (int i = 0; i < 2; i++)
			if ((l = dx_layout_find(c[i], n)))
				assert_int_equal(layout_return(c[i], l, DXP_RETURN_CLEAN), DXP_E_OK);
		argv[argc++] = token;
		for (n = 0; token[0];) { /* each next page, until one without a token */
			assert_int_equal(dxd_ctl_handle(&R->d, &root, argc, argv, REPORT_JSON, &out), 0);
			n += page_rows(&out, token, sizeof(token), seen);
			dxbuf_release(&out);
		}
		assert_int_equal(n, R->d.n_layouts - DX_CTL_PAGE); /* the rest, the returned row not among them */
	}
	argv[1] = "--after=1";
	assert_int_equal(dxd_ctl_handle(&R->d, &root, 2, argv, REPORT_JSON, &out), -EINVAL);
	dxbuf_release(&out);
	rig_down();
}

/* Issue 26 §5: fs.lease-break-time was read once, at start; lowered at
 * run time, the kernel would take the lease back before the daemon's bound.
 * It is read at each break, and the break's bound follows it. */
static void lease_bound__follows_a_lease_break_time_lowered_at_run_time(void **state)
{
	struct dx_conn *c;
	struct dx_layout *l;
	char path[128];
	int64_t t0;
	FILE *fp;

	l = granted_layout(DX_MR_PINNED, 1 << 20, DXP_IOMODE_RW, &c);
	R->cfg.recall_timeout_ms = 30000;      /* the bound, not the recall deadline, ends it */
	snprintf(path, sizeof(path), "%s.lbt", R->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "3\n");                   /* the admin lowered it from 45 s */
	fclose(fp);
	R->d.lease_break_time_path = path;
	dx_fake_clock_freeze();
	t0 = dx_now_ms();
	break_lease("a");
	loop_until(l->state == LAYOUT_RECALL_SENT, 2000);
	while (c->state != CONN_CLOSING && dx_now_ms() - t0 < 5000) {
		dx_fake_clock_advance(10);
		turn();
	}
	assert_int_equal(c->state, CONN_CLOSING);   /* fenced at the bound of 3 s - margin */
	assert_true(dx_now_ms() - t0 <= 3000 - DX_LEASE_MARGIN_MS + 20);
	assert_int_equal(R->d.lease_break_time_s, 3);
	loop_until(lease_released("a"), 5000);
	assert_true(lease_released("a"));
	unlink(path);
	rig_down();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(grant__is_answered_when_its_job_ends),
		cmocka_unit_test(grant__of_a_small_layout_is_answered_at_once),
		cmocka_unit_test(lease_break__cancels_a_grant_in_progress),
		cmocka_unit_test(recall__fences_at_the_deadline_qp_first),
		cmocka_unit_test(recall__queued_behind_credits_is_timed_from_its_sending),
		cmocka_unit_test(recall__never_outlasts_the_lease),
		cmocka_unit_test(file_recall__one_message_and_one_return_for_all),
		cmocka_unit_test(dereg_failure__kills_the_qp_before_the_lease_goes),
		cmocka_unit_test(dereg_and_modify_failure__destroys_the_qp_before_the_lease_goes),
		cmocka_unit_test(rkey_that_may_live__keeps_the_lease),
		cmocka_unit_test(dereg_failure_at_close__fences),
		cmocka_unit_test(dereg_failure_at_recall_return__fences),
		cmocka_unit_test(dereg_failure_at_a_polite_disconnect__kills_the_qp),
		cmocka_unit_test(dereg_failure_at_a_broken_connection__kills_the_qp),
		cmocka_unit_test(unkillable_qp__keeps_the_lease_past_its_connection),
		cmocka_unit_test(unkillable_rkey_at_the_lease_bound__stops_the_daemon),
		cmocka_unit_test(conflict__rw_recalls_another_clients_read_layout),
		cmocka_unit_test(commit__cancelled_by_a_fence_is_never_answered_ok),
		cmocka_unit_test(return__of_bounce_data_copies_back_before_the_lease_goes),
		cmocka_unit_test(return__clean_needs_no_copy_back),
		cmocka_unit_test(rename__moves_the_handles_file_over_another_and_keeps_it_open),
		cmocka_unit_test(rename__refuses_escapes_other_files_and_readers),
		cmocka_unit_test(return__dirty_of_a_pinned_layout_persists_it_before_the_answer),
		cmocka_unit_test(return__dirty_where_the_client_may_no_longer_write_says_not_persisted),
		cmocka_unit_test(msgslots__a_completion_frees_the_sends_before_it),
		cmocka_unit_test(stop__waits_for_a_probe_behind_the_last_answers),
		cmocka_unit_test(staging__is_reused_and_filled_again),
		cmocka_unit_test(prepare__is_remembered_while_the_lease_is_held),
		cmocka_unit_test(itree__finds_what_a_scan_finds),
		cmocka_unit_test(lease_bound__fences_a_recall_queued_behind_credits),
		cmocka_unit_test(lease_bound__stops_a_copy_back),
		cmocka_unit_test(lease_bound__stops_a_copy_back_in_the_exit_drain),
		cmocka_unit_test(media_error__fails_a_commit),
		cmocka_unit_test(ctl_layouts__shows_rkeys_to_root_only),
		cmocka_unit_test(access__is_decided_by_each_handles_export),
		cmocka_unit_test(dax__is_decided_per_file_at_open),
		cmocka_unit_test(persistence__remote_flush_needs_map_sync_and_a_platform_that_persists_nic_writes),
		cmocka_unit_test(open__says_which_file_it_opened),
		cmocka_unit_test(ctl_evict__ban_keeps_the_host_out),
		cmocka_unit_test(media_error__fails_a_layout_return),
		cmocka_unit_test(media_error__fails_a_recall_return),
		cmocka_unit_test(allocate__runs_in_slices_and_answers_at_its_end),
		cmocka_unit_test(allocate__beyond_the_limit_gets_LIMIT),
		cmocka_unit_test(allocate__is_answered_before_the_close_that_cancels_it),
		cmocka_unit_test(allocate__stops_when_a_local_process_wants_the_file),
		cmocka_unit_test(ctl_layouts__pages_show_every_layout_once),
		cmocka_unit_test(lease_bound__follows_a_lease_break_time_lowered_at_run_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
