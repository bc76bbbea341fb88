/*
 * Layouts (DESIGN.md §2, §5): a client's grant on a page-aligned range of a
 * sealed file, backed by its own MR whose rkey covers exactly that range.
 * pinned/odp: the MR is on the file's libpmem2 mapping (fmap.h). bounce: the MR is
 * on a staging buffer filled from the file at grant and copied back (and
 * persisted) at COMMIT and at RETURN.
 *
 * States (one setter, dx_layout_set_state, which logs and checks each move):
 *
 *   GRANTING ──> GRANTED ──> RECALL_QUEUED ──> RECALL_SENT
 *      │            │              │                │
 *      │            ├──────────────┴────────────────┴──> RETURNED
 *      └────────────┴──────────────┴────────────────┴──> FENCED
 *                                     (RETURNED ──> FENCED too)
 *
 *   GRANTING       being prepared, filled and registered by background
 *                  jobs; no rkey has left the daemon. It holds the lease.
 *   GRANTED        the client may RDMA to it
 *   RECALL_QUEUED  recalled; LAYOUT_RECALL waits for a recall credit
 *   RECALL_SENT    LAYOUT_RECALL sent; the client is fenced at the deadline
 *   RETURNED       given back; the rkey is dead. A copy-back of bounce data
 *                  (a job) may still run.
 *   FENCED         the rkey is dead and nothing more is written: a fence, a
 *                  cancelled grant, a dropped copy-back
 *
 * RETURNED and FENCED layouts are dead: once no job holds them, the reaper
 * (reap.h) frees them from a deferred event, never in the middle of a walk,
 * and the file's lease goes with its last layout.
 */
#ifndef DX_LAYOUT_H
#define DX_LAYOUT_H

#include <event2/event.h>
#include <infiniband/verbs.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/queue.h"
#include "daemon/itree.h"
#include "daxrdma_proto.h"

struct dx_conn;
struct dx_export;
struct dx_file;
struct dx_fmap;
struct dx_layout_job;

enum dx_layout_state {
	LAYOUT_GRANTING,
	LAYOUT_GRANTED,
	LAYOUT_RECALL_QUEUED,
	LAYOUT_RECALL_SENT,
	LAYOUT_RETURNED,
	LAYOUT_FENCED,
};

struct dx_layout {
	TAILQ_ENTRY(dx_layout) by_file;
	TAILQ_ENTRY(dx_layout) by_conn;
	LIST_ENTRY(dx_layout) by_id;      /* in c->by_id */
	struct dx_inode by_range;         /* in f->ranges: [off, off + len) */
	TAILQ_ENTRY(dx_layout) rc_link;    /* in rc->layouts */
	struct dx_recall *rc;             /* RECALL_QUEUED or _SENT: the recall it is part of */
	uint64_t fh;                      /* the handle it was granted on (recalls name it) */
	struct dx_file *f;
	const struct dx_export *x;        /* its handle's: it decides whether the client may still write */
	struct dx_conn *c;
	uint64_t id;
	uint32_t seq;
	uint64_t off, len;
	uint32_t iomode;                  /* enum dxp_iomode */
	uint32_t mr_mode;                 /* enum dxp_mr_mode */
	bool flush;                       /* its MR takes RDMA FLUSH (DXP_LAYOUT_FLUSH) */
	enum dx_layout_state state;
	uint64_t size;                    /* the file's size at grant (a tail READ layout reads up to it) */
	struct dx_fmap *fm;               /* the file mapping it lies in (NULL: a tail READ layout) */
	void *staging;                    /* bounce only */
	struct ibv_mr *mr;
	TAILQ_HEAD(, dx_layout_job) jobs; /* background jobs on it: it is not freed while any runs */
	uint32_t recall_reason;
	struct timespec granted, recall_started;
};

