#include "daemon/listener.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/net.h"

/* Let go of the device (removed, or at the end): the kernel finishes
 * removing it only when nothing holds it. Connections' events still come
 * through the channel. */
static void lose_device(struct dx_listener *l)
{
	l->lost = true;
	if (l->pd)
		ibv_dealloc_pd(l->pd);
	if (l->id)
		rdma_destroy_id(l->id);
	if (l->devlist)
		rdma_free_devices(l->devlist);
	l->pd = NULL;
	l->id = NULL;
	l->devlist = NULL;
	l->verbs = NULL;
}

static void listener_on_cm_event(evutil_socket_t fd, short what, void *arg)
{
	struct dx_listener *l = arg;
	struct rdma_cm_event *ev;

	if (rdma_get_cm_event(l->ec, &ev)) {
		if (errno != EAGAIN)
			dx_log_fail("rdma_get_cm_event", -errno);
		return;
	}
	if (ev->id != l->id) { /* a connection request, or an event of a connection */
		l->handler(l->handler_arg, ev);
		return;
	}
	switch (ev->event) {
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		log_err("RDMA device %s was removed: not listening on %s until an RDMA device has that address again",
			l->devname, l->addr);
		rdma_ack_cm_event(ev);
		l->removed = true;
		if (!l->held)
			dx_listener_release(l);
		return;
	default:
		log_debug("rdma_cm event %s on the listener", rdma_event_str(ev->event));
		break;
	}
	rdma_ack_cm_event(ev);
}

static int probe_odp(struct dx_listener *l)
{
	struct ibv_device_attr_ex attr;
	uint32_t need = IBV_ODP_SUPPORT_READ | IBV_ODP_SUPPORT_WRITE;
	int ret;

	memset(&attr, 0, sizeof(attr));
	ret = ibv_query_device_ex(l->verbs, NULL, &attr);
	if (ret)
		return dx_log_fail("ibv_query_device_ex", -ret);
	l->odp_rc = (attr.odp_caps.general_caps & IBV_ODP_SUPPORT) &&
		    (attr.odp_caps.per_transport_caps.rc_odp_caps & need) == need;
	return 0;
}

int dx_listener_new(struct event_base *base, const struct dx_config *cfg, dx_cm_handler handler,
		    void *handler_arg, bool quiet, struct dx_listener **out)
{
	int prio = quiet ? LOG_DEBUG : LOG_ERR;
	struct sockaddr_storage ss;
	struct dx_listener *l;
	int ndev = 0, ret;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->handler = handler;
	l->handler_arg = handler_arg;
	if (dx_sockaddr_parse(cfg->listen_address, (uint16_t)cfg->listen_port, &ss)) {
		ret = -EINVAL; /* the config schema checked it */
		goto err_free;
	}
	dx_sockaddr_str((struct sockaddr *)&ss, l->addr, sizeof(l->addr));

	l->devlist = rdma_get_devices(&ndev);
	if (!l->devlist || ndev == 0) {
		dx_log(prio, "no RDMA device found: load a driver (for Soft-RoCE: modprobe rdma_rxe; "
		       "rdma link add rxe0 type rxe netdev eth0) and start daxrdmad again");
		ret = -ENODEV;
		goto err_free_devs;
	}
	l->ec = rdma_create_event_channel();
	if (!l->ec) {
		ret = dx_log_fail("rdma_create_event_channel (is rdma_ucm loaded?)", -errno);
		goto err_free_devs;
	}
	if (rdma_create_id(l->ec, &l->id, l, RDMA_PS_TCP)) {
		ret = dx_log_fail("rdma_create_id", -errno);
		goto err_destroy_ec;
	}
	if (rdma_bind_addr(l->id, (struct sockaddr *)&ss)) {
		ret = -errno;
		dx_log(prio, "rdma_bind_addr %s: %s%s", l->addr, strerror(errno),
		       ret == -EADDRNOTAVAIL || ret == -ENODEV ? " (no RDMA device has this address)" : "");
		goto err_destroy_id;
	}
	/* Connection requests the loop has not taken yet: beyond the backlog
	 * the kernel drops them and the client's CM retries, seconds later (a
	 * burst of 32 clients lost two to ETIMEDOUT at 16). Up to max_clients
	 * may wait (the kernel caps it at net.rdma_ucm.max_backlog); the loop
	 * refuses those over the limits itself. */
	if (rdma_listen(l->id, (int)cfg->max_clients)) {
		ret = dx_log_fail("rdma_listen", -errno);
		goto err_destroy_id;
	}
	/* A wildcard bind has no device; MRs are then probed on the first one,
	 * which the list keeps open. Otherwise the list goes now: librdmacm
	 * closes a removed device only when nobody holds the list, and the
	 * kernel's removal of any device waits for that. */
	if (l->id->verbs) {
		l->verbs = l->id->verbs;
		rdma_free_devices(l->devlist);
		l->devlist = NULL;
	} else {
		l->verbs = l->devlist[0];
	}
	l->pd = ibv_alloc_pd(l->verbs);
	if (!l->pd) {
		ret = dx_log_fail("ibv_alloc_pd", -errno);
		goto err_destroy_id;
	}
	ret = probe_odp(l);
	if (ret)
		goto err_dealloc_pd;
	ret = evutil_make_socket_nonblocking(l->ec->fd);
	if (ret) {
		ret = dx_log_fail("fcntl O_NONBLOCK on the rdma_cm channel", -EIO);
		goto err_dealloc_pd;
	}
	l->ev = event_new(base, l->ec->fd, EV_READ | EV_PERSIST, listener_on_cm_event, l);
	if (!l->ev || event_add(l->ev, NULL)) {
		ret = dx_log_fail("event_add (rdma_cm channel)", -ENOMEM);
		goto err_free_event;
	}
	snprintf(l->devname, sizeof(l->devname), "%s", ibv_get_device_name(l->verbs->device));
	log_info("listening on %s, device %s%s", l->addr, l->devname, l->odp_rc ? " (ODP)" : "");
	*out = l;
	return 0;

err_free_event:
	if (l->ev)
		event_free(l->ev);
err_dealloc_pd:
	ibv_dealloc_pd(l->pd);
err_destroy_id:
	rdma_destroy_id(l->id);
err_destroy_ec:
	rdma_destroy_event_channel(l->ec);
err_free_devs:
	if (l->devlist)
		rdma_free_devices(l->devlist);
err_free:
	free(l);
	return ret;
}

void dx_listener_free(struct dx_listener **lp)
{
	struct dx_listener *l = *lp;

	if (!l)
		return;
	event_free(l->ev);
	lose_device(l);
	rdma_destroy_event_channel(l->ec);
	free(l);
	*lp = NULL;
}

void dx_listener_hold(struct dx_listener *l)
{
	l->held = true;
}

void dx_listener_release(struct dx_listener *l)
{
	l->held = false;
	if (!l->removed || l->lost)
		return;
	lose_device(l); /* ON_LOST has librdmacm let it go */
	if (l->on_lost)
		l->on_lost(l->handler_arg);
}

const char *dx_listener_devname(const struct dx_listener *l)
{
	return l->devname;
}
