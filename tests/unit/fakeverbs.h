/*
 * Fake verbs and rdma_cm under the daemon's real code, for the unit tests
 * and the stateful fuzzer (as librpma's mocks-ibverbs): link-time
 * definitions of the library calls the daemon makes, and one fake device
 * whose context ops (poll_cq, req_notify_cq, post_send, post_recv, inline
 * calls in verbs.h) run a fake CQ, completion channel and QP per peer.
 *
 * A peer is one client's end of a connection. The test makes its
 * rdma_cm_id, hands the daemon CONNECT_REQUEST and the other events, and
 * delivers request bytes into the receive slots the daemon posted: the
 * daemon reads them through its completion channel and CQ, as from a NIC.
 * Every message the daemon sends is decoded and handed to the sent hook;
 * its completion arrives unless the peer is muted (a host gone silent). A
 * QP moved to the error state flushes its receives and completes every
 * later send with a flush error, as a real one does.
 */
#ifndef DX_FAKEVERBS_H
#define DX_FAKEVERBS_H

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

struct dxd;

/* What the daemon did to verbs objects, in order (the first 256 calls). */
enum fv_call { FV_REG, FV_DEREG, FV_QP_ERR, FV_QP_DESTROY, FV_DISCONNECT };
extern enum fv_call fv_calls[256];
extern unsigned int fv_n_calls;
/* Called at each of those calls, as it is made (NULL: none): what a test
 * wants to know at that moment, such as whether a lease is still held. */
extern void (*fv_on_call)(enum fv_call c);
/* Failures to inject: the next N ibv_dereg_mr of an MR with remote access
 * (EBUSY), ibv_modify_qp (EIO), ibv_destroy_qp (EBUSY). */
extern unsigned int fv_fail_dereg, fv_fail_modify_qp, fv_fail_destroy_qp;

/* The fake device: the context of every peer's id, CQ and QP. */
struct ibv_context *fv_device(void);

/* MRs registered and not deregistered (with remote access only, if
 * REMOTE_ONLY: those whose rkey works): call FN on each; how many. */
unsigned int fv_mrs_live(bool remote_only, void (*fn)(struct ibv_mr *mr, void *arg), void *arg);

struct fv_peer;
/* The daemon sent M (decoded; its strings point into the peer's copy, valid
 * during the call) to P. Malformed bytes are a daemon bug: the hook gets
 * NULL. */
typedef void fv_sent_fn(struct fv_peer *p, const struct dxp_msg *m, void *arg);
void fv_set_sent_hook(fv_sent_fn *fn, void *arg);

/* A new peer from IPv4 address ADDR (host order); its id's context is
 * whatever the daemon sets. NULL on out of memory. */
struct fv_peer *fv_peer_new(uint32_t addr);
struct rdma_cm_id *fv_peer_id(struct fv_peer *p);
/* The daemon called rdma_destroy_id on it. */
bool fv_peer_destroyed(const struct fv_peer *p);
/* Free P once the daemon is done with it (destroyed, or never connected). */
void fv_peer_free(struct fv_peer *p);
/* Deliver LEN bytes into the oldest receive slot P's QP has posted: 0, or
 * -ENOBUFS (none posted: a real sender would see RNR), -ENOTCONN (no QP, or
 * in error). Larger than the slot: a local length error, as on a NIC. */
int fv_peer_deliver(struct fv_peer *p, const void *bytes, size_t len);
/* rdma_cm's event TYPE for P's id, handed to the daemon D as its listener's
 * channel would (CONNECT_REQUEST names D's listener's id). In fakedaemon.c,
 * which is linked with the daemon's modules only. */
void fv_cm_event(struct dxd *d, struct fv_peer *p, enum rdma_cm_event_type type);
/*
 * The NIC's side of an RDMA WRITE or READ that P's QP posted (WR: its
 * opcode, one local sge, remote address and rkey): the hook moves the bytes
 * and returns the completion's status (an error moves the QP to the error
 * state, as on a NIC), or FV_RDMA_HOLD to keep the request posted, as a
 * stalled responder does, until fv_peer_release() runs it: then it reads
 * or writes the local buffer as it is at that time. A QP moved to the error
 * state flushes what it holds, a destroyed one drops it. Without a hook
 * every request completes at once and moves nothing.
 */
#define FV_RDMA_HOLD (-1)
typedef int fv_rdma_fn(struct fv_peer *p, const struct ibv_send_wr *wr, void *arg);
void fv_set_rdma_hook(fv_rdma_fn *fn, void *arg);
/* Run what P holds, oldest first (the hook may not hold it again): how many. */
unsigned int fv_peer_release(struct fv_peer *p);
unsigned int fv_peer_held(const struct fv_peer *p);
/* Called after each receive the daemon (or client) posts on P's QP: a
 * peer that floods delivers the next message from here. */
typedef void fv_recv_fn(const struct fv_peer *p, void *arg);
void fv_set_recv_hook(fv_recv_fn *fn, void *arg);
/* A muted peer completes nothing: no send, no keepalive is acknowledged. */
void fv_peer_mute(struct fv_peer *p, bool muted);
/* Completions waiting in P's CQ that the daemon has not polled yet. */
unsigned int fv_peer_cq_depth(const struct fv_peer *p);

#endif
