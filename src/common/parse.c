#include "common/parse.h"

#include <errno.h>
#include <strings.h>

/* The digits at *S (at least one), advancing *S past them. */
static int digits(const char **s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = *s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*s = p;
	*out = v;
	return 0;
}

int dx_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	int ret = digits(&s, &v);

	if (ret)
		return ret;
	if (*s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int dx_parse_bytes(const char *s, uint64_t *out)
{
	static const char units[] = "kmgt";
	unsigned int shift = 0;
	uint64_t v;
	int ret = digits(&s, &v);

	if (ret)
		return ret;
	if (*s) {
		for (unsigned int i = 0; units[i]; i++)
			if ((*s | 0x20) == units[i])
				shift = 10 * (i + 1);
		if (!shift || (s[1] && strcasecmp(s + 1, "ib") != 0))
			return -EINVAL;
		if (v > UINT64_MAX >> shift)
			return -ERANGE;
		v <<= shift;
	}
	*out = v;
	return 0;
}
