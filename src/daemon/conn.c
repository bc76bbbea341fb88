#include "daemon/conn.h"

#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/msgslots.h"
#include "common/net.h"
#include "daemon/ban.h"
#include "daemon/daemon.h"
#include "daemon/layout.h"
#include "daemon/reap.h"
#include "daemon/recall.h"
#include "daemon/seal.h"
#include "daemon/session.h"
#include "daemon/work.h"

const char *dx_conn_state_name(enum dx_conn_state s)
{
	switch (s) {
	case CONN_ACCEPTING: return "accepting";
	case CONN_HELLO: return "hello";
	case CONN_READY: return "ready";
	case CONN_CLOSING: return "closing";
	}
	return "?";
}

static int post_recv(struct dx_conn *c, unsigned int slot)
{
	int ret = c->cm->qp ? dx_msgslots_post_recv(&c->slots, c->cm->qp, slot) : -ENOTCONN;

	return ret ? dx_log_fail("ibv_post_recv", ret) : 0;
}

int dx_conn_send(struct dx_conn *c, struct dxp_msg *m)
{
	int ret;

	if (c->state == CONN_CLOSING || !c->cm->qp)
		return -ENOTCONN;
	ret = dx_msgslots_send(&c->slots, c->cm->qp, m);
	if (ret == -ENOBUFS)
		log_warn("client %llu (%s): no send slot free: it exceeds its credits",
			 (unsigned long long)c->id, c->peer);
	else if (ret)
		dx_log_fail("sending a message (ibv_post_send)", ret);
	return ret;
}

static void send_error(struct dx_conn *c, uint64_t tag, unsigned int code, const char *msg)
{
	struct dxp_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.op = DXP_ERROR;
	m.hdr.flags = DXP_F_REPLY;
	m.hdr.tag = tag;
	m.u.error.code = code;
	m.u.error.msg_len = (uint16_t)strnlen(msg, DXP_MAX_ERRMSG);
	m.s1 = msg;
	dx_conn_send(c, &m);
}

/* A malformed or out-of-protocol message (WHAT, for the log): answered with
 * CODE and WHY, counted, and the connection ends at the DX_MAX_MALFORMED-th. */
static void count_malformed(struct dx_conn *c, const char *what, uint64_t tag, unsigned int code, const char *why,
			    const char *close_why)
{
	c->malformed++;
	c->d->st.malformed++;
	log_warn("client %llu (%s): %s [%u of %u allowed]", (unsigned long long)c->id, c->peer, what, c->malformed,
		 DX_MAX_MALFORMED - 1);
	send_error(c, tag, code, why);
	if (c->malformed >= DX_MAX_MALFORMED)
		dx_conn_close(c, code, false, close_why);
}

static void on_recv(struct dx_conn *c, unsigned int slot, uint32_t len)
{
	uint8_t buf[DXP_MAX_MSG]; /* the request, out of its slot */
	char errmsg[DXP_MAX_ERRMSG + 1] = "";
	struct dxp_msg req, rep;
	uint64_t tag = 0;
	unsigned int code;
	const char *why;
	bool reply = true;

	/* The slot is reposted before anything is answered (a small job may
	 * answer from inside the handler): the request is decoded from a copy. */
	if (len > sizeof(buf))
		len = sizeof(buf); /* cannot be: a slot holds DXP_MAX_MSG */
	memcpy(buf, dx_msgslots_buf(&c->slots, slot), len);
	if (post_recv(c, slot)) {
		dx_conn_close(c, DXP_E_IO, false, "ibv_post_recv failed");
		return;
	}
	if (dxp_decode(buf, len, &req, &why)) {
		if (len >= sizeof(struct dxp_hdr))
			memcpy(&tag, buf + offsetof(struct dxp_hdr, tag), sizeof(tag));
		snprintf(errmsg, sizeof(errmsg), "malformed message (%u bytes): %s", len, why);
		count_malformed(c, errmsg, le64toh(tag), DXP_E_MALFORMED, why, "too many malformed messages");
		return;
	}
	c->requests++;
	if (req.hdr.op != DXP_BYE && c->inflight >= DX_SRV_CREDITS) {
		/* Unanswered requests cost memory and work: the credits bound them. */
		snprintf(errmsg, sizeof(errmsg), "more than %u requests in flight", DX_SRV_CREDITS);
		count_malformed(c, errmsg, req.hdr.tag, DXP_E_PROTO, "more requests in flight than the credits allow",
				"requests beyond its credits");
		return;
	}
	c->inflight++;
	memset(&rep, 0, sizeof(rep));
	code = dx_session_handle(c, &req, &rep, errmsg, sizeof(errmsg), &reply);
	if (reply)
		dx_conn_answer(c, req.hdr.op, req.hdr.tag, code, errmsg, &rep);
	else if (req.hdr.op == DXP_BYE)
		c->inflight--;
	/* else: answered later, when its background job ends */
}

