#include "clientrig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

struct cr_file *cr_file(struct crig *r, const char *path, bool make)
{
	struct cr_file *free_slot = NULL;

	for (unsigned int i = 0; i < CR_FILES; i++) {
		if (strcmp(r->files[i].path, path) == 0)
			return &r->files[i];
		if (!free_slot && !r->files[i].path[0] && !r->files[i].unlinked)
			free_slot = &r->files[i];
	}
	if (!make || !free_slot || strlen(path) >= sizeof(free_slot->path))
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	snprintf(free_slot->path, sizeof(free_slot->path), "%s", path);
	free_slot->ino = ++r->next_ino;
	return free_slot;
}

struct cr_file *cr_replace(struct crig *r, const char *path)
{
	struct cr_file *old = cr_file(r, path, false), *f;

	if (!old)
		return NULL;
	old->path[0] = '\0';
	old->unlinked = true;
	f = cr_file(r, path, true);
	if (!f) { /* no room: the old one stays at the path */
		snprintf(old->path, sizeof(old->path), "%s", path);
		old->unlinked = false;
	}
	return f;
}

static struct cr_file *file_of(struct crig *r, uint64_t fh)
{
	return fh && fh < CR_HANDLES && r->handle_file[fh] >= 0 ? &r->files[r->handle_file[fh]] : NULL;
}

struct cr_layout *cr_layout(struct crig *r, uint64_t id)
{
	for (unsigned int i = 0; i < CR_LAYOUTS; i++)
		if (r->layouts[i].live && r->layouts[i].id == id)
			return &r->layouts[i];
	return NULL;
}

/* A new connection: the daemon numbers its handles from 1 again, and what
 * the old one held is gone. */
static void new_connection(struct crig *r, struct fv_peer *p)
{
	r->p = p;
	r->n_pending = 0; /* what waited for the old connection is gone with it */
	r->next_fh = 0;
	for (unsigned int i = 0; i < CR_HANDLES; i++)
		r->handle_file[i] = -1;
	for (unsigned int i = 0; i < CR_LAYOUTS; i++)
		r->layouts[i].live = false;
}

static unsigned int op_open(struct crig *r, const struct dxp_msg *m, struct dxp_msg *rep)
{
	char path[64];
	struct cr_file *f;

	snprintf(path, sizeof(path), "%.*s", (int)m->u.open.path_len, m->s2);
	f = cr_file(r, path, m->u.open.flags & DXP_OPEN_CREATE);
	if (!f)
		return DXP_E_NOENT;
	if (r->next_fh + 1 >= CR_HANDLES)
		return DXP_E_LIMIT;
	r->handle_file[++r->next_fh] = (int)(f - r->files);
	if (m->u.open.flags & DXP_OPEN_TRUNC)
		f->size = 0;
	rep->u.open_rep.fh = r->next_fh;
	rep->u.open_rep.size = f->size;
	rep->u.open_rep.attrs = DXP_ATTR_FILE_ID | (r->one_sided ? DXP_ATTR_REMOTE_PERSIST : 0);
	rep->file_id = (struct dxp_file_id){ .ino = f->ino, .gen = 1 };
	return DXP_E_OK;
}

/* RENAME or REMOVE of the file of a handle, as the daemon does them (it
 * acts only on a file that still has a name). */
static unsigned int op_rename(struct crig *r, const struct dxp_msg *m)
{
	struct cr_file *f = file_of(r, m->hdr.op == DXP_RENAME ? m->u.rename.fh : m->u.fh.fh), *g;
	char path[64];

	if (!f)
		return DXP_E_BADHANDLE;
	if (f->unlinked)
		return DXP_E_NOENT;
	if (m->hdr.op == DXP_REMOVE) {
		f->path[0] = '\0';
		f->unlinked = true;
		return DXP_E_OK;
	}
	snprintf(path, sizeof(path), "%.*s", (int)m->u.rename.path_len, m->s1);
	if (strlen(path) >= sizeof(f->path))
		return DXP_E_NOTSUPP;
	g = cr_file(r, path, false);
	if (g && g != f) { /* replaced: it stays with the handles that have it */
		g->path[0] = '\0';
		g->unlinked = true;
	}
	snprintf(f->path, sizeof(f->path), "%s", path);
	return DXP_E_OK;
}

