#include "common/proto.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

/*
 * Body of each message as a field list: b/h/w/q = 8/16/32/64-bit field,
 * upper case = reserved (zero on send, checked on receipt). The union member
 * of struct dxp_msg has exactly these fields in this order; test_proto checks
 * that the widths add up to the struct sizes.
 */
#define SPEC_STATEID "qwW"

struct msg_spec {
	const char *body;      /* NULL: this op/direction does not exist */
	size_t size;           /* sizeof the body struct */
};

static const struct msg_spec specs[DXP_OP_MAX][2] = {
	[DXP_HELLO] = { { "whHwwqwWq", sizeof(struct dxp_hello) }, { "whHwwqwWq", sizeof(struct dxp_hello) } },
	[DXP_OPEN] = { { "whhwW", sizeof(struct dxp_open_req) }, { "qqww", sizeof(struct dxp_open_rep) } },
	[DXP_CLOSE] = { { "q", sizeof(struct dxp_fh_req) }, { "", 0 } },
	[DXP_STAT] = { { "q", sizeof(struct dxp_fh_req) }, { "qqqww", sizeof(struct dxp_stat_rep) } },
	[DXP_ALLOCATE] = { { "qqqwW", sizeof(struct dxp_allocate_req) }, { "q", sizeof(struct dxp_allocate_rep) } },
	[DXP_LAYOUT_GET] = { { "qqqwW", sizeof(struct dxp_layout_get_req) },
			     { SPEC_STATEID "qqqwwww", sizeof(struct dxp_layout_get_rep) } },
	[DXP_LAYOUT_RETURN] = { { SPEC_STATEID "wW", sizeof(struct dxp_layout_return_req) }, { "", 0 } },
	[DXP_LAYOUT_RECALL] = { { SPEC_STATEID "qqww", sizeof(struct dxp_layout_recall) }, { NULL, 0 } },
	[DXP_COMMIT] = { { SPEC_STATEID "qq", sizeof(struct dxp_commit_req) }, { "", 0 } },
	[DXP_ERROR] = { { NULL, 0 }, { "whH", sizeof(struct dxp_error) } },
	[DXP_BYE] = { { "wW", sizeof(struct dxp_bye) }, { NULL, 0 } },
	[DXP_FILE_RECALL] = { { "qqqqqwwwW", sizeof(struct dxp_file_recall) }, { NULL, 0 } },
	[DXP_RECALL_RETURN] = { { "qwW", sizeof(struct dxp_recall_return_req) }, { "", 0 } },
	[DXP_RENAME] = { { "qhHW", sizeof(struct dxp_rename_req) }, { "", 0 } },
	[DXP_REMOVE] = { { "q", sizeof(struct dxp_fh_req) }, { "", 0 } },
};

static const char *const op_names[DXP_OP_MAX] = {
	[DXP_HELLO] = "HELLO", [DXP_OPEN] = "OPEN", [DXP_CLOSE] = "CLOSE", [DXP_STAT] = "STAT",
	[DXP_ALLOCATE] = "ALLOCATE", [DXP_LAYOUT_GET] = "LAYOUT_GET", [DXP_LAYOUT_RETURN] = "LAYOUT_RETURN",
	[DXP_LAYOUT_RECALL] = "LAYOUT_RECALL", [DXP_COMMIT] = "COMMIT", [DXP_ERROR] = "ERROR", [DXP_BYE] = "BYE",
	[DXP_FILE_RECALL] = "FILE_RECALL", [DXP_RECALL_RETURN] = "RECALL_RETURN", [DXP_RENAME] = "RENAME",
	[DXP_REMOVE] = "REMOVE",
};

