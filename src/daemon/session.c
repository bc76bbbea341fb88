#include "daemon/session.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/net.h"
#include "daemon/conn.h"
#include "daemon/daemon.h"
#include "daemon/layout.h"
#include "daemon/reap.h"
#include "daemon/recall.h"
#include "daemon/seal.h"

#define MIN_CLIENT_MSG 512u  /* the smallest receive buffer a client may offer */

struct req_ctx {
	struct dx_conn *c;
	const struct dxp_msg *req;
	struct dxp_msg *rep;
	char *msg;
	size_t msglen;
};

static unsigned int fail(struct req_ctx *r, unsigned int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static unsigned int fail(struct req_ctx *r, unsigned int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, r->msglen, fmt, ap);
	va_end(ap);
	return code;
}

static unsigned int fail_errno(struct req_ctx *r, int err, const char *what)
{
	return fail(r, dxp_errno_to_err(err), "%s: %s", what, strerror(-err));
}

static struct dx_handle *find_handle(struct dx_conn *c, uint64_t fh)
{
	struct dx_handle *h;

	TAILQ_FOREACH(h, &c->handles, link)
		if (h->fh == fh)
			return h;
	return NULL;
}

/* The open, unrevoked handle FH, or NULL with *CODE set (BADHANDLE or
 * ACCESS) and the reason in the reply. */
static struct dx_handle *get_handle(struct req_ctx *r, uint64_t fh, unsigned int *code)
{
	struct dx_handle *h = find_handle(r->c, fh);

	if (!h) {
		*code = fail(r, DXP_E_BADHANDLE, "no open file %llu", (unsigned long long)fh);
		return NULL;
	}
	if (h->revoked) {
		*code = fail(r, DXP_E_ACCESS, "%s", h->revoked);
		return NULL;
	}
	return h;
}

/* May this client still change a file it reaches through export X (its
 * handle's or its layout's)? Checked again at every LAYOUT_GET RW, ALLOCATE
 * and COMMIT: a reload may have taken the right away. */
static unsigned int check_writable(struct req_ctx *r, const struct dx_export *x)
{
	switch (dx_conn_write_refusal(r->c, x)) {
	case DXP_E_NOENT:
		return fail(r, DXP_E_NOENT, "the export of this file is gone");
	case DXP_E_ACCESS:
		return fail(r, DXP_E_ACCESS, "export \"%s\" no longer admits %s", x->cfg->name, r->c->peer);
	case DXP_E_ROFS:
		return fail(r, DXP_E_ROFS, "export \"%s\" is read_only", x->cfg->name);
	}
	return DXP_E_OK;
}

/* FH, open for writing through an export the client may still write to:
 * the handle, or NULL with *CODE set and the reason in the reply. */
static struct dx_handle *get_writable_handle(struct req_ctx *r, uint64_t fh, unsigned int *code)
{
	struct dx_handle *h = get_handle(r, fh, code);

	if (!h)
		return NULL;
	*code = check_writable(r, h->x);
	if (*code)
		return NULL;
	if (!h->rw) {
		*code = fail(r, DXP_E_ROFS, "the file is not open for writing");
		return NULL;
	}
	return h;
}

static struct dx_layout *find_layout(struct dx_conn *c, const struct dxp_stateid *sid)
{
	struct dx_layout *l = dx_layout_find(c, sid->id);

	/* Only layouts the client has been told of and still holds. */
	return l && l->seq == sid->seq && l->state != LAYOUT_GRANTING && !dx_layout_dead(l) ? l : NULL;
}

static const struct dx_export *find_export(struct dxd *d, const char *name)
{
	for (size_t i = 0; i < d->exports->n; i++)
		if (strcmp(d->exports->v[i].cfg->name, name) == 0)
			return &d->exports->v[i];
	return NULL;
}

/* File F's attributes as the client sees it through export X. */
static uint32_t file_attrs(const struct dx_export *x, const struct dx_file *f)
{
	return (x && x->kind != DX_EXPORT_FS && f->dax ? DXP_ATTR_DAX : 0) |
	       (x && x->cfg->read_only ? DXP_ATTR_READ_ONLY : 0);
}

/* A background job ended: answer the request that started it. (Jobs that
 * no request waits for, persisting returns at CLOSE and at disconnect, have
 * no callback.) */
