#include "daemon/reap.h"

#include <errno.h>
#include <event2/event.h>

#include "common/log.h"
#include "daemon/conn.h"
#include "daemon/daemon.h"
#include "daemon/layout.h"
#include "daemon/recall.h"
#include "daemon/seal.h"

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	dx_reap_now(arg);
}

int dx_reap_init(struct dxd *d)
{
	d->ev_reap = event_new(d->base, -1, 0, on_reap, d);
	if (!d->ev_reap || event_priority_set(d->ev_reap, DX_PRIO_URGENT))
		return dx_log_fail("event_new (reaper)", -ENOMEM);
	return 0;
}

void dx_reap_fini(struct dxd *d)
{
	if (d->ev_reap)
		event_free(d->ev_reap);
	d->ev_reap = NULL;
}

void dx_reap_soon(struct dxd *d)
{
	if (d->ev_reap)
		event_active(d->ev_reap, EV_TIMEOUT, 0);
}

void dx_reap_now(struct dxd *d)
{
	struct dx_layout *l, *ltmp;
	struct dx_file *f, *ftmp;

	TAILQ_FOREACH_SAFE(f, &d->files, link, ftmp) {
		TAILQ_FOREACH_SAFE(l, &f->layouts, by_file, ltmp)
			if (dx_layout_dead(l) && TAILQ_EMPTY(&l->jobs) && dx_layout_rkey_dead(l))
				dx_layout_free(l);
		dx_file_settle(f); /* may free F */
	}
	dx_conns_drain_check(d);
	dx_recall_check_stop(d);
}
