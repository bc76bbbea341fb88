/* libdaxrdma-client: files, layouts and the RDMA data path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "client/client_internal.h"

#define BACKOFF_MIN_MS 5
#define BACKOFF_MAX_MS 200

/*
 * Send REQ; while the daemon answers "later" (BUSY_LOCAL: a local process
 * uses the file; RECALL_PENDING: layouts are being recalled first), retry
 * with exponential backoff until the client's timeout, then -EAGAIN. Recalls
 * of our own layouts are handled while waiting: they may be what the daemon
 * waits for. The final reply (*REP) lives in the client's one reply buffer,
 * which answering a recall overwrites: the caller reads it first, then calls
 * dxc_handle_recalls().
 */
static int call_patiently(struct daxrdma_client *c, struct dxp_msg *req, const struct dxp_msg **rep)
{
	int64_t deadline = dxc_now_ms() + c->opts.timeout_ms;
	int backoff = BACKOFF_MIN_MS;
	unsigned int code;
	int ret;

	for (;;) {
		ret = dxc_call_until(c, req, rep, &code, deadline); /* the call's one timeout, not one per try */
		if (code != DXP_E_BUSY_LOCAL && code != DXP_E_RECALL_PENDING)
			return ret;
		dxc_handle_recalls(c);
		dxc_progress(c, dxc_now_ms() + backoff, NULL);
		dxc_handle_recalls(c);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		/* Another try only with time for its answer left: a try whose
		 * answer the deadline cut off would break the connection. */
		if (deadline - dxc_now_ms() < c->opts.timeout_ms / 4) {
			dxc_log(c, LOG_WARNING, "%s: still %s after %d ms", dxp_op_name(req->hdr.op), dxp_err_name(code),
				c->opts.timeout_ms);
			return -EAGAIN;
		}
	}
}

/* One OPEN of F's export and path with FLAGS: F gets its handle, and *ID
 * the file's identity (*HAS_ID false if the daemon does not say). */
static int open_file(struct daxrdma_file *f, unsigned int flags, unsigned int mode, struct dxp_file_id *id,
		     bool *has_id)
{
	struct dxp_msg req = { .hdr.op = DXP_OPEN };
	const struct dxp_msg *rep;
	int ret;

	req.u.open.flags = flags;
	req.u.open.export_len = (uint16_t)strlen(f->export_name);
	req.u.open.path_len = (uint16_t)strlen(f->path);
	req.u.open.mode = mode;
	req.s1 = f->export_name;
	req.s2 = f->path;
	/* O_TRUNC of a file with layouts: the daemon recalls them first. */
	ret = call_patiently(f->c, &req, &rep);
	if (ret == 0) {
		f->fh = rep->u.open_rep.fh;
		f->remote_persist = f->c->remote_persist && (rep->u.open_rep.attrs & DXP_ATTR_REMOTE_PERSIST);
		*has_id = rep->u.open_rep.attrs & DXP_ATTR_FILE_ID;
		*id = *has_id ? rep->file_id : (struct dxp_file_id){ 0 };
	}
	return ret;
}

static void file_free(struct daxrdma_file *f)
{
	free(f->export_name);
	free(f->path);
	free(f);
}

/*
 * A call that uses a file or a layout across points where recall callbacks
 * run (a retry of call_patiently(), usable()) pins it: a callback may close
 * the file or return the layout meanwhile (libdaxrdma-client(3) allows it),
 * and then the memory stays until the call lets go, which frees it and
 * says so (true: it went, the call must not use it any more).
 */
static void file_pin(struct daxrdma_file *f)
{
	f->pins++;
}

static bool file_unpin(struct daxrdma_file *f)
{
	if (--f->pins || !f->closed)
		return false;
	file_free(f);
	return true;
}

static void layout_pin(struct daxrdma_layout *l)
{
	l->pins++;
}

static bool layout_unpin(struct daxrdma_layout *l)
{
	if (--l->pins || !l->gone || l->in_run)
		return false;
	free(l);
	return true;
}

