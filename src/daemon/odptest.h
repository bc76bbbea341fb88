/* The ODP self-test: see odptest.c. */
#ifndef DX_ODPTEST_H
#define DX_ODPTEST_H

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Prove that an ODP MR on ADDR (LEN bytes, a writable mapping of an
 * export's probe file, at least two pages and a little more) takes RDMA
 * WRITEs where they are aimed: a QP on ID's device and port, connected to
 * itself, writes 100 bytes at offset 4196 and they are read back through
 * the mapping. 0, or -errno with the reason in WHY.
 */
int dx_odp_self_test(struct rdma_cm_id *id, struct ibv_pd *pd, void *addr, size_t len, char *why, size_t whylen);

#endif
