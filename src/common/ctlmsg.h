/* Encoding and checking of daxrdma_ctl.h messages, shared by both ends. */
#ifndef DX_CTLMSG_H
#define DX_CTLMSG_H

#include <stdint.h>

#include "common/dxbuf.h"
#include "daxrdma_ctl.h"

/* Header + NUL-separated ARGV into OUT. -E2BIG past the protocol's limits. */
int dxctl_request_encode(struct dxbuf *out, uint16_t flags, int argc, char *const *argv);
/* Check a received request header; on success *LEN is the payload length. */
int dxctl_request_check(const struct dxctl_req_hdr *h, uint16_t *flags, uint32_t *len);
/* Split a received payload in place into at most DXCTL_MAX_ARGS arguments. */
int dxctl_request_split(char *payload, uint32_t len, char **argv, int *argc);

void dxctl_reply_hdr(struct dxctl_rep_hdr *h, int32_t status, uint32_t len);
int dxctl_reply_check(const struct dxctl_rep_hdr *h, int32_t *status, uint32_t *len);

#endif