static void job_done(struct dx_layout *l, enum dx_job_kind kind, uint64_t tag, int result)
{
	static const uint32_t op_of[] = {
		[DX_JOB_GRANT] = DXP_LAYOUT_GET,
		[DX_JOB_COMMIT] = DXP_COMMIT,
		[DX_JOB_COPY_BACK] = DXP_LAYOUT_RETURN,
	};
	struct dx_conn *c = l->c;
	struct dxp_msg rep;
	char msg[DXP_MAX_ERRMSG + 1] = "";
	unsigned int code = DXP_E_OK;

	if (c->state == CONN_CLOSING)
		return;
	memset(&rep, 0, sizeof(rep));
	if (result == -ECANCELED && kind == DX_JOB_GRANT) {
		code = l->f->lease == LEASE_BREAKING ? DXP_E_BUSY_LOCAL : DXP_E_RECALL_PENDING;
		snprintf(msg, sizeof(msg), "the grant was cancelled: %s", dx_recall_reason_name(l->recall_reason));
	} else if (result) {
		code = dxp_errno_to_err(result);
		snprintf(msg, sizeof(msg), "%s: %s", kind == DX_JOB_GRANT ? "layout" : kind == DX_JOB_COMMIT ?
			 "commit" : "returned, but not persisted", strerror(-result));
	} else if (kind == DX_JOB_GRANT) {
		struct dxp_layout_get_rep *a = &rep.u.lget_rep;

		a->stateid.id = l->id;
		a->stateid.seq = l->seq;
		a->off = l->off;
		a->len = l->len;
		a->raddr = (uint64_t)(uintptr_t)l->mr->addr;
		a->rkey = l->mr->rkey;
		a->iomode = l->iomode;
		a->mr_mode = l->mr_mode;
		a->flags = l->flush ? DXP_LAYOUT_FLUSH : 0;
		/* No rkey in the log: it is a capability, and the journal has readers. */
		log_info("client %llu: layout %llu on %s/%s [%llu, +%llu) %s, %s MR%s", (unsigned long long)c->id,
			 (unsigned long long)l->id, l->f->export_name, l->f->relpath, (unsigned long long)l->off,
			 (unsigned long long)l->len, l->iomode == DXP_IOMODE_RW ? "RW" : "READ",
			 l->mr_mode == DXP_MR_BOUNCE ? "bounce" : l->mr_mode == DXP_MR_ODP ? "odp" : "pinned",
			 l->flush ? " for RDMA FLUSH" : "");
	}
	dx_conn_answer(c, op_of[kind], tag, code, msg, &rep); /* any tag, 0 too */
}

static unsigned int op_hello(struct req_ctx *r)
{
	const struct dxp_hello *q = &r->req->u.hello;
	struct dxp_hello *a = &r->rep->u.hello;
	struct dx_conn *c = r->c;

	if (q->magic != DXP_MAGIC || q->version != DXP_VERSION)
		return fail(r, DXP_E_VERSION, "this daxrdmad speaks protocol %d (magic %#x)", DXP_VERSION, DXP_MAGIC);
	if (c->state == CONN_READY)
		return fail(r, DXP_E_PROTO, "HELLO was already exchanged");
	if (q->credits == 0 || q->max_msg < MIN_CLIENT_MSG)
		return fail(r, DXP_E_MALFORMED, "HELLO needs credits >= 1 and max_msg >= %u", MIN_CLIENT_MSG);
	c->recall_credits = q->credits < DX_MAX_RECALL_CREDITS ? q->credits : DX_MAX_RECALL_CREDITS;
	c->state = CONN_READY;
	evtimer_del(c->ev_timer);
	a->magic = DXP_MAGIC;
	a->version = DXP_VERSION;
	a->credits = DX_SRV_CREDITS;
	a->max_msg = DXP_MAX_MSG;
	/* Recalls of many layouts as one message, for clients that take them. */
	c->file_recall = q->features & DXP_FEAT_FILE_RECALL;
	/* One-sided persistence, on the files OPEN marks, for clients that know it. */
	c->remote_persist = q->features & DXP_FEAT_REMOTE_PERSIST;
	/* Which file an OPEN opened, for clients that check it when they open
	 * a file again after a reconnect. */
	c->file_id = q->features & DXP_FEAT_FILE_ID;
	/* RDMA FLUSH, on the layouts whose MR takes it, where this build can
	 * register them so (DX_ACCESS_FLUSH). */
	c->flush = dx_rdma_flush_built() && c->remote_persist && (q->features & DXP_FEAT_FLUSH);
	a->features = q->features & (DXP_FEAT_FILE_RECALL | DXP_FEAT_REMOTE_PERSIST | DXP_FEAT_FILE_ID | DXP_FEAT_RENAME |
				     DXP_FEAT_RETURN_PERSISTS | (c->flush ? DXP_FEAT_FLUSH : 0));
	a->recall_timeout_ms = (uint32_t)c->d->cfg->recall_timeout_ms;
	a->max_layout_size = (uint64_t)c->d->cfg->max_layout_size;
	log_info("client %llu (%s): HELLO, %u recall credits", (unsigned long long)c->id, c->peer,
		 c->recall_credits);
	return DXP_E_OK;
}

