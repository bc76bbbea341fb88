#include "daemon/layout.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "daemon/conn.h"
#include "daemon/daemon.h"
#include "daemon/fmap.h"
#include "daemon/mediaerr.h"
#include "daemon/reap.h"
#include "daemon/recall.h"
#include "daemon/seal.h"
#include "daemon/work.h"

enum grant_phase { G_PREPARE, G_MAP, G_POPULATE, G_FILL, G_REGISTER };

/* A background job on a layout (work.h); the layout lives while it runs. */
struct dx_layout_job {
	struct dx_work w;                 /* first: the work queue hands it back */
	TAILQ_ENTRY(dx_layout_job) link;  /* in l->jobs */
	struct dx_layout *l;
	enum dx_job_kind kind;
	enum grant_phase phase;           /* DX_JOB_GRANT */
	uint64_t off, len, pos;           /* the range (absolute file offsets) and how far it got */
	dx_job_done_fn *done;
	uint64_t tag;
};

static const char *const state_names[] = {
	[LAYOUT_GRANTING] = "granting",
	[LAYOUT_GRANTED] = "granted",
	[LAYOUT_RECALL_QUEUED] = "recall-queued",
	[LAYOUT_RECALL_SENT] = "recall-sent",
	[LAYOUT_RETURNED] = "returned",
	[LAYOUT_FENCED] = "fenced",
};