DX_EXPORT int daxrdma_open(struct daxrdma_client *c, const char *export_name, const char *path,
			   unsigned int flags, unsigned int mode, struct daxrdma_file **out)
{
	struct daxrdma_file *f;
	size_t el, pl;
	int ret;

	if (!c || !export_name || !path || !out || (flags & ~(unsigned int)DXP_OPEN_ALL) || mode > 07777)
		return -EINVAL;
	*out = NULL;
	el = strlen(export_name);
	pl = strlen(path);
	if (el == 0 || el > DXP_MAX_NAME || pl > DXP_MAX_PATH)
		return -ENAMETOOLONG;
	f = calloc(1, sizeof(*f));
	if (!f || !(f->export_name = strdup(export_name)) || !(f->path = strdup(path))) {
		if (f)
			file_free(f);
		return -ENOMEM;
	}
	f->c = c;
	f->rw = flags & DAXRDMA_O_RDWR;
	TAILQ_INIT(&f->layouts);
	ret = open_file(f, flags, mode, &f->id, &f->has_id);
	if (ret) {
		file_free(f);
		dxc_handle_recalls(c);
		return ret;
	}
	TAILQ_INSERT_TAIL(&c->files, f, link);
	*out = f;
	file_pin(f); /* a recall callback may close it (through *OUT) before this call returns */
	dxc_handle_recalls(c);
	ret = f->closed ? -EBADF : 0;
	file_unpin(f);
	return ret;
}

/* CLOSE of handle FH, best effort: the file at the path is not F's. */
static void close_handle(struct daxrdma_client *c, uint64_t fh)
{
	struct dxp_msg req = { .hdr.op = DXP_CLOSE };
	const struct dxp_msg *rep;

	req.u.fh.fh = fh;
	if (dxc_call(c, &req, &rep, NULL))
		dxc_log(c, LOG_DEBUG, "CLOSE of handle %llu failed", (unsigned long long)fh);
}

int dxc_file_reopen(struct daxrdma_file *f)
{
	struct dxp_file_id id;
	bool has_id;
	int ret = open_file(f, f->rw ? DAXRDMA_O_RDWR : 0, 0, &id, &has_id);

	if (ret == 0 && (has_id != f->has_id || id.ino != f->id.ino || id.gen != f->id.gen)) {
		/* Renamed over, or deleted and made again: a handle only ever
		 * names the file it opened. */
		close_handle(f->c, f->fh);
		ret = -ESTALE;
		dxc_log(f->c, LOG_WARNING, "%s/%s: another file is at that path since the handle opened it "
			"(inode %llu, now %llu): not open again", f->export_name, f->path,
			(unsigned long long)f->id.ino, (unsigned long long)id.ino);
	} else if (ret) {
		dxc_log(f->c, LOG_WARNING, "%s/%s: not open again after the reconnect: %s", f->export_name, f->path,
			strerror(-ret));
	}
	f->stale = ret != 0;
	return ret;
}

void dxc_layout_free(struct daxrdma_layout *l)
{
	struct daxrdma_client *c = l->file->c;

	if (l->recall_queued)
		TAILQ_REMOVE(&c->recalled, l, recall_link);
	l->recall_queued = false;
	TAILQ_REMOVE(&l->file->layouts, l, link);
	l->file = NULL;
	if (l->in_run || l->pins)
		l->gone = true; /* a recall callback closed or returned it: freed when let go */
	else
		free(l);
}


DX_EXPORT int daxrdma_close(struct daxrdma_file **file)
{
	struct dxp_msg req = { .hdr.op = DXP_CLOSE };
	const struct dxp_msg *rep;
	struct daxrdma_layout *l, *next;
	struct daxrdma_file *f;
	int ret = 0;

	if (!file || !*file)
		return -EINVAL;
	f = *file;
	/* CLOSE returns the layouts on the daemon's side too. */
	TAILQ_FOREACH_SAFE(l, &f->layouts, link, next)
		dxc_layout_free(l);
	if (f->c->connected && !f->c->broken && !f->stale) {
		req.u.fh.fh = f->fh;
		ret = dxc_call(f->c, &req, &rep, NULL);
	}
	TAILQ_REMOVE(&f->c->files, f, link);
	*file = NULL;
	dxc_handle_recalls(f->c);
	if (f->pins)
		f->closed = true; /* closed from a callback inside a call on it: freed when that call lets go */
	else
		file_free(f);
	return ret;
}

DX_EXPORT int daxrdma_stat(struct daxrdma_file *f, struct daxrdma_stat *st)
{
	struct dxp_msg req = { .hdr.op = DXP_STAT };
	const struct dxp_msg *rep;
	int ret;

	if (!f || !st)
		return -EINVAL;
	if (f->stale)
		return -ESTALE;
	req.u.fh.fh = f->fh;
	ret = dxc_call(f->c, &req, &rep, NULL);
	if (ret == 0) {
		memset(st, 0, sizeof(*st));
		st->size = rep->u.stat_rep.size;
		st->blocks = rep->u.stat_rep.blocks;
		st->mtime_ns = rep->u.stat_rep.mtime_ns;
		st->blksize = rep->u.stat_rep.blksize;
		st->dax = rep->u.stat_rep.attrs & DXP_ATTR_DAX;
		st->read_only = rep->u.stat_rep.attrs & DXP_ATTR_READ_ONLY;
	}
	dxc_handle_recalls(f->c);
	return ret;
}

