/* libdaxrdma-client: the handle, the connection and the message engine. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "client/client_internal.h"
#include "common/clock.h"
#include "common/escape.h"
#include "common/rdmadev.h"

#define WR_RDMA_BIT (1ull << 41)

void dxc_log(const struct daxrdma_client *c, int prio, const char *fmt, ...)
{
	char raw[512], msg[1024];
	va_list ap;

	if (!c->opts.log || prio > c->opts.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* The daemon's words (error texts, paths) are in there: no control
	 * bytes reach the application's terminal or log. */
	dx_escape_to(msg, sizeof(msg), raw);
	c->opts.log(c->opts.log_arg, prio, msg);
}

int64_t dxc_now_ms(void)
{
	return dx_now_ms();
}

DX_EXPORT const char *daxrdma_version(void)
{
	return DAXRDMA_VERSION;
}

DX_EXPORT int daxrdma_client_new(const struct daxrdma_client_opts *opts, struct daxrdma_client **out)
{
	struct daxrdma_client *c;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts && (opts->size < offsetof(struct daxrdma_client_opts, timeout_ms) + sizeof(int) ||
		     opts->timeout_ms < 0))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (opts)
		memcpy(&c->opts, opts, sizeof(c->opts) < opts->size ? sizeof(c->opts) : opts->size);
	c->opts.size = sizeof(c->opts);
	if (!c->opts.log_level)
		c->opts.log_level = LOG_WARNING;
	if (!c->opts.timeout_ms)
		c->opts.timeout_ms = 5000;
	c->epfd = -1;
	c->more_fd = -1;
	TAILQ_INIT(&c->files);
	TAILQ_INIT(&c->recalled);
	dxc_log(c, LOG_DEBUG, "libdaxrdma-client %s: client created", DAXRDMA_VERSION);
	*out = c;
	return 0;
}

DX_EXPORT int daxrdma_client_timeout_ms(const struct daxrdma_client *client)
{
	return client ? client->opts.timeout_ms : -EINVAL;
}

DX_EXPORT int daxrdma_client_recall_timeout_ms(const struct daxrdma_client *client)
{
	return client && client->connected ? (int)client->recall_timeout_ms : -ENOTCONN;
}

DX_EXPORT uint64_t daxrdma_client_max_layout_size(const struct daxrdma_client *client)
{
	return client && client->connected ? client->max_layout_size : 0;
}

DX_EXPORT int daxrdma_client_fd(const struct daxrdma_client *client)
{
	if (!client)
		return -EINVAL;
	return client->epfd >= 0 ? client->epfd : -ENOTCONN;
}

void dxc_break(struct daxrdma_client *c, const char *why)
{
	struct daxrdma_file *f;
	struct daxrdma_layout *l;

	if (c->broken)
		return;
	c->broken = true;
	snprintf(c->why_broken, sizeof(c->why_broken), "%s", why);
	dxc_log(c, c->closing ? LOG_DEBUG : LOG_ERR, "connection to daxrdmad lost: %s", why);
	TAILQ_FOREACH(f, &c->files, link)
		TAILQ_FOREACH(l, &f->layouts, link) {
			l->state = DXC_LAYOUT_RETURNED;
			l->unsure = l->unsure || !dxc_layout_clean(l); /* what it held may be lost */
		}
}

void dxc_give_up(struct daxrdma_client *c, const char *why)
{
	struct ibv_qp_attr qa = { .qp_state = IBV_QPS_ERR };

	dxc_break(c, why);
	if (c->id && c->id->qp && ibv_modify_qp(c->id->qp, &qa, IBV_QP_STATE))
		dxc_log(c, LOG_ERR, "ibv_modify_qp to the error state failed");
}

static int post_recv(struct daxrdma_client *c, unsigned int i)
{
	return dx_msgslots_post_recv(&c->slots, c->id->qp, i);
}

static int send_msg(struct daxrdma_client *c, const struct dxp_msg *m)
{
	return dx_msgslots_send(&c->slots, c->id->qp, m);
}

static struct daxrdma_layout *find_layout(struct daxrdma_client *c, const struct dxp_stateid *sid)
{
	struct daxrdma_file *f;
	struct daxrdma_layout *l;

	/* A returned handle (it waits for daxrdma_layout_return()) is no
	 * layout of the daemon's any more: after a restart its id may name a
	 * new one. */
	TAILQ_FOREACH(f, &c->files, link)
		TAILQ_FOREACH(l, &f->layouts, link)
			if (l->sid.id == sid->id && l->state != DXC_LAYOUT_RETURNED)
				return l->sid.seq == sid->seq ? l : NULL;
	return NULL;
}

void dxc_layout_recalled(struct daxrdma_layout *l, uint32_t reason, uint64_t recall_id)
{
	if (l->state != DXC_LAYOUT_VALID)
		return; /* already on its way back */
	l->state = DXC_LAYOUT_RECALLED;
	l->recall_reason = (int)reason;
	l->recall_id = recall_id;
	if (l->in_run) { /* its recall_link is the run's until the run ends */
		l->recalled_again = true;
		return;
	}
	l->recall_queued = true;
	TAILQ_INSERT_TAIL(&l->file->c->recalled, l, recall_link);
}

/* A message that changed nothing: a few are races (a recall of a layout
 * returned meanwhile); a stream of them is a daemon that floods, which
 * would keep every call busy: the connection ends. */
static void changed_nothing(struct daxrdma_client *c, const char *what)
{
	char why[96];

	if (++c->idle_msgs <= DXC_MAX_IDLE_MSGS)
		return;
	snprintf(why, sizeof(why), "a flood: %u messages in a row that change nothing (%s)", c->idle_msgs, what);
	dxc_give_up(c, why);
}