static unsigned int op_open(struct req_ctx *r)
{
	const struct dxp_open_req *q = &r->req->u.open;
	struct dx_conn *c = r->c;
	char name[DXP_MAX_NAME + 1], path[DXP_MAX_PATH + 1];
	const struct dx_export *x;
	struct dx_handle *h;
	struct dx_file *f;
	struct stat st;
	bool rw = q->flags & DXP_OPEN_RW;
	int ret;

	memcpy(name, r->req->s1, q->export_len);
	name[q->export_len] = '\0';
	memcpy(path, r->req->s2 ? r->req->s2 : "", q->path_len);
	path[q->path_len] = '\0';
	x = find_export(c->d, name);
	if (!x)
		return fail(r, DXP_E_NOENT, "no export \"%s\"", name);
	if (!dx_export_admits(x, (const struct sockaddr *)&c->peer_addr))
		return fail(r, DXP_E_ACCESS, "export \"%s\" does not admit %s", name, c->peer);
	if ((q->flags & (DXP_OPEN_CREATE | DXP_OPEN_TRUNC)) && !rw)
		return fail(r, DXP_E_MALFORMED, "CREATE and TRUNC need RW");
	if (rw && x->cfg->read_only)
		return fail(r, DXP_E_ROFS, "export \"%s\" is read_only", name);
	if ((int64_t)c->n_handles >= c->d->cfg->max_files_per_client)
		return fail(r, DXP_E_LIMIT, "limits.max_files_per_client (%lld) reached",
			    (long long)c->d->cfg->max_files_per_client);
	h = calloc(1, sizeof(*h));
	if (h)
		h->path = strdup(path);
	if (!h || !h->path) {
		free(h);
		return fail(r, DXP_E_IO, "out of memory");
	}
	ret = dx_file_open(c->d, x, path, q->flags, q->mode ? q->mode : 0644, &f);
	if (ret == -EBUSY) {
		/* TRUNC of a file with layouts: they come back first. */
		free(h->path);
		free(h);
		return fail(r, DXP_E_RECALL_PENDING, "layouts on \"%s\" are being recalled before the truncate", path);
	}
	if (ret) {
		free(h->path);
		free(h);
		if (ret == -EXDEV || ret == -ELOOP)
			return fail(r, DXP_E_NOENT, "\"%s\" resolves outside export \"%s\" (or across a mount)", path,
				    name);
		return fail_errno(r, ret, path);
	}
	h->fh = ++c->next_fh;
	h->f = f;
	h->x = x;
	h->rw = rw;
	TAILQ_INSERT_TAIL(&c->handles, h, link);
	c->n_handles++;
	if (dx_file_stat(f, &st))
		st.st_size = 0;
	r->rep->u.open_rep.fh = h->fh;
	r->rep->u.open_rep.size = (uint64_t)st.st_size;
	r->rep->u.open_rep.attrs = file_attrs(x, f) |
		(c->remote_persist && dx_export_file_remote_persist(x, f->dax) ? DXP_ATTR_REMOTE_PERSIST : 0);
	r->rep->u.open_rep.mr_mode = dx_mr_mode_wire(dx_export_file_mr_mode(x, f->dax));
	if (c->file_id) {
		r->rep->u.open_rep.attrs |= DXP_ATTR_FILE_ID;
		/* a device-DAX file is the device: its node's numbers change at a reboot */
		if (!f->device) {
			r->rep->file_id.ino = (uint64_t)f->ino;
			r->rep->file_id.gen = f->gen;
		}
	}
	log_debug("client %llu: OPEN %s/%s %s -> fh %llu", (unsigned long long)c->id, name, path,
		  rw ? "RW" : "READ", (unsigned long long)h->fh);
	return DXP_E_OK;
}

static unsigned int op_close(struct req_ctx *r)
{
	struct dx_handle *h = find_handle(r->c, r->req->u.fh.fh);
	struct dx_layout *l;

	if (!h)
		return fail(r, DXP_E_BADHANDLE, "no open file %llu", (unsigned long long)r->req->u.fh.fh);
	/* Closing a file returns this client's layouts on it (grants in
	 * progress are cancelled; their requests fail). */
	TAILQ_FOREACH(l, &r->c->layouts, by_conn) {
		if (!h->f || l->f != h->f || dx_layout_dead(l))
			continue;
		if (l->state == LAYOUT_GRANTING) {
			dx_layout_fence(l);
		} else if (dx_layout_return(l) < 0) {
			dx_conn_fence(r->c, "ibv_dereg_mr failed at CLOSE");
			return DXP_E_IO;
		} else {
			(void)dx_layout_persist_returned(l, NULL, 0); /* logged if it cannot */
		}
	}
	dx_handle_free(r->c, h);
	dx_recall_pump(r->c);
	return DXP_E_OK;
}

