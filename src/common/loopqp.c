#include "common/loopqp.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"

/* The GID of address SA on PORT (PA, its attributes):
 * ::ffff:a.b.c.d for IPv4. */
static int find_gid(struct ibv_context *ctx, uint8_t port, const struct ibv_port_attr *pa, const struct sockaddr *sa,
		    int *index, union ibv_gid *gid)
{
	union ibv_gid want = { 0 };

	if (sa->sa_family == AF_INET) {
		want.raw[10] = want.raw[11] = 0xff;
		memcpy(&want.raw[12], &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(want.raw, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else {
		return -EAFNOSUPPORT;
	}
	for (int i = 0; i < pa->gid_tbl_len; i++) {
		if (ibv_query_gid(ctx, port, i, gid) == 0 && memcmp(gid->raw, want.raw, 16) == 0) {
			*index = i;
			return 0;
		}
	}
	return -ENOENT;
}

/* Bring the QP to RTS on PORT, connected to itself. */
static int connect_self(struct ibv_qp *qp, uint8_t port, const struct ibv_port_attr *pa, int gid_index,
			const union ibv_gid *gid)
{
	struct ibv_qp_attr a;

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_INIT;
	a.port_num = port;
	a.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS))
		return -errno;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = pa->active_mtu;
	a.dest_qp_num = qp->qp_num;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = *gid;
	a.ah_attr.grh.sgid_index = (uint8_t)gid_index;
	a.ah_attr.grh.hop_limit = 64;
	a.ah_attr.port_num = port;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
				      IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
		return -errno;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 3;
	a.rnr_retry = 3;
	a.max_rd_atomic = 1;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
				      IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC))
		return -errno;
	return 0;
}

int dx_loopqp_new(struct ibv_pd *pd, uint8_t port, const struct sockaddr *local, unsigned int sq_depth,
		  unsigned int cq_depth, struct dx_loopqp *out, char *why, size_t whylen)
{
	struct ibv_qp_init_attr qa = { .cap = { .max_send_wr = sq_depth, .max_recv_wr = 1, .max_send_sge = 1,
						.max_recv_sge = 1 },
				       .qp_type = IBV_QPT_RC, .sq_sig_all = 0 };
	struct ibv_port_attr pa;
	union ibv_gid gid;
	int gid_index = 0, ret;

	out->qp = NULL;
	out->cq = NULL;
	ret = ibv_query_port(pd->context, port, &pa) ? -errno : find_gid(pd->context, port, &pa, local, &gid_index, &gid);
	if (ret) {
		snprintf(why, whylen, "no GID of the address on port %u: %s", port, strerror(-ret));
		return ret;
	}
	out->cq = ibv_create_cq(pd->context, (int)cq_depth, NULL, NULL, 0);
	qa.send_cq = qa.recv_cq = out->cq;
	out->qp = out->cq ? ibv_create_qp(pd, &qa) : NULL;
	if (!out->qp) {
		ret = errno ? -errno : -ENOMEM;
		snprintf(why, whylen, "creating a loopback QP: %s", strerror(-ret));
		dx_loopqp_free(out);
		return ret;
	}
	ret = connect_self(out->qp, port, &pa, gid_index, &gid);
	if (ret) {
		snprintf(why, whylen, "connecting a QP to itself: %s", strerror(-ret));
		dx_loopqp_free(out);
	}
	return ret;
}

void dx_loopqp_free(struct dx_loopqp *lq)
{
	if (lq->qp)
		ibv_destroy_qp(lq->qp);
	if (lq->cq)
		ibv_destroy_cq(lq->cq);
	lq->qp = NULL;
	lq->cq = NULL;
}

int dx_loopqp_wait(struct dx_loopqp *lq, int deadline_ms, struct ibv_wc *wc)
{
	int64_t deadline = dx_now_ms() + deadline_ms;
	int n;

	while ((n = ibv_poll_cq(lq->cq, 1, wc)) == 0 && dx_now_ms() < deadline)
		nanosleep(&(struct timespec){ 0, 50000 }, NULL);
	return n < 0 ? -EIO : n;
}