void dx_conn_answer(struct dx_conn *c, uint32_t op, uint64_t tag, unsigned int code, const char *errmsg,
		    struct dxp_msg *rep)
{
	if (c->inflight)
		c->inflight--;
	if (c->state == CONN_CLOSING)
		return;
	if (code != DXP_E_OK) {
		c->errors++;
		/* A client's own mistakes are its business; running out of something is the admin's. */
		dx_log(code == DXP_E_LIMIT || code == DXP_E_NOSPC || code == DXP_E_IO ? LOG_NOTICE : LOG_DEBUG,
		       "client %llu (%s): %s -> %s %s", (unsigned long long)c->id, c->peer, dxp_op_name(op),
		       dxp_err_name(code), errmsg ? errmsg : "");
		send_error(c, tag, code, errmsg && errmsg[0] ? errmsg : dxp_err_name(code));
		return;
	}
	rep->hdr.op = (uint8_t)op;
	rep->hdr.flags = DXP_F_REPLY;
	rep->hdr.tag = tag;
	if (dx_conn_send(c, rep))
		dx_conn_close(c, DXP_E_PROTO, false, "cannot send a reply");
}

/* No probe of dx_conns_flush() is out any more. */
static bool flushed(const struct dxd *d)
{
	const struct dx_conn *c;

	TAILQ_FOREACH(c, &d->conns, link)
		if (c->state == CONN_READY && !c->qp_dead && c->probing)
			return false;
	return true;
}

/* One work completion of C. */
static void on_wc(struct dx_conn *c, const struct ibv_wc *wc)
{
	if (wc->wr_id & DX_WR_SEND)
		dx_msgslots_sent(&c->slots, wc->wr_id);
	if (wc->wr_id & DX_WR_KEEPALIVE) {
		c->probing = false;
		/* At exit, the last replies are out once every probe is in. */
		if (c->d->stopping && c->d->n_layouts == 0 && flushed(c->d))
			event_base_loopbreak(c->d->base);
	}
	if (wc->status == IBV_WC_LOC_LEN_ERR && !(wc->wr_id & DX_WR_SEND) && c->state != CONN_CLOSING) {
		c->d->st.malformed++;
		log_warn("client %llu (%s): malformed message: larger than %u bytes: closing",
			 (unsigned long long)c->id, c->peer, DXP_MAX_MSG);
		dx_conn_close(c, DXP_E_MALFORMED, false, "message larger than a receive buffer");
		return;
	}
	if (wc->status == IBV_WC_RETRY_EXC_ERR && c->state != CONN_CLOSING) {
		/* The peer's NIC stopped acknowledging: the host is gone. */
		c->d->st.peers_lost++;
		log_warn("client %llu (%s): not responding (%s, silent for %lld ms): closing",
			 (unsigned long long)c->id, c->peer, ibv_wc_status_str(wc->status),
			 (long long)(dx_now_ms() - c->heard_ms));
		dx_conn_close(c, DXP_E_IO, false, "peer not responding");
		return;
	}
	if (wc->status != IBV_WC_SUCCESS) {
		if (c->state != CONN_CLOSING)
			log_notice("client %llu (%s): work completion %s: closing", (unsigned long long)c->id, c->peer,
				   ibv_wc_status_str(wc->status));
		dx_conn_close(c, DXP_E_IO, false, ibv_wc_status_str(wc->status));
		return;
	}
	if (!(wc->wr_id & (DX_WR_SEND | DX_WR_KEEPALIVE)) && c->state != CONN_CLOSING)
		on_recv(c, (unsigned int)wc->wr_id, wc->byte_len);
}

/*
 * At most DX_CQ_BUDGET completions per call: a client that keeps requests
 * coming gets its next turn after everyone else's (and after lease breaks
 * and deadlines, which run at a higher priority), never a loop of its own.
 * With busy_poll_us, a completion is followed by that long of polling for
 * the next one (the client's next request often comes right after our
 * reply), within the same budget, before the loop sleeps again.
 */
