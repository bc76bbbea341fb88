/*
 * The wire decoder (src/common/proto.c) against any bytes a peer can send:
 * dxp_decode must accept or refuse without a crash; what it accepts must
 * encode again, to the same length, and decode to the same message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_or_abort(const struct dxp_msg *a, const struct dxp_msg *b, size_t body)
{
	if (memcmp(&a->hdr, &b->hdr, sizeof(a->hdr)) != 0 || memcmp(&a->u, &b->u, body) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[DXP_MAX_MSG];
	struct dxp_msg m, m2;
	const char *why = NULL;
	size_t body;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	if (dxp_decode(data, size, &m, &why) != 0) {
		if (!why)
			abort(); /* every refusal says why */
		return 0;
	}
	if (!dxp_spec_body(m.hdr.op, m.hdr.flags & DXP_F_REPLY, &body))
		abort(); /* accepted an opcode it has no spec for */
	n = dxp_encode(&m, again, sizeof(again));
	if (n < 0 || (size_t)n != m.hdr.len || m.hdr.len > size)
		abort();
	memset(&m2, 0, sizeof(m2));
	if (dxp_decode(again, (size_t)n, &m2, &why) != 0)
		abort();
	same_or_abort(&m, &m2, body);
	if ((m.s1 == NULL) != (m2.s1 == NULL) || (m.s2 == NULL) != (m2.s2 == NULL))
		abort();
	return 0;
}