void dxc_on_message(struct daxrdma_client *c, const uint8_t *buf, uint32_t len)
{
	struct daxrdma_layout *l;
	struct dxp_msg m;
	const char *why;

	if (dxp_decode(buf, len, &m, &why)) {
		dxc_log(c, LOG_ERR, "malformed message from daxrdmad: %s", why);
		changed_nothing(c, "malformed");
		return;
	}
	if ((m.hdr.flags & DXP_F_REPLY) || m.hdr.op == DXP_ERROR) {
		if (m.hdr.tag != c->wait_tag || c->have_reply) {
			dxc_log(c, LOG_WARNING, "unexpected %s reply (tag %llu)", dxp_op_name(m.hdr.op),
				(unsigned long long)m.hdr.tag);
			if (c->raw_requests) /* a test's own raw request was answered */
				c->raw_requests--;
			else
				changed_nothing(c, "unexpected replies");
			return;
		}
		memcpy(c->reply_buf, buf, len);
		dxp_decode(c->reply_buf, len, &c->reply, &why);
		c->have_reply = true;
		c->idle_msgs = 0;
		return;
	}
	switch (m.hdr.op) {
	case DXP_LAYOUT_RECALL:
		l = find_layout(c, &m.u.recall.stateid);
		dxc_log(c, LOG_INFO, "daxrdmad recalls layout %llu [%llu, +%llu) (reason %u, %u ms)",
			(unsigned long long)m.u.recall.stateid.id, (unsigned long long)m.u.recall.off,
			(unsigned long long)m.u.recall.len, m.u.recall.reason, m.u.recall.timeout_ms);
		if (l && l->state == DXC_LAYOUT_VALID) {
			dxc_layout_recalled(l, m.u.recall.reason, 0);
			c->idle_msgs = 0;
		} else if (!l && c->have_reply && c->reply.hdr.op == DXP_LAYOUT_GET &&
			   c->reply.u.lget_rep.stateid.id == m.u.recall.stateid.id) {
			/* Granted by the reply that arrived just before: it has no
			 * handle yet. daxrdma_layout_get() applies the recall. */
			c->early_recall = m.u.recall;
			c->early_recall_valid = true;
			c->idle_msgs = 0;
		} else {
			changed_nothing(c, "recalls of layouts it does not hold");
		}
		return;
	case DXP_FILE_RECALL: {
		const struct dxp_file_recall *r = &m.u.frecall;
		struct daxrdma_file *f;
		unsigned int n = 0;

		dxc_log(c, LOG_INFO, "daxrdmad recalls %u layouts of handle %llu [%llu, +%llu) (recall %llu, reason %u, "
			"%u ms)", r->count, (unsigned long long)r->fh, (unsigned long long)r->off,
			(unsigned long long)r->len, (unsigned long long)r->recall_id, r->reason, r->timeout_ms);
		TAILQ_FOREACH(f, &c->files, link)
			TAILQ_FOREACH(l, &f->layouts, link)
				if (l->state == DXC_LAYOUT_VALID && dxc_file_recall_covers(r, f->fh, l)) {
					dxc_layout_recalled(l, r->reason, r->recall_id);
					n++;
				}
		if (c->have_reply && c->reply.hdr.op == DXP_LAYOUT_GET && c->reply.hdr.flags & DXP_F_REPLY &&
		    c->reply.u.lget_rep.stateid.id <= r->max_id && c->lget_fh == r->fh) {
			/* It covers the layout granted by the reply in hand, which
			 * has no handle yet: daxrdma_layout_get() applies it. */
			c->early_frecall = *r;
			c->early_frecall_valid = true;
			n++;
		}
		if (n)
			c->idle_msgs = 0;
		else
			changed_nothing(c, "recalls of layouts it does not hold");
		return;
	}
	case DXP_BYE: {
		char why_bye[96];

		snprintf(why_bye, sizeof(why_bye), "daxrdmad said BYE (%s)", dxp_err_name(m.u.bye.reason));
		dxc_break(c, why_bye);
		return;
	}
	default:
		dxc_log(c, LOG_WARNING, "ignoring unsolicited %s", dxp_op_name(m.hdr.op));
		changed_nothing(c, "unsolicited messages");
	}
}

/* Handle up to DXC_POLL_BUDGET completions: how many, or -EIO. */
static int poll_cq(struct daxrdma_client *c)
{
	struct ibv_wc wc[16];
	int n = 0, total = 0;

	while (total < (int)DXC_POLL_BUDGET && (n = ibv_poll_cq(c->cq, 16, wc)) > 0) {
		total += n;
		for (int i = 0; i < n; i++) {
			uint64_t id = wc[i].wr_id;

			if (id & DX_WR_SEND)
				dx_msgslots_sent(&c->slots, id);
			else if (id & WR_RDMA_BIT) {
				if (c->rdma_outstanding) /* none is counted after a destroyed QP */
					c->rdma_outstanding--;
				if (wc[i].status != IBV_WC_SUCCESS && c->rdma_status == IBV_WC_SUCCESS)
					c->rdma_status = wc[i].status;
			}
			if (wc[i].status != IBV_WC_SUCCESS) {
				if (!(id & WR_RDMA_BIT) && wc[i].status != IBV_WC_WR_FLUSH_ERR)
					dxc_log(c, LOG_ERR, "work completion: %s", ibv_wc_status_str(wc[i].status));
				dxc_break(c, ibv_wc_status_str(wc[i].status));
				continue;
			}
			if (!(id & (DX_WR_SEND | WR_RDMA_BIT))) {
				dxc_on_message(c, dx_msgslots_buf(&c->slots, (unsigned int)id), wc[i].byte_len);
				if (!c->broken && post_recv(c, (unsigned int)id))
					dxc_break(c, "ibv_post_recv failed");
			}
		}
	}
	return n < 0 ? -EIO : total;
}