static unsigned int op_layout_get(struct crig *r, const struct dxp_msg *m, struct dxp_msg *rep)
{
	const struct dxp_layout_get_req *q = &m->u.lget;
	struct cr_file *f = file_of(r, q->fh);
	struct cr_layout *l = NULL;

	if (!f)
		return DXP_E_BADHANDLE;
	if (q->off + q->len > f->size || q->off + q->len > CR_FILE_SIZE)
		return DXP_E_RANGE;
	for (unsigned int i = 0; i < CR_LAYOUTS && !l; i++)
		if (!r->layouts[i].live)
			l = &r->layouts[i];
	if (!l)
		return DXP_E_LIMIT;
	*l = (struct cr_layout){ .id = ++r->next_layout_id, .file = (unsigned int)(f - r->files), .fh = q->fh, .off = q->off,
				 .len = q->len, .rkey = ++r->next_rkey, .live = true,
				 .rw = q->iomode == DXP_IOMODE_RW };
	rep->u.lget_rep = (struct dxp_layout_get_rep){
		.stateid = { .id = l->id, .seq = 1 }, .off = q->off + (r->grant_elsewhere ? DXP_PAGE : 0), .len = q->len,
		.raddr = (uintptr_t)(f->data + q->off), .rkey = l->rkey, .iomode = q->iomode,
		.mr_mode = DXP_MR_PINNED, .flags = r->one_sided ? DXP_LAYOUT_FLUSH : 0,
	};
	return DXP_E_OK;
}

/* What daxrdmad does at a COMMIT of [OFF, +LEN) of L, and at a return of
 * L without CLEAN (the whole layout): the bytes are persistent. */
static void persist(struct crig *r, const struct cr_layout *l, uint64_t off, uint64_t len)
{
	struct cr_file *f = &r->files[l->file];

	if (l->rw)
		memcpy(f->durable + off, f->data + off, len);
}

/* LAYOUT_RETURN (DIRTY: without CLEAN) of L. */
static void give_back(struct crig *r, struct cr_layout *l, bool dirty)
{
	if (dirty)
		persist(r, l, l->off, l->len);
	l->live = false;
}

