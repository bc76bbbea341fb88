#include "common/report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/escape.h"

enum rnode_kind { RN_OBJECT, RN_ARRAY, RN_STRING, RN_INT, RN_BOOL };

struct rnode {
	enum rnode_kind kind;
	bool records;
	char *key;
	union {
		char *str;
		int64_t num;
		bool flag;
	} v;
	struct report *owner;
	struct rnode *parent;
	struct rnode *child, *last, *next;
};

struct report {
	struct rnode root;
	bool oom;
};

struct report *report_new(void)
{
	struct report *r = calloc(1, sizeof(*r));

	if (r) {
		r->root.kind = RN_OBJECT;
		r->root.owner = r;
	}
	return r;
}

static void rnode_free_children(struct rnode *n)
{
	struct rnode *c = n->child, *next;

	for (; c; c = next) {
		next = c->next;
		rnode_free_children(c);
		free(c->key);
		if (c->kind == RN_STRING)
			free(c->v.str);
		free(c);
	}
}

void report_free(struct report **rp)
{
	if (!*rp)
		return;
	rnode_free_children(&(*rp)->root);
	free(*rp);
	*rp = NULL;
}

struct rnode *report_root(struct report *r)
{
	return &r->root;
}

static struct rnode *rn_add(struct rnode *parent, const char *key, enum rnode_kind kind)
{
	struct rnode *n;

	if (!parent || parent->owner->oom)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		goto oom;
	if (parent->kind == RN_OBJECT) {
		n->key = strdup(key ? key : "");
		if (!n->key)
			goto oom_free;
	}
	n->kind = kind;
	n->owner = parent->owner;
	n->parent = parent;
	if (parent->last)
		parent->last->next = n;
	else
		parent->child = n;
	parent->last = n;
	return n;

oom_free:
	free(n);
oom:
	parent->owner->oom = true;
	return NULL;
}

struct rnode *rn_object(struct rnode *parent, const char *key)
{
	return rn_add(parent, key, RN_OBJECT);
}

struct rnode *rn_array(struct rnode *parent, const char *key)
{
	return rn_add(parent, key, RN_ARRAY);
}

struct rnode *rn_records(struct rnode *parent, const char *key)
{
	struct rnode *n = rn_add(parent, key, RN_ARRAY);

	if (n)
		n->records = true;
	return n;
}

void rn_str(struct rnode *parent, const char *key, const char *val)
{
	struct rnode *n = rn_add(parent, key, RN_STRING);

	if (n && !(n->v.str = strdup(val ? val : "")))
		n->owner->oom = true;
}

void rn_int(struct rnode *parent, const char *key, int64_t val)
{
	struct rnode *n = rn_add(parent, key, RN_INT);

	if (n)
		n->v.num = val;
}

void rn_bool(struct rnode *parent, const char *key, bool val)
{
	struct rnode *n = rn_add(parent, key, RN_BOOL);

	if (n)
		n->v.flag = val;
}

