/*
 * Encode and decode of proto/daxrdma_proto.h messages. One table (proto.c)
 * describes every body field by width; it drives byte order, the reserved
 * field checks and the per-opcode minimum length.
 */
#ifndef DX_PROTO_H
#define DX_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "daxrdma_proto.h"

/* A message in host byte order. S1/S2 point at trailing bytes (not NUL-terminated):
 * OPEN: s1 = export name (open.export_len), s2 = path (open.path_len);
 * RENAME: s1 = the new path (rename.path_len); ERROR: s1 = message
 * (error.msg_len). FILE_ID: an OPEN reply's identity,
 * when its attrs have DXP_ATTR_FILE_ID. */
struct dxp_msg {
	struct dxp_hdr hdr;
	union {
		struct dxp_hello hello;
		struct dxp_open_req open;
		struct dxp_open_rep open_rep;
		struct dxp_fh_req fh;
		struct dxp_rename_req rename;
		struct dxp_stat_rep stat_rep;
		struct dxp_allocate_req alloc;
		struct dxp_allocate_rep alloc_rep;
		struct dxp_layout_get_req lget;
		struct dxp_layout_get_rep lget_rep;
		struct dxp_layout_return_req lret;
		struct dxp_layout_recall recall;
		struct dxp_file_recall frecall;
		struct dxp_recall_return_req rret;
		struct dxp_commit_req commit;
		struct dxp_error error;
		struct dxp_bye bye;
	} u;
	const char *s1;
	const char *s2;
	struct dxp_file_id file_id;
};

/* Header plus body length of OP as a request (REPLY false) or reply; 0 if
 * that combination does not exist. */
size_t dxp_min_len(unsigned int op, bool reply);

/* Write M (hdr.len is computed) to BUF; the length, or -EINVAL / -EMSGSIZE. */
ssize_t dxp_encode(const struct dxp_msg *m, void *buf, size_t cap);

/* Check and decode LEN bytes. 0, or -EBADMSG with *WHY saying what is wrong.
 * M's s1/s2 point into BUF. */
int dxp_decode(const void *buf, size_t len, struct dxp_msg *m, const char **why);

const char *dxp_op_name(unsigned int op);
const char *dxp_err_name(unsigned int code);
/* The negative errno a client library returns for CODE, and back. */
int dxp_err_to_errno(unsigned int code);
unsigned int dxp_errno_to_err(int neg_errno);

/* The field list of OP/REPLY and its width in bytes (test_proto checks the
 * widths against the struct sizes). NULL if the combination does not exist. */
const char *dxp_spec_body(unsigned int op, bool reply, size_t *size);

#endif