static unsigned int answer(struct crig *r, struct fv_peer *p, const struct dxp_msg *m, struct dxp_msg *rep)
{
	struct cr_file *f;
	struct cr_layout *l;

	switch (m->hdr.op) {
	case DXP_HELLO:
		new_connection(r, p);
		rep->u.hello = (struct dxp_hello){
			.magic = DXP_MAGIC, .version = DXP_VERSION, .credits = 16, .max_msg = DXP_MAX_MSG,
			.features = m->u.hello.features & (DXP_FEAT_FILE_RECALL | DXP_FEAT_FILE_ID | DXP_FEAT_RENAME |
							   (r->old_daemon ? 0 : DXP_FEAT_RETURN_PERSISTS) |
							   (r->one_sided ? DXP_FEAT_REMOTE_PERSIST : 0)),
			.recall_timeout_ms = 2000, .max_layout_size = CR_FILE_SIZE,
		};
		if (r->hello.features)
			rep->u.hello.features |= r->hello.features;
		if (r->hello.recall_timeout_ms)
			rep->u.hello.recall_timeout_ms = r->hello.recall_timeout_ms;
		if (r->hello.max_layout_size)
			rep->u.hello.max_layout_size = r->hello.max_layout_size;
		return DXP_E_OK;
	case DXP_OPEN:
		return op_open(r, m, rep);
	case DXP_CLOSE:
		if (!file_of(r, m->u.fh.fh))
			return DXP_E_BADHANDLE;
		r->handle_file[m->u.fh.fh] = -1;
		for (unsigned int i = 0; i < CR_LAYOUTS; i++) /* CLOSE returns the handle's layouts */
			if (r->layouts[i].live && r->layouts[i].fh == m->u.fh.fh)
				give_back(r, &r->layouts[i], true);
		return DXP_E_OK;
	case DXP_STAT:
		f = file_of(r, m->u.fh.fh);
		if (!f)
			return DXP_E_BADHANDLE;
		rep->u.stat_rep.size = f->size;
		return DXP_E_OK;
	case DXP_ALLOCATE:
		f = file_of(r, m->u.alloc.fh);
		if (!f)
			return DXP_E_BADHANDLE;
		if (m->u.alloc.off + m->u.alloc.len > CR_FILE_SIZE)
			return DXP_E_NOSPC;
		if ((m->u.alloc.flags & DXP_ALLOC_SETSIZE) || m->u.alloc.off + m->u.alloc.len > f->size)
			f->size = m->u.alloc.off + m->u.alloc.len;
		rep->u.alloc_rep.size = f->size;
		return DXP_E_OK;
	case DXP_LAYOUT_GET:
		return op_layout_get(r, m, rep);
	case DXP_LAYOUT_RETURN:
		l = cr_layout(r, m->u.lret.stateid.id);
		if (!l)
			return DXP_E_STALE_STATEID;
		give_back(r, l, !(m->u.lret.flags & DXP_RETURN_CLEAN));
		return DXP_E_OK;
	case DXP_COMMIT:
		l = cr_layout(r, m->u.commit.stateid.id);
		if (!l)
			return DXP_E_STALE_STATEID;
		if (m->u.commit.off < l->off || m->u.commit.len > l->len ||
		    m->u.commit.off - l->off > l->len - m->u.commit.len)
			return DXP_E_RANGE;
		persist(r, l, m->u.commit.off, m->u.commit.len);
		return DXP_E_OK;
	case DXP_RENAME:
	case DXP_REMOVE:
		return op_rename(r, m);
	case DXP_RECALL_RETURN: {
		unsigned int n = 0;

		for (unsigned int i = 0; i < CR_LAYOUTS; i++)
			if (r->layouts[i].live && r->layouts[i].recall_id == m->u.rret.recall_id) {
				give_back(r, &r->layouts[i], !(m->u.rret.flags & DXP_RETURN_CLEAN));
				n++;
			}
		return n || !m->u.rret.recall_id ? DXP_E_OK : DXP_E_STALE_STATEID;
	}
	default:
		return DXP_E_PROTO;
	}
}

/* Send M to the client on P: into a posted receive, or, if none is posted
 * (RNR), after the ones waiting, as the client posts receives; on a QP that
 * is gone, nowhere. */
static void deliver(struct crig *r, struct fv_peer *p, const struct dxp_msg *m)
{
	uint8_t buf[DXP_MAX_MSG];
	ssize_t len = dxp_encode(m, buf, sizeof(buf));
	int ret;

	if (len <= 0)
		abort(); /* the rig's own messages always encode */
	ret = r->n_pending && p == r->p ? -ENOBUFS : fv_peer_deliver(p, buf, (size_t)len);
	if (ret != -ENOBUFS || p != r->p)
		return;
	if (r->n_pending == sizeof(r->pending) / sizeof(r->pending[0]))
		abort(); /* a test that sends this much unread is wrong */
	memcpy(r->pending[r->n_pending].bytes, buf, (size_t)len);
	r->pending[r->n_pending++].len = (size_t)len;
}

void cr_recall(struct crig *r, uint64_t id)
{
	struct cr_layout *l = cr_layout(r, id);
	struct dxp_msg m = { .hdr.op = DXP_LAYOUT_RECALL };

	if (l)
		l->recalled = true;

	m.u.recall = (struct dxp_layout_recall){
		.stateid = { .id = id, .seq = 1 }, .off = l ? l->off : 0, .len = l ? l->len : DXP_PAGE,
		.reason = DXP_RECALL_CONFLICT, .timeout_ms = 2000,
	};
	deliver(r, r->p, &m);
}