/* RENAME and REMOVE of the handle's file, within its export. */
static unsigned int op_rename(struct req_ctx *r)
{
	bool remove = r->req->hdr.op == DXP_REMOVE;
	unsigned int code = DXP_E_OK;
	struct dx_handle *h = get_writable_handle(r, remove ? r->req->u.fh.fh : r->req->u.rename.fh, &code);
	char *to = NULL;
	int ret;

	if (!h)
		return code;
	if (!remove && !(to = strndup(r->req->s1, r->req->u.rename.path_len)))
		return fail(r, DXP_E_IO, "out of memory");
	ret = dx_file_rename(h->f, h->x, h->path, to);
	if (ret == -ESTALE)
		code = fail(r, DXP_E_NOENT, "\"%s\" is no longer the file this handle opened", h->path);
	else if (ret == -EXDEV || ret == -ELOOP)
		code = fail(r, DXP_E_NOENT, "\"%s\" resolves outside export \"%s\"", to ? to : h->path,
			    h->x->cfg->name);
	else if (ret == -EEXIST)
		code = fail(r, DXP_E_EXIST, "\"%s\" is not a regular file: it is not replaced", to);
	else if (ret)
		code = fail_errno(r, ret, to ? to : h->path);
	if (ret) {
		free(to);
		return code;
	}
	if (to) {
		free(h->path);
		h->path = to;
	}
	return DXP_E_OK;
}

static unsigned int op_stat(struct req_ctx *r)
{
	struct dxp_stat_rep *a = &r->rep->u.stat_rep;
	unsigned int code = DXP_E_OK;
	struct dx_handle *h = get_handle(r, r->req->u.fh.fh, &code);
	struct stat st;
	int ret;

	if (!h)
		return code;
	ret = dx_file_stat(h->f, &st);
	if (ret)
		return fail_errno(r, ret, "fstat");
	a->size = (uint64_t)st.st_size;
	a->blocks = (uint64_t)st.st_blocks;
	a->blksize = (uint32_t)st.st_blksize;
	a->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
	a->attrs = file_attrs(h->x, h->f);
	return DXP_E_OK;
}

/* SETSIZE to below the end of layouts: they come back first (like a truncate). */
static unsigned int set_size(struct req_ctx *r, struct dx_file *f, uint64_t size)
{
	uint64_t from = size / DXP_PAGE * DXP_PAGE;

	if (dx_recall_file(f, from, UINT64_MAX, DXP_RECALL_CONFLICT))
		return fail(r, DXP_E_RECALL_PENDING, "layouts beyond the new size are being recalled");
	dx_seal_forget_prepared(f, from);
	if (ftruncate(f->fd, (off_t)size))
		return fail_errno(r, -errno, "ftruncate");
	return DXP_E_OK;
}

/* A device-DAX file is allocated from end to end and cannot change size. */
static unsigned int allocate_device(struct req_ctx *r, const struct dx_file *f, const struct dxp_allocate_req *q)
{
	if (q->flags & DXP_ALLOC_SETSIZE)
		return fail(r, DXP_E_NOTSUPP, "a device-DAX file has a fixed size (%llu bytes)",
			    (unsigned long long)f->device_size);
	if (q->off + q->len > f->device_size)
		return fail(r, DXP_E_RANGE, "allocate [%llu, +%llu) ends beyond the device-DAX file's fixed %llu bytes",
			    (unsigned long long)q->off, (unsigned long long)q->len,
			    (unsigned long long)f->device_size);
	r->rep->u.alloc_rep.size = f->device_size;
	return DXP_E_OK;
}

/*
 * An ALLOCATE is a background job (issue 19 §3): each slice reserves part
 * of the range beyond what is allocated already (KEEP_SIZE), and the size
 * changes, if at all, once after the last slice. What a byte costs depends
 * on the file system (XFS only notes extents; tmpfs zeroes every page), so
 * a slice's length follows its time: doubled while a slice takes less than
 * a quarter of a work turn, halved while it takes more than a turn. The job
 * belongs to its handle: closing or revoking the handle cancels it, and a
 * lease break on the file stops it (BUSY_LOCAL, like a LAYOUT_GET).
 */
#define DX_ALLOC_SLICE_MAX (1ull << 30)

struct alloc_job {
	struct dx_work w;        /* first: the work queue hands it back */
	struct dx_conn *c;
	struct dx_handle *h;
	uint64_t tag;
	uint64_t off, end, next; /* [off, end), reserved up to next */
	uint64_t slice;          /* the next slice's length */
	bool setsize;
};

static struct alloc_job *alloc_job_of(struct dx_work *w)
{
	return (struct alloc_job *)((char *)w - offsetof(struct alloc_job, w));
}

static int alloc_step(struct dx_work *w)
{
	struct alloc_job *j = alloc_job_of(w);
	struct dx_file *f = j->h->f;
	uint64_t len = j->end - j->next < j->slice ? j->end - j->next : j->slice;
	int64_t took = dx_now_us();

	if (j->c->d->stopping)
		return -ESHUTDOWN;
	if (f->lease == LEASE_BREAKING)
		return -EBUSY;
	if (len && !dx_seal_allocated(f, j->next, len) &&
	    fallocate(f->fd, FALLOC_FL_KEEP_SIZE, (off_t)j->next, (off_t)len))
		return -errno;
	j->next += len;
	took = dx_now_us() - took;
	if (took < DX_WORK_TURN_US / 4 && j->slice < DX_ALLOC_SLICE_MAX)
		j->slice *= 2;
	else if (took > DX_WORK_TURN_US && j->slice > DX_WORK_SLICE)
		j->slice /= 2;
	return j->next < j->end;
}

