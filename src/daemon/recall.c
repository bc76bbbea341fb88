#include "daemon/recall.h"

#include <errno.h>
#include <stdlib.h>
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

/*
 * One recall: what one message asks of one client. With FILE_RECALL it is
 * every layout the client holds through one handle on the range; without it
 * (a client that did not ask for the feature) a single layout.
 */
struct dx_recall {
	TAILQ_ENTRY(dx_recall) link;     /* in c->recall_queue, then c->recalls_sent */
	/* cppcheck-suppress unusedStructMember ; used through the TAILQ macros */
	TAILQ_HEAD(dx_recall_layouts, dx_layout) layouts; /* not returned yet */
	unsigned int n;
	struct dx_conn *c;
	struct dx_file *f;
	uint64_t id;                     /* FILE_RECALL's recall_id; 0 for a LAYOUT_RECALL */
	uint64_t fh, off, len, max_id;
	uint32_t reason;
	uint64_t gen;                    /* the recall_file() call that made it */
	int64_t from_ms;                 /* its deadline counts from here; 0: from its sending */
	bool sent;
	struct event *ev_deadline;
};

static uint64_t recall_gen;

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct dx_recall *rc = arg;
	struct dx_layout *l = TAILQ_FIRST(&rc->layouts);
	char why[200];

	snprintf(why, sizeof(why), "%u layout%s of %s/%s (layout %llu%s) not returned within recall_timeout_ms = %lld",
		 rc->n, rc->n == 1 ? "" : "s", rc->f->export_name, rc->f->relpath, (unsigned long long)l->id,
		 rc->n == 1 ? "" : ", ...", (long long)rc->c->d->cfg->recall_timeout_ms);
	dx_conn_fence(rc->c, why); /* its layouts are FENCED now, RC is gone; the reaper frees them */
}

/*
 * When RC's client must have answered: recall_timeout_ms after the recall
 * started (for a lease break, when the kernel signalled it), or, for a
 * recall that had to wait for one of the client's recall credits, after it
 * was sent: waiting in our queue costs the client nothing. Never past the
 * file's lease bound, though, which its own timer enforces for queued
 * recalls too (seal.c): the client is told what is left of it.
 */
static int64_t deadline_of(const struct dx_recall *rc, int64_t now)
{
	int64_t at = (rc->from_ms ? rc->from_ms : now) + rc->c->d->cfg->recall_timeout_ms, last;

	if (rc->f->lease != LEASE_BREAKING)
		return at;
	last = dx_lease_bound_ms(rc->f);
	return at < last ? at : last;
}