unsigned int cr_file_recall(struct crig *r, uint64_t fh)
{
	struct dxp_msg m = { .hdr.op = DXP_FILE_RECALL };
	uint64_t rid = ++r->next_recall_id;
	unsigned int n = 0;

	for (unsigned int i = 0; i < CR_LAYOUTS; i++) {
		struct cr_layout *l = &r->layouts[i];

		if (l->live && l->fh == fh && !l->recall_id) {
			l->recalled = true;
			l->recall_id = rid;
			n++;
		}
	}
	m.u.frecall = (struct dxp_file_recall){
		.recall_id = rid, .fh = fh, .off = 0, .len = UINT64_MAX, .max_id = r->next_layout_id,
		.reason = DXP_RECALL_LOCAL, .timeout_ms = 2000, .count = n,
	};
	deliver(r, r->p, &m);
	return n;
}

void cr_bye(struct crig *r, unsigned int reason)
{
	struct dxp_msg m = { .hdr.op = DXP_BYE };

	m.u.bye.reason = reason;
	deliver(r, r->p, &m);
}

void cr_pattern(uint64_t ino, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		uint64_t word = ino << 48 | ((off + i) & ~7ull);

		p[i] = (uint8_t)(word >> (8 * ((off + i) & 7)));
	}
}

/* The client sent M on P's QP: the daemon answers at once. */
static void on_sent(struct fv_peer *p, const struct dxp_msg *m, void *arg)
{
	struct crig *r = arg;
	struct dxp_msg rep;
	unsigned int code;

	if (!m || m->hdr.op == DXP_BYE)
		return;
	r->requests++;
	memset(&rep, 0, sizeof(rep));
	if (m->hdr.op != DXP_HELLO && r->silent_after_busy && !r->busy_replies)
		return;
	if (m->hdr.op != DXP_HELLO && r->busy_replies) {
		r->busy_replies--;
		code = DXP_E_BUSY_LOCAL;
	} else {
		code = answer(r, p, m, &rep);
	}
	if (code != DXP_E_OK) {
		memset(&rep, 0, sizeof(rep));
		rep.hdr.op = DXP_ERROR;
		rep.u.error.code = code;
		if (r->error_text) {
			rep.s1 = r->error_text;
			rep.u.error.msg_len = (uint16_t)strlen(r->error_text);
		}
	} else {
		rep.hdr.op = m->hdr.op;
	}
	rep.hdr.flags = DXP_F_REPLY;
	rep.hdr.tag = m->hdr.tag;
	deliver(r, p, &rep);
	if (m->hdr.op == DXP_LAYOUT_GET && code == DXP_E_OK && r->recall_next_grant) {
		r->recall_next_grant = false;
		cr_recall(r, rep.u.lget_rep.stateid.id);
	}
}