static const struct {
	const char *name;
	int err;
} errs[DXP_E_MAX] = {
	[DXP_E_OK] = { "OK", 0 },
	[DXP_E_MALFORMED] = { "MALFORMED", -EBADMSG },
	[DXP_E_VERSION] = { "VERSION", -EPROTONOSUPPORT },
	[DXP_E_PROTO] = { "PROTO", -EPROTO },
	[DXP_E_ACCESS] = { "ACCESS", -EACCES },
	[DXP_E_NOENT] = { "NOENT", -ENOENT },
	[DXP_E_ROFS] = { "ROFS", -EROFS },
	[DXP_E_RANGE] = { "RANGE", -ERANGE },
	[DXP_E_BUSY_LOCAL] = { "BUSY_LOCAL", -EAGAIN },
	[DXP_E_RECALL_PENDING] = { "RECALL_PENDING", -EINPROGRESS },
	[DXP_E_CONFLICT] = { "CONFLICT", -EDEADLK },
	[DXP_E_STALE_STATEID] = { "STALE_STATEID", -ESTALE },
	[DXP_E_BADHANDLE] = { "BADHANDLE", -EBADF },
	[DXP_E_LIMIT] = { "LIMIT", -EDQUOT },
	[DXP_E_NOSPC] = { "NOSPC", -ENOSPC },
	[DXP_E_NOTSUPP] = { "NOTSUPP", -EOPNOTSUPP },
	[DXP_E_IO] = { "IO", -EIO },
	[DXP_E_EXIST] = { "EXIST", -EEXIST },
};

const char *dxp_op_name(unsigned int op)
{
	return op < DXP_OP_MAX && op_names[op] ? op_names[op] : "UNKNOWN";
}

const char *dxp_err_name(unsigned int code)
{
	return code < DXP_E_MAX ? errs[code].name : "UNKNOWN";
}

int dxp_err_to_errno(unsigned int code)
{
	return code < DXP_E_MAX ? errs[code].err : -EIO;
}

unsigned int dxp_errno_to_err(int neg_errno)
{
	switch (neg_errno) {
	case -ENOTDIR:
	case -ELOOP:
	case -EXDEV: return DXP_E_NOENT;
	case -EPERM: return DXP_E_ACCESS;
	case -EISDIR:
	case -EINVAL: return DXP_E_NOTSUPP;
	case -EFBIG:
	case -ENAMETOOLONG: return DXP_E_RANGE;
	case -ENOMEM: return DXP_E_LIMIT;
	}
	for (unsigned int c = 1; c < DXP_E_MAX; c++)
		if (errs[c].err == neg_errno)
			return c;
	return DXP_E_IO;
}

static const struct msg_spec *spec_of(unsigned int op, bool reply)
{
	if (op == 0 || op >= DXP_OP_MAX || !specs[op][reply].body)
		return NULL;
	return &specs[op][reply];
}

size_t dxp_min_len(unsigned int op, bool reply)
{
	const struct msg_spec *s = spec_of(op, reply);

	return s ? sizeof(struct dxp_hdr) + s->size : 0;
}

static size_t width(char c)
{
	switch (c | 0x20) {
	case 'b': return 1;
	case 'h': return 2;
	case 'w': return 4;
	case 'q': return 8;
	}
	return 0;
}

/* Convert one body between host order (HOST) and wire order (WIRE).
 * Returns false on decode if a reserved field is not zero. */
static bool convert(const char *spec, uint8_t *host, uint8_t *wire, bool encode)
{
	bool ok = true;

	for (const char *f = spec; *f; f++) {
		bool reserved = *f >= 'A' && *f <= 'Z';
		size_t w = width(*f);
		uint64_t v = 0;

		if (encode) {
			memcpy(&v, host, w);
			if (reserved)
				v = 0;
			switch (w) {
			case 2: { uint16_t x = htole16((uint16_t)v); memcpy(wire, &x, 2); break; }
			case 4: { uint32_t x = htole32((uint32_t)v); memcpy(wire, &x, 4); break; }
			case 8: { uint64_t x = htole64(v); memcpy(wire, &x, 8); break; }
			default: memcpy(wire, &v, 1); break;
			}
		} else {
			switch (w) {
			case 2: { uint16_t x; memcpy(&x, wire, 2); x = le16toh(x); memcpy(host, &x, 2); v = x; break; }
			case 4: { uint32_t x; memcpy(&x, wire, 4); x = le32toh(x); memcpy(host, &x, 4); v = x; break; }
			case 8: { uint64_t x; memcpy(&x, wire, 8); x = le64toh(x); memcpy(host, &x, 8); v = x; break; }
			default: memcpy(host, wire, 1); v = *wire; break;
			}
			if (reserved && v != 0)
				ok = false;
		}
		host += w;
		wire += w;
	}
	return ok;
}