/* What a job was for, and how it ended: 0, -errno, or -ECANCELED. */
enum dx_job_kind { DX_JOB_GRANT, DX_JOB_COMMIT, DX_JOB_COPY_BACK };
typedef void dx_job_done_fn(struct dx_layout *l, enum dx_job_kind kind, uint64_t tag, int result);

/*
 * A new GRANTING layout on [OFF, OFF+LEN) of F (sealed: the lease is held),
 * reached through export X (its MR mode), for C, and the job that makes it GRANTED: prepare the range (RW), map,
 * fill the staging buffer (bounce, or a READ layout past SIZE, the file's
 * last partial page, which reads as zeros), register the MR. DONE(l,
 * DX_JOB_GRANT, TAG, result) runs when it ends; on failure or cancel the
 * layout is FENCED. 0 or -errno (nothing created).
 */
int dx_layout_grant(struct dx_conn *c, struct dx_file *f, const struct dx_export *x, uint64_t off, uint64_t len,
		    uint32_t iomode, uint64_t size, dx_job_done_fn *done, uint64_t tag, struct dx_layout **out);
/* Persist [OFF, OFF+LEN) (absolute offsets inside L), copying it in from the
 * staging buffer first in bounce mode, as a job; DONE(l, DX_JOB_COMMIT, TAG,
 * result) when it ends. 0 or -ENOMEM. */
int dx_layout_commit(struct dx_layout *l, uint64_t off, uint64_t len, dx_job_done_fn *done, uint64_t tag);
/* The client gives L back: the MR goes now (the rkey dies here) and L is
 * RETURNED. 0, or -errno if the MR could not be deregistered (the caller
 * fences the client). */
int dx_layout_return(struct dx_layout *l);
/*
 * A returned L that the client wrote since its last COMMIT (a return
 * without CLEAN): an RW layout is persisted whole as a job, copied back
 * first in bounce mode, so that a dirty return is a COMMIT of the layout
 * (DONE(l, DX_JOB_COPY_BACK, TAG, result) when it ends). Returns 1 if the
 * job runs, 0 if there is nothing to persist, -EROFS, -EACCES or -ENOENT
 * if the client may no longer write there (nothing is persisted), -ENOMEM.
 */
int dx_layout_persist_returned(struct dx_layout *l, dx_job_done_fn *done, uint64_t tag);
/* The rkey dies now and nothing more is written: deregister, cancel every
 * job (their DONE gets -ECANCELED), FENCED. For fences and cancelled grants. */
void dx_layout_fence(struct dx_layout *l);
/* The layout whose by_range N is. */
static inline struct dx_layout *dx_layout_of_range(struct dx_inode *n)
{
	return (struct dx_layout *)((char *)n - offsetof(struct dx_layout, by_range));
}
/* C's layout ID (whatever its state), or NULL. */
struct dx_layout *dx_layout_find(const struct dx_conn *c, uint64_t id);
/* No access through L's rkey can work: its MR is deregistered, or the only
 * QP of its PD is in error or gone. Until then L is not freed, and the
 * file's lease stays. */
bool dx_layout_rkey_dead(const struct dx_layout *l);
/* Unlink and free a dead layout that no job holds (the reaper's). */
void dx_layout_free(struct dx_layout *l);
/* Unmap the staging buffers C keeps for reuse (C is going). */
void dx_staging_pool_drain(struct dx_conn *c);

void dx_layout_set_state(struct dx_layout *l, enum dx_layout_state to);
bool dx_layout_overlaps(const struct dx_layout *l, uint64_t off, uint64_t len);
/* RETURNED or FENCED. */
bool dx_layout_dead(const struct dx_layout *l);
/* Granted and not yet recalled, returned or fenced. */
bool dx_layout_recallable(const struct dx_layout *l);
/* Not dead, or dead with a job still writing to the file. */
bool dx_layout_busy(const struct dx_layout *l);
/* Jobs on it are urgent: a recall (or a local process) waits for them. */
bool dx_layout_urgent(const struct dx_layout *l);
const char *dx_layout_state_name(enum dx_layout_state s);

#endif
