#include "daemon/recall.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "daemon/conn.h"
#include "daemon/daemon.h"
#include "daemon/layout.h"
#include "daemon/seal.h"

const char *dx_recall_reason_name(uint32_t reason)
{
	switch (reason) {
	case DXP_RECALL_LOCAL: return "local use";
	case DXP_RECALL_ADMIN: return "daxrdmactl recall";
	case DXP_RECALL_CONFLICT: return "conflicting request";
	case DXP_RECALL_EXPORT: return "export removed or access changed by reload";
	case DXP_RECALL_SHUTDOWN: return "shutdown";
	}
	return "?";
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct dx_layout *l = arg;
	char why[160];

	snprintf(why, sizeof(why), "layout %llu of %s/%s not returned within recall_timeout_ms = %lld",
		 (unsigned long long)l->id, l->f->export_name, l->f->relpath,
		 (long long)l->c->d->cfg->recall_timeout_ms);
	dx_conn_fence(l->c, why); /* L is FENCED now; the reaper frees it */
}

/*
 * When L's client must have answered: recall_timeout_ms after the recall
 * started (for a lease break, when the kernel signalled it), or, for a
 * recall that had to wait for one of the client's recall credits, after it
 * was sent: waiting in our queue costs the client nothing. Never past the
 * lease's own bound, though: the kernel takes a broken lease back
 * lease-break-time after its signal, and everything on the file is fenced
 * before that, whatever a slow client still owes.
 */
static int64_t deadline_of(const struct dx_layout *l, int64_t now)
{
	const struct dxd *d = l->c->d;
	int64_t at = (l->recall_from_ms ? l->recall_from_ms : now) + d->cfg->recall_timeout_ms, last;

	if (l->f->lease != LEASE_BREAKING)
		return at;
	last = (int64_t)d->lease_break_time_s * 1000 - DX_LEASE_MARGIN_MS;
	if (last < d->cfg->recall_timeout_ms)
		last = d->cfg->recall_timeout_ms;
	last += l->f->break_ms;
	return at < last ? at : last;
}

static int send_recall(struct dx_layout *l)
{
	int64_t now = dx_now_ms(), ms = deadline_of(l, now) - now;
	struct timeval tv = { 0, 0 };
	struct dxp_msg m;

	dx_layout_set_state(l, LAYOUT_RECALL_SENT);
	l->c->recalls_outstanding++;
	l->c->recalls++;
	if (ms > 0)
		tv = (struct timeval){ .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	l->ev_deadline = evtimer_new(l->c->d->base, on_deadline, l);
	if (!l->ev_deadline || event_priority_set(l->ev_deadline, DX_PRIO_URGENT) ||
	    evtimer_add(l->ev_deadline, &tv))
		return -ENOMEM; /* without a deadline it could wait forever: the caller fences */
	memset(&m, 0, sizeof(m));
	m.hdr.op = DXP_LAYOUT_RECALL;
	m.u.recall.stateid.id = l->id;
	m.u.recall.stateid.seq = l->seq;
	m.u.recall.off = l->off;
	m.u.recall.len = l->len;
	m.u.recall.reason = l->recall_reason;
	m.u.recall.timeout_ms = (uint32_t)(ms > 0 ? ms : 0);
	return dx_conn_send(l->c, &m);
}

void dx_recall_pump(struct dx_conn *c)
{
	struct dx_layout *l;

	while (c->state != CONN_CLOSING && c->recalls_outstanding < c->recall_credits &&
	       (l = TAILQ_FIRST(&c->recall_queue))) {
		TAILQ_REMOVE(&c->recall_queue, l, recall_q);
		if (send_recall(l)) {
			dx_conn_fence(c, "cannot send LAYOUT_RECALL");
			return;
		}
	}
}

void dx_recall_forget(struct dx_layout *l)
{
	if (l->ev_deadline) {
		event_free(l->ev_deadline);
		l->ev_deadline = NULL;
	}
	if (l->state == LAYOUT_RECALL_QUEUED)
		TAILQ_REMOVE(&l->c->recall_queue, l, recall_q);
	if (l->state == LAYOUT_RECALL_SENT && l->c->recalls_outstanding)
		l->c->recalls_outstanding--; /* the caller pumps the queue when it is done */
}

void dx_recall_layout(struct dx_layout *l, uint32_t reason)
{
	if (l->state == LAYOUT_GRANTING) {
		/* No rkey has left the daemon: cancel the grant (its request fails). */
		log_info("layout %llu of client %llu on %s/%s: grant cancelled (%s)", (unsigned long long)l->id,
			 (unsigned long long)l->c->id, l->f->export_name, l->f->relpath, dx_recall_reason_name(reason));
		l->recall_reason = reason;
		dx_layout_fence(l);
		return;
	}
	if (!dx_layout_recallable(l))
		return;
	l->recall_reason = reason;
	clock_gettime(CLOCK_MONOTONIC, &l->recall_started);
	l->c->d->st.recalls++;
	log_info("recalling layout %llu (%s/%s [%llu, +%llu) %s) from client %llu (%s): %s",
		 (unsigned long long)l->id, l->f->export_name, l->f->relpath, (unsigned long long)l->off,
		 (unsigned long long)l->len, l->iomode == DXP_IOMODE_RW ? "RW" : "READ",
		 (unsigned long long)l->c->id, l->c->peer, dx_recall_reason_name(reason));
	/* A local process waits from the moment the kernel signalled the break. */
	l->recall_from_ms = l->f->lease == LEASE_BREAKING ? l->f->break_ms : dx_now_ms();
	dx_layout_set_state(l, LAYOUT_RECALL_QUEUED);
	TAILQ_INSERT_TAIL(&l->c->recall_queue, l, recall_q);
	dx_recall_pump(l->c);
	if (l->state == LAYOUT_RECALL_QUEUED)
		l->recall_from_ms = 0; /* behind the client's credits: counted from its sending */
}

unsigned int dx_recall_file(struct dx_file *f, uint64_t off, uint64_t len, uint32_t reason)
{
	struct dx_layout *l;
	unsigned int n = 0;

	/* Fences only mark layouts (the reaper frees them): the walk is safe. */
	TAILQ_FOREACH(l, &f->layouts, by_file)
		if (dx_layout_overlaps(l, off, len))
			dx_recall_layout(l, reason);
	TAILQ_FOREACH(l, &f->layouts, by_file)
		if (dx_layout_overlaps(l, off, len) && dx_layout_busy(l))
			n++;
	return n;
}

unsigned int dx_recall_all(struct dxd *d, uint32_t reason)
{
	struct dx_file *f;
	unsigned int n = 0;

	TAILQ_FOREACH(f, &d->files, link)
		n += dx_recall_file(f, 0, UINT64_MAX, reason);
	return n;
}

void dx_recall_check_stop(struct dxd *d)
{
	if (d->stopping && d->n_layouts == 0)
		event_base_loopbreak(d->base);
}