/* An OPEN reply with DXP_ATTR_FILE_ID is followed by the file's identity
 * (DXP_FEAT_FILE_ID): its bytes, or 0. */
#define FILE_ID_SPEC "qq"
static size_t extension(const struct dxp_msg *m)
{
	bool open_rep = m->hdr.op == DXP_OPEN && (m->hdr.flags & DXP_F_REPLY);

	return open_rep && (m->u.open_rep.attrs & DXP_ATTR_FILE_ID) ? sizeof(struct dxp_file_id) : 0;
}

/* Lengths of the trailing byte strings of M (host order). */
static void trailing(const struct dxp_msg *m, size_t *l1, size_t *l2)
{
	*l1 = *l2 = 0;
	if (m->hdr.op == DXP_OPEN && !(m->hdr.flags & DXP_F_REPLY)) {
		*l1 = m->u.open.export_len;
		*l2 = m->u.open.path_len;
	} else if (m->hdr.op == DXP_RENAME && !(m->hdr.flags & DXP_F_REPLY)) {
		*l1 = m->u.rename.path_len;
	} else if (m->hdr.op == DXP_ERROR) {
		*l1 = m->u.error.msg_len;
	}
}

ssize_t dxp_encode(const struct dxp_msg *m, void *buf, size_t cap)
{
	bool reply = m->hdr.flags & DXP_F_REPLY;
	const struct msg_spec *s = spec_of(m->hdr.op, reply);
	uint8_t *p = buf;
	struct dxp_hdr h;
	size_t l1, l2, ext, len;

	if (!s || (m->hdr.flags & ~DXP_F_REPLY))
		return -EINVAL;
	trailing(m, &l1, &l2);
	if ((l1 && !m->s1) || (l2 && !m->s2))
		return -EINVAL;
	ext = extension(m);
	len = sizeof(h) + s->size + ext + l1 + l2;
	if (len > cap || len > DXP_MAX_MSG)
		return -EMSGSIZE;
	h.op = m->hdr.op;
	h.flags = m->hdr.flags;
	h.reserved = 0;
	h.len = htole32((uint32_t)len);
	h.tag = htole64(m->hdr.tag);
	memcpy(p, &h, sizeof(h));
	convert(s->body, (uint8_t *)&m->u, p + sizeof(h), true);
	if (ext)
		convert(FILE_ID_SPEC, (uint8_t *)&m->file_id, p + sizeof(h) + s->size, true);
	if (l1)
		memcpy(p + sizeof(h) + s->size, m->s1, l1);
	if (l2)
		memcpy(p + sizeof(h) + s->size + l1, m->s2, l2);
	return (ssize_t)len;
}