static void drain_cm_events(struct daxrdma_client *c)
{
	struct rdma_cm_event *ev;

	while (rdma_get_cm_event(c->ec, &ev) == 0) {
		enum rdma_cm_event_type t = ev->event;

		rdma_ack_cm_event(ev);
		if (t == RDMA_CM_EVENT_DISCONNECTED || t == RDMA_CM_EVENT_DEVICE_REMOVAL) {
			struct ibv_qp_attr qa = { .qp_state = IBV_QPS_ERR };

			/* Work still posted completes (flushed) instead of hanging. */
			if (c->id->qp)
				ibv_modify_qp(c->id->qp, &qa, IBV_QP_STATE);
			dxc_break(c, rdma_event_str(t));
			/* The kernel removes the device only once every user has
			 * let go of it (rdma link delete waits for us). */
			c->device_lost = c->device_lost || t == RDMA_CM_EVENT_DEVICE_REMOVAL;
		}
	}
}

/* Take the completion channel's events (non-blocking): its fd, and so the
 * client's, is readable only while one is pending. */
static void take_cq_events(struct daxrdma_client *c)
{
	struct ibv_cq *cq;
	uint64_t n;
	void *ctx;

	while (ibv_get_cq_event(c->ch, &cq, &ctx) == 0)
		ibv_ack_cq_events(cq, 1);
	if (c->more_fd >= 0 && read(c->more_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		dxc_log(c, LOG_DEBUG, "read of the more-work eventfd: %s", strerror(errno));
}

/* Completions keep coming faster than a call handles them: the fd stays
 * readable, and the next call goes on. */
static void more_work(struct daxrdma_client *c)
{
	uint64_t one = 1;

	if (write(c->more_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		dxc_log(c, LOG_ERR, "write of the more-work eventfd: %s", strerror(errno));
}

/* Ask for an event at the next completion, then look once more: whatever
 * completed before the request is handled now, whatever completes after it
 * makes the fd readable. So when the library returns, nothing sits in the CQ
 * unseen behind a quiet fd. */
static int arm_cq(struct daxrdma_client *c)
{
	for (unsigned int i = 0; i < DXC_ARM_TRIES; i++) {
		int n;

		if (ibv_req_notify_cq(c->cq, 0))
			return -EIO;
		n = poll_cq(c);
		if (n <= 0)
			return n < 0 ? -EIO : 0;
	}
	more_work(c); /* a flood: no call handles it all, each handles some */
	return 0;
}

/*
 * Handle completions and rdma_cm events until DONE (or, without DONE, until
 * nothing is left), waiting no later than DEADLINE. Every return leaves the
 * CQ armed and the channel's events taken, so daxrdma_client_fd() becomes
 * readable exactly when something new arrives.
 */
/* Poll the CQ for up to busy_poll_us (not past DEADLINE, in ms) until DONE:
 * 1 if it came, else 0. */
static int busy_poll(struct daxrdma_client *c, bool (*done)(struct daxrdma_client *), int64_t deadline)
{
	int64_t until;
	unsigned int i = 0;
	int n;

	if (!c->opts.busy_poll_us || !done)
		return 0;
	until = dx_now_us() + c->opts.busy_poll_us;
	if (until > deadline * 1000)
		until = deadline * 1000;
	for (;;) {
		n = poll_cq(c);
		if (n < 0)
			return 0;
		if (n > 0 && done(c))
			return 1;
		/* the clock is read now and then, not per poll */
		if (++i % 32 == 0 && dx_now_us() >= until)
			return 0;
	}
}

static void teardown(struct daxrdma_client *c, bool keep_fd);

int dxc_progress(struct daxrdma_client *c, int64_t deadline, bool (*done)(struct daxrdma_client *))
{
	bool cm_event = !done; /* process() looks at everything; a wait only when told */

	if (!c->cq)
		return -ENOTCONN; /* torn down: the device went away */

	if (busy_poll(c, done, deadline))
		return arm_cq(c);
	for (;;) {
		struct epoll_event ev[3];
		int64_t left;
		int n;

		take_cq_events(c);
		if (cm_event)
			drain_cm_events(c);
		cm_event = false;
		if (c->device_lost) {
			/* Nothing of ours may keep the removed device: the QP,
			 * CQ, MRs and PD go now (the fd stays, and stays quiet). */
			c->device_lost = false;
			teardown(c, true);
			dx_rdma_devices_sync(); /* librdmacm lets the device go now */
			return -ENOTCONN;
		}
		if (poll_cq(c) < 0)
			dxc_break(c, "ibv_poll_cq failed");
		if (done && done(c))
			return arm_cq(c);
		/* Posted RDMA work is waited for even then: its buffers are in use. */
		if (c->broken && !c->rdma_outstanding) {
			arm_cq(c);
			return -ENOTCONN;
		}
		/* Every turn looks at the deadline, however busy the CQ is. */
		left = deadline - dxc_now_ms();
		if (left <= 0) {
			if (arm_cq(c))
				return -EIO;
			return done ? -ETIMEDOUT : 0;
		}
		/* Arm, then look once more: a completion between the two is not lost. */
		if (ibv_req_notify_cq(c->cq, 0))
			return -EIO;
		if (poll_cq(c) > 0)
			continue;
		n = epoll_wait(c->epfd, ev, 3, (int)left);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++)
			cm_event = cm_event || ev[i].data.fd == c->ec->fd;
	}
}

static bool reply_arrived(struct daxrdma_client *c)
{
	return c->have_reply;
}

int dxc_call(struct daxrdma_client *c, struct dxp_msg *req, const struct dxp_msg **rep, unsigned int *code)
{
	return dxc_call_until(c, req, rep, code, dxc_now_ms() + c->opts.timeout_ms);
}

int dxc_call_until(struct daxrdma_client *c, struct dxp_msg *req, const struct dxp_msg **rep, unsigned int *code,
		   int64_t deadline)
{
	int ret;

	if (code)
		*code = DXP_E_OK;
	if (!c->connected || c->broken)
		return -ENOTCONN;
	req->hdr.tag = ++c->next_tag;
	req->hdr.flags = 0;
	c->wait_tag = req->hdr.tag;
	c->have_reply = false;
	ret = send_msg(c, req);
	if (ret)
		return ret;
	ret = dxc_progress(c, deadline, reply_arrived);
	if (ret == -ETIMEDOUT) {
		dxc_log(c, LOG_ERR, "no reply to %s within the timeout (%d ms)", dxp_op_name(req->hdr.op),
			c->opts.timeout_ms);
		dxc_break(c, "request timed out");
		return ret;
	}
	if (ret)
		return ret;
	*rep = &c->reply;
	if (c->reply.hdr.op == DXP_ERROR) {
		if (code)
			*code = c->reply.u.error.code;
		dxc_log(c, LOG_INFO, "%s: %s: %.*s", dxp_op_name(req->hdr.op), dxp_err_name(c->reply.u.error.code),
			(int)c->reply.u.error.msg_len, c->reply.s1 ? c->reply.s1 : "");
		return dxp_err_to_errno(c->reply.u.error.code);
	}
	if (c->reply.hdr.op != req->hdr.op) {
		dxc_break(c, "reply to a different request");
		return -EPROTO;
	}
	return 0;
}

bool dxc_file_recall_covers(const struct dxp_file_recall *r, uint64_t fh, const struct daxrdma_layout *l)
{
	/* [off, +UINT64_MAX) means "to the end": its end does not fit. */
	uint64_t end = r->off + r->len < r->off ? UINT64_MAX : r->off + r->len;

	return fh == r->fh && l->sid.id <= r->max_id && l->off < end && r->off < l->off + l->len;
}

/* Give back every layout of FILE_RECALL RID at once (CLEAN: none holds
 * uncommitted writes). 0 when the daemon took them back (and, with
 * RETURN_PERSISTS, persisted what they held); else (-ESTALE: it fenced
 * them) the caller's layouts are returned all the same, their writes not
 * known to be persistent. */
static int send_recall_return(struct daxrdma_client *c, uint64_t rid, bool clean)
{
	struct dxp_msg req = { .hdr.op = DXP_RECALL_RETURN };
	const struct dxp_msg *rep;

	req.u.rret.recall_id = rid;
	req.u.rret.flags = clean ? DXP_RETURN_CLEAN : 0;
	return dxc_call(c, &req, &rep, NULL);
}

/*
 * The layouts of one recall arrive together, so they are consecutive in the
 * queue: each run gets its callbacks, then goes back in one RECALL_RETURN
 * if the library returns all of it, or layout by layout if the application
 * keeps some (DAXRDMA_RECALL_DEFER) for its own daxrdma_layout_return().
 * A callback may close a layout's file or return a layout of the run: the
 * run holds their memory (in_run) and frees what went (gone) at its end.
 */
static void run_end(struct dxc_run *run, struct dxc_run *dead)
{
	struct daxrdma_layout *l, *next;

	TAILQ_FOREACH_SAFE(l, run, recall_link, next) {
		l->in_run = false;
		if (l->gone) {
			if (!l->pins) { /* else the call that pins it frees it */
				TAILQ_REMOVE(run, l, recall_link);
				TAILQ_INSERT_TAIL(dead, l, recall_link);
			}
		} else if (l->recalled_again) {
			l->recalled_again = false;
			l->recall_queued = true;
			TAILQ_INSERT_TAIL(&l->file->c->recalled, l, recall_link);
		}
	}
}

void dxc_handle_recalls(struct daxrdma_client *c)
{
	struct dxc_run dead = TAILQ_HEAD_INITIALIZER(dead); /* freed once every run is done */
	struct daxrdma_layout *l, *next;

	if (c->in_recall)
		return;
	c->in_recall = true;
	while ((l = TAILQ_FIRST(&c->recalled))) {
		struct dxc_run run = TAILQ_HEAD_INITIALIZER(run);
		uint64_t rid = l->recall_id;
		bool all = true, clean = true;

		while ((l = TAILQ_FIRST(&c->recalled)) && (TAILQ_EMPTY(&run) || (rid && l->recall_id == rid))) {
			int action = DAXRDMA_RECALL_RETURN;

			TAILQ_REMOVE(&c->recalled, l, recall_link);
			l->recall_queued = false;
			l->in_run = true;
			l->run_sid = l->sid.id;
			TAILQ_INSERT_TAIL(&run, l, recall_link);
			if (c->opts.recall)
				action = c->opts.recall(c->opts.recall_arg, l, l->recall_reason);
			/* What the application closed or returned is back already. */
			l->return_now = !l->gone && action == DAXRDMA_RECALL_RETURN && l->state == DXC_LAYOUT_RECALLED;
			all = all && (l->gone || l->return_now);
			clean = clean && (l->gone || dxc_layout_clean(l));
		}
		if (rid && all) {
			int ret = send_recall_return(c, rid, clean);

			TAILQ_FOREACH(l, &run, recall_link) {
				if (l->gone || l->sid.id != l->run_sid) /* got again meanwhile: another stateid */
					continue;
				l->state = DXC_LAYOUT_RETURNED;
				dxc_layout_returned(l, ret);
			}
		} else {
			TAILQ_FOREACH(l, &run, recall_link)
				if (l->return_now && !l->gone && l->sid.id == l->run_sid)
					dxc_layout_send_return(l);
		}
		run_end(&run, &dead);
	}
	c->in_recall = false;
	TAILQ_FOREACH_SAFE(l, &dead, recall_link, next)
		free(l);
}

DX_EXPORT int daxrdma_client_process(struct daxrdma_client *client)
{
	int ret;

	if (!client)
		return -EINVAL;
	if (!client->connected)
		return -ENOTCONN;
	ret = dxc_progress(client, 0, NULL);
	dxc_handle_recalls(client);
	if (ret == 0 && client->broken)
		ret = -ENOTCONN;
	return ret;
}

static int wait_cm(struct daxrdma_client *c, enum rdma_cm_event_type want, int64_t deadline)
{
	struct rdma_cm_event *ev;
	struct pollfd pfd = { .fd = c->ec->fd, .events = POLLIN };

	for (;;) {
		int64_t left = deadline - dxc_now_ms();
		enum rdma_cm_event_type got;
		int status;

		if (rdma_get_cm_event(c->ec, &ev) == 0) {
			got = ev->event;
			status = ev->status;
			rdma_ack_cm_event(ev);
			if (got == want)
				return 0;
			dxc_log(c, LOG_ERR, "rdma_cm: %s (status %d) while waiting for %s", rdma_event_str(got), status,
				rdma_event_str(want));
			if (got == RDMA_CM_EVENT_REJECTED)
				return -ECONNREFUSED;
			return got == RDMA_CM_EVENT_ADDR_ERROR || got == RDMA_CM_EVENT_ROUTE_ERROR ? -EHOSTUNREACH
												   : -ECONNABORTED;
		}
		if (errno != EAGAIN)
			return -errno;
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
	}
}

/* The application's fd: an epoll set with the more-work eventfd in it
 * (the channels join it at each connect). All of it or nothing. */
static int make_epfd(struct daxrdma_client *c)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ret;

	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0)
		return -errno;
	c->more_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ev.data.fd = c->more_fd;
	if (c->more_fd >= 0 && epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->more_fd, &ev) == 0)
		return 0;
	ret = -errno;
	if (c->more_fd >= 0)
		close(c->more_fd);
	close(c->epfd);
	c->epfd = c->more_fd = -1;
	return ret;
}

