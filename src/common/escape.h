/*
 * Strings that come from clients (paths, export names) end up in logs, in
 * daxrdmactl's text and in JSON. None of them may forge a log line, move a
 * terminal's cursor or break a JSON parser: control characters and invalid
 * UTF-8 are made visible instead.
 */
#ifndef DX_ESCAPE_H
#define DX_ESCAPE_H

#include <stddef.h>

#include "common/dxbuf.h"

/* Length of the valid UTF-8 sequence at P (1 to 4), or 0 if there is none
 * (a stray, overlong or surrogate sequence). P is NUL-terminated. */
size_t dx_utf8_len(const unsigned char *p);
/* Append S: valid, printable UTF-8 as it is; backslash as "\\"; \n, \r, \t
 * as such; other control characters (C0, DEL, C1) as \xNN or \uNNNN; bytes
 * of invalid UTF-8 as \xNN. */
void dx_escape(struct dxbuf *out, const char *s);
/* The same into a fixed buffer (truncated, always terminated). */
void dx_escape_to(char *out, size_t outlen, const char *s);

#endif