/* Values a well-formed message of each kind can hold. */
static const char *check_values(const struct dxp_msg *m)
{
	bool reply = m->hdr.flags & DXP_F_REPLY;

	switch (reply ? 0 : m->hdr.op) {
	case DXP_OPEN:
		if (m->u.open.flags & ~(uint32_t)DXP_OPEN_ALL)
			return "OPEN: unknown flags";
		if (m->u.open.export_len == 0 || m->u.open.export_len > DXP_MAX_NAME)
			return "OPEN: export name length out of range";
		if (m->u.open.path_len > DXP_MAX_PATH)
			return "OPEN: path too long";
		if (m->u.open.mode & ~07777u)
			return "OPEN: mode has bits beyond 07777";
		break;
	case DXP_RENAME:
		if (m->u.rename.path_len == 0 || m->u.rename.path_len > DXP_MAX_PATH)
			return "RENAME: path length out of range";
		break;
	case DXP_ALLOCATE:
		if (m->u.alloc.flags & ~(uint32_t)DXP_ALLOC_SETSIZE)
			return "ALLOCATE: unknown flags";
		break;
	case DXP_LAYOUT_GET:
		if (m->u.lget.iomode != DXP_IOMODE_READ && m->u.lget.iomode != DXP_IOMODE_RW)
			return "LAYOUT_GET: iomode is neither READ nor RW";
		break;
	case DXP_LAYOUT_RECALL:
		if (m->u.recall.reason < DXP_RECALL_LOCAL || m->u.recall.reason > DXP_RECALL_SHUTDOWN)
			return "LAYOUT_RECALL: unknown reason";
		break;
	case DXP_FILE_RECALL:
		if (m->u.frecall.reason < DXP_RECALL_LOCAL || m->u.frecall.reason > DXP_RECALL_SHUTDOWN)
			return "FILE_RECALL: unknown reason";
		if (m->u.frecall.recall_id == 0 || m->u.frecall.count == 0)
			return "FILE_RECALL: no recall id or no layout";
		break;
	case DXP_RECALL_RETURN:
		if (m->u.rret.flags & ~(uint32_t)DXP_RETURN_CLEAN)
			return "RECALL_RETURN: unknown flags";
		break;
	case DXP_LAYOUT_RETURN:
		if (m->u.lret.flags & ~(uint32_t)DXP_RETURN_CLEAN)
			return "LAYOUT_RETURN: unknown flags";
		break;
	}
	if (m->hdr.op == DXP_ERROR && (m->u.error.code == 0 || m->u.error.code >= DXP_E_MAX))
		return "ERROR: unknown code";
	if (m->hdr.op == DXP_ERROR && m->u.error.msg_len > DXP_MAX_ERRMSG)
		return "ERROR: message too long";
	return NULL;
}

int dxp_decode(const void *buf, size_t len, struct dxp_msg *m, const char **why)
{
	const uint8_t *p = buf;
	const struct msg_spec *s;
	size_t l1, l2, ext;
	bool reply;

	memset(m, 0, sizeof(*m));
	*why = NULL;
	if (len < sizeof(struct dxp_hdr)) {
		*why = "shorter than a header";
		return -EBADMSG;
	}
	memcpy(&m->hdr, p, sizeof(m->hdr));
	m->hdr.len = le32toh(m->hdr.len);
	m->hdr.tag = le64toh(m->hdr.tag);
	m->hdr.reserved = le16toh(m->hdr.reserved);
	reply = m->hdr.flags & DXP_F_REPLY;
	if (m->hdr.len != len)
		*why = "header length differs from the received length";
	else if (m->hdr.reserved || (m->hdr.flags & ~DXP_F_REPLY))
		*why = "reserved header bits set";
	else if (!(s = spec_of(m->hdr.op, reply)))
		*why = reply ? "unknown opcode for a reply" : "unknown opcode for a request";
	else if (len < sizeof(struct dxp_hdr) + s->size)
		*why = "shorter than its opcode's minimum length";
	else if (!convert(s->body, (uint8_t *)&m->u, (uint8_t *)p + sizeof(struct dxp_hdr), false))
		*why = "reserved field not zero";
	else if ((*why = check_values(m)) == NULL) {
		trailing(m, &l1, &l2);
		ext = extension(m);
		if (len != sizeof(struct dxp_hdr) + s->size + ext + l1 + l2) {
			*why = "length does not match the body and its strings";
		} else {
			if (ext)
				convert(FILE_ID_SPEC, (uint8_t *)&m->file_id, (uint8_t *)p + sizeof(struct dxp_hdr) + s->size,
					false);
			m->s1 = l1 ? (const char *)p + sizeof(struct dxp_hdr) + s->size : NULL;
			m->s2 = l2 ? (const char *)p + sizeof(struct dxp_hdr) + s->size + l1 : NULL;
			if ((l1 && memchr(m->s1, '\0', l1)) || (l2 && memchr(m->s2, '\0', l2)))
				*why = "NUL byte inside a string";
		}
	}
	return *why ? -EBADMSG : 0;
}

const char *dxp_spec_body(unsigned int op, bool reply, size_t *size)
{
	const struct msg_spec *s = spec_of(op, reply);
	size_t w = 0;

	if (!s)
		return NULL;
	for (const char *f = s->body; *f; f++)
		w += width(*f);
	*size = w;
	return s->body;
}