static void on_cq(evutil_socket_t fd, short what, void *arg)
{
	struct dx_conn *c = arg;
	struct ibv_wc wc[DX_CQ_BUDGET];
	struct ibv_cq *cq = c->cq;
	int64_t until = 0, now, poll_us = c->d->cfg->busy_poll_us;
	int handled = 0, n;
	void *ctx;

	if (!c->cq_more) {
		if (ibv_get_cq_event(c->ch, &cq, &ctx))
			return; /* nothing yet (non-blocking channel) */
		ibv_ack_cq_events(cq, 1);
		if (ibv_req_notify_cq(cq, 0))
			dx_log_fail("ibv_req_notify_cq", -EIO);
	}
	c->cq_more = false;
	for (;;) {
		n = ibv_poll_cq(cq, DX_CQ_BUDGET - handled, wc);
		if (n < 0) {
			dx_conn_close(c, DXP_E_IO, false, "ibv_poll_cq failed");
			return;
		}
		for (int i = 0; i < n; i++)
			on_wc(c, &wc[i]);
		handled += n;
		now = n > 0 || until ? dx_now_us() : 0;
		if (n > 0)
			c->heard_ms = now / 1000; /* a failed completion closes it: no keepalive will ask */
		if (handled == DX_CQ_BUDGET) {
			c->cq_more = true; /* come back after the others */
			event_active(c->ev_cq, EV_READ, 0);
			return;
		}
		if (!poll_us || c->state == CONN_CLOSING)
			return;
		if (n > 0)
			until = now + poll_us;
		else if (now >= until)
			return;
	}
}

/* Destroy C's QP, and know that it is gone (rdma_destroy_qp would not say
 * if it failed). 0 or -errno. */
static int destroy_qp(struct dx_conn *c)
{
	int ret;

	if (!c->cm->qp)
		return 0;
	ret = ibv_destroy_qp(c->cm->qp);
	if (ret)
		return dx_log_fail("ibv_destroy_qp", -ret);
	c->cm->qp = NULL;
	c->qp_gone = true;
	return 0;
}

/* The verbs objects go now; the struct goes with its last layout (a
 * copy-back of data it returned may still run). */
static void conn_destroy(struct dx_conn *c)
{
	struct dxd *d = c->d;
	int ret;

	if (c->state != CONN_CLOSING)
		dx_conn_close(c, 0, false, "destroyed");
	if (c->ev_cq)
		event_free(c->ev_cq);
	if (c->ev_timer)
		event_free(c->ev_timer);
	if (c->ev_keepalive)
		event_free(c->ev_keepalive);
	c->ev_cq = c->ev_timer = c->ev_keepalive = NULL;
	destroy_qp(c); /* if it fails, the layouts whose MR lives are kept (dx_layout_rkey_dead) */
	if (c->cq)
		ibv_destroy_cq(c->cq);
	if (c->ch)
		ibv_destroy_comp_channel(c->ch);
	ret = dx_msgslots_fini(&c->slots);
	if (ret)
		dx_log_fail("ibv_dereg_mr (message buffers)", ret);
	if (c->pd) {
		ret = ibv_dealloc_pd(c->pd);
		if (ret)
			dx_log_fail("ibv_dealloc_pd", -ret);
	}
	rdma_destroy_id(c->cm);
	TAILQ_REMOVE(&d->conns, c, link);
	d->n_conns--;
	c->listener->n_conns--;
	dx_reap_soon(d); /* a retired listener may go with its last client */
	log_info("client %llu (%s) gone: %s", (unsigned long long)c->id, c->peer, c->close_reason);
	c->destroyed = true;
	dx_staging_pool_drain(c); /* staging of layouts still copying back is unmapped with them */
	dx_conn_layout_freed(c);
	dxd_notify_status(d);
}

