#include "common/msgslots.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int dx_msgslots_init(struct dx_msgslots *s, struct ibv_pd *pd, unsigned int n_recv, unsigned int n_send)
{
	size_t size;
	int ret;

	memset(s, 0, sizeof(*s));
	s->signal_every = dx_msgslots_sq_depth(n_send) - n_send; /* the reserve */
	n_send += s->signal_every;
	size = (size_t)(n_recv + n_send) * DXP_MAX_MSG;
	if (n_recv + n_send > 0xffff)
		return -EINVAL;
	s->n_recv = n_recv;
	s->n_send = n_send;
	s->bufs = aligned_alloc(4096, size);
	s->free = calloc(n_send, sizeof(*s->free));
	s->posted = calloc(n_send, sizeof(*s->posted));
	if (!s->bufs || !s->free || !s->posted) {
		ret = -ENOMEM;
		goto err_free;
	}
	memset(s->bufs, 0, size);
	s->mr = ibv_reg_mr(pd, s->bufs, size, IBV_ACCESS_LOCAL_WRITE);
	if (!s->mr) {
		ret = errno ? -errno : -ENOMEM;
		goto err_free;
	}
	for (unsigned int i = 0; i < n_send; i++)
		s->free[s->n_free++] = (uint16_t)(n_recv + i);
	return 0;

err_free:
	free(s->posted);
	free(s->free);
	free(s->bufs);
	memset(s, 0, sizeof(*s));
	return ret;
}

int dx_msgslots_fini(struct dx_msgslots *s)
{
	int ret = s->mr ? ibv_dereg_mr(s->mr) : 0;

	free(s->posted);
	free(s->free);
	if (ret == 0)
		free(s->bufs); /* else the NIC may still write them: they stay */
	memset(s, 0, sizeof(*s));
	return -ret;
}

int dx_msgslots_post_recv(struct dx_msgslots *s, struct ibv_qp *qp, unsigned int slot)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)dx_msgslots_buf(s, slot), .length = DXP_MAX_MSG, .lkey = s->mr->lkey,
	};
	struct ibv_recv_wr wr = { .wr_id = slot, .sg_list = &sge, .num_sge = 1 }, *bad;

	return -ibv_post_recv(qp, &wr, &bad);
}

/* Post the LEN bytes already in send slot SLOT, signalled if it is the
 * signal_every-th; the slot goes back on failure. */
static int post_slot(struct dx_msgslots *s, struct ibv_qp *qp, unsigned int slot, size_t len)
{
	bool signal = s->unsignaled + 1 >= s->signal_every;
	struct ibv_sge sge = {
		.addr = (uintptr_t)dx_msgslots_buf(s, slot), .length = (uint32_t)len, .lkey = s->mr->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = DX_WR_SEND | slot, .sg_list = &sge, .num_sge = 1,
		.opcode = IBV_WR_SEND, .send_flags = signal ? IBV_SEND_SIGNALED : 0,
	}, *bad;
	int ret = ibv_post_send(qp, &wr, &bad);

	if (ret) {
		s->free[s->n_free++] = (uint16_t)slot;
		return -ret;
	}
	s->posted[(s->head + s->n_posted++) % s->n_send] = (uint16_t)slot;
	s->unsignaled = signal ? 0 : s->unsignaled + 1;
	return 0;
}

void dx_msgslots_sent(struct dx_msgslots *s, uint64_t wr_id)
{
	unsigned int slot = DX_WR_SLOT(wr_id), done;

	/* Sends complete in order: this one, and every one before it. */
	while (s->n_posted) {
		done = s->posted[s->head];
		s->head = (s->head + 1) % s->n_send;
		s->n_posted--;
		s->free[s->n_free++] = (uint16_t)done;
		if (done == slot)
			break;
	}
}

int dx_msgslots_send(struct dx_msgslots *s, struct ibv_qp *qp, const struct dxp_msg *m)
{
	unsigned int slot;
	ssize_t len;

	if (s->n_free == 0)
		return -ENOBUFS;
	slot = s->free[--s->n_free];
	len = dxp_encode(m, dx_msgslots_buf(s, slot), DXP_MAX_MSG);
	if (len < 0) {
		s->free[s->n_free++] = (uint16_t)slot;
		return (int)len;
	}
	return post_slot(s, qp, slot, (size_t)len);
}

int dx_msgslots_send_bytes(struct dx_msgslots *s, struct ibv_qp *qp, const void *bytes, size_t len)
{
	unsigned int slot;

	if (len > DXP_MAX_MSG)
		return -EMSGSIZE;
	if (s->n_free == 0)
		return -ENOBUFS;
	slot = s->free[--s->n_free];
	memcpy(dx_msgslots_buf(s, slot), bytes, len);
	return post_slot(s, qp, slot, len);
}