/* Every slice is in: the size, as posix_fallocate (at least END) or SETSIZE
 * (exactly END) leaves it. */
static unsigned int alloc_finish(struct req_ctx *r, struct alloc_job *j)
{
	struct dx_file *f = j->h->f;
	unsigned int code = DXP_E_OK;
	struct stat st;

	if (j->setsize)
		code = set_size(r, f, j->end);
	else if (fstat(f->fd, &st))
		return fail_errno(r, -errno, "fstat");
	else if ((uint64_t)st.st_size < j->end && ftruncate(f->fd, (off_t)j->end))
		return fail_errno(r, -errno, "ftruncate");
	if (code)
		return code;
	if (fstat(f->fd, &st))
		return fail_errno(r, -errno, "fstat");
	r->rep->u.alloc_rep.size = (uint64_t)st.st_size;
	return DXP_E_OK;
}

static void alloc_done(struct dx_work *w, int result)
{
	struct alloc_job *j = alloc_job_of(w);
	char msg[DXP_MAX_ERRMSG + 1] = "";
	struct dxp_msg rep;
	struct req_ctx r = { .c = j->c, .rep = &rep, .msg = msg, .msglen = sizeof(msg) };
	unsigned int code;

	memset(&rep, 0, sizeof(rep));
	j->h->job = NULL;
	if (result == 0)
		code = alloc_finish(&r, j);
	else if (result == -ECANCELED && j->h->revoked)
		code = fail(&r, DXP_E_ACCESS, "%s", j->h->revoked);
	else if (result == -ECANCELED)
		code = fail(&r, DXP_E_BADHANDLE, "the file was closed before [%llu, +%llu) was allocated",
			    (unsigned long long)j->off, (unsigned long long)(j->end - j->off));
	else if (result == -ESHUTDOWN)
		code = fail(&r, DXP_E_IO, "daxrdmad is shutting down");
	else if (result == -EBUSY)
		code = fail(&r, DXP_E_BUSY_LOCAL, "a local process is waiting for the file");
	else
		code = fail_errno(&r, result, "fallocate");
	dx_conn_answer(j->c, DXP_ALLOCATE, j->tag, code, msg, &rep);
	free(j);
}

static const struct dx_work_ops alloc_ops = { .name = "allocate", .step = alloc_step, .done = alloc_done };

static unsigned int op_allocate(struct req_ctx *r)
{
	const struct dxp_allocate_req *q = &r->req->u.alloc;
	unsigned int code = DXP_E_OK;
	struct dx_handle *h = get_writable_handle(r, q->fh, &code);
	struct alloc_job *j;

	if (!h)
		return code;
	if ((q->len == 0 && !(q->flags & DXP_ALLOC_SETSIZE)) || q->off + q->len < q->off ||
	    q->off + q->len > (uint64_t)INT64_MAX)
		return fail(r, DXP_E_RANGE, "allocate [%llu, +%llu) is empty or overflows",
			    (unsigned long long)q->off, (unsigned long long)q->len);
	if (q->len > (uint64_t)r->c->d->cfg->max_allocate_size)
		return fail(r, DXP_E_LIMIT, "allocate of %llu bytes exceeds limits.max_allocate_size (%lld)",
			    (unsigned long long)q->len, (long long)r->c->d->cfg->max_allocate_size);
	if (h->job)
		return fail(r, DXP_E_CONFLICT, "an ALLOCATE on this file is in progress");
	if (h->f->lease == LEASE_BREAKING)
		return fail(r, DXP_E_BUSY_LOCAL, "a local process is waiting for the file");
	if (h->f->device)
		return allocate_device(r, h->f, q);
	j = calloc(1, sizeof(*j));
	if (!j)
		return fail(r, DXP_E_IO, "out of memory");
	*j = (struct alloc_job){ .w.ops = &alloc_ops, .c = r->c, .h = h, .tag = r->req->hdr.tag, .off = q->off,
				 .end = q->off + q->len, .next = q->off, .slice = DX_WORK_SLICE,
				 .setsize = q->flags & DXP_ALLOC_SETSIZE };
	h->job = &j->w;
	if (q->len <= DX_WORK_SLICE)
		dx_work_run_small(r->c->d, &j->w); /* one slice: answered right here */
	else
		dx_work_queue(r->c->d, &j->w);
	return DX_SESSION_LATER;
}

/* Conflicts (DESIGN.md §2): READ layouts share; an RW layout conflicts with
 * any other client's overlapping layout, which is recalled first. */
struct conflict_scan {
	struct req_ctx *r;
	bool rw;
	bool recall;          /* other clients' layouts are in the way */
	unsigned int code;
};