void dx_conn_layout_freed(struct dx_conn *c)
{
	if (c->destroyed && TAILQ_EMPTY(&c->layouts))
		free(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dx_conn *c = arg;

	if (c->state == CONN_CLOSING) {
		conn_destroy(c); /* DISCONNECTED never came */
		return;
	}
	log_warn("client %llu (%s): no HELLO within %d ms", (unsigned long long)c->id, c->peer,
		 DX_HELLO_TIMEOUT_MS);
	dx_conn_close(c, DXP_E_PROTO, false, "no HELLO in time");
}

static void arm_timer(struct dx_conn *c, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	event_add(c->ev_timer, &tv);
}

/* A zero-length, signaled RDMA WRITE: its completion says the client's
 * NIC is there, and, as RC completes in order, that every message posted
 * before it is out. 0 or -errno. */
static int post_probe(struct dx_conn *c)
{
	struct ibv_send_wr wr = { .wr_id = DX_WR_KEEPALIVE, .opcode = IBV_WR_RDMA_WRITE,
				   .send_flags = IBV_SEND_SIGNALED }, *bad;
	int ret = ibv_post_send(c->cm->qp, &wr, &bad);

	if (ret)
		return -ret;
	c->probing = true;
	c->probe_ms = dx_now_ms();
	return 0;
}

/*
 * A connection that completed nothing for keepalive_ms gets a zero-length
 * RDMA WRITE: it needs no rkey (IBA C9-88) and the client's NIC acknowledges
 * it without the application. A host that is gone acknowledges nothing; the
 * probe is then given keepalive_ms, after which the QP goes to error and the
 * connection closes. The transport's own retries are not waited for: rxe
 * retries forever at retry_count 7, the value clients commonly ask for.
 * A silent but live client costs one ACK per interval.
 */
static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
	struct dx_conn *c = arg;
	int64_t now = dx_now_ms(), every = c->d->cfg->keepalive_ms;
	int ret;

	if (c->state != CONN_READY || c->qp_dead)
		return;
	if (c->probing) {
		if (now - c->probe_ms < every)
			return;
		c->d->st.peers_lost++;
		log_warn("client %llu (%s): not responding: a keepalive unacknowledged for %lld ms, silent for "
			 "%lld ms: closing", (unsigned long long)c->id, c->peer, (long long)(now - c->probe_ms),
			 (long long)(now - c->heard_ms));
		dx_conn_kill_qp(c, "peer not responding"); /* first: nothing lands while the MRs go */
		dx_conn_close(c, DXP_E_IO, false, "peer not responding (keepalive)");
		return;
	}
	if (now - c->heard_ms < every)
		return;
	ret = post_probe(c);
	if (ret) {
		dx_log_fail("ibv_post_send (keepalive)", ret);
		dx_conn_close(c, DXP_E_IO, false, "cannot post a keepalive");
		return;
	}
	c->d->st.keepalives++;
}

bool dx_conns_flush(struct dxd *d)
{
	struct dx_conn *c;
	bool out = false;

	TAILQ_FOREACH(c, &d->conns, link)
		if (c->state == CONN_READY && !c->qp_dead && (c->probing || post_probe(c) == 0))
			out = true;
	return out;
}

/* Ticks at half the interval: a probe follows keepalive_ms to 1.5 times
 * that of silence. */
static void keepalive_arm(struct dx_conn *c)
{
	int64_t ms = (c->d->cfg->keepalive_ms + 1) / 2;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	event_del(c->ev_keepalive);
	if (ms > 0 && event_add(c->ev_keepalive, &tv))
		log_err("client %llu: event_add (keepalive) failed", (unsigned long long)c->id);
}

void dx_conns_rearm_keepalive(struct dxd *d)
{
	struct dx_conn *c;

	TAILQ_FOREACH(c, &d->conns, link)
		if (c->ev_keepalive && c->state != CONN_CLOSING)
			keepalive_arm(c);
}

void dx_conn_kill_qp(struct dx_conn *c, const char *why)
{
	struct ibv_qp_attr qa = { .qp_state = IBV_QPS_ERR };
	int ret;

	if (c->qp_dead || c->qp_gone || c->qp_unkillable || c->destroyed)
		return;
	c->fenced = true;
	ret = ibv_modify_qp(c->cm->qp, &qa, IBV_QP_STATE);
	if (ret == 0) {
		c->qp_dead = true;
		log_info("client %llu (%s): QP moved to the error state: %s", (unsigned long long)c->id, c->peer, why);
		return;
	}
	dx_log_fail("ibv_modify_qp to ERR", -ret);
	/* The PD is the connection's own: with its only QP gone, no rkey of
	 * it works anywhere. */
	if (destroy_qp(c) == 0) {
		log_warn("client %llu (%s): QP destroyed: %s", (unsigned long long)c->id, c->peer, why);
		return;
	}
	c->qp_unkillable = true;
	dx_log(LOG_CRIT, "client %llu (%s): its QP can be neither moved to the error state nor destroyed: rkeys "
	       "whose MR would not deregister may still work; their files keep their leases", (unsigned long long)c->id,
	       c->peer);
}