/*
 * The QP, with RDMA FLUSH where this build has it (rdma-core 45 and later)
 * and the device takes it: a QP made with ibv_create_qp_ex and FLUSH among
 * its send ops, whose ibv_wr_* interface posts it (the rest goes through
 * ibv_post_send, outside any ibv_wr_start..complete). Else a plain QP.
 */
static int create_qp(struct daxrdma_client *c, struct ibv_qp_init_attr *qa)
{
#ifdef DX_HAVE_WR_FLUSH
	struct ibv_qp_init_attr_ex qx = {
		.qp_context = qa->qp_context, .send_cq = qa->send_cq, .recv_cq = qa->recv_cq,
		.cap = qa->cap, .qp_type = qa->qp_type, .pd = c->pd,
		.comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS,
		.send_ops_flags = IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_RDMA_WRITE | IBV_QP_EX_WITH_RDMA_READ |
				  IBV_QP_EX_WITH_FLUSH,
	};

	c->qpx = NULL;
	if (rdma_create_qp_ex(c->id, &qx) == 0) {
		c->qpx = ibv_qp_to_qp_ex(c->id->qp);
		return 0;
	}
	dxc_log(c, LOG_INFO, "a QP with RDMA FLUSH: %s; persisting one-sided by RDMA READ", strerror(errno));
#endif
	return rdma_create_qp(c->id, c->pd, qa) ? -errno : 0;
}

