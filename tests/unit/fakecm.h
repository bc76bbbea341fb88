/*
 * rdma_cm for a client on the fake device (fakeverbs.h), for the client
 * library's tests and its stateful fuzzer: link-time definitions of the
 * rdma_cm calls a client makes. Each rdma_create_id() makes a fake peer
 * (its QP is the fake device's: what the client sends goes to the sent
 * hook, replies are delivered with fv_peer_deliver()); address and route
 * resolve at once, and a connect is accepted or rejected by the connect
 * hook, the scripted daemon.
 */
#ifndef DX_FAKECM_H
#define DX_FAKECM_H

#include <rdma/rdma_cma.h>

#include "fakeverbs.h"

/* The daemon's answer to P's connect: 0 accepts (ESTABLISHED), anything
 * else rejects (REJECTED). Without a hook every connect is accepted. */
typedef int fv_connect_fn(struct fv_peer *p, void *arg);
void fv_set_connect_hook(fv_connect_fn *fn, void *arg);
/* The peer behind the client's id ID (NULL: not one of ours). */
struct fv_peer *fv_cm_peer(const struct rdma_cm_id *id);
/* Queue rdma_cm's event TYPE for ID on its channel (DISCONNECTED,
 * DEVICE_REMOVAL...): the channel's fd becomes readable. */
void fv_cm_push(struct rdma_cm_id *id, enum rdma_cm_event_type type);
/* Free every peer rdma_create_id() made (after the client is deleted). */
void fv_cm_free_all(void);

#endif