bool dx_conn_rkeys_dead(const struct dx_conn *c)
{
	return c->qp_dead || c->qp_gone;
}

void dx_conn_close(struct dx_conn *c, uint32_t reason, bool persist, const char *why)
{
	enum dx_conn_state was = c->state;
	struct dx_handle *h, *hn;
	struct dx_layout *l;
	struct dxp_msg bye;

	if (c->state == CONN_CLOSING)
		return;
	/* From here on nothing is answered: a grant cancelled below stays quiet. */
	c->state = CONN_CLOSING;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", why);
	/* The MRs go before anything else, so no rkey outlives this; the
	 * layouts are only marked, the reaper frees them. Persisting what
	 * a polite client gave back goes on, unless it is fenced. */
	TAILQ_FOREACH(l, &c->layouts, by_conn) {
		if (l->state == LAYOUT_RETURNED && !c->fenced)
			continue;
		if (persist && !c->fenced && l->state != LAYOUT_GRANTING && !dx_layout_dead(l)) {
			if (dx_layout_return(l) == 0) {
				(void)dx_layout_persist_returned(l, NULL, 0); /* logged if it cannot */
				continue;
			}
			dx_conn_kill_qp(c, "ibv_dereg_mr failed");
		}
		dx_layout_fence(l);
	}
	TAILQ_FOREACH_SAFE(h, &c->handles, link, hn)
		dx_handle_free(c, h);
	if (c->cm->qp && !c->fenced && !c->said_bye && (was == CONN_READY || was == CONN_HELLO)) {
		memset(&bye, 0, sizeof(bye));
		bye.hdr.op = DXP_BYE;
		bye.u.bye.reason = reason;
		/* best effort: the QP may be dead already */
		if (dx_msgslots_send(&c->slots, c->cm->qp, &bye))
			log_debug("client %llu: BYE not sent", (unsigned long long)c->id);
	}
	if (c->fenced)
		dx_conn_kill_qp(c, why);
	if (rdma_disconnect(c->cm) && errno != EINVAL)
		log_debug("rdma_disconnect client %llu: %s", (unsigned long long)c->id, strerror(errno));
	if (c->ev_timer)
		arm_timer(c, DX_REAP_TIMEOUT_MS);
	dx_reap_soon(c->d);
}

void dx_conn_fence(struct dx_conn *c, const char *why)
{
	if (c->state == CONN_CLOSING)
		return;
	log_warn("fencing client %llu (%s): %s; its QP goes to error, its MRs are deregistered",
		 (unsigned long long)c->id, c->peer, why);
	c->d->st.fenced++;
	dx_conn_kill_qp(c, "fenced"); /* first: nothing lands while the MRs go */
	dx_conn_close(c, DXP_E_STALE_STATEID, false, why);
}

static bool acl_allows_any(struct dxd *d, const struct sockaddr *peer)
{
	for (size_t i = 0; i < d->exports->n; i++)
		if (dx_export_admits(&d->exports->v[i], peer))
			return true;
	return false;
}

unsigned int dx_conn_write_refusal(const struct dx_conn *c, const struct dx_export *x)
{
	if (!x)
		return DXP_E_NOENT;
	if (!dx_export_admits(x, (const struct sockaddr *)&c->peer_addr))
		return DXP_E_ACCESS;
	return x->cfg->read_only ? DXP_E_ROFS : DXP_E_OK;
}

void dx_conns_repoint_exports(struct dxd *d, const struct dx_exports *nx)
{
	struct dx_handle *h;
	struct dx_layout *l;
	struct dx_conn *c;
	struct dx_file *f;

	TAILQ_FOREACH(c, &d->conns, link)
		TAILQ_FOREACH(h, &c->handles, link)
			h->x = h->x ? dx_export_successor(nx, h->x) : NULL;
	/* Every layout, those of destroyed connections still copying back
	 * too. Recalls and fences only mark layouts: the walk is safe. */
	TAILQ_FOREACH(f, &d->files, link)
		TAILQ_FOREACH(l, &f->layouts, by_file) {
			const struct dx_export *old = l->x;

			l->x = old ? dx_export_successor(nx, old) : NULL;
			if (old && !l->x && !dx_layout_dead(l)) {
				log_notice("export \"%s\" is gone: recalling layout %llu of client %llu on %s",
					   old->cfg->name, (unsigned long long)l->id, (unsigned long long)l->c->id,
					   f->relpath);
				dx_recall_layout(l, DXP_RECALL_EXPORT);
			}
		}
}