/* One layout over the range of a GET (dx_itree_fn): 1 stops the scan. */
static int conflict_with(struct dx_inode *n, void *arg)
{
	struct conflict_scan *s = arg;
	const struct dx_layout *l = dx_layout_of_range(n);

	if (!dx_layout_busy(l))
		return 0;
	if (dx_layout_dead(l)) { /* returned, its data still being copied back */
		s->code = fail(s->r, DXP_E_RECALL_PENDING, "layout %llu over the range is being copied back",
			       (unsigned long long)l->id);
		return 1;
	}
	if (!s->rw && l->iomode == DXP_IOMODE_READ)
		return 0;
	if (l->c == s->r->c) {
		s->code = fail(s->r, DXP_E_CONFLICT, "you hold layout %llu over [%llu, +%llu): return it first",
			       (unsigned long long)l->id, (unsigned long long)l->off, (unsigned long long)l->len);
		return 1;
	}
	s->recall = true;
	return 0;
}

static unsigned int check_conflicts(struct req_ctx *r, struct dx_file *f, uint64_t off, uint64_t len, bool rw)
{
	struct conflict_scan s = { .r = r, .rw = rw };
	uint64_t end = off + len < off ? UINT64_MAX : off + len;

	if (dx_itree_visit(&f->ranges, off, end, conflict_with, &s))
		return s.code;
	if (!s.recall)
		return DXP_E_OK;
	dx_recall_file(f, off, len, DXP_RECALL_CONFLICT);
	return fail(r, DXP_E_RECALL_PENDING, "other clients' layouts over the range are being recalled");
}

/* What one more layout of LEN bytes would take: refused before it is made. */
static unsigned int check_limits(struct req_ctx *r, const struct dx_handle *h, uint64_t off, uint64_t len)
{
	const struct dx_config *cfg = r->c->d->cfg;
	struct stat st;
	bool staged;

	if ((int64_t)r->c->d->n_layouts >= cfg->max_layouts)
		return fail(r, DXP_E_LIMIT, "limits.max_layouts (%lld) reached", (long long)cfg->max_layouts);
	if ((int64_t)r->c->n_layouts >= cfg->max_layouts_per_client)
		return fail(r, DXP_E_LIMIT, "limits.max_layouts_per_client (%lld) reached",
			    (long long)cfg->max_layouts_per_client);
	if (r->c->layout_bytes + len > (uint64_t)cfg->max_layout_bytes_per_client)
		return fail(r, DXP_E_LIMIT, "limits.max_layout_bytes_per_client (%lld) would be passed: %llu bytes held",
			    (long long)cfg->max_layout_bytes_per_client, (unsigned long long)r->c->layout_bytes);
	/* Bounce exports stage every layout; elsewhere only the file's tail.
	 * (This size is an estimate taken before the lease; op_layout_get
	 * takes the size that counts again once the lease is held.) */
	staged = dx_export_file_mr_mode(h->x, h->f->dax) == DX_MR_BOUNCE || dx_file_stat(h->f, &st) != 0 || off + len > (uint64_t)st.st_size;
	if (staged && r->c->d->staging_bytes + len > (uint64_t)cfg->staging_bytes)
		return fail(r, DXP_E_LIMIT, "limits.staging_bytes (%lld) would be passed: %llu bytes staged",
			    (long long)cfg->staging_bytes, (unsigned long long)r->c->d->staging_bytes);
	return DXP_E_OK;
}