static int setup_qp(struct daxrdma_client *c)
{
	struct ibv_qp_init_attr qa = { 0 };
	size_t ssize = (size_t)DXC_STAGE_SLOTS * DXC_STAGE_SLOT;
	struct epoll_event ev = { .events = EPOLLIN };
	int ret;

	c->pd = ibv_alloc_pd(c->id->verbs);
	if (!c->pd)
		return -errno;
	c->ch = ibv_create_comp_channel(c->id->verbs);
	if (!c->ch)
		return -errno;
	c->cq = ibv_create_cq(c->id->verbs, (int)(DXC_RECV + DXC_SEND + DXC_STAGE_SLOTS), c, c->ch, 0);
	if (!c->cq)
		return -errno;
	qa.send_cq = c->cq;
	qa.recv_cq = c->cq;
	qa.qp_type = IBV_QPT_RC;
	qa.cap.max_send_wr = dx_msgslots_sq_depth(DXC_SEND) + DXC_STAGE_SLOTS;
	qa.cap.max_recv_wr = DXC_RECV;
	qa.cap.max_send_sge = 1;
	qa.cap.max_recv_sge = 1;
	ret = create_qp(c, &qa);
	if (ret)
		return ret;
	ret = dx_msgslots_init(&c->slots, c->pd, DXC_RECV, DXC_SEND);
	if (ret)
		return ret;
	c->stage = aligned_alloc(4096, ssize);
	if (!c->stage)
		return -ENOMEM;
	c->stage_mr = ibv_reg_mr(c->pd, c->stage, ssize, IBV_ACCESS_LOCAL_WRITE);
	if (!c->stage_mr)
		return -errno;
	for (unsigned int i = 0; i < DXC_RECV; i++)
		if (post_recv(c, i))
			return -EIO;
	if (fcntl(c->ch->fd, F_SETFL, fcntl(c->ch->fd, F_GETFL) | O_NONBLOCK) ||
	    fcntl(c->ec->fd, F_SETFL, fcntl(c->ec->fd, F_GETFL) | O_NONBLOCK))
		return -errno;
	if (c->epfd < 0) { /* the application's fd, kept across reconnects */
		ret = make_epfd(c);
		if (ret)
			return ret;
	}
	ev.data.fd = c->ch->fd;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->ch->fd, &ev))
		return -errno;
	ev.data.fd = c->ec->fd;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->ec->fd, &ev))
		return -errno;
	return ibv_req_notify_cq(c->cq, 0) ? -EIO : 0;
}