/* Recall C's layouts granted through handle H (all if H is NULL; RW ones
 * only if RW_ONLY) for a reload. False if that fenced C (its handles are
 * gone then; fences only mark layouts, so the walk itself is safe). */
static bool recall_for_reload(struct dx_conn *c, const struct dx_handle *h, bool rw_only)
{
	struct dx_layout *l;

	TAILQ_FOREACH(l, &c->layouts, by_conn) {
		if ((h && (l->f != h->f || l->fh != h->fh)) ||
		    (l->state != LAYOUT_GRANTED && l->state != LAYOUT_GRANTING) ||
		    (rw_only && l->iomode != DXP_IOMODE_RW))
			continue;
		dx_recall_layout(l, DXP_RECALL_EXPORT);
		if (c->state == CONN_CLOSING)
			return false;
	}
	return true;
}

void dx_handle_free(struct dx_conn *c, struct dx_handle *h)
{
	if (h->job)
		dx_work_cancel(c->d, h->job);
	TAILQ_REMOVE(&c->handles, h, link);
	c->n_handles--;
	if (h->f)
		dx_file_put(h->f);
	free(h->revoked);
	free(h->path);
	free(h);
}

static void revoke_handle(struct dx_conn *c, struct dx_handle *h)
{
	const char *name = h->x->cfg->name;

	if (asprintf(&h->revoked, "export \"%s\" no longer admits %s (reload)", name, c->peer) < 0)
		h->revoked = NULL;
	if (!h->revoked)
		h->revoked = strdup("revoked by a reload");
	log_notice("client %llu (%s): export \"%s\" no longer admits it: file handle %llu revoked",
		   (unsigned long long)c->id, c->peer, name, (unsigned long long)h->fh);
	if (h->job) /* answered ACCESS, with the reason above */
		dx_work_cancel(c->d, h->job);
	dx_file_put(h->f);
	h->f = NULL;
}

void dx_conns_reload_access(struct dxd *d)
{
	struct dx_handle *h;
	struct dx_conn *c;

	TAILQ_FOREACH(c, &d->conns, link) {
		TAILQ_FOREACH(h, &c->handles, link) {
			const struct dx_export *x = h->f ? h->x : NULL;
			bool admitted;

			if (!x || c->state == CONN_CLOSING)
				continue; /* revoked already, or the export is gone (recalled as such) */
			admitted = dx_export_admits(x, (const struct sockaddr *)&c->peer_addr);
			if (!admitted || x->cfg->read_only) {
				if (!recall_for_reload(c, h, admitted))
					break; /* fenced: C's handles are freed */
			}
			if (!admitted)
				revoke_handle(c, h);
		}
	}
}

static size_t conns_from(struct dxd *d, const struct sockaddr *peer)
{
	const struct dx_conn *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &d->conns, link)
		if (dx_same_host((const struct sockaddr *)&c->peer_addr, peer))
			n++;
	return n;
}

