#include "daemon/work.h"

#include <errno.h>
#include <event2/event.h>

#include "common/clock.h"
#include "common/log.h"
#include "daemon/daemon.h"

/* Urgent items first, else the head; the one run goes to the back, so
 * items of equal urgency share the turns. */
static struct dx_work *pick(struct dx_workq *q)
{
	struct dx_work *w;

	TAILQ_FOREACH(w, &q->items, link)
		if (w->ops->urgent && w->ops->urgent(w))
			return w;
	return TAILQ_FIRST(&q->items);
}

static void finish(struct dx_workq *q, struct dx_work *w, int result)
{
	TAILQ_REMOVE(&q->items, w, link);
	q->n--;
	w->ops->done(w, result);
}

/* One turn: slices, in turn among the items, for up to DX_WORK_TURN_US;
 * then the loop looks at everything else before the next turn. */
static void on_turn(evutil_socket_t fd, short what, void *arg)
{
	struct dxd *d = arg;
	struct dx_workq *q = &d->work;
	int64_t until = dx_now_us() + DX_WORK_TURN_US;
	struct dx_work *w;
	int ret;

	while ((w = pick(q))) {
		ret = w->ops->step(w);
		if (ret <= 0) {
			finish(q, w, ret);
		} else {
			TAILQ_REMOVE(&q->items, w, link);
			TAILQ_INSERT_TAIL(&q->items, w, link);
		}
		if (dx_now_us() >= until)
			break;
	}
	if (!TAILQ_EMPTY(&q->items))
		event_active(q->ev, EV_TIMEOUT, 0);
}

int dx_workq_init(struct dxd *d)
{
	struct dx_workq *q = &d->work;

	TAILQ_INIT(&q->items);
	q->ev = event_new(d->base, -1, 0, on_turn, d);
	if (!q->ev || event_priority_set(q->ev, DX_PRIO_BACKGROUND))
		return dx_log_fail("event_new (background work)", -ENOMEM);
	return 0;
}

void dx_workq_fini(struct dxd *d)
{
	struct dx_workq *q = &d->work;
	struct dx_work *w;

	while ((w = TAILQ_FIRST(&q->items)))
		finish(q, w, -ECANCELED);
	if (q->ev)
		event_free(q->ev);
	q->ev = NULL;
}

void dx_workq_drain(struct dxd *d)
{
	struct dx_workq *q = &d->work;
	struct dx_work *w;
	int ret;

	while ((w = TAILQ_FIRST(&q->items))) {
		do
			ret = w->ops->step(w);
		while (ret > 0);
		finish(q, w, ret);
	}
}

void dx_work_queue(struct dxd *d, struct dx_work *w)
{
	struct dx_workq *q = &d->work;

	TAILQ_INSERT_TAIL(&q->items, w, link);
	q->n++;
	event_active(q->ev, EV_TIMEOUT, 0);
}

void dx_work_run_small(struct dxd *d, struct dx_work *w)
{
	int ret = 1;

	for (int i = 0; i < DX_WORK_INLINE_STEPS && ret > 0; i++)
		ret = w->ops->step(w);
	if (ret > 0)
		dx_work_queue(d, w); /* what is left waits its turns */
	else
		w->ops->done(w, ret);
}

void dx_work_cancel(struct dxd *d, struct dx_work *w)
{
	finish(&d->work, w, -ECANCELED);
}
