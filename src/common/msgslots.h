/*
 * The registered message buffers of one RC QP, shared by daxrdmad and the
 * client library: N_RECV receive slots, then send slots, each DXP_MAX_MSG
 * bytes, in one MR. Control messages are SEND/RECV; a send slot is taken
 * when a message is posted and given back by its completion.
 *
 * Only every signal_every-th SEND asks for a completion: a completion means
 * that every SEND before it on the QP is done too, so it gives all their
 * slots back, and a sender wakes once per signal_every messages instead of
 * once per message. Up to signal_every - 1 done slots may wait for the next
 * signalled one, so there are N_SEND + signal_every send slots, and the
 * QP's send queue needs dx_msgslots_sq_depth(N_SEND) entries for them.
 *
 * Work request ids: a receive's wr_id is its slot; a send's is
 * DX_WR_SEND | slot. Callers may use the other high bits for their own work.
 */
#ifndef DX_MSGSLOTS_H
#define DX_MSGSLOTS_H

#include <infiniband/verbs.h>
#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

#define DX_WR_SEND (1ull << 32)
#define DX_WR_SLOT(wr_id) ((unsigned int)((wr_id) & 0xffff))

struct dx_msgslots {
	uint8_t *bufs;
	struct ibv_mr *mr;
	unsigned int n_recv, n_send;     /* n_send: all send slots, the reserve included */
	unsigned int n_free;
	uint16_t *free;                  /* stack of free send slots */
	uint16_t *posted;                /* ring of send slots in flight, in posting order */
	unsigned int head, n_posted;
	unsigned int signal_every, unsignaled;
};

/* Send queue entries that N_SEND messages in flight need. */
static inline unsigned int dx_msgslots_sq_depth(unsigned int n_send)
{
	return n_send + (n_send / 4 ? n_send / 4 : 1);
}

/* Allocate and register N_RECV receive slots and room for N_SEND messages in
 * flight on PD. 0 or -errno; the caller logs (the client library has its own
 * log callback). */
int dx_msgslots_init(struct dx_msgslots *s, struct ibv_pd *pd, unsigned int n_recv, unsigned int n_send);
/* Deregister and free. -errno if ibv_dereg_mr failed: then the buffers are
 * left allocated (the NIC may still write them); the caller logs. */
int dx_msgslots_fini(struct dx_msgslots *s);

static inline uint8_t *dx_msgslots_buf(const struct dx_msgslots *s, unsigned int slot)
{
	return s->bufs + (size_t)slot * DXP_MAX_MSG;
}

/* Post receive slot SLOT (0 <= SLOT < n_recv) on QP. 0 or -errno. */
int dx_msgslots_post_recv(struct dx_msgslots *s, struct ibv_qp *qp, unsigned int slot);

/* Encode M into a free send slot and post it signaled. -ENOBUFS when every
 * slot is in flight, the encoder's -errno, or ibv_post_send's. */
int dx_msgslots_send(struct dx_msgslots *s, struct ibv_qp *qp, const struct dxp_msg *m);

/* Post LEN raw bytes (<= DXP_MAX_MSG), for tests that play a hostile peer. */
int dx_msgslots_send_bytes(struct dx_msgslots *s, struct ibv_qp *qp, const void *bytes, size_t len);

/* A send completion (any status): its slot and those of the unsignalled
 * sends posted before it are free again. */
void dx_msgslots_sent(struct dx_msgslots *s, uint64_t wr_id);

#endif