static unsigned int op_layout_get(struct req_ctx *r)
{
	const struct dxp_layout_get_req *q = &r->req->u.lget;
	bool rw = q->iomode == DXP_IOMODE_RW;
	const struct dx_config *cfg = r->c->d->cfg;
	unsigned int code = DXP_E_OK;
	struct dx_handle *h = get_handle(r, q->fh, &code);
	struct dx_layout *l;
	struct dx_file *f;
	struct stat st;
	int ret;

	if (!h)
		return code;
	f = h->f;
	if (!h->x)
		return fail(r, DXP_E_NOENT, "the export of this file is gone");
	if (!dx_export_admits(h->x, (const struct sockaddr *)&r->c->peer_addr))
		return fail(r, DXP_E_ACCESS, "export \"%s\" no longer admits %s", h->x->cfg->name, r->c->peer);
	if (rw && (!h->rw || h->x->cfg->read_only))
		return fail(r, DXP_E_ROFS, "an RW layout needs a file opened RW on a writable export");
	if (q->len == 0 || q->off % DXP_PAGE || q->len % DXP_PAGE || q->off + q->len < q->off)
		return fail(r, DXP_E_RANGE, "layout [%llu, +%llu) is empty, not %u-aligned or overflows",
			    (unsigned long long)q->off, (unsigned long long)q->len, DXP_PAGE);
	if (q->len > (uint64_t)cfg->max_layout_size)
		return fail(r, DXP_E_LIMIT, "layout of %llu bytes exceeds limits.max_layout_size (%lld)",
			    (unsigned long long)q->len, (long long)cfg->max_layout_size);
	if (r->c->d->stopping)
		return fail(r, DXP_E_IO, "daxrdmad is shutting down");
	code = check_limits(r, h, q->off, q->len);
	if (code)
		return code;
	if (f->lease == LEASE_BREAKING)
		return fail(r, DXP_E_BUSY_LOCAL, "a local process is waiting for the file");
	code = check_conflicts(r, f, q->off, q->len, rw);
	if (code)
		return code;
	/* The seal (DESIGN.md §3): lease, range inside the file, prepared blocks. */
	ret = dx_seal_lease(f);
	if (ret == -EAGAIN)
		return fail(r, DXP_E_BUSY_LOCAL, "the file is open by a local process");
	if (ret)
		return fail_errno(r, ret, "lease");
	ret = dx_file_stat(f, &st);
	if (ret)
		goto err_unseal;
	/* RW never reaches past the end (RDMA does not extend files); READ may
	 * cover the rest of the last page, which reads as zeros. */
	if (q->off + q->len > (rw ? (uint64_t)st.st_size : ((uint64_t)st.st_size + DXP_PAGE - 1) / DXP_PAGE * DXP_PAGE)) {
		dx_reap_soon(r->c->d); /* the lease goes if no layout holds it */
		return fail(r, DXP_E_RANGE, "layout [%llu, +%llu) ends beyond the file's %lld bytes%s",
			    (unsigned long long)q->off, (unsigned long long)q->len, (long long)st.st_size,
			    rw ? ": ALLOCATE first" : "");
	}
	/* Preparation, fill and registration run as a background job; the
	 * reply goes out when it ends (job_done()). */
	ret = dx_layout_grant(r->c, f, h->x, q->off, q->len, q->iomode, (uint64_t)st.st_size, job_done, r->req->hdr.tag, &l);
	if (ret)
		goto err_unseal;
	l->fh = q->fh;
	return DX_SESSION_LATER;

err_unseal:
	dx_reap_soon(r->c->d); /* the lease goes if no layout holds it */
	return fail_errno(r, ret, "layout");
}

static unsigned int op_layout_return(struct req_ctx *r)
{
	struct dx_layout *l = find_layout(r->c, &r->req->u.lret.stateid);
	bool recalled;
	int ret;

	if (!l)
		return fail(r, DXP_E_STALE_STATEID, "no layout %llu seq %u", (unsigned long long)r->req->u.lret.stateid.id,
			    r->req->u.lret.stateid.seq);
	recalled = l->state != LAYOUT_GRANTED;
	log_info("client %llu: layout %llu returned%s%s", (unsigned long long)r->c->id, (unsigned long long)l->id,
		 recalled ? " (recalled)" : "", r->req->u.lret.flags & DXP_RETURN_CLEAN ? ", clean" : "");
	r->c->d->st.layouts_returned++;
	if (dx_layout_return(l) < 0) {
		dx_conn_fence(r->c, "ibv_dereg_mr failed at LAYOUT_RETURN");
		return DXP_E_IO;
	}
	dx_recall_pump(r->c); /* a recall credit may be free */
	/* The client's word that all it wrote is committed spares persisting it. */
	if (r->req->u.lret.flags & DXP_RETURN_CLEAN)
		return DXP_E_OK;
	ret = dx_layout_persist_returned(l, job_done, r->req->hdr.tag);
	if (ret < 0)
		return fail_errno(r, ret, "returned, but not persisted");
	return ret ? DX_SESSION_LATER : DXP_E_OK;
}

/* A RECALL_RETURN is answered when the last of its layouts is persisted. */
struct batch {
	struct dx_conn *c;
	uint64_t tag;
	unsigned int pending;
	int result;
};

static void batch_end(struct batch *b)
{
	struct dxp_msg rep;
	char msg[DXP_MAX_ERRMSG + 1] = "";

	if (--b->pending)
		return;
	memset(&rep, 0, sizeof(rep));
	if (b->result)
		snprintf(msg, sizeof(msg), "returned, but not persisted: %s", strerror(-b->result));
	dx_conn_answer(b->c, DXP_RECALL_RETURN, b->tag, b->result ? dxp_errno_to_err(b->result) : DXP_E_OK, msg,
		       &rep);
	free(b);
}

static void batch_done(struct dx_layout *l, enum dx_job_kind kind, uint64_t tag, int result)
{
	struct batch *b = (struct batch *)(uintptr_t)tag;

	if (result && !b->result)
		b->result = result;
	batch_end(b);
}

