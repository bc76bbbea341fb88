/*
 * The control socket's request parser (src/common/ctlmsg.c), which reads
 * what any local user in the control group may send: a header, checked,
 * then a payload split into arguments. Neither may crash; what is accepted
 * encodes again to the same arguments.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctlmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dxctl_req_hdr h;
	struct dxbuf again = DXBUF_INIT;
	char *argv[DXCTL_MAX_ARGS], *payload;
	uint16_t flags;
	uint32_t len;
	int argc;

	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	if (dxctl_request_check(&h, &flags, &len) != 0)
		return 0;
	if (len > size - sizeof(h))
		return 0; /* the daemon waits for the rest */
	payload = malloc(len + 1);
	if (!payload)
		abort();
	memcpy(payload, data + sizeof(h), len);
	if (dxctl_request_split(payload, len, argv, &argc) == 0) {
		char *copy[DXCTL_MAX_ARGS];
		int argc2;

		if (argc < 0 || (unsigned int)argc > DXCTL_MAX_ARGS)
			abort();
		if (dxctl_request_encode(&again, flags, argc, argv) != 0)
			abort(); /* accepted arguments must encode again */
		if (again.len != sizeof(h) + len)
			abort();
		if (dxctl_request_split(again.buf + sizeof(h), len, copy, &argc2) != 0 || argc2 != argc)
			abort();
		for (int i = 0; i < argc; i++)
			if (strcmp(argv[i], copy[i]) != 0)
				abort();
	}
	dxbuf_release(&again);
	free(payload);
	return 0;
}
