/* The rdma_cm listener, the RDMA device it lives on and that device's PD. */
#ifndef DX_LISTENER_H
#define DX_LISTENER_H

#include <event2/event.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
#include <stdbool.h>

#include "daemon/config.h"

/* Receives every rdma_cm event but the listener's own; owns (acks) EV. */
typedef void (*dx_cm_handler)(void *arg, struct rdma_cm_event *ev);

struct dx_listener {
	struct rdma_event_channel *ec; /* also the channel of its connections */
	struct rdma_cm_id *id;
	struct event *ev;
	struct ibv_context **devlist; /* from rdma_get_devices(), kept for a wildcard bind only */
	struct ibv_context *verbs;    /* the device MRs are probed on */
	struct ibv_pd *pd;            /* for export probes only: every client has its own */
	bool odp_rc;                  /* RC ODP with READ and WRITE */
	char addr[64];                /* "192.168.100.1:20049" */
	dx_cm_handler handler;
	void *handler_arg;
	/* The device was removed: the id, PD and device list are gone (the
	 * channel stays for its connections' events) and ON_LOST was called. */
	bool lost;
	void (*on_lost)(void *handler_arg);
	bool held;                    /* a reload's thread probes on it (dx_listener_hold) */
	bool removed;                 /* ... and the device was removed meanwhile */
	char devname[64];
	uint64_t conn_requests;
	uint64_t conn_rejected;
	unsigned int n_conns;         /* connections that came through it and are not destroyed */
};

/* Bind and listen on CFG's address; -ENODEV when there is no RDMA device.
 * QUIET: failures are logged at debug level (a retry after a device loss). */
int dx_listener_new(struct event_base *base, const struct dx_config *cfg, dx_cm_handler handler,
		    void *handler_arg, bool quiet, struct dx_listener **out);
void dx_listener_free(struct dx_listener **lp);
/* Another thread uses L's device and PD (a reload probing exports) until
 * dx_listener_release(): a removal of the device meanwhile is handled
 * (the device let go, ON_LOST called) only then. */
void dx_listener_hold(struct dx_listener *l);
void dx_listener_release(struct dx_listener *l);
const char *dx_listener_devname(const struct dx_listener *l);

#endif