static int conn_setup(struct dx_conn *c)
{
	struct ibv_qp_init_attr qa = { 0 };
	struct rdma_conn_param param = { 0 };
	struct ibv_device_attr dattr;
	struct rdma_cm_id *id = c->cm;
	int ret;

	if (id->verbs != c->d->listener->verbs) {
		log_warn("connection from %s arrived on device %s; daxrdmad serves on %s", c->peer,
			 ibv_get_device_name(id->verbs->device), dx_listener_devname(c->d->listener));
		return -ENODEV;
	}
	/* A protection domain of its own: an rkey is valid on every QP of its
	 * PD, so a shared one would let any client use another's layouts. */
	c->pd = ibv_alloc_pd(id->verbs);
	if (!c->pd)
		return dx_log_fail("ibv_alloc_pd", errno ? -errno : -ENOMEM);
	c->ch = ibv_create_comp_channel(id->verbs);
	if (!c->ch)
		return dx_log_fail("ibv_create_comp_channel", -errno);
	if (evutil_make_socket_nonblocking(c->ch->fd))
		return dx_log_fail("O_NONBLOCK on the completion channel", -EIO);
	c->cq = ibv_create_cq(id->verbs, (int)(DX_SRV_RECV + DX_SRV_SEND + 1), c, c->ch, 0);
	if (!c->cq)
		return dx_log_fail("ibv_create_cq", -errno);
	if (ibv_req_notify_cq(c->cq, 0))
		return dx_log_fail("ibv_req_notify_cq", -EIO);
	qa.send_cq = c->cq;
	qa.recv_cq = c->cq;
	qa.qp_type = IBV_QPT_RC;
	qa.cap.max_send_wr = dx_msgslots_sq_depth(DX_SRV_SEND) + 1; /* + the keepalive */
	qa.cap.max_recv_wr = DX_SRV_RECV;
	qa.cap.max_send_sge = 1;
	qa.cap.max_recv_sge = 1;
	if (rdma_create_qp(id, c->pd, &qa))
		return dx_log_fail("rdma_create_qp", -errno);
	ret = dx_msgslots_init(&c->slots, c->pd, DX_SRV_RECV, DX_SRV_SEND);
	if (ret)
		return dx_log_fail("ibv_reg_mr (message buffers)", ret);
	for (unsigned int i = 0; i < DX_SRV_RECV; i++)
		if (post_recv(c, i))
			return -EIO;
	c->ev_cq = event_new(c->d->base, c->ch->fd, EV_READ | EV_PERSIST, on_cq, c);
	c->ev_timer = evtimer_new(c->d->base, on_timer, c);
	c->ev_keepalive = event_new(c->d->base, -1, EV_PERSIST, on_keepalive, c);
	if (!c->ev_cq || !c->ev_timer || !c->ev_keepalive || event_add(c->ev_cq, NULL))
		return dx_log_fail("event_add (completion channel)", -ENOMEM);
	c->heard_ms = dx_now_ms();
	keepalive_arm(c);
	/* Clients RDMA READ from their layouts: we are the responder. */
	if (ibv_query_device(id->verbs, &dattr))
		return dx_log_fail("ibv_query_device", -errno);
	param.responder_resources = (uint8_t)(dattr.max_qp_rd_atom < 16 ? dattr.max_qp_rd_atom : 16);
	param.initiator_depth = 1;
	param.rnr_retry_count = 7;
	if (rdma_accept(id, &param))
		return dx_log_fail("rdma_accept", -errno);
	return 0;
}

