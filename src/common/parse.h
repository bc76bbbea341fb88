/* Strict parsing of the numbers people type: decimal digits only (no sign,
 * no spaces, no 0x, no leading-zero octal), checked for overflow. */
#ifndef DX_PARSE_H
#define DX_PARSE_H

#include <stdint.h>

/* S as a decimal number in [MIN, MAX]: 0 or -EINVAL (not a number, or
 * trailing bytes), -ERANGE (out of range). */
int dx_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* S as a byte count: decimal digits and an optional binary suffix K, M, G
 * or T (case-insensitive, "KiB" too): 0, -EINVAL or -ERANGE (past 2^64 - 1). */
int dx_parse_bytes(const char *s, uint64_t *out);

#endif
