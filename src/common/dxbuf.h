/* A growable, always NUL-terminated string. Allocation failure is sticky:
 * appends after it are ignored and dxbuf_error() reports -ENOMEM. */
#ifndef DX_DXBUF_H
#define DX_DXBUF_H

#include <stdbool.h>
#include <stddef.h>

struct dxbuf {
	char *buf;
	size_t len;
	size_t cap;
	bool oom;
};

#define DXBUF_INIT { 0 }

void dxbuf_add(struct dxbuf *sb, const char *s, size_t n);
void dxbuf_puts(struct dxbuf *sb, const char *s);
void dxbuf_printf(struct dxbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dxbuf_pad(struct dxbuf *sb, char c, size_t n);
int dxbuf_error(const struct dxbuf *sb);
const char *dxbuf_str(const struct dxbuf *sb);
/* Hand the buffer to the caller (who frees it) and reset SB. */
char *dxbuf_detach(struct dxbuf *sb);
void dxbuf_release(struct dxbuf *sb);

#endif