const char *dx_layout_state_name(enum dx_layout_state s)
{
	return (unsigned int)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

static bool legal_move(enum dx_layout_state from, enum dx_layout_state to)
{
	switch (from) {
	case LAYOUT_GRANTING: return to == LAYOUT_GRANTED || to == LAYOUT_FENCED;
	case LAYOUT_GRANTED: return to == LAYOUT_RECALL_QUEUED || to == LAYOUT_RETURNED || to == LAYOUT_FENCED;
	case LAYOUT_RECALL_QUEUED: return to == LAYOUT_RECALL_SENT || to == LAYOUT_RETURNED || to == LAYOUT_FENCED;
	case LAYOUT_RECALL_SENT: return to == LAYOUT_RETURNED || to == LAYOUT_FENCED;
	case LAYOUT_RETURNED: return to == LAYOUT_FENCED;
	case LAYOUT_FENCED: return false;
	}
	return false;
}

void dx_layout_set_state(struct dx_layout *l, enum dx_layout_state to)
{
	if (!legal_move(l->state, to)) {
		log_err("BUG: layout %llu: no move from %s to %s", (unsigned long long)l->id,
			dx_layout_state_name(l->state), dx_layout_state_name(to));
		assert(!"illegal layout state move");
		return;
	}
	log_debug("layout %llu (client %llu): %s -> %s", (unsigned long long)l->id, (unsigned long long)l->c->id,
		  dx_layout_state_name(l->state), dx_layout_state_name(to));
	l->state = to;
}

bool dx_layout_overlaps(const struct dx_layout *l, uint64_t off, uint64_t len)
{
	uint64_t end = off + len < off ? UINT64_MAX : off + len; /* LEN may mean "to the end" */

	return off < l->off + l->len && l->off < end;
}

bool dx_layout_dead(const struct dx_layout *l)
{
	return l->state == LAYOUT_RETURNED || l->state == LAYOUT_FENCED;
}

bool dx_layout_recallable(const struct dx_layout *l)
{
	return l->state == LAYOUT_GRANTED;
}

bool dx_layout_busy(const struct dx_layout *l)
{
	return !dx_layout_dead(l) || !TAILQ_EMPTY(&l->jobs);
}

bool dx_layout_urgent(const struct dx_layout *l)
{
	return l->f->lease == LEASE_BREAKING || l->recall_reason || l->c->d->stopping;
}

static struct dx_layout_job *job_of(struct dx_work *w)
{
	return (struct dx_layout_job *)((char *)w - offsetof(struct dx_layout_job, w));
}

static uint64_t slice(const struct dx_layout_job *j)
{
	return j->len - j->pos < DX_WORK_SLICE ? j->len - j->pos : DX_WORK_SLICE;
}

static int register_mr(struct dx_layout *l, void *addr, int access)
{
	l->mr = ibv_reg_mr(l->c->pd, addr, (size_t)l->len, access);
	if (!l->mr) {
		int err = errno ? -errno : -EIO;

		log_err("ibv_reg_mr of %s/%s [%llu, +%llu) (%s): %s", l->f->export_name, l->f->relpath,
			(unsigned long long)l->off, (unsigned long long)l->len,
			l->staging ? "staging" : "mapping", strerror(-err));
		return err;
	}
	return 0;
}

/*
 * Staging buffers are kept per connection when their layout goes, and a
 * grant of the same size takes one back: no mmap, no page faults while it
 * is filled, no munmap at the return. A grant fills every byte of it (from
 * the file, zeros past its end), so nothing of the old contents shows.
 */
static void *staging_get(struct dx_conn *c, uint64_t len)
{
	void *p;

	for (unsigned int i = 0; i < c->n_pool; i++)
		if (c->pool[i].len == len) {
			p = c->pool[i].p;
			c->pool[i] = c->pool[--c->n_pool];
			c->pool_bytes -= len;
			c->d->pooled_bytes -= len;
			return p;
		}
	p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void staging_put(struct dx_conn *c, void *p, uint64_t len)
{
	struct dxd *d = c->d;

	if (!c->destroyed && c->n_pool < DX_STAGING_POOL && c->pool_bytes + len <= DX_STAGING_POOL_BYTES &&
	    d->pooled_bytes + len <= (uint64_t)d->cfg->staging_bytes / 4) {
		c->pool[c->n_pool].p = p;
		c->pool[c->n_pool++].len = len;
		c->pool_bytes += len;
		d->pooled_bytes += len;
		return;
	}
	munmap(p, (size_t)len);
}

void dx_staging_pool_drain(struct dx_conn *c)
{
	while (c->n_pool) {
		c->n_pool--;
		munmap(c->pool[c->n_pool].p, (size_t)c->pool[c->n_pool].len);
		c->pool_bytes -= c->pool[c->n_pool].len;
		c->d->pooled_bytes -= c->pool[c->n_pool].len;
	}
}

/* The mapping (and the staging buffer) a grant needs. */
static int grant_map(struct dx_layout *l)
{
	int ret;

	if (l->off + l->len <= l->size) {
		ret = dx_fmap_get(l->f, l->off, l->off + l->len, &l->fm);
		if (ret)
			return ret;
		if (l->mr_mode != DXP_MR_BOUNCE)
			return 0;
	}
	/* bounce, or a READ layout over the last partial page (zeros past the end) */
	l->staging = staging_get(l->c, l->len);
	if (!l->staging)
		return dx_log_fail("mmap (staging)", -errno);
	return 0;
}

/*
 * One slice of the file's mapping made present and writable in advance, for
 * an RW bounce layout: the fill reads it and every COMMIT writes it, and a
 * DAX write fault costs more than the copy of its page. Kernels before 5.14
 * have no MADV_POPULATE_WRITE: the faults then come at the first copies.
 */
static void grant_populate(struct dx_layout_job *j)
{
	struct dx_layout *l = j->l;
	uint64_t n = slice(j);
	char *at = dx_fmap_at(l->fm, l->off + j->pos);

	j->pos += n;
	if (madvise(at, (size_t)n, MADV_POPULATE_WRITE) == 0)
		return;
	if (errno == EINVAL) /* not this kernel */
		j->pos = j->len;
	else
		log_debug("madvise MADV_POPULATE_WRITE on %s/%s: %s", l->f->export_name, l->f->relpath,
			  strerror(errno));
}

/* A copy or flush of L's file faulted at file offset AT: a media error in
 * the page there (the copy may touch a page at any of its bytes first). */
static int media_error(const struct dx_layout *l, uint64_t at, const char *what)
{
	log_err("%s/%s: media error (a bad block) in the page at file offset %llu; %s", l->f->export_name,
		l->f->relpath, (unsigned long long)(at & ~(uint64_t)(DXP_PAGE - 1)), what);
	return -EIO;
}

/* One slice of the staging buffer from the file. */
static int grant_fill(struct dx_layout_job *j)
{
	struct dx_layout *l = j->l;
	uint64_t n = slice(j), at = l->off + j->pos;
	char *dst = (char *)l->staging + j->pos;

	if (l->fm) {
		const char *src = dx_fmap_at(l->fm, at);
		const void *bad;

		if (dx_dax_copy(dst, src, (size_t)n, NULL, &bad))
			return media_error(l, at + (uint64_t)((const char *)bad - src), "the layout is refused");
		l->c->d->st.bytes_copied += n;
	} else {
		size_t want = at < l->size ? (size_t)(l->size - at < n ? l->size - at : n) : 0;
		ssize_t got = want ? pread(l->f->fd, dst, want, (off_t)at) : 0;

		if (got < 0 || (size_t)got != want)
			return dx_log_fail("pread (file tail)", got < 0 ? -errno : -EIO);
		memset(dst + want, 0, (size_t)n - want); /* past the end (a reused buffer is not zero) */
		l->c->d->st.bytes_copied += want;
	}
	j->pos += n;
	return 0;
}

static int grant_step(struct dx_work *w)
{
	struct dx_layout_job *j = job_of(w);
	struct dx_layout *l = j->l;
	int access = IBV_ACCESS_REMOTE_READ;
	int ret;

	switch (j->phase) {
	case G_PREPARE:
		ret = dx_seal_prepare(l->f, j->off + j->pos, slice(j));
		if (ret)
			return ret;
		j->pos += slice(j);
		if (j->pos == j->len) {
			j->pos = 0;
			j->phase = G_MAP;
		}
		return 1;
	case G_MAP:
		ret = grant_map(l);
		if (ret)
			return ret;
		j->phase = l->staging && l->fm && l->iomode == DXP_IOMODE_RW ? G_POPULATE
			   : l->staging ? G_FILL : G_REGISTER;
		return 1;
	case G_POPULATE:
		grant_populate(j);
		if (j->pos == j->len) {
			j->pos = 0;
			j->phase = G_FILL;
		}
		return 1;
	case G_FILL:
		ret = grant_fill(j);
		if (ret)
			return ret;
		if (j->pos == j->len)
			j->phase = G_REGISTER;
		return 1;
	case G_REGISTER:
		if (l->iomode == DXP_IOMODE_RW)
			access |= IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_LOCAL_WRITE;
		if (l->mr_mode == DXP_MR_ODP && !l->staging)
			access |= IBV_ACCESS_ON_DEMAND;
		if (l->flush)
			access |= DX_ACCESS_FLUSH;
		ret = register_mr(l, l->staging ? l->staging : dx_fmap_at(l->fm, l->off), access);
		if (ret && l->flush) {
			/* The export's probe took FLUSH; this memory does not:
			 * a layout persisted by READ rather than none. */
			l->flush = false;
			ret = register_mr(l, dx_fmap_at(l->fm, l->off), access & ~DX_ACCESS_FLUSH);
		}
		if (ret)
			return ret;
		clock_gettime(CLOCK_MONOTONIC, &l->granted);
		dx_layout_set_state(l, LAYOUT_GRANTED);
		l->c->d->st.layouts_granted++;
		return 0;
	}
	return -EINVAL;
}

/* Persist (bounce: copy in and persist) one slice. */
static int persist_step(struct dx_work *w)
{
	struct dx_layout_job *j = job_of(w);
	struct dx_layout *l = j->l;
	uint64_t n = slice(j), at = j->off + j->pos;
	char *pm = dx_fmap_at(l->fm, at);
	const void *bad;
	int ret;

	/* The file's lease bound fences this layout first (seal.c); this is
	 * for where no timer runs, the drain at exit: past the bound the
	 * kernel gives the file away, and the daemon writes nothing more. */
	if (l->f->lease == LEASE_BREAKING && dx_now_ms() >= dx_lease_bound_ms(l->f))
		return -ETIMEDOUT;

	if (l->mr_mode == DXP_MR_BOUNCE) {
		ret = dx_dax_copy(pm, (char *)l->staging + (at - l->off), (size_t)n, l->fm->memcpy_persist, &bad);
		if (ret == 0)
			l->c->d->st.bytes_copied += n;
	} else {
		ret = dx_dax_persist(l->fm->persist, pm, (size_t)n, &bad);
	}
	if (ret)
		return media_error(l, at + (uint64_t)((const char *)bad - pm), "the range is not persistent");
	if (j->kind == DX_JOB_COPY_BACK && l->mr_mode == DXP_MR_BOUNCE)
		l->c->d->st.bytes_copied_back += n;
	else
		l->c->d->st.bytes_committed += n; /* a COMMIT, or a dirty return persisted in place */
	j->pos += n;
	return j->pos < j->len;
}

static bool job_urgent(const struct dx_work *w)
{
	return dx_layout_urgent(((const struct dx_layout_job *)w)->l);
}

static void job_done(struct dx_work *w, int result)
{
	struct dx_layout_job *j = job_of(w);
	struct dx_layout *l = j->l;

	TAILQ_REMOVE(&l->jobs, j, link);
	if (result && j->kind == DX_JOB_GRANT && l->state == LAYOUT_GRANTING) {
		if (result != -ECANCELED)
			log_notice("grant of layout %llu on %s/%s failed: %s", (unsigned long long)l->id,
				   l->f->export_name, l->f->relpath, strerror(-result));
		dx_layout_fence(l);
	}
	if (result && j->kind != DX_JOB_GRANT)
		log_notice("layout %llu on %s/%s: %s of [%llu, +%llu) %s after %llu of %llu bytes",
			   (unsigned long long)l->id, l->f->export_name, l->f->relpath,
			   j->kind == DX_JOB_COMMIT ? "commit" : "copy-back", (unsigned long long)j->off,
			   (unsigned long long)j->len, result == -ECANCELED ? "dropped" : strerror(-result),
			   (unsigned long long)j->pos, (unsigned long long)j->len);
	if (j->done)
		j->done(l, j->kind, j->tag, result);
	free(j);
	if (dx_layout_dead(l) && TAILQ_EMPTY(&l->jobs))
		dx_reap_soon(l->c->d);
}

static const struct dx_work_ops grant_ops = { "grant", grant_step, job_done, job_urgent };
static const struct dx_work_ops persist_ops = { "persist", persist_step, job_done, job_urgent };

static int start_job(struct dx_layout *l, enum dx_job_kind kind, uint64_t off, uint64_t len, dx_job_done_fn *done,
		     uint64_t tag)
{
	struct dx_layout_job *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	j->w.ops = kind == DX_JOB_GRANT ? &grant_ops : &persist_ops;
	j->l = l;
	j->kind = kind;
	j->off = off;
	j->len = len;
	j->done = done;
	j->tag = tag;
	j->phase = kind == DX_JOB_GRANT && l->iomode == DXP_IOMODE_RW ? G_PREPARE : G_MAP;
	TAILQ_INSERT_TAIL(&l->jobs, j, link);
	/* A small job costs less than the turns it would wait for. */
	if (len <= DX_WORK_SLICE)
		dx_work_run_small(l->c->d, &j->w);
	else
		dx_work_queue(l->c->d, &j->w);
	return 0;
}

int dx_layout_grant(struct dx_conn *c, struct dx_file *f, const struct dx_export *x, uint64_t off, uint64_t len,
		    uint32_t iomode, uint64_t size, dx_job_done_fn *done, uint64_t tag, struct dx_layout **out)
{
	struct dx_layout *l = calloc(1, sizeof(*l));
	int ret;

	if (!l)
		return -ENOMEM;
	l->c = c;
	l->f = f;
	l->x = x;
	l->off = off;
	l->len = len;
	l->iomode = iomode;
	l->size = size;
	l->id = ++c->d->next_layout_id;
	l->seq = 1;
	l->state = LAYOUT_GRANTING;
	TAILQ_INIT(&l->jobs);
	l->mr_mode = off + len > size ? DXP_MR_BOUNCE /* the tail: served from a staging copy */
				       : dx_mr_mode_wire(dx_export_file_mr_mode(x, f->dax));
	/* RDMA FLUSH persists NIC writes where the file itself is written and
	 * they are persistent once placed: the one-sided persistence's ground. */
	l->flush = c->flush && x->flush && iomode == DXP_IOMODE_RW && l->mr_mode != DXP_MR_BOUNCE &&
		   dx_export_file_remote_persist(x, f->dax);
	TAILQ_INSERT_TAIL(&f->layouts, l, by_file);
	l->by_range.lo = off;
	l->by_range.hi = off + len;
	dx_itree_insert(&f->ranges, &l->by_range);
	TAILQ_INSERT_TAIL(&c->layouts, l, by_conn);
	LIST_INSERT_HEAD(&c->by_id[l->id % DX_LAYOUT_BUCKETS], l, by_id);
	c->d->n_layouts++;
	c->n_layouts++;
	c->layout_bytes += len;
	if (l->mr_mode == DXP_MR_BOUNCE)
		c->d->staging_bytes += len;
	ret = start_job(l, DX_JOB_GRANT, off, len, done, tag);
	if (ret) {
		dx_layout_fence(l); /* nothing ran: the reaper frees it */
		return ret;
	}
	*out = l;
	return 0;
}

int dx_layout_commit(struct dx_layout *l, uint64_t off, uint64_t len, dx_job_done_fn *done, uint64_t tag)
{
	return start_job(l, DX_JOB_COMMIT, off, len, done, tag);
}

/* The rkey dies: nothing the client still sends can land after this. */
static int dereg(struct dx_layout *l)
{
	int ret;

	if (!l->mr)
		return 0;
	ret = ibv_dereg_mr(l->mr);
	if (ret)
		return dx_log_fail("ibv_dereg_mr", -ret);
	l->mr = NULL;
	return 0;
}

int dx_layout_return(struct dx_layout *l)
{
	int ret = dereg(l);

	if (ret)
		return ret;
	dx_recall_forget(l);
	dx_layout_set_state(l, LAYOUT_RETURNED);
	dx_reap_soon(l->c->d);
	return 0;
}

int dx_layout_persist_returned(struct dx_layout *l, dx_job_done_fn *done, uint64_t tag)
{
	unsigned int refusal;
	int ret;

	if (l->iomode != DXP_IOMODE_RW || !l->fm)
		return 0;
	refusal = dx_conn_write_refusal(l->c, l->x);
	ret = refusal ? dxp_err_to_errno(refusal) : start_job(l, DX_JOB_COPY_BACK, l->off, l->len, done, tag);
	if (ret == 0)
		return 1;
	log_notice("layout %llu of client %llu: what it wrote since its last COMMIT is not persisted: %s (%s/%s)",
		   (unsigned long long)l->id, (unsigned long long)l->c->id, strerror(-ret), l->f->export_name,
		   l->f->relpath);
	return ret;
}

void dx_layout_fence(struct dx_layout *l)
{
	struct dx_layout_job *j;

	if (l->state == LAYOUT_FENCED)
		return;
	if (dereg(l))
		dx_conn_kill_qp(l->c, "ibv_dereg_mr failed"); /* the rkey must not outlive the lease */
	dx_recall_forget(l);
	dx_layout_set_state(l, LAYOUT_FENCED);
	while ((j = TAILQ_FIRST(&l->jobs)))
		dx_work_cancel(l->c->d, &j->w);
	dx_reap_soon(l->c->d);
}

struct dx_layout *dx_layout_find(const struct dx_conn *c, uint64_t id)
{
	struct dx_layout *l;

	LIST_FOREACH(l, &c->by_id[id % DX_LAYOUT_BUCKETS], by_id)
		if (l->id == id)
			return l;
	return NULL;
}

bool dx_layout_rkey_dead(const struct dx_layout *l)
{
	return !l->mr || dx_conn_rkeys_dead(l->c);
}

void dx_layout_free(struct dx_layout *l)
{
	struct dx_conn *c = l->c;

	assert(dx_layout_dead(l) && TAILQ_EMPTY(&l->jobs) && dx_layout_rkey_dead(l));
	if (l->mr && dereg(l)) /* a last try; the QP is dead, so is the rkey */
		log_err("layout %llu: its MR is leaked (its rkey is dead with the QP)", (unsigned long long)l->id);
	TAILQ_REMOVE(&l->f->layouts, l, by_file);
	dx_itree_remove(&l->f->ranges, &l->by_range);
	TAILQ_REMOVE(&c->layouts, l, by_conn);
	LIST_REMOVE(l, by_id);
	if (l->staging)
		staging_put(c, l->staging, l->len);
	dx_fmap_put(&l->fm);
	c->d->n_layouts--;
	c->n_layouts--;
	c->layout_bytes -= l->len;
	if (l->mr_mode == DXP_MR_BOUNCE)
		c->d->staging_bytes -= l->len;
	free(l);
	dx_conn_layout_freed(c);
}
