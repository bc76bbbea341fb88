/* The daemon's side of the fake verbs (fakeverbs.h): what needs the daemon's
 * modules, linked only with them. */
#include "fakeverbs.h"

#include "daemon/conn.h"
#include "daemon/daemon.h"

void fv_cm_event(struct dxd *d, struct fv_peer *p, enum rdma_cm_event_type type)
{
	struct rdma_cm_event ev = { .event = type, .id = fv_peer_id(p), .listen_id = d->listener->id };

	dx_conn_cm_event(d, &ev);
}

/* main.c's, which is not in the daemon library: STATUS= for systemd. */
void dxd_notify_status(struct dxd *d)
{
}