static void conn_request(struct dxd *d, struct rdma_cm_id *id, const struct rdma_cm_id *listen_id)
{
	struct dx_conn *c;
	char peer[64];
	int ret;

	const char *refusal = NULL;

	d->listener->conn_requests++;
	dx_sockaddr_str(rdma_get_peer_addr(id), peer, sizeof(peer));
	if (d->stopping)
		refusal = "shutting down";
	else if (listen_id != d->listener->id)
		refusal = "a reload moved the listen address";
	else if ((int64_t)d->n_conns >= d->cfg->max_clients)
		refusal = "limits.max_clients reached";
	else if ((int64_t)conns_from(d, rdma_get_peer_addr(id)) >= d->cfg->max_conns_per_addr)
		refusal = "limits.max_connections_per_address reached";
	else if (!acl_allows_any(d, rdma_get_peer_addr(id)))
		refusal = "no export's acl admits this address";
	else if (dx_ban_left_ms(d, rdma_get_peer_addr(id)) > 0)
		refusal = "the host is banned (daxrdmactl evict --ban)";
	if (refusal) {
		log_notice("connection from %s refused: %s", peer, refusal);
		goto reject;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto reject;
	c->d = d;
	c->cm = id;
	c->listener = d->listener;
	c->listener->n_conns++;
	c->id = ++d->next_conn_id;
	memcpy(&c->peer_addr, rdma_get_peer_addr(id), sizeof(c->peer_addr));
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	TAILQ_INIT(&c->layouts);
	TAILQ_INIT(&c->recall_queue);
	TAILQ_INIT(&c->recalls_sent);
	TAILQ_INIT(&c->handles);
	clock_gettime(CLOCK_MONOTONIC, &c->since);
	id->context = c;
	TAILQ_INSERT_TAIL(&d->conns, c, link);
	d->n_conns++;
	ret = conn_setup(c);
	if (ret) {
		log_err("connection from %s: setup failed: %s", peer, strerror(-ret));
		c->state = CONN_CLOSING;
		rdma_reject(id, NULL, 0);
		conn_destroy(c);
		d->listener->conn_rejected++;
		return;
	}
	/* HELLO is due within the deadline of the connection request, whether
	 * or not the handshake ever completes. */
	arm_timer(c, DX_HELLO_TIMEOUT_MS);
	log_info("client %llu (%s): connecting", (unsigned long long)c->id, peer);
	return;

reject:
	d->listener->conn_rejected++;
	if (rdma_reject(id, NULL, 0))
		dx_log_fail("rdma_reject", -errno);
	rdma_destroy_id(id);
}

void dx_conn_cm_event(struct dxd *d, struct rdma_cm_event *ev)
{
	enum rdma_cm_event_type type = ev->event;
	struct rdma_cm_id *id = ev->id, *listen_id = ev->listen_id;
	struct dx_conn *c = id->context;

	rdma_ack_cm_event(ev);
	if (type == RDMA_CM_EVENT_CONNECT_REQUEST) {
		conn_request(d, id, listen_id);
		return;
	}
	if (!c)
		return;
	switch (type) {
	case RDMA_CM_EVENT_ESTABLISHED:
		if (c->state == CONN_ACCEPTING)
			c->state = CONN_HELLO; /* the HELLO deadline runs since the request */
		log_info("client %llu (%s): connected", (unsigned long long)c->id, c->peer);
		dxd_notify_status(d);
		break;
	case RDMA_CM_EVENT_DISCONNECTED:
	case RDMA_CM_EVENT_CONNECT_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
	case RDMA_CM_EVENT_REJECTED:
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		dx_conn_close(c, 0, false, type == RDMA_CM_EVENT_DISCONNECTED ? "disconnected" : rdma_event_str(type));
		conn_destroy(c);
		break;
	default:
		log_debug("client %llu: rdma_cm event %s", (unsigned long long)c->id, rdma_event_str(type));
		break;
	}
}

static bool holds_anything(const struct dx_conn *c)
{
	const struct dx_layout *l;

	TAILQ_FOREACH(l, &c->layouts, by_conn)
		if (dx_layout_busy(l))
			return true;
	return false;
}

void dx_conns_drain(struct dxd *d, struct dx_listener *old)
{
	struct dx_conn *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &d->conns, link) {
		if (c->listener != old || c->state == CONN_CLOSING)
			continue;
		c->draining = true;
		n++;
		recall_for_reload(c, NULL, false);
	}
	if (n)
		log_notice("reload: the listen address moved from %s; recalling the layouts of %zu client%s there",
			   old->addr, n, n == 1 ? "" : "s");
	dx_conns_drain_check(d);
}

void dx_conns_drain_check(struct dxd *d)
{
	struct dx_conn *c;

	TAILQ_FOREACH(c, &d->conns, link)
		if (c->draining && c->state != CONN_CLOSING && !holds_anything(c))
			dx_conn_close(c, 0, true, "a reload moved the listen address");
	if (d->retired && d->retired->n_conns == 0) {
		log_info("the listener on %s is closed: its last client went", d->retired->addr);
		dx_listener_free(&d->retired);
	}
}

void dx_conns_destroy_of(struct dxd *d, const struct dx_listener *l)
{
	struct dx_conn *c, *tmp;

	TAILQ_FOREACH_SAFE(c, &d->conns, link, tmp) {
		if (l && c->listener != l)
			continue;
		dx_conn_close(c, 0, true, l ? "a reload moved the listen address again" : "daemon stopping");
		conn_destroy(c); /* takes C off the list, nothing else */
	}
}

void dx_conns_destroy_all(struct dxd *d)
{
	dx_conns_destroy_of(d, NULL);
}

struct dx_conn *dx_conn_find(struct dxd *d, const char *id_or_addr)
{
	struct dx_conn *c;
	char *end;
	unsigned long long id = strtoull(id_or_addr, &end, 10);

	TAILQ_FOREACH(c, &d->conns, link) {
		if (*id_or_addr && *end == '\0' && c->id == id)
			return c;
		if (strcmp(c->peer, id_or_addr) == 0)
			return c;
	}
	return NULL;
}
