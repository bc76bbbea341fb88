/* The requests of a connected client (DESIGN.md §7): one handler per opcode. */
#ifndef DX_SESSION_H
#define DX_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "common/proto.h"

struct dx_conn;

/*
 * Handle REQ; fill REP's body. Returns DXP_E_OK or the error code to answer
 * with (MSG, if set, says why in words), or DX_SESSION_LATER: a background
 * job answers (dx_conn_answer) when it ends. *REPLY is false for messages
 * that are not answered now (BYE, and DX_SESSION_LATER).
 */
/* dx_session_handle's answer for requests answered later, by a job. */
#define DX_SESSION_LATER 0xffffu

unsigned int dx_session_handle(struct dx_conn *c, const struct dxp_msg *req, struct dxp_msg *rep,
			       char *msg, size_t msglen, bool *reply);

#endif