static int allocate(struct daxrdma_file *f, uint64_t off, uint64_t len, uint32_t flags)
{
	struct dxp_msg req = { .hdr.op = DXP_ALLOCATE };
	const struct dxp_msg *rep;
	struct daxrdma_client *c;
	int ret;

	if (f->stale)
		return -ESTALE;
	req.u.alloc.fh = f->fh;
	req.u.alloc.off = off;
	req.u.alloc.len = len;
	req.u.alloc.flags = flags;
	c = f->c;
	file_pin(f);
	ret = call_patiently(c, &req, &rep);
	file_unpin(f);
	dxc_handle_recalls(c);
	return ret;
}

DX_EXPORT int daxrdma_allocate(struct daxrdma_file *f, uint64_t off, uint64_t len)
{
	if (!f || len == 0 || off + len < off)
		return -EINVAL;
	return allocate(f, off, len, 0);
}

DX_EXPORT int daxrdma_set_size(struct daxrdma_file *f, uint64_t size)
{
	if (!f || size > (uint64_t)INT64_MAX)
		return -EINVAL;
	return allocate(f, size, 0, DXP_ALLOC_SETSIZE);
}

/* RENAME of F's file to TO, or REMOVE (TO NULL). */
static int rename_file(struct daxrdma_file *f, const char *to)
{
	struct dxp_msg req = { .hdr.op = to ? DXP_RENAME : DXP_REMOVE };
	const struct dxp_msg *rep;
	char *name = NULL;
	int ret;

	if (f->stale)
		return -ESTALE;
	if (!f->c->rename)
		return -EOPNOTSUPP;
	if (to) {
		size_t n = strlen(to);

		if (n == 0 || n > DXP_MAX_PATH)
			return n ? -ENAMETOOLONG : -EINVAL;
		if (!(name = strdup(to)))
			return -ENOMEM;
		req.u.rename.fh = f->fh;
		req.u.rename.path_len = (uint16_t)n;
		req.s1 = to;
	} else {
		req.u.fh.fh = f->fh;
	}
	ret = dxc_call(f->c, &req, &rep, NULL);
	if (ret == 0 && name) { /* a reconnect opens it by its new name */
		free(f->path);
		f->path = name;
		name = NULL;
	}
	free(name);
	dxc_handle_recalls(f->c);
	return ret;
}

DX_EXPORT int daxrdma_rename(struct daxrdma_file *f, const char *path)
{
	return f && path ? rename_file(f, path) : -EINVAL;
}

DX_EXPORT int daxrdma_remove(struct daxrdma_file *f)
{
	return f ? rename_file(f, NULL) : -EINVAL;
}

/* A recall that came right behind the grant of L, before L had its
 * stateid (dxc_on_message kept it): L is recalled now. */
static void apply_early_recall(struct daxrdma_client *c, struct daxrdma_layout *l)
{
	if (c->early_recall_valid && c->early_recall.stateid.id == l->sid.id)
		dxc_layout_recalled(l, c->early_recall.reason, 0);
	if (c->early_frecall_valid && dxc_file_recall_covers(&c->early_frecall, l->file->fh, l))
		dxc_layout_recalled(l, c->early_frecall.reason, c->early_frecall.recall_id);
	c->early_recall_valid = c->early_frecall_valid = false;
}

/* One LAYOUT_GET into L (a new handle, or a recalled one got again),
 * retried while the daemon says "later". */
