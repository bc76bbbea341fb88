#include "common/dxbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool dxbuf_reserve(struct dxbuf *sb, size_t extra)
{
	size_t need, cap;
	char *p;

	if (sb->oom)
		return false;
	need = sb->len + extra + 1;
	if (need <= sb->cap)
		return true;
	cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap *= 2;
	p = realloc(sb->buf, cap);
	if (!p) {
		sb->oom = true;
		return false;
	}
	sb->buf = p;
	sb->cap = cap;
	return true;
}

void dxbuf_add(struct dxbuf *sb, const char *s, size_t n)
{
	if (!dxbuf_reserve(sb, n))
		return;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void dxbuf_puts(struct dxbuf *sb, const char *s)
{
	dxbuf_add(sb, s, strlen(s));
}

void dxbuf_printf(struct dxbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !dxbuf_reserve(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void dxbuf_pad(struct dxbuf *sb, char c, size_t n)
{
	if (!dxbuf_reserve(sb, n))
		return;
	memset(sb->buf + sb->len, c, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

int dxbuf_error(const struct dxbuf *sb)
{
	return sb->oom ? -ENOMEM : 0;
}

const char *dxbuf_str(const struct dxbuf *sb)
{
	return sb->buf ? sb->buf : "";
}

char *dxbuf_detach(struct dxbuf *sb)
{
	char *s = sb->buf;

	if (!s)
		s = strdup("");
	*sb = (struct dxbuf)DXBUF_INIT;
	return s;
}

void dxbuf_release(struct dxbuf *sb)
{
	free(sb->buf);
	*sb = (struct dxbuf)DXBUF_INIT;
}
