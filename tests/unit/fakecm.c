/*
 * The client's side of rdma_cm on the fake device (fakecm.h): an event
 * channel whose fd is readable while events wait, ids that are fake peers
 * (fakeverbs.h: their QPs are the fake device's), and address, route and
 * connection steps answered at once, the connection as the scripted daemon
 * decides.
 */
#include "fakecm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define FV_EVENTS_MAX 16u
#define FV_IDS_MAX 64u

struct fv_echan {
	struct rdma_event_channel ch; /* first */
	struct { enum rdma_cm_event_type type; struct rdma_cm_id *id; } ev[FV_EVENTS_MAX];
	unsigned int head, n;
	struct rdma_cm_event cur;     /* the one handed out */
};

static fv_connect_fn *connect_hook;
static void *connect_arg;
static struct fv_peer *ids[FV_IDS_MAX];
static unsigned int n_ids;

void fv_set_connect_hook(fv_connect_fn *fn, void *arg)
{
	connect_hook = fn;
	connect_arg = arg;
}

struct rdma_event_channel *rdma_create_event_channel(void)
{
	struct fv_echan *e = calloc(1, sizeof(*e));

	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	e->ch.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
	if (e->ch.fd < 0) {
		free(e);
		return NULL;
	}
	return &e->ch;
}

void rdma_destroy_event_channel(struct rdma_event_channel *ch)
{
	close(ch->fd);
	free(ch);
}

void fv_cm_push(struct rdma_cm_id *id, enum rdma_cm_event_type type)
{
	struct fv_echan *e = (struct fv_echan *)id->channel;
	uint64_t one = 1;

	if (e->n == FV_EVENTS_MAX)
		abort(); /* the test pushed more than a client ever waits for */
	e->ev[(e->head + e->n) % FV_EVENTS_MAX].type = type;
	e->ev[(e->head + e->n) % FV_EVENTS_MAX].id = id;
	e->n++;
	if (write(e->ch.fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		abort(); /* an eventfd takes every write */
}

int rdma_get_cm_event(struct rdma_event_channel *ch, struct rdma_cm_event **event)
{
	struct fv_echan *e = (struct fv_echan *)ch;
	uint64_t one;

	if (!e->n) {
		errno = EAGAIN;
		return -1;
	}
	if (read(e->ch.fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		abort(); /* one count per event */
	e->cur = (struct rdma_cm_event){ .event = e->ev[e->head].type, .id = e->ev[e->head].id };
	e->head = (e->head + 1) % FV_EVENTS_MAX;
	e->n--;
	*event = &e->cur;
	return 0;
}

int rdma_create_id(struct rdma_event_channel *ch, struct rdma_cm_id **id, void *context, enum rdma_port_space ps)
{
	struct fv_peer *p;

	if (n_ids == FV_IDS_MAX) {
		errno = ENOMEM;
		return -1;
	}
	p = fv_peer_new(0xc0000201); /* 192.0.2.1: the daemon, as the client sees it */
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	ids[n_ids++] = p;
	*id = fv_peer_id(p);
	(*id)->channel = ch;
	(*id)->context = context;
	(*id)->ps = ps;
	return 0;
}

struct fv_peer *fv_cm_peer(const struct rdma_cm_id *id)
{
	for (unsigned int i = 0; i < n_ids; i++)
		if (fv_peer_id(ids[i]) == id)
			return ids[i];
	return NULL;
}

void fv_cm_free_all(void)
{
	while (n_ids)
		fv_peer_free(ids[--n_ids]);
}

int rdma_resolve_addr(struct rdma_cm_id *id, struct sockaddr *src, struct sockaddr *dst, int timeout_ms)
{
	fv_cm_push(id, RDMA_CM_EVENT_ADDR_RESOLVED);
	return 0;
}

int rdma_resolve_route(struct rdma_cm_id *id, int timeout_ms)
{
	fv_cm_push(id, RDMA_CM_EVENT_ROUTE_RESOLVED);
	return 0;
}

int rdma_connect(struct rdma_cm_id *id, struct rdma_conn_param *param)
{
	bool accept = !connect_hook || connect_hook(fv_cm_peer(id), connect_arg) == 0;

	fv_cm_push(id, accept ? RDMA_CM_EVENT_ESTABLISHED : RDMA_CM_EVENT_REJECTED);
	return 0;
}

/* One device, for dx_rdma_devices_sync(). */
struct ibv_context **rdma_get_devices(int *num_devices)
{
	struct ibv_context **list = calloc(2, sizeof(*list));

	if (list)
		list[0] = fv_device();
	if (num_devices)
		*num_devices = list ? 1 : 0;
	return list;
}

void rdma_free_devices(struct ibv_context **list)
{
	free(list);
}