static int layout_get(struct daxrdma_file *f, uint64_t off, uint64_t len, int iomode, struct daxrdma_layout *l)
{
	struct daxrdma_client *c = f->c;
	struct dxp_msg req = { .hdr.op = DXP_LAYOUT_GET };
	struct dxp_layout_get_rep g;
	const struct dxp_msg *rep;
	int ret;

	if (f->stale)
		return -ESTALE;
	req.u.lget.fh = f->fh;
	req.u.lget.off = off;
	req.u.lget.len = len;
	req.u.lget.iomode = (uint32_t)iomode;
	c->early_recall_valid = c->early_frecall_valid = false;
	c->lget_fh = f->fh;
	ret = call_patiently(c, &req, &rep);
	if (ret)
		return ret;
	g = rep->u.lget_rep;
	c->have_reply = false; /* the grant is in hand: no later recall is "right behind" it */
	if (g.off != off || g.len != len || g.iomode != (uint32_t)iomode || l->gone) {
		/* Not what was asked for, or asked for a handle that a recall
		 * callback let go meanwhile: given back, L stays as it was. */
		if (!l->gone)
			dxc_log(c, LOG_ERR, "daxrdmad granted [%llu, +%llu) %s for [%llu, +%llu) %s: returning it",
				(unsigned long long)g.off, (unsigned long long)g.len,
				g.iomode == DXP_IOMODE_RW ? "RW" : "READ", (unsigned long long)off,
				(unsigned long long)len, iomode == DAXRDMA_RW ? "RW" : "READ");
		ret = l->gone ? -ESTALE : -EPROTO;
		req = (struct dxp_msg){ .hdr.op = DXP_LAYOUT_RETURN };
		req.u.lret.stateid = g.stateid;
		req.u.lret.flags = DXP_RETURN_CLEAN;
		dxc_call(c, &req, &rep, NULL);
		return ret;
	}
	l->sid = g.stateid;
	l->off = g.off;
	l->len = g.len;
	l->raddr = g.raddr;
	l->rkey = g.rkey;
	l->iomode = (int)g.iomode;
	l->mr_mode = g.mr_mode;
	l->flush = c->flush && (g.flags & DXP_LAYOUT_FLUSH);
	l->state = DXC_LAYOUT_VALID;
	apply_early_recall(c, l);
	return 0;
}

DX_EXPORT int daxrdma_layout_get(struct daxrdma_file *f, uint64_t off, uint64_t len, int iomode,
				 struct daxrdma_layout **out)
{
	struct daxrdma_client *c;
	struct daxrdma_layout *l;
	bool gone;
	int ret;

	if (!f || !out || (iomode != DAXRDMA_READ && iomode != DAXRDMA_RW) || len == 0 || off % DXP_PAGE ||
	    len % DXP_PAGE || off + len < off)
		return -EINVAL;
	*out = NULL;
	if (iomode == DAXRDMA_RW && !f->rw)
		return -EBADF;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->file = f;
	c = f->c;
	file_pin(f);
	ret = layout_get(f, off, len, iomode, l);
	if (!ret && f->closed)
		ret = -EBADF; /* a recall callback closed the file meanwhile (its handle is gone: no grant) */
	if (ret) {
		if (l->recall_queued)
			TAILQ_REMOVE(&c->recalled, l, recall_link);
		free(l);
		file_unpin(f);
		dxc_handle_recalls(c);
		return ret;
	}
	TAILQ_INSERT_TAIL(&f->layouts, l, link);
	*out = l;
	/* A recall of it may have come right behind the grant: its callback
	 * may close the file or return the layout before this call returns. */
	layout_pin(l);
	dxc_handle_recalls(c);
	gone = layout_unpin(l);
	file_unpin(f);
	if (gone) {
		*out = NULL;
		return -ESTALE;
	}
	return 0;
}

void dxc_layout_returned(struct daxrdma_layout *l, int ret)
{
	if (dxc_layout_clean(l) || !l->file->c->return_persists)
		return; /* (an old daemon: the next COMMIT, if it gets the range again, persists it) */
	if (ret == 0)
		l->dirty_lo = l->dirty_hi = 0; /* the return persisted it */
	else
		l->unsure = true;
}

int dxc_layout_send_return(struct daxrdma_layout *l)
{
	struct dxp_msg req = { .hdr.op = DXP_LAYOUT_RETURN };
	const struct dxp_msg *rep;
	int ret;

	if (l->state == DXC_LAYOUT_RETURNED)
		return 0;
	l->state = DXC_LAYOUT_RETURNED;
	req.u.lret.stateid = l->sid;
	/* Committed data needs no persisting: say so. */
	req.u.lret.flags = dxc_layout_clean(l) ? DXP_RETURN_CLEAN : 0;
	ret = dxc_call(l->file->c, &req, &rep, NULL);
	dxc_layout_returned(l, ret);
	/* A layout the daemon no longer knows is returned all the same. */
	return ret == -ESTALE ? 0 : ret;
}