/* The NIC: an RDMA request reaches a live layout's memory through its rkey. */
static int on_rdma(struct fv_peer *p, const struct ibv_send_wr *wr, void *arg)
{
	struct crig *r = arg;
	uint32_t len = wr->num_sge ? wr->sg_list->length : 0;
	uint64_t raddr = wr->wr.rdma.remote_addr;

	if (r->stall_rdma)
		return FV_RDMA_HOLD;
	for (unsigned int i = 0; i < CR_LAYOUTS; i++) {
		const struct cr_layout *l = &r->layouts[i];
		uint8_t *base = r->files[l->file].data + l->off;

		if (!l->live || l->rkey != wr->wr.rdma.rkey)
			continue;
		if (raddr < (uintptr_t)base || raddr + len > (uintptr_t)base + l->len ||
		    (wr->opcode == IBV_WR_RDMA_WRITE && !l->rw))
			return IBV_WC_REM_ACCESS_ERR;
		if (wr->opcode == IBV_WR_RDMA_WRITE && r->check_payload) {
			uint8_t want[4096];
			uint64_t at = l->off + (raddr - (uintptr_t)base);

			for (uint32_t done = 0; done < len; done += sizeof(want)) {
				uint32_t n = len - done < sizeof(want) ? len - done : (uint32_t)sizeof(want);

				cr_pattern(r->files[l->file].ino, at + done, want, n);
				if (memcmp(want, (const uint8_t *)(uintptr_t)wr->sg_list->addr + done, n) != 0)
					abort(); /* the oracle: these bytes were written for another place */
			}
		}
		if (wr->opcode == IBV_WR_RDMA_WRITE)
			memcpy((void *)(uintptr_t)raddr, (const void *)(uintptr_t)wr->sg_list->addr, len);
		else
			memcpy((void *)(uintptr_t)wr->sg_list->addr, (const void *)(uintptr_t)raddr, len);
		return IBV_WC_SUCCESS;
	}
	return IBV_WC_REM_ACCESS_ERR;
}

/* A daemon that floods: each receive the client posts gets a message at
 * once, as long as the flood lasts. */
static void on_recv_posted(const struct fv_peer *p, void *arg)
{
	struct crig *r = arg;

	if (p == r->p && r->n_pending) { /* the oldest waiting message takes it */
		int ret = fv_peer_deliver(r->p, r->pending[0].bytes, r->pending[0].len);

		if (ret == 0 || ret == -ENOTCONN) {
			r->n_pending--;
			memmove(&r->pending[0], &r->pending[1], r->n_pending * sizeof(r->pending[0]));
		}
		return;
	}
	if (r->flood && p == r->p) {
		r->flood--;
		cr_recall(r, 1u << 30); /* no such layout */
	}
}

static int on_connect(struct fv_peer *p, void *arg)
{
	return ((struct crig *)arg)->refuse_connect ? -1 : 0;
}

char cr_log[16][512];
unsigned int cr_n_log;

static void on_log(void *arg, int prio, const char *msg)
{
	if (cr_n_log == sizeof(cr_log) / sizeof(cr_log[0])) {
		memmove(cr_log[0], cr_log[1], sizeof(cr_log) - sizeof(cr_log[0]));
		cr_n_log--;
	}
	snprintf(cr_log[cr_n_log++], sizeof(cr_log[0]), "%s", msg);
}

struct crig *cr_new(int timeout_ms, unsigned int flags, daxrdma_recall_fn recall, void *arg)
{
	struct daxrdma_client_opts o = {
		.size = sizeof(o), .timeout_ms = timeout_ms, .flags = flags, .recall = recall, .recall_arg = arg,
		.log = on_log, .log_level = LOG_DEBUG,
	};
	struct crig *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	cr_n_log = 0;
	new_connection(r, NULL);
	fv_set_sent_hook(on_sent, r);
	fv_set_rdma_hook(on_rdma, r);
	fv_set_connect_hook(on_connect, r);
	fv_set_recv_hook(on_recv_posted, r);
	if (daxrdma_client_new(&o, &r->c))
		abort();
	return r;
}

struct crig *cr_up(int timeout_ms, unsigned int flags, daxrdma_recall_fn recall, void *arg)
{
	struct crig *r = cr_new(timeout_ms, flags, recall, arg);

	if (daxrdma_connect(r->c, "192.0.2.1", NULL))
		abort(); /* the rig's daemon takes every connection unless told */
	return r;
}

void cr_down(struct crig *r)
{
	daxrdma_client_delete(&r->c);
	fv_set_sent_hook(NULL, NULL);
	fv_set_rdma_hook(NULL, NULL);
	fv_set_connect_hook(NULL, NULL);
	fv_set_recv_hook(NULL, NULL);
	fv_cm_free_all();
	free(r);
}
