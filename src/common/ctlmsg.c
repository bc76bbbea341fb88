#include "common/ctlmsg.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

int dxctl_request_encode(struct dxbuf *out, uint16_t flags, int argc, char *const *argv)
{
	struct dxctl_req_hdr h = { 0 };
	size_t len = 0;

	if (argc < 1 || (unsigned int)argc > DXCTL_MAX_ARGS)
		return -E2BIG;
	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if (len > DXCTL_MAX_REQUEST)
		return -E2BIG;
	h.magic = htole32(DXCTL_MAGIC);
	h.version = htole16(DXCTL_VERSION);
	h.flags = htole16(flags);
	h.len = htole32((uint32_t)len);
	dxbuf_add(out, (const char *)&h, sizeof(h));
	for (int i = 0; i < argc; i++)
		dxbuf_add(out, argv[i], strlen(argv[i]) + 1);
	return dxbuf_error(out);
}

int dxctl_request_check(const struct dxctl_req_hdr *h, uint16_t *flags, uint32_t *len)
{
	if (le32toh(h->magic) != DXCTL_MAGIC)
		return -EPROTO;
	if (le16toh(h->version) != DXCTL_VERSION)
		return -EPROTONOSUPPORT;
	if (h->reserved != 0 || (le16toh(h->flags) & ~DXCTL_F_JSON))
		return -EINVAL;
	*flags = le16toh(h->flags);
	*len = le32toh(h->len);
	if (*len == 0 || *len > DXCTL_MAX_REQUEST)
		return -EMSGSIZE;
	return 0;
}

int dxctl_request_split(char *payload, uint32_t len, char **argv, int *argc)
{
	uint32_t i = 0;
	int n = 0;

	if (len == 0 || payload[len - 1] != '\0')
		return -EINVAL;
	while (i < len) {
		if ((unsigned int)n == DXCTL_MAX_ARGS)
			return -E2BIG;
		argv[n++] = payload + i;
		i += (uint32_t)strlen(payload + i) + 1;
	}
	*argc = n;
	return 0;
}

void dxctl_reply_hdr(struct dxctl_rep_hdr *h, int32_t status, uint32_t len)
{
	h->magic = htole32(DXCTL_MAGIC);
	h->status = (int32_t)htole32((uint32_t)status);
	h->len = htole32(len);
	h->reserved = 0;
}

int dxctl_reply_check(const struct dxctl_rep_hdr *h, int32_t *status, uint32_t *len)
{
	if (le32toh(h->magic) != DXCTL_MAGIC)
		return -EPROTO;
	if (h->reserved != 0)
		return -EINVAL;
	*status = (int32_t)le32toh((uint32_t)h->status);
	*len = le32toh(h->len);
	if (*len > DXCTL_MAX_REPLY)
		return -EMSGSIZE;
	return 0;
}