static int hello(struct daxrdma_client *c, int64_t deadline)
{
	struct dxp_msg req = { .hdr.op = DXP_HELLO };
	const struct dxp_msg *rep;
	int ret;

	req.u.hello.magic = DXP_MAGIC;
	req.u.hello.version = DXP_VERSION;
	req.u.hello.credits = DXC_RECALL_CREDITS;
	req.u.hello.max_msg = DXP_MAX_MSG;
	req.u.hello.features = DXP_FEAT_FILE_RECALL | DXP_FEAT_FILE_ID | DXP_FEAT_RENAME | DXP_FEAT_RETURN_PERSISTS |
				(c->opts.flags & DAXRDMA_COMMIT_MESSAGE ? 0 : DXP_FEAT_REMOTE_PERSIST) |
				(c->qpx && !(c->opts.flags & (DAXRDMA_COMMIT_MESSAGE | DAXRDMA_NO_RDMA_FLUSH)) ?
					 DXP_FEAT_FLUSH : 0);
	ret = dxc_call_until(c, &req, &rep, NULL, deadline);
	if (ret)
		return ret;
	if (rep->u.hello.magic != DXP_MAGIC || rep->u.hello.version != DXP_VERSION || rep->u.hello.credits == 0)
		return -EPROTO;
	/* What no daemon says: a layout smaller than a page, a recall timeout
	 * that does not fit an int, a feature nobody asked for. */
	if (rep->u.hello.max_layout_size < DXP_PAGE || rep->u.hello.recall_timeout_ms > INT32_MAX ||
	    (rep->u.hello.features & ~req.u.hello.features)) {
		dxc_log(c, LOG_ERR, "HELLO reply: max_layout_size %llu, recall_timeout_ms %u, features %#llx of %#llx",
			(unsigned long long)rep->u.hello.max_layout_size, rep->u.hello.recall_timeout_ms,
			(unsigned long long)rep->u.hello.features, (unsigned long long)req.u.hello.features);
		return -EPROTO;
	}
	c->credits = rep->u.hello.credits;
	c->recall_timeout_ms = rep->u.hello.recall_timeout_ms;
	c->max_layout_size = rep->u.hello.max_layout_size;
	c->file_recall = rep->u.hello.features & DXP_FEAT_FILE_RECALL;
	c->remote_persist = rep->u.hello.features & DXP_FEAT_REMOTE_PERSIST;
	c->rename = rep->u.hello.features & DXP_FEAT_RENAME;
	c->return_persists = rep->u.hello.features & DXP_FEAT_RETURN_PERSISTS;
	c->flush = rep->u.hello.features & DXP_FEAT_FLUSH;
	return 0;
}

/* Free the connection's resources. KEEP_FD: the epoll fd the application
 * polls stays (a reconnect fills it again; closed fds leave it by themselves). */
static void teardown(struct daxrdma_client *c, bool keep_fd)
{
	if (c->epfd >= 0 && !keep_fd) {
		close(c->epfd);
		close(c->more_fd);
		c->epfd = c->more_fd = -1;
	}
	if (c->id && c->id->qp)
		rdma_destroy_qp(c->id);
	c->qpx = NULL;
	if (c->cq)
		ibv_destroy_cq(c->cq);
	if (c->ch)
		ibv_destroy_comp_channel(c->ch);
	if (c->stage_mr)
		ibv_dereg_mr(c->stage_mr);
	if (dx_msgslots_fini(&c->slots))
		dxc_log(c, LOG_WARNING, "ibv_dereg_mr (message buffers) failed: they stay allocated");
	if (c->pd)
		ibv_dealloc_pd(c->pd);
	if (c->id)
		rdma_destroy_id(c->id);
	if (c->ec)
		rdma_destroy_event_channel(c->ec);
	free(c->stage);
	c->id = NULL;
	c->ec = NULL;
	c->rdma_outstanding = 0; /* the QP and its work are gone */
	c->pd = NULL;
	c->ch = NULL;
	c->cq = NULL;
	c->stage = NULL;
	c->stage_mr = NULL;
	c->connected = false;
}

