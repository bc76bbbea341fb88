/*
 * An RC QP connected to itself on one port of a device: the daemon's ODP
 * self-test and the memory-window benchmark RDMA through it without a peer.
 */
#ifndef DX_LOOPQP_H
#define DX_LOOPQP_H

#include <infiniband/verbs.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dx_loopqp {
	struct ibv_cq *cq;
	struct ibv_qp *qp;
};

/*
 * A CQ of CQ_DEPTH entries and an RC QP of SQ_DEPTH send entries on PD,
 * connected to itself on PORT through the GID of LOCAL (the address the
 * device serves). 0, or -errno with WHY set.
 */
int dx_loopqp_new(struct ibv_pd *pd, uint8_t port, const struct sockaddr *local, unsigned int sq_depth,
		  unsigned int cq_depth, struct dx_loopqp *out, char *why, size_t whylen);
void dx_loopqp_free(struct dx_loopqp *lq);
/* Wait up to DEADLINE_MS for one completion into *WC: 1, 0 at the deadline,
 * or -errno. */
int dx_loopqp_wait(struct dx_loopqp *lq, int deadline_ms, struct ibv_wc *wc);

#endif
