#include "common/msgslots.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int dx_msgslots_init(struct dx_msgslots *s, struct ibv_pd *pd, unsigned int n_recv, unsigned int n_send)
{
	size_t size = (size_t)(n_recv + n_send) * DXP_MAX_MSG;
	int ret;

	memset(s, 0, sizeof(*s));
	if (n_recv + n_send > 0xffff)
		return -EINVAL;
	s->n_recv = n_recv;
	s->n_send = n_send;
	s->bufs = aligned_alloc(4096, size);
	s->free = calloc(n_send, sizeof(*s->free));
	if (!s->bufs || !s->free) {
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
	free(s->free);
	free(s->bufs);
	memset(s, 0, sizeof(*s));
	return ret;
}

void dx_msgslots_fini(struct dx_msgslots *s)
{
	if (s->mr)
		ibv_dereg_mr(s->mr);
	free(s->free);
	free(s->bufs);
	memset(s, 0, sizeof(*s));
}

int dx_msgslots_post_recv(struct dx_msgslots *s, struct ibv_qp *qp, unsigned int slot)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)dx_msgslots_buf(s, slot), .length = DXP_MAX_MSG, .lkey = s->mr->lkey,
	};
	struct ibv_recv_wr wr = { .wr_id = slot, .sg_list = &sge, .num_sge = 1 }, *bad;

	return -ibv_post_recv(qp, &wr, &bad);
}

/* Post the LEN bytes already in send slot SLOT; the slot goes back on failure. */
static int post_slot(struct dx_msgslots *s, struct ibv_qp *qp, unsigned int slot, size_t len)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)dx_msgslots_buf(s, slot), .length = (uint32_t)len, .lkey = s->mr->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = DX_WR_SEND | slot, .sg_list = &sge, .num_sge = 1,
		.opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED,
	}, *bad;
	int ret = ibv_post_send(qp, &wr, &bad);

	if (ret) {
		s->free[s->n_free++] = (uint16_t)slot;
		return -ret;
	}
	return 0;
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