static int connect_to(struct daxrdma_client *c, const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct rdma_conn_param param = { 0 };
	struct ibv_device_attr dattr;
	int64_t deadline;
	int ret;

	deadline = dxc_now_ms() + c->opts.timeout_ms;
	c->broken = false; /* a new connection (a device removal tore the last one down) */
	c->idle_msgs = c->raw_requests = 0;
	ret = getaddrinfo(host, port ? port : DXC_DEFAULT_PORT, &hints, &ai);
	if (ret) {
		dxc_log(c, LOG_ERR, "%s: %s", host, gai_strerror(ret));
		return ret == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	}
	c->ec = rdma_create_event_channel();
	if (!c->ec) {
		ret = -errno;
		dxc_log(c, LOG_ERR, "rdma_create_event_channel: %s (is rdma_ucm loaded?)", strerror(errno));
		goto err;
	}
	if (fcntl(c->ec->fd, F_SETFL, fcntl(c->ec->fd, F_GETFL) | O_NONBLOCK) ||
	    rdma_create_id(c->ec, &c->id, c, RDMA_PS_TCP)) {
		ret = -errno;
		goto err;
	}
	if (rdma_resolve_addr(c->id, NULL, ai->ai_addr, c->opts.timeout_ms)) {
		ret = -errno;
		dxc_log(c, LOG_ERR, "rdma_resolve_addr %s: %s", host, strerror(errno));
		goto err;
	}
	ret = wait_cm(c, RDMA_CM_EVENT_ADDR_RESOLVED, deadline);
	if (!ret && rdma_resolve_route(c->id, c->opts.timeout_ms))
		ret = -errno;
	if (!ret)
		ret = wait_cm(c, RDMA_CM_EVENT_ROUTE_RESOLVED, deadline);
	if (!ret)
		ret = setup_qp(c);
	if (ret) {
		dxc_log(c, LOG_ERR, "connecting to %s: %s", host, strerror(-ret));
		goto err;
	}
	if (ibv_query_device(c->id->verbs, &dattr)) {
		ret = -errno;
		goto err;
	}
	param.initiator_depth = (uint8_t)(dattr.max_qp_init_rd_atom < 16 ? dattr.max_qp_init_rd_atom : 16);
	param.responder_resources = 1;
	param.retry_count = 7;
	param.rnr_retry_count = 7;
	if (rdma_connect(c->id, &param)) {
		ret = -errno;
		goto err;
	}
	ret = wait_cm(c, RDMA_CM_EVENT_ESTABLISHED, deadline);
	if (ret) {
		dxc_log(c, LOG_ERR, "connecting to %s port %s: %s", host, port ? port : DXC_DEFAULT_PORT,
			strerror(-ret));
		goto err;
	}
	c->connected = true;
	ret = hello(c, deadline); /* the connect's one timeout, HELLO included */
	if (ret) {
		dxc_log(c, LOG_ERR, "HELLO to %s: %s", host, strerror(-ret));
		goto err;
	}
	freeaddrinfo(ai);
	dxc_log(c, LOG_INFO, "connected to daxrdmad at %s (recall timeout %u ms)", host, c->recall_timeout_ms);
	return 0;

err:
	freeaddrinfo(ai);
	teardown(c, true);
	c->broken = false;
	return ret;
}

DX_EXPORT int daxrdma_connect(struct daxrdma_client *c, const char *host, const char *port)
{
	char *h, *p = NULL;

	if (!c || !host)
		return -EINVAL;
	if (c->connected || c->ec)
		return -EISCONN;
	/* The daemon numbers handles per connection: files of an earlier one
	 * would name whatever the new one opens (issue 26 §3). */
	if (!TAILQ_EMPTY(&c->files))
		return -EBUSY;
	h = strdup(host);
	if (!h || (port && !(p = strdup(port)))) {
		free(h);
		return -ENOMEM;
	}
	free(c->host);
	free(c->port);
	c->host = h;
	c->port = p;
	return connect_to(c, c->host, c->port);
}

DX_EXPORT int daxrdma_reconnect(struct daxrdma_client *c)
{
	unsigned int n_files = 0, n_open = 0;
	struct daxrdma_layout *l;
	struct daxrdma_file *f;
	int ret;

	if (!c)
		return -EINVAL;
	if (!c->host)
		return -ENOTCONN; /* never connected: nothing to go back to */
	if (c->connected && !c->broken)
		return -EISCONN;
	/* Every layout of the old connection is dead (dxc_break made them
	 * RETURNED); nothing recalled is owed to a connection that is gone. */
	dxc_break(c, "reconnecting");
	while ((l = TAILQ_FIRST(&c->recalled))) {
		TAILQ_REMOVE(&c->recalled, l, recall_link);
		l->recall_queued = false;
	}
	if (c->connected)
		rdma_disconnect(c->id);
	teardown(c, true);
	c->broken = false;
	c->have_reply = false;
	c->rdma_outstanding = 0;
	c->early_recall_valid = c->early_frecall_valid = false;
	ret = connect_to(c, c->host, c->port);
	if (ret)
		return ret;
	dxc_log(c, LOG_NOTICE, "reconnected to daxrdmad at %s", c->host);
	TAILQ_FOREACH(f, &c->files, link) {
		n_files++;
		n_open += dxc_file_reopen(f) == 0;
	}
	dxc_handle_recalls(c);
	/* Connected, but none of the application's files is back. */
	return n_files && !n_open ? -ESTALE : 0;
}

int dxc_rdma_chunks(struct daxrdma_client *c, bool write, uint64_t raddr, uint32_t rkey, size_t len)
{
	unsigned int n = 0;

	c->rdma_status = IBV_WC_SUCCESS;
	for (size_t done = 0; done < len; n++) {
		size_t chunk = len - done < DXC_STAGE_SLOT ? len - done : DXC_STAGE_SLOT;
		struct ibv_sge sge = {
			.addr = (uintptr_t)(c->stage + done), .length = (uint32_t)chunk, .lkey = c->stage_mr->lkey,
		};
		struct ibv_send_wr wr = { 0 }, *bad;
		int ret;

		wr.wr_id = WR_RDMA_BIT | n;
		wr.sg_list = &sge;
		wr.num_sge = 1;
		wr.opcode = write ? IBV_WR_RDMA_WRITE : IBV_WR_RDMA_READ;
		wr.send_flags = IBV_SEND_SIGNALED;
		wr.wr.rdma.remote_addr = raddr + done;
		wr.wr.rdma.rkey = rkey;
		ret = ibv_post_send(c->id->qp, &wr, &bad);
		if (ret) {
			dxc_log(c, LOG_ERR, "ibv_post_send (RDMA %s): %s", write ? "WRITE" : "READ", strerror(ret));
			return -ret;
		}
		c->rdma_outstanding++;
		done += chunk;
	}
	return 0;
}

static bool rdma_drained(struct daxrdma_client *c)
{
	return c->rdma_outstanding == 0;
}

