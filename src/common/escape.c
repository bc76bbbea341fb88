#include "common/escape.h"

#include <string.h>

static int cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

size_t dx_utf8_len(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return cont(p[1]) ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		if (!cont(p[1]) || !cont(p[2]))
			return 0;
		if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f))
			return 0; /* overlong, or a UTF-16 surrogate */
		return 3;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		if (!cont(p[1]) || !cont(p[2]) || !cont(p[3]))
			return 0;
		if ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
			return 0; /* overlong, or beyond U+10FFFF */
		return 4;
	}
	return 0;
}

void dx_escape(struct dxbuf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = dx_utf8_len(p);

		if (n == 0) {
			dxbuf_printf(out, "\\x%02x", *p++);
		} else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) { /* C1 control */
			dxbuf_printf(out, "\\u%04x", p[1]);
			p += 2;
		} else if (n > 1) {
			dxbuf_add(out, (const char *)p, n);
			p += n;
		} else {
			switch (*p) {
			case '\\': dxbuf_puts(out, "\\\\"); break;
			case '\n': dxbuf_puts(out, "\\n"); break;
			case '\r': dxbuf_puts(out, "\\r"); break;
			case '\t': dxbuf_puts(out, "\\t"); break;
			default:
				if (*p < 0x20 || *p == 0x7f)
					dxbuf_printf(out, "\\x%02x", *p);
				else
					dxbuf_add(out, (const char *)p, 1);
			}
			p++;
		}
	}
}

void dx_escape_to(char *out, size_t outlen, const char *s)
{
	struct dxbuf sb = DXBUF_INIT;
	const unsigned char *p;
	size_t used = 0;

	if (!outlen)
		return;
	dx_escape(&sb, s);
	p = (const unsigned char *)(dxbuf_error(&sb) ? "(out of memory)" : dxbuf_str(&sb));
	/* Whole characters only: a cut sequence would be invalid UTF-8. */
	while (p[used]) {
		size_t n = dx_utf8_len(p + used);

		if (used + n >= outlen)
			break;
		used += n;
	}
	memcpy(out, p, used);
	out[used] = '\0';
	dxbuf_release(&sb);
}
