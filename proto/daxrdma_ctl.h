/*
 * daxrdma control protocol: daxrdmactl <-> daxrdmad over the AF_UNIX stream
 * socket (/run/daxrdmad/ctl.sock by default).
 *
 * One request, one reply, then the daemon closes the connection.
 *   request: struct dxctl_req_hdr, then `len` bytes of arguments, each
 *            NUL-terminated ("status\0", "recall\0/a/f\0--wait\0").
 *   reply:   struct dxctl_rep_hdr, then `len` bytes of text (UTF-8) in the
 *            format the request asked for (DXCTL_F_JSON: one JSON document).
 *            A paged reply (`layouts`) that is not the last page ends with
 *            a NUL and a continuation token, inside `len`: the next page is
 *            the same request with "--after=TOKEN" appended.
 * All fields little-endian; reserved fields are zero on send and checked on
 * receipt.
 *
 * History:
 *   1  first version (status, exports, reload).
 */
#ifndef DAXRDMA_CTL_H
#define DAXRDMA_CTL_H

#include <assert.h>
#include <stdint.h>

#define DXCTL_MAGIC 0x4c435844u /* "DXCL" as little-endian bytes */
#define DXCTL_VERSION 1
#define DXCTL_MAX_REQUEST 4096u         /* argument bytes */
#define DXCTL_MAX_ARGS 32u
#define DXCTL_MAX_REPLY (16u << 20)     /* reply text bytes */

enum dxctl_flags {
	DXCTL_F_JSON = 1u << 0,
};

struct dxctl_req_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t flags;
	uint32_t len;
	uint32_t reserved;
};
static_assert(sizeof(struct dxctl_req_hdr) == 16, "dxctl_req_hdr is 16 bytes on the wire");

struct dxctl_rep_hdr {
	uint32_t magic;
	int32_t status; /* 0 or -errno */
	uint32_t len;
	uint32_t reserved;
};
static_assert(sizeof(struct dxctl_rep_hdr) == 16, "dxctl_rep_hdr is 16 bytes on the wire");

#endif