void json_quote(struct dxbuf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	dxbuf_add(out, "\"", 1);
	while (*p) {
		size_t n = dx_utf8_len(p);

		if (n == 0) { /* not UTF-8: JSON must be; show the byte */
			dxbuf_printf(out, "\\\\x%02x", *p++);
			continue;
		}
		if (n > 1) {
			dxbuf_add(out, (const char *)p, n);
			p += n;
			continue;
		}
		switch (*p) {
		case '"': dxbuf_puts(out, "\\\""); break;
		case '\\': dxbuf_puts(out, "\\\\"); break;
		case '\n': dxbuf_puts(out, "\\n"); break;
		case '\t': dxbuf_puts(out, "\\t"); break;
		case '\r': dxbuf_puts(out, "\\r"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				dxbuf_printf(out, "\\u%04x", *p);
			else
				dxbuf_add(out, (const char *)p, 1);
		}
		p++;
	}
	dxbuf_add(out, "\"", 1);
}

static void render_json(const struct rnode *n, struct dxbuf *out)
{
	const struct rnode *c;

	switch (n->kind) {
	case RN_OBJECT:
	case RN_ARRAY:
		dxbuf_puts(out, n->kind == RN_OBJECT ? "{" : "[");
		for (c = n->child; c; c = c->next) {
			if (c != n->child)
				dxbuf_puts(out, ",");
			if (n->kind == RN_OBJECT) {
				json_quote(out, c->key);
				dxbuf_puts(out, ":");
			}
			render_json(c, out);
		}
		dxbuf_puts(out, n->kind == RN_OBJECT ? "}" : "]");
		break;
	case RN_STRING:
		json_quote(out, n->v.str);
		break;
	case RN_INT:
		dxbuf_printf(out, "%" PRId64, n->v.num);
		break;
	case RN_BOOL:
		dxbuf_puts(out, n->v.flag ? "true" : "false");
		break;
	}
}

static bool is_scalar(const struct rnode *n)
{
	return n->kind != RN_OBJECT && n->kind != RN_ARRAY;
}

static void scalar_text(const struct rnode *n, struct dxbuf *out)
{
	switch (n->kind) {
	case RN_STRING:
		if (n->v.str[0])
			dx_escape(out, n->v.str);
		else
			dxbuf_puts(out, "-");
		break;
	case RN_INT: dxbuf_printf(out, "%" PRId64, n->v.num); break;
	case RN_BOOL: dxbuf_puts(out, n->v.flag ? "yes" : "no"); break;
	default: break;
	}
}

static size_t scalar_width(const struct rnode *n)
{
	struct dxbuf sb = DXBUF_INIT;
	size_t w;

	scalar_text(n, &sb);
	w = sb.len;
	dxbuf_release(&sb);
	return w;
}

/* An array of objects prints as a table whose columns are the scalar keys of
 * its first row; nested values are left to --json. */
static void render_table(const struct rnode *arr, size_t indent, struct dxbuf *out)
{
	size_t ncol = 0, col, *width;
	const struct rnode *row, *f, *hdr = arr->child;

	for (f = hdr->child; f; f = f->next)
		ncol += is_scalar(f);
	width = calloc(ncol ? ncol : 1, sizeof(*width));
	if (!width) {
		out->oom = true;
		return;
	}
	col = 0;
	for (f = hdr->child; f; f = f->next)
		if (is_scalar(f))
			width[col++] = strlen(f->key);
	for (row = arr->child; row; row = row->next) {
		col = 0;
		for (f = row->child; f && col < ncol; f = f->next) {
			if (!is_scalar(f))
				continue;
			size_t w = scalar_width(f);
			if (w > width[col])
				width[col] = w;
			col++;
		}
	}
	dxbuf_pad(out, ' ', indent);
	col = 0;
	for (f = hdr->child; f; f = f->next) {
		if (!is_scalar(f))
			continue;
		for (const char *k = f->key; *k; k++)
			dxbuf_printf(out, "%c", *k == '_' ? ' ' : (*k >= 'a' && *k <= 'z') ? *k - 32 : *k);
		if (col + 1 < ncol)
			dxbuf_pad(out, ' ', width[col] - strlen(f->key) + 2);
		col++;
	}
	dxbuf_puts(out, "\n");
	for (row = arr->child; row; row = row->next) {
		dxbuf_pad(out, ' ', indent);
		col = 0;
		for (f = row->child; f && col < ncol; f = f->next) {
			if (!is_scalar(f))
				continue;
			size_t before = out->len;
			scalar_text(f, out);
			if (col + 1 < ncol)
				dxbuf_pad(out, ' ', width[col] - (out->len - before) + 2);
			col++;
		}
		dxbuf_puts(out, "\n");
	}
	free(width);
}

static void render_text(const struct rnode *obj, size_t indent, struct dxbuf *out)
{
	const struct rnode *c, *e;
	size_t kw = 0;

	for (c = obj->child; c; c = c->next)
		if (strlen(c->key) > kw)
			kw = strlen(c->key);
	for (c = obj->child; c; c = c->next) {
		dxbuf_pad(out, ' ', indent);
		dxbuf_printf(out, "%s:", c->key);
		if (is_scalar(c)) {
			dxbuf_pad(out, ' ', kw - strlen(c->key) + 1);
			scalar_text(c, out);
			dxbuf_puts(out, "\n");
		} else if (c->kind == RN_OBJECT) {
			dxbuf_puts(out, "\n");
			render_text(c, indent + 2, out);
		} else if (!c->child) {
			dxbuf_pad(out, ' ', kw - strlen(c->key) + 1);
			dxbuf_puts(out, "(none)\n");
		} else if (c->child->kind == RN_OBJECT && c->records) {
			dxbuf_puts(out, "\n");
			for (e = c->child; e; e = e->next) {
				size_t first = out->len + indent + 2;
				render_text(e, indent + 4, out);
				if (out->len > first)
					out->buf[first] = '-';
			}
		} else if (c->child->kind == RN_OBJECT) {
			dxbuf_puts(out, "\n");
			render_table(c, indent + 2, out);
		} else {
			dxbuf_pad(out, ' ', kw - strlen(c->key) + 1);
			for (e = c->child; e; e = e->next) {
				if (e != c->child)
					dxbuf_puts(out, ", ");
				scalar_text(e, out);
			}
			dxbuf_puts(out, "\n");
		}
	}
}

int report_render(struct report *r, enum report_format fmt, struct dxbuf *out)
{
	if (r->oom)
		return -ENOMEM;
	if (fmt == REPORT_JSON) {
		render_json(&r->root, out);
		dxbuf_puts(out, "\n");
	} else {
		render_text(&r->root, 0, out);
	}
	return dxbuf_error(out);
}
