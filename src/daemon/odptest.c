/*
 * The ODP self-test (issue 10): before an export trusts On-Demand Paging on
 * FS-DAX, the device proves it. A QP connected to itself RDMA WRITEs a few
 * bytes through an ODP MR into the probe file's mapping, at an in-page
 * offset that is not page-aligned, and the bytes are read back through the
 * mapping. Upstream rxe's ODP path ignores the offset inside a page (data
 * lands at the start of the page unless I/O is page-aligned at MTU 4096):
 * this is what catches it.
 */
#include "daemon/odptest.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"

#define TEST_OFF 4196u  /* in the second page, 100 bytes in */
#define TEST_LEN 100u
#define TEST_DEADLINE_MS 2000

struct selftest {
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	struct ibv_mr *odp, *src;
	char *buf;
};

/* The GID of the listener's address on PORT (PA, its attributes):
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

static void selftest_free(struct selftest *t)
{
	if (t->odp)
		ibv_dereg_mr(t->odp);
	if (t->src)
		ibv_dereg_mr(t->src);
	if (t->qp)
		ibv_destroy_qp(t->qp);
	if (t->cq)
		ibv_destroy_cq(t->cq);
	free(t->buf);
}

/* Post the WRITE and wait for its completion, up to TEST_DEADLINE_MS. */
static int write_and_wait(struct selftest *t, char *map, char *why, size_t whylen)
{
	struct ibv_sge sge = { .addr = (uintptr_t)t->buf, .length = TEST_LEN, .lkey = t->src->lkey };
	struct ibv_send_wr wr = { .sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_RDMA_WRITE,
				  .send_flags = IBV_SEND_SIGNALED };
	struct ibv_send_wr *bad;
	int64_t deadline = dx_now_ms() + TEST_DEADLINE_MS;
	struct ibv_wc wc;
	int n;

	wr.wr.rdma.remote_addr = (uintptr_t)map + TEST_OFF;
	wr.wr.rdma.rkey = t->odp->rkey;
	if (ibv_post_send(t->qp, &wr, &bad)) {
		snprintf(why, whylen, "ODP self-test: ibv_post_send: %s", strerror(errno));
		return -EIO;
	}
	while ((n = ibv_poll_cq(t->cq, 1, &wc)) == 0 && dx_now_ms() < deadline)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	if (n <= 0) {
		snprintf(why, whylen, "ODP self-test: no completion within %d ms", TEST_DEADLINE_MS);
		return -ETIMEDOUT;
	}
	if (wc.status != IBV_WC_SUCCESS) {
		snprintf(why, whylen, "ODP self-test: the RDMA WRITE failed: %s", ibv_wc_status_str(wc.status));
		return -EIO;
	}
	return 0;
}

int dx_odp_self_test(struct rdma_cm_id *id, struct ibv_pd *pd, void *addr, size_t len, char *why, size_t whylen)
{
	int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
	struct ibv_qp_init_attr qa = { .cap = { .max_send_wr = 2, .max_recv_wr = 1, .max_send_sge = 1,
						.max_recv_sge = 1 },
				       .qp_type = IBV_QPT_RC, .sq_sig_all = 0 };
	struct selftest t = { 0 };
	char *map = addr;
	struct ibv_port_attr pa;
	union ibv_gid gid;
	int gid_index = 0, ret;

	if (len < TEST_OFF + TEST_LEN + 4096) {
		snprintf(why, whylen, "ODP self-test: a probe of %zu bytes is too small", len);
		return -EINVAL;
	}
	ret = ibv_query_port(pd->context, id->port_num, &pa) ? -errno
	      : find_gid(pd->context, id->port_num, &pa, rdma_get_local_addr(id), &gid_index, &gid);
	if (ret) {
		snprintf(why, whylen, "ODP self-test: no GID of the listen address on port %u: %s", id->port_num,
			 strerror(-ret));
		return ret;
	}
	t.buf = malloc(4096);
	t.cq = ibv_create_cq(pd->context, 4, NULL, NULL, 0);
	qa.send_cq = qa.recv_cq = t.cq;
	t.qp = t.cq ? ibv_create_qp(pd, &qa) : NULL;
	t.src = t.buf ? ibv_reg_mr(pd, t.buf, 4096, IBV_ACCESS_LOCAL_WRITE) : NULL;
	t.odp = ibv_reg_mr(pd, addr, len, access | IBV_ACCESS_ON_DEMAND);
	if (!t.buf || !t.cq || !t.qp || !t.src || !t.odp) {
		ret = errno ? -errno : -ENOMEM;
		snprintf(why, whylen, "ODP self-test: setting up a loopback QP and its MRs: %s", strerror(-ret));
		goto out;
	}
	ret = connect_self(t.qp, id->port_num, &pa, gid_index, &gid);
	if (ret) {
		snprintf(why, whylen, "ODP self-test: connecting a QP to itself: %s", strerror(-ret));
		goto out;
	}
	for (unsigned int i = 0; i < TEST_LEN; i++)
		t.buf[i] = (char)(0x5a ^ i);
	memset(map, 0, TEST_OFF + TEST_LEN);
	ret = write_and_wait(&t, map, why, whylen);
	if (ret)
		goto out;
	if (memcmp(map + TEST_OFF, t.buf, TEST_LEN) != 0) {
		bool at_page = memcmp(map + 4096, t.buf, TEST_LEN) == 0;

		snprintf(why, whylen, "ODP self-test: data landed at the wrong offset (%u bytes written at %u%s)",
			 TEST_LEN, TEST_OFF, at_page ? "; they are at 4096, the start of the page" : "");
		ret = -EIO;
		goto out;
	}
	ret = 0;
out:
	selftest_free(&t);
	return ret;
}