DX_EXPORT int daxrdma_layout_return(struct daxrdma_layout **layout)
{
	struct daxrdma_layout *l;
	struct daxrdma_client *c;
	int ret;

	if (!layout || !*layout)
		return -EINVAL;
	l = *layout;
	c = l->file->c;
	ret = c->broken ? 0 : dxc_layout_send_return(l);
	dxc_layout_free(l);
	*layout = NULL;
	dxc_handle_recalls(c);
	return ret;
}

/* One-sided where the file allows it and the layout addresses the file
 * itself (a bounce layout's writes are in a staging buffer). */
static int persist_method(const struct daxrdma_layout *l)
{
	if (!l->file->remote_persist || l->mr_mode == DXP_MR_BOUNCE)
		return DAXRDMA_PERSIST_COMMIT;
	return l->flush ? DAXRDMA_PERSIST_FLUSH : DAXRDMA_PERSIST_READ_AFTER_WRITE;
}

DX_EXPORT int daxrdma_layout_info(const struct daxrdma_layout *l, struct daxrdma_layout_info *info)
{
	if (!l || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->off = l->off;
	info->len = l->len;
	info->raddr = l->raddr;
	info->rkey = l->rkey;
	info->iomode = l->iomode;
	info->bounce = l->mr_mode == DXP_MR_BOUNCE;
	info->recalled = l->state != DXC_LAYOUT_VALID;
	info->persist = persist_method(l);
	return 0;
}

/* Before I/O: a recalled layout goes back, then (DAXRDMA_RELAYOUT) the same
 * range is asked for again, or the caller hears -ESTALE. */
static int usable(struct daxrdma_layout *l)
{
	struct daxrdma_client *c = l->file->c;
	int ret;

	if (c->broken)
		return -ENOTCONN;
	dxc_progress(c, 0, NULL);
	dxc_handle_recalls(c);
	if (c->broken) /* it broke just now: that, not the layout, is what failed */
		return -ENOTCONN;
	if (l->gone) /* a recall callback returned it, or closed its file */
		return -ESTALE;
	if (l->state == DXC_LAYOUT_VALID)
		return 0;
	/* Got again, a later COMMIT would say writes are persistent that went
	 * back unpersisted (a failed return, a lost connection). */
	if (!(c->opts.flags & DAXRDMA_RELAYOUT) || l->unsure)
		return -ESTALE;
	ret = dxc_layout_send_return(l);
	if (ret)
		return ret;
	dxc_log(c, LOG_INFO, "re-getting recalled layout [%llu, +%llu)", (unsigned long long)l->off,
		(unsigned long long)l->len);
	return layout_get(l->file, l->off, l->len, l->iomode, l);
}

static int io(struct daxrdma_layout *l, bool write, uint64_t off, void *buf, size_t len)
{
	struct daxrdma_file *f;
	struct daxrdma_client *c;
	const size_t batch = (size_t)DXC_STAGE_SLOTS * DXC_STAGE_SLOT;
	char *p = buf;
	int ret, wret;

	if (!l || (!buf && len))
		return -EINVAL;
	c = l->file->c;
	if (off < l->off || off + len < off || off + len > l->off + l->len)
		return -ERANGE;
	if (write && l->iomode != DAXRDMA_RW)
		return -EBADF;
	ret = 0;
	f = l->file;
	file_pin(f);
	layout_pin(l);
	while (len && !ret) {
		size_t n = len < batch ? len : batch;

		ret = usable(l); /* -ESTALE if a recall callback returned it, or closed its file */
		if (ret)
			break;
		if (write) {
			memcpy(c->stage, p, n);
			if (dxc_layout_clean(l)) {
				l->dirty_lo = off;
				l->dirty_hi = off + n;
			} else {
				l->dirty_lo = off < l->dirty_lo ? off : l->dirty_lo;
				l->dirty_hi = off + n > l->dirty_hi ? off + n : l->dirty_hi;
			}
		}
		ret = dxc_rdma_chunks(c, write, l->raddr + (off - l->off), l->rkey, n);
		wret = dxc_rdma_wait(c); /* what was posted, even if not all of it */
		ret = ret ? ret : wret;
		if (ret == 0 && c->rdma_status != IBV_WC_SUCCESS)
			ret = -EREMOTEIO;
		if (ret) {
			dxc_log(c, LOG_ERR, "RDMA %s at %llu: %s", write ? "WRITE" : "READ", (unsigned long long)off,
				ret == -EREMOTEIO ? ibv_wc_status_str(c->rdma_status) : strerror(-ret));
			break;
		}
		if (!write)
			memcpy(p, c->stage, n);
		p += n;
		off += n;
		len -= n;
	}
	layout_unpin(l);
	file_unpin(f);
	/* Recalls that arrived meanwhile are answered now: the fd will not
	 * say so again. */
	dxc_handle_recalls(c);
	return ret;
}

DX_EXPORT int daxrdma_write(struct daxrdma_layout *l, uint64_t off, const void *buf, size_t len)
{
	return io(l, true, off, (void *)buf, len);
}

DX_EXPORT int daxrdma_read(struct daxrdma_layout *l, uint64_t off, void *buf, size_t len)
{
	return io(l, false, off, buf, len);
}

/* A one-sided persist's outcome ST (a wc status or -errno): 0, or the
 * error, logged with HOW and the offset. */
static int persisted(struct daxrdma_client *c, const char *how, uint64_t off, int st)
{
	if (st == IBV_WC_SUCCESS)
		return 0;
	dxc_log(c, LOG_ERR, "%s persistence at %llu: %s", how, (unsigned long long)off,
		st > 0 ? ibv_wc_status_str((enum ibv_wc_status)st) : strerror(-st));
	return st > 0 ? -EREMOTEIO : st;
}

/*
 * Read-after-write: an RDMA READ on the QP that carried the writes is
 * executed only after them, so its completion says they are placed; the
 * export declared that placed is persistent. The last bytes of the range
 * are read (RC does not order a zero-length READ on every device).
 */
static int read_after_write(struct daxrdma_layout *l, uint64_t off, uint64_t len)
{
	struct daxrdma_client *c = l->file->c;
	uint64_t n = len < 8 ? len : 8;
	uint8_t last[8];

	if (c->broken)
		return -ENOTCONN;
	return persisted(c, "read-after-write", off,
			 dxc_rdma_raw(c, false, l->raddr + (off + len - n - l->off), l->rkey, last, (size_t)n));
}

/*
 * RDMA FLUSH (placement type persistent) of the range, executed after the
 * QP's writes before it: its completion says they are persistent. Whole
 * pages are flushed (rxe's ODP path of 7.x kernels misplaces offsets inside
 * a page; flushing more is harmless), which stay inside the layout: it
 * starts and ends on pages (daxrdma_layout_get).
 */
static int rdma_flush(struct daxrdma_layout *l, uint64_t off, uint64_t len)
{
	struct daxrdma_client *c = l->file->c;
	uint64_t lo = off & ~(uint64_t)(DXP_PAGE - 1), hi = (off + len + DXP_PAGE - 1) & ~(uint64_t)(DXP_PAGE - 1);

	if (c->broken)
		return -ENOTCONN;
	return persisted(c, "RDMA FLUSH", off, dxc_rdma_flush(c, l->raddr + (lo - l->off), l->rkey, hi - lo));
}

DX_EXPORT int daxrdma_commit(struct daxrdma_layout *l, uint64_t off, uint64_t len)
{
	return daxrdma_commit_method(l, off, len, NULL);
}

DX_EXPORT int daxrdma_commit_method(struct daxrdma_layout *l, uint64_t off, uint64_t len, int *method)
{
	struct dxp_msg req = { .hdr.op = DXP_COMMIT };
	const struct dxp_msg *rep;
	int how, ret;

	if (!l || off < l->off || off + len < off || off + len > l->off + l->len)
		return !l ? -EINVAL : -ERANGE;
	/* A recalled layout may still be committed until it is returned; the
	 * return persisted what it held, unless it failed (a fence). */
	if (l->state == DXC_LAYOUT_RETURNED)
		return dxc_layout_clean(l) ? 0 : -ESTALE;
	how = persist_method(l);
	if (method)
		*method = how;
	if (how == DAXRDMA_PERSIST_FLUSH) {
		ret = len && l->iomode == DAXRDMA_RW ? rdma_flush(l, off, len) : 0;
	} else if (how == DAXRDMA_PERSIST_READ_AFTER_WRITE) {
		ret = len && l->iomode == DAXRDMA_RW ? read_after_write(l, off, len) : 0;
	} else {
		req.u.commit.stateid = l->sid;
		req.u.commit.off = off;
		req.u.commit.len = len;
		ret = dxc_call(l->file->c, &req, &rep, NULL);
	}
	if (ret == 0 && off <= l->dirty_lo && off + len >= l->dirty_hi)
		l->dirty_lo = l->dirty_hi = 0; /* all it wrote is persistent */
	dxc_handle_recalls(l->file->c);
	return ret;
}