static int send_recall(struct dx_recall *rc)
{
	struct dx_conn *c = rc->c;
	int64_t now = dx_now_ms(), ms = deadline_of(rc, now) - now;
	struct timeval tv = { 0, 0 };
	struct dx_layout *l;
	struct dxp_msg m;

	TAILQ_REMOVE(&c->recall_queue, rc, link);
	c->recalls_queued--;
	TAILQ_INSERT_TAIL(&c->recalls_sent, rc, link);
	rc->sent = true;
	c->recalls_outstanding++;
	c->recalls++;
	TAILQ_FOREACH(l, &rc->layouts, rc_link)
		dx_layout_set_state(l, LAYOUT_RECALL_SENT);
	l = TAILQ_FIRST(&rc->layouts);
	if (ms > 0)
		tv = (struct timeval){ .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	rc->ev_deadline = evtimer_new(c->d->base, on_deadline, rc);
	if (!rc->ev_deadline || event_priority_set(rc->ev_deadline, DX_PRIO_URGENT) ||
	    evtimer_add(rc->ev_deadline, &tv))
		return -ENOMEM; /* without a deadline it could wait forever: the caller fences */
	log_info("recalling %u layout%s (%s/%s [%llu, +%llu)%s) from client %llu (%s): %s, %lld ms", rc->n,
		 rc->n == 1 ? "" : "s", rc->f->export_name, rc->f->relpath, (unsigned long long)rc->off,
		 (unsigned long long)rc->len, rc->id ? ", one FILE_RECALL" : "", (unsigned long long)c->id, c->peer,
		 dx_recall_reason_name(rc->reason), (long long)(ms > 0 ? ms : 0));
	memset(&m, 0, sizeof(m));
	if (rc->id) {
		m.hdr.op = DXP_FILE_RECALL;
		m.u.frecall = (struct dxp_file_recall){
			.recall_id = rc->id, .fh = rc->fh, .off = rc->off, .len = rc->len, .max_id = rc->max_id,
			.reason = rc->reason, .timeout_ms = (uint32_t)(ms > 0 ? ms : 0), .count = rc->n,
		};
	} else {
		m.hdr.op = DXP_LAYOUT_RECALL;
		m.u.recall.stateid.id = l->id;
		m.u.recall.stateid.seq = l->seq;
		m.u.recall.off = l->off;
		m.u.recall.len = l->len;
		m.u.recall.reason = rc->reason;
		m.u.recall.timeout_ms = (uint32_t)(ms > 0 ? ms : 0);
	}
	return dx_conn_send(c, &m);
}

void dx_recall_pump(struct dx_conn *c)
{
	struct dx_recall *rc;

	while (c->state != CONN_CLOSING && c->recalls_outstanding < c->recall_credits &&
	       (rc = TAILQ_FIRST(&c->recall_queue))) {
		if (send_recall(rc)) {
			dx_conn_fence(c, "cannot send a recall");
			return;
		}
	}
}

static void recall_free(struct dx_recall *rc)
{
	struct dx_conn *c = rc->c;

	if (rc->ev_deadline)
		event_free(rc->ev_deadline);
	if (rc->sent) {
		TAILQ_REMOVE(&c->recalls_sent, rc, link);
		c->recalls_outstanding--; /* the caller pumps the queue when it is done */
	} else {
		TAILQ_REMOVE(&c->recall_queue, rc, link);
		c->recalls_queued--;
	}
	free(rc);
}

void dx_recall_forget(struct dx_layout *l)
{
	struct dx_recall *rc = l->rc;

	if (!rc)
		return;
	TAILQ_REMOVE(&rc->layouts, l, rc_link);
	l->rc = NULL;
	if (--rc->n == 0)
		recall_free(rc);
}

struct dx_recall *dx_recall_find(struct dx_conn *c, uint64_t id)
{
	struct dx_recall *rc;

	TAILQ_FOREACH(rc, &c->recalls_sent, link)
		if (rc->id == id)
			return rc;
	return NULL;
}

struct dx_layout *dx_recall_first(const struct dx_recall *rc, unsigned int *n)
{
	*n = rc->n;
	return TAILQ_FIRST(&rc->layouts);
}

/* The recall of this recall_file() call (GEN) for L's handle, or a new one
 * at the end of the client's queue. NULL: out of memory. */
static struct dx_recall *recall_for(struct dx_layout *l, uint32_t reason, uint64_t gen, uint64_t off, uint64_t len)
{
	struct dx_conn *c = l->c;
	struct dx_recall *rc;

	if (c->file_recall)
		TAILQ_FOREACH_REVERSE(rc, &c->recall_queue, dx_recall_head, link) {
			if (rc->gen != gen)
				break; /* made by an earlier call */
			if (rc->fh == l->fh)
				return rc;
		}
	rc = calloc(1, sizeof(*rc));
	if (!rc)
		return NULL;
	TAILQ_INIT(&rc->layouts);
	rc->c = c;
	rc->f = l->f;
	rc->id = c->file_recall ? ++c->next_recall_id : 0;
	rc->fh = l->fh;
	rc->off = c->file_recall ? off : l->off;
	rc->len = c->file_recall ? len : l->len;
	rc->reason = reason;
	rc->gen = gen;
	/* A local process waits from the moment the kernel signalled the
	 * break; a recall that will wait for a credit counts from its sending. */
	if (c->recalls_outstanding + c->recalls_queued < c->recall_credits)
		rc->from_ms = l->f->lease == LEASE_BREAKING ? l->f->break_ms : dx_now_ms();
	TAILQ_INSERT_TAIL(&c->recall_queue, rc, link);
	c->recalls_queued++;
	return rc;
}

static void recall_one(struct dx_layout *l, uint32_t reason, uint64_t gen, uint64_t off, uint64_t len)
{
	struct dx_recall *rc;

	if (l->state == LAYOUT_GRANTING) {
		/* No rkey has left the daemon: cancel the grant (its request fails). */
		log_info("layout %llu of client %llu on %s/%s: grant cancelled (%s)", (unsigned long long)l->id,
			 (unsigned long long)l->c->id, l->f->export_name, l->f->relpath, dx_recall_reason_name(reason));
		l->recall_reason = reason;
		dx_layout_fence(l);
		return;
	}
	if (!dx_layout_recallable(l) || l->c->state == CONN_CLOSING)
		return;
	rc = recall_for(l, reason, gen, off, len);
	if (!rc) {
		dx_conn_fence(l->c, "out of memory for a recall"); /* the rkey must die all the same */
		return;
	}
	l->recall_reason = reason;
	clock_gettime(CLOCK_MONOTONIC, &l->recall_started);
	l->c->d->st.recalls++;
	log_debug("recall of layout %llu (%s/%s [%llu, +%llu) %s) from client %llu: %s", (unsigned long long)l->id,
		  l->f->export_name, l->f->relpath, (unsigned long long)l->off, (unsigned long long)l->len,
		  l->iomode == DXP_IOMODE_RW ? "RW" : "READ", (unsigned long long)l->c->id,
		  dx_recall_reason_name(reason));
	TAILQ_INSERT_TAIL(&rc->layouts, l, rc_link);
	rc->n++;
	if (l->id > rc->max_id)
		rc->max_id = l->id;
	l->rc = rc;
	dx_layout_set_state(l, LAYOUT_RECALL_QUEUED);
}

void dx_recall_layout(struct dx_layout *l, uint32_t reason)
{
	struct dx_conn *c = l->c;

	recall_one(l, reason, ++recall_gen, l->off, l->len);
	dx_recall_pump(c);
}

unsigned int dx_recall_file(struct dx_file *f, uint64_t off, uint64_t len, uint32_t reason)
{
	uint64_t gen = ++recall_gen;
	struct dx_layout *l;
	unsigned int n = 0;

	/* Fences only mark layouts (the reaper frees them): the walks are safe.
	 * First every client's recalls are made, one per handle, then sent. */
	TAILQ_FOREACH(l, &f->layouts, by_file)
		if (dx_layout_overlaps(l, off, len))
			recall_one(l, reason, gen, off, len);
	TAILQ_FOREACH(l, &f->layouts, by_file)
		if (l->rc && !l->rc->sent)
			dx_recall_pump(l->c);
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

unsigned int dx_recall_fence_file(struct dx_file *f)
{
	char why[200];
	struct dx_layout *l;
	unsigned int alive = 0;

	snprintf(why, sizeof(why), "layouts of %s/%s still out at its lease bound (%lld ms after the kernel's break)",
		 f->export_name, f->relpath, (long long)(dx_now_ms() - f->break_ms));
	/* Fences only mark layouts (the reaper frees them): the walk is safe.
	 * A returned layout still copying back is fenced alone: its client
	 * did give it back. */
	TAILQ_FOREACH(l, &f->layouts, by_file) {
		if (!dx_layout_dead(l))
			dx_conn_fence(l->c, why);
		if (l->state != LAYOUT_FENCED)
			dx_layout_fence(l);
		alive += !dx_layout_rkey_dead(l);
	}
	return alive;
}

void dx_recall_check_stop(struct dxd *d)
{
	struct timeval grace = { 0, (suseconds_t)DX_EXIT_FLUSH_MS * 1000 };

	if (!d->stopping || d->n_layouts)
		return;
	/* The answers to the last returns leave before the connections close
	 * (a disconnect flushes what the NIC has not sent yet): a probe behind
	 * them on each connection, DX_EXIT_FLUSH_MS at most for all. */
	if (!dx_conns_flush(d) || event_base_loopexit(d->base, &grace))
		event_base_loopbreak(d->base);
}
