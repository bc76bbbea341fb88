#include "daemon/layout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/conn.h"
#include "daemon/daemon.h"
#include "daemon/fmap.h"
#include "daemon/seal.h"

const char *dx_layout_state_name(enum dx_layout_state s)
{
	return s == LAYOUT_GRANTED ? "granted" : "recalling";
}

bool dx_layout_overlaps(const struct dx_layout *l, uint64_t off, uint64_t len)
{
	uint64_t end = off + len < off ? UINT64_MAX : off + len; /* LEN may mean "to the end" */

	return off < l->off + l->len && l->off < end;
}

static int register_mr(struct dx_layout *l, void *addr, int access)
{
	l->mr = ibv_reg_mr(l->c->pd, addr, (size_t)l->len, access);
	if (!l->mr) {
		int err = errno ? -errno : -EIO;

		log_err("ibv_reg_mr of %s/%s [%llu, +%llu) (%s): %s", l->f->export_name, l->f->relpath,
			(unsigned long long)l->off, (unsigned long long)l->len,
			l->mr_mode == DXP_MR_BOUNCE ? "staging" : "mapping", strerror(-err));
		return err;
	}
	return 0;
}

/* The staging copy of a READ layout over the file's last partial page. */
static int fill_tail(struct dx_layout *l, uint64_t size)
{
	size_t n = (size_t)(size > l->off ? size - l->off : 0);
	ssize_t got;

	l->staging = mmap(NULL, (size_t)l->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l->staging == MAP_FAILED) {
		l->staging = NULL;
		return dx_log_fail("mmap (tail staging)", -errno);
	}
	got = pread(l->f->fd, l->staging, n, (off_t)l->off);
	if (got < 0 || (size_t)got != n)
		return dx_log_fail("pread (file tail)", got < 0 ? -errno : -EIO);
	return 0;
}

int dx_layout_new(struct dx_conn *c, struct dx_file *f, uint64_t off, uint64_t len, uint32_t iomode,
		  uint64_t size, struct dx_layout **out)
{
	bool rw = iomode == DXP_IOMODE_RW;
	int access = IBV_ACCESS_REMOTE_READ | (rw ? IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_LOCAL_WRITE : 0);
	struct dx_layout *l;
	void *pm;
	int ret;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->c = c;
	l->f = f;
	l->off = off;
	l->len = len;
	l->iomode = iomode;
	l->id = ++c->d->next_layout_id;
	l->seq = 1;
	switch (f->x->mr_mode) {
	case DX_MR_ODP: l->mr_mode = DXP_MR_ODP; break;
	case DX_MR_BOUNCE: l->mr_mode = DXP_MR_BOUNCE; break;
	default: l->mr_mode = DXP_MR_PINNED; break;
	}
	if (off + len > size) {
		l->mr_mode = DXP_MR_BOUNCE;
		ret = fill_tail(l, size);
		if (!ret)
			ret = register_mr(l, l->staging, access);
		if (ret)
			goto err_staging;
		goto granted;
	}
	ret = dx_fmap_get(f, off + len, &l->fm);
	if (ret)
		goto err_free;
	pm = l->fm->addr + off;
	if (l->mr_mode == DXP_MR_BOUNCE) {
		l->staging = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (l->staging == MAP_FAILED) {
			l->staging = NULL;
			ret = dx_log_fail("mmap (bounce staging)", -errno);
			goto err_unmap;
		}
		memcpy(l->staging, pm, (size_t)len);
		ret = register_mr(l, l->staging, access);
	} else {
		ret = register_mr(l, pm, access | (l->mr_mode == DXP_MR_ODP ? IBV_ACCESS_ON_DEMAND : 0));
	}
	if (ret)
		goto err_staging;
granted:
	clock_gettime(CLOCK_MONOTONIC, &l->granted);
	TAILQ_INSERT_TAIL(&f->layouts, l, by_file);
	TAILQ_INSERT_TAIL(&c->layouts, l, by_conn);
	c->d->n_layouts++;
	c->d->st.layouts_granted++;
	*out = l;
	return 0;

err_staging:
	if (l->staging)
		munmap(l->staging, (size_t)len);
err_unmap:
	dx_fmap_put(&l->fm);
err_free:
	free(l);
	return ret;
}

int dx_layout_commit(struct dx_layout *l, uint64_t off, uint64_t len)
{
	size_t rel = (size_t)(off - l->off);
	char *pm;

	if (l->iomode != DXP_IOMODE_RW || len == 0)
		return 0; /* READ layouts (tail ones have no mapping) hold nothing to persist */
	pm = l->fm->addr + off;
	if (l->mr_mode == DXP_MR_BOUNCE)
		l->fm->memcpy_persist(pm, (char *)l->staging + rel, (size_t)len, 0); /* flags 0: copy and persist */
	else
		l->fm->persist(pm, (size_t)len);
	return 0;
}

void dx_layout_release(struct dx_layout **lp, bool copy_back)
{
	struct dx_layout *l = *lp;
	struct dx_file *f;
	int ret;

	if (!l)
		return;
	f = l->f;
	/* The rkey dies first: nothing the client still sends can land after this. */
	if (l->mr) {
		ret = ibv_dereg_mr(l->mr);
		if (ret)
			dx_log_fail("ibv_dereg_mr", -ret);
	}
	if (copy_back && l->mr_mode == DXP_MR_BOUNCE && l->iomode == DXP_IOMODE_RW) {
		if (dx_conn_may_write(l->c, f))
			dx_layout_commit(l, l->off, l->len);
		else
			log_notice("layout %llu of client %llu: uncommitted bounce data not copied back: the client "
				   "may no longer write to %s/%s", (unsigned long long)l->id,
				   (unsigned long long)l->c->id, f->export_name, f->relpath);
	}
	if (l->staging)
		munmap(l->staging, (size_t)l->len);
	dx_fmap_put(&l->fm);
	if (l->ev_deadline)
		event_free(l->ev_deadline);
	if (l->queued)
		TAILQ_REMOVE(&l->c->recall_queue, l, recall_q);
	if (l->state == LAYOUT_RECALLING && l->recall_sent && l->c->recalls_outstanding)
		l->c->recalls_outstanding--;
	TAILQ_REMOVE(&f->layouts, l, by_file);
	TAILQ_REMOVE(&l->c->layouts, l, by_conn);
	l->c->d->n_layouts--;
	free(l);
	*lp = NULL;
	dx_file_layout_gone(f);
}