static unsigned int op_recall_return(struct req_ctx *r)
{
	struct dx_recall *rc = dx_recall_find(r->c, r->req->u.rret.recall_id);
	struct dx_layout *l;
	struct batch *b;
	unsigned int n;
	int ret;

	if (!rc)
		return fail(r, DXP_E_STALE_STATEID, "no recall %llu outstanding",
			    (unsigned long long)r->req->u.rret.recall_id);
	b = calloc(1, sizeof(*b));
	if (!b)
		return fail(r, DXP_E_IO, "out of memory");
	*b = (struct batch){ .c = r->c, .tag = r->req->hdr.tag, .pending = 1 };
	l = dx_recall_first(rc, &n);
	log_info("client %llu: %u layout%s of recall %llu returned", (unsigned long long)r->c->id, n,
		 n == 1 ? "" : "s", (unsigned long long)r->req->u.rret.recall_id);
	/* Each return takes its layout out of RC; the last one frees RC. */
	while (n--) {
		struct dx_layout *next = TAILQ_NEXT(l, rc_link);

		r->c->d->st.layouts_returned++;
		if (dx_layout_return(l) < 0) {
			b->result = -EIO;
			/* The persist jobs already started are cancelled and end (in
			 * batch_done) before or after the request's own count. */
			dx_conn_fence(r->c, "ibv_dereg_mr failed at RECALL_RETURN");
			batch_end(b);
			return DX_SESSION_LATER;
		}
		if (!(r->req->u.rret.flags & DXP_RETURN_CLEAN)) {
			b->pending++;
			ret = dx_layout_persist_returned(l, batch_done, (uint64_t)(uintptr_t)b);
			if (ret <= 0)
				b->pending--;
			if (ret < 0 && !b->result)
				b->result = ret;
		}
		l = next;
	}
	dx_recall_pump(r->c); /* a recall credit is free */
	if (b->pending == 1) { /* every persist job, if any, ran inside this request */
		ret = b->result;
		free(b);
		return ret ? fail_errno(r, ret, "returned, but not persisted") : DXP_E_OK;
	}
	batch_end(b); /* the request's own count: the last persist job answers */
	return DX_SESSION_LATER;
}

static unsigned int op_commit(struct req_ctx *r)
{
	const struct dxp_commit_req *q = &r->req->u.commit;
	struct dx_layout *l = find_layout(r->c, &q->stateid);
	unsigned int code;

	if (!l)
		return fail(r, DXP_E_STALE_STATEID, "no layout %llu seq %u", (unsigned long long)q->stateid.id,
			    q->stateid.seq);
	if (q->off < l->off || q->off + q->len < q->off || q->off + q->len > l->off + l->len)
		return fail(r, DXP_E_RANGE, "commit [%llu, +%llu) is outside layout %llu",
			    (unsigned long long)q->off, (unsigned long long)q->len, (unsigned long long)l->id);
	r->c->d->st.commits++;
	if (l->iomode != DXP_IOMODE_RW)
		return DXP_E_OK; /* READ layouts hold nothing to persist */
	code = check_writable(r, l->x);
	if (code || q->len == 0)
		return code;
	if (dx_layout_commit(l, q->off, q->len, job_done, r->req->hdr.tag))
		return fail(r, DXP_E_IO, "out of memory");
	return DX_SESSION_LATER;
}

unsigned int dx_session_handle(struct dx_conn *c, const struct dxp_msg *req, struct dxp_msg *rep,
			       char *msg, size_t msglen, bool *reply)
{
	static unsigned int (*const ops[DXP_OP_MAX])(struct req_ctx *) = {
		[DXP_HELLO] = op_hello,
		[DXP_OPEN] = op_open,
		[DXP_CLOSE] = op_close,
		[DXP_STAT] = op_stat,
		[DXP_ALLOCATE] = op_allocate,
		[DXP_LAYOUT_GET] = op_layout_get,
		[DXP_LAYOUT_RETURN] = op_layout_return,
		[DXP_COMMIT] = op_commit,
		[DXP_RECALL_RETURN] = op_recall_return,
		[DXP_RENAME] = op_rename,
		[DXP_REMOVE] = op_rename,
	};
	struct req_ctx r = { c, req, rep, msg, msglen };
	unsigned int code;

	*reply = true;
	if (req->hdr.op == DXP_BYE) {
		*reply = false;
		c->said_bye = true;
		dx_conn_close(c, 0, true, "client said BYE");
		return DXP_E_OK;
	}
	if ((req->hdr.flags & DXP_F_REPLY) || !ops[req->hdr.op])
		return fail(&r, DXP_E_PROTO, "%s%s is not a request the daemon takes", dxp_op_name(req->hdr.op),
			    (req->hdr.flags & DXP_F_REPLY) ? " reply" : "");
	if (req->hdr.op != DXP_HELLO && c->state != CONN_READY)
		return fail(&r, DXP_E_PROTO, "HELLO first");
	if (c->draining && (req->hdr.op == DXP_OPEN || req->hdr.op == DXP_LAYOUT_GET || req->hdr.op == DXP_ALLOCATE))
		return fail(&r, DXP_E_IO, "daxrdmad listens on %s now: connect there", c->d->listener->addr);
	code = ops[req->hdr.op](&r);
	if (code == DX_SESSION_LATER)
		*reply = false;
	return code;
}