int dxc_rdma_wait(struct daxrdma_client *c)
{
	struct ibv_qp_attr qa = { .qp_state = IBV_QPS_ERR };
	int ret = dxc_progress(c, dxc_now_ms() + c->opts.timeout_ms, rdma_drained);

	if (!c->rdma_outstanding || !c->id) /* done, or the device went and took the QP with it */
		return ret;
	dxc_log(c, LOG_ERR, "%u RDMA request%s not complete within %d ms: the connection is given up, so that "
		"none can run later", c->rdma_outstanding, c->rdma_outstanding == 1 ? "" : "s", c->opts.timeout_ms);
	dxc_break(c, "an RDMA request timed out");
	/* The error state flushes every request posted: once the flushes are
	 * in, none of them can read or write memory any more. */
	if (c->id->qp && ibv_modify_qp(c->id->qp, &qa, IBV_QP_STATE) == 0)
		dxc_progress(c, dxc_now_ms() + DXC_FLUSH_WAIT_MS, rdma_drained);
	if (c->rdma_outstanding) {
		dxc_log(c, LOG_ERR, "the flushes did not come either: destroying the QP");
		rdma_destroy_qp(c->id); /* its work ends with it */
		c->qpx = NULL;
		c->rdma_outstanding = 0;
	}
	return ret ? ret : -ETIMEDOUT;
}

int dxc_rdma_raw(struct daxrdma_client *c, bool write, uint64_t raddr, uint32_t rkey, void *buf, size_t len)
{
	int ret, wret;

	if (!c->connected || len > DXC_STAGE_SLOT)
		return -EINVAL;
	if (!c->id || !c->id->qp) /* a broken connection's QP still takes it: the tests see it flushed */
		return -ENOTCONN;
	if (write)
		memcpy(c->stage, buf, len);
	ret = dxc_rdma_chunks(c, write, raddr, rkey, len);
	/* A failed RDMA op breaks the connection; its completion still counts. */
	wret = dxc_rdma_wait(c);
	ret = ret ? ret : wret;
	if (ret)
		return ret;
	if (!write && c->rdma_status == IBV_WC_SUCCESS)
		memcpy(buf, c->stage, len);
	return c->rdma_status;
}

/* The most one FLUSH covers: its length is 32 bits on the wire (RETH). */
#define DXC_FLUSH_MAX (1ull << 30)

int dxc_rdma_flush(struct daxrdma_client *c, uint64_t raddr, uint32_t rkey, uint64_t len)
{
#ifdef DX_HAVE_WR_FLUSH
	if (!c->connected || !c->qpx)
		return -EINVAL;
	/* One FLUSH at a time, each waited for: a range beyond DXC_FLUSH_MAX
	 * is rare, and costs a round trip per GiB. */
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < DXC_FLUSH_MAX ? len - done : DXC_FLUSH_MAX;
		int ret;

		if (!c->id || !c->id->qp)
			return -ENOTCONN;
		c->rdma_status = IBV_WC_SUCCESS;
		ibv_wr_start(c->qpx);
		c->qpx->wr_id = WR_RDMA_BIT;
		c->qpx->wr_flags = IBV_SEND_SIGNALED;
		ibv_wr_flush(c->qpx, rkey, raddr + done, (size_t)n, IBV_FLUSH_PERSISTENT, IBV_FLUSH_RANGE);
		ret = ibv_wr_complete(c->qpx);
		if (ret) {
			dxc_log(c, LOG_ERR, "ibv_wr_complete (RDMA FLUSH): %s", strerror(ret));
			return -ret;
		}
		c->rdma_outstanding++;
		ret = dxc_rdma_wait(c);
		if (ret || c->rdma_status != IBV_WC_SUCCESS)
			return ret ? ret : c->rdma_status;
		done += n;
	}
	return IBV_WC_SUCCESS;
#else
	(void)c, (void)raddr, (void)rkey, (void)len;
	return -EOPNOTSUPP;
#endif
}

int dxc_send_raw(struct daxrdma_client *c, const void *bytes, size_t len)
{
	struct ibv_sge sge = { .addr = (uintptr_t)c->stage, .length = (uint32_t)len, .lkey = c->stage_mr->lkey };
	struct ibv_send_wr wr = {
		.wr_id = WR_RDMA_BIT, .sg_list = &sge, .num_sge = 1,
		.opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED,
	}, *bad;
	int ret;

	if (!c->connected || c->broken)
		return -ENOTCONN;
	if (len > DXC_STAGE_SLOT)
		return -EMSGSIZE;
	memcpy(c->stage, bytes, len);
	ret = ibv_post_send(c->id->qp, &wr, &bad);
	if (ret)
		return -ret;
	c->rdma_outstanding++;
	c->raw_requests++;
	return dxc_rdma_wait(c);
}

int dxc_call_raw(struct daxrdma_client *c, const void *bytes, size_t len, uint64_t tag, const struct dxp_msg **rep)
{
	int ret;

	c->wait_tag = tag;
	c->have_reply = false;
	ret = dxc_send_raw(c, bytes, len);
	if (c->raw_requests) /* its reply is the one waited for, not a stray one */
		c->raw_requests--;
	if (!ret)
		ret = dxc_progress(c, dxc_now_ms() + c->opts.timeout_ms, reply_arrived);
	if (ret)
		return ret;
	*rep = &c->reply;
	return 0;
}

DX_EXPORT void daxrdma_client_delete(struct daxrdma_client **client)
{
	struct daxrdma_client *c;
	struct daxrdma_file *f;

	if (!client || !*client)
		return;
	c = *client;
	while ((f = TAILQ_FIRST(&c->files)))
		daxrdma_close(&f);
	if (c->connected && !c->broken) {
		struct dxp_msg bye = { .hdr.op = DXP_BYE };

		c->closing = true;
		if (send_msg(c, &bye) == 0)
			dxc_progress(c, dxc_now_ms() + 100, NULL);
		rdma_disconnect(c->id);
	}
	teardown(c, false);
	free(c->host);
	free(c->port);
	free(c);
	*client = NULL;
}
