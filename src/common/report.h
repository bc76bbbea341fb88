/*
 * A small tree of named values that renders either as JSON or as text for a
 * person: one data model per listing, so `--json` and the table never drift.
 * Allocation failure is sticky; report_render() then returns -ENOMEM.
 */
#ifndef DX_REPORT_H
#define DX_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/dxbuf.h"

enum report_format { REPORT_TEXT, REPORT_JSON };

struct report;
struct rnode;

struct report *report_new(void);
void report_free(struct report **rp);
struct rnode *report_root(struct report *r);

/* KEY is ignored (pass NULL) when PARENT is an array. */
struct rnode *rn_object(struct rnode *parent, const char *key);
struct rnode *rn_array(struct rnode *parent, const char *key);
/* An array of objects that text output shows as records, one block each,
 * rather than as a table (for objects with many or long fields). */
struct rnode *rn_records(struct rnode *parent, const char *key);
void rn_str(struct rnode *parent, const char *key, const char *val);
void rn_int(struct rnode *parent, const char *key, int64_t val);
void rn_bool(struct rnode *parent, const char *key, bool val);

int report_render(struct report *r, enum report_format fmt, struct dxbuf *out);

/* JSON string literal of S (with quotes) appended to OUT. */
void json_quote(struct dxbuf *out, const char *s);

#endif
