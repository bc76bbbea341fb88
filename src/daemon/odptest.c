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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/loopqp.h"

#define TEST_OFF 4196u  /* in the second page, 100 bytes in */
#define TEST_LEN 100u
#define TEST_DEADLINE_MS 2000

struct selftest {
	struct dx_loopqp lq;
	struct ibv_mr *odp, *src;
	char *buf;
};

static void selftest_free(struct selftest *t)
{
	if (t->odp)
		ibv_dereg_mr(t->odp);
	if (t->src)
		ibv_dereg_mr(t->src);
	dx_loopqp_free(&t->lq);
	free(t->buf);
}

/* Post the WRITE and wait for its completion, up to TEST_DEADLINE_MS. */
static int write_and_wait(struct selftest *t, char *map, char *why, size_t whylen)
{
	struct ibv_sge sge = { .addr = (uintptr_t)t->buf, .length = TEST_LEN, .lkey = t->src->lkey };
	struct ibv_send_wr wr = { .sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_RDMA_WRITE,
				  .send_flags = IBV_SEND_SIGNALED };
	struct ibv_send_wr *bad;
	struct ibv_wc wc;
	int n;

	wr.wr.rdma.remote_addr = (uintptr_t)map + TEST_OFF;
	wr.wr.rdma.rkey = t->odp->rkey;
	if (ibv_post_send(t->lq.qp, &wr, &bad)) {
		snprintf(why, whylen, "ODP self-test: ibv_post_send: %s", strerror(errno));
		return -EIO;
	}
	n = dx_loopqp_wait(&t->lq, TEST_DEADLINE_MS, &wc);
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
	struct selftest t = { 0 };
	char *map = addr;
	char qwhy[120];
	int ret;

	if (len < TEST_OFF + TEST_LEN + 4096) {
		snprintf(why, whylen, "ODP self-test: a probe of %zu bytes is too small", len);
		return -EINVAL;
	}
	ret = dx_loopqp_new(pd, id->port_num, rdma_get_local_addr(id), 2, 4, &t.lq, qwhy, sizeof(qwhy));
	if (ret) {
		snprintf(why, whylen, "ODP self-test: %s", qwhy);
		return ret;
	}
	t.buf = malloc(4096);
	t.src = t.buf ? ibv_reg_mr(pd, t.buf, 4096, IBV_ACCESS_LOCAL_WRITE) : NULL;
	t.odp = ibv_reg_mr(pd, addr, len, access | IBV_ACCESS_ON_DEMAND);
	if (!t.buf || !t.src || !t.odp) {
		ret = errno ? -errno : -ENOMEM;
		snprintf(why, whylen, "ODP self-test: setting up its MRs: %s", strerror(-ret));
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
