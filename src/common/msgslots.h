/*
 * The registered message buffers of one RC QP, shared by daxrdmad and the
 * client library: N_RECV receive slots, then N_SEND send slots, each
 * DXP_MAX_MSG bytes, in one MR. Control messages are SEND/RECV; a send slot
 * is taken when a message is posted and given back by its completion.
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
	unsigned int n_recv, n_send;
	unsigned int n_free;
	uint16_t *free; /* stack of free send slots */
};

/* Allocate and register the slots on PD. 0 or -errno; the caller logs (the
 * client library has its own log callback). */
int dx_msgslots_init(struct dx_msgslots *s, struct ibv_pd *pd, unsigned int n_recv, unsigned int n_send);
void dx_msgslots_fini(struct dx_msgslots *s);

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

/* A send completion (any status): its slot is free again. */
static inline void dx_msgslots_sent(struct dx_msgslots *s, uint64_t wr_id)
{
	s->free[s->n_free++] = (uint16_t)DX_WR_SLOT(wr_id);
}

#endif
