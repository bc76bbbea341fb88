/*
 * Background work in slices (issue 8 §2): large copies, zeroing and fills
 * run here, one bounded slice per turn of the loop at the lowest priority,
 * so lease breaks, recall deadlines, client requests and the control socket
 * never wait behind them. The loop stays the only thread that touches
 * state, so cancelling an item is immediate and synchronous: a cancelled
 * item's next slice never runs.
 */
#ifndef DX_WORK_H
#define DX_WORK_H

#include <stdbool.h>
#include <stdint.h>

#include "common/queue.h"

struct dxd;
struct dx_work;

#define DX_WORK_SLICE (1u << 20) /* bytes copied, zeroed or prepared per slice */
/* A turn of background work runs slices for this long (at least one) before
 * the loop serves everything else again: few turns per large copy, and
 * no request or lease break waits longer than about this. */
#define DX_WORK_TURN_US 1000

struct dx_work_ops {
	const char *name;
	/* One slice: > 0 if more is left, 0 when finished, -errno on failure. */
	int (*step)(struct dx_work *w);
	/* Finished (0), failed (-errno) or cancelled (-ECANCELED); W is no
	 * longer queued and belongs to the callee. */
	void (*done)(struct dx_work *w, int result);
	/* Urgent items (a recall waits for them) run before all others. */
	bool (*urgent)(const struct dx_work *w);
};

struct dx_work {
	TAILQ_ENTRY(dx_work) link;
	const struct dx_work_ops *ops;
};

struct dx_workq {
	struct event *ev;
	TAILQ_HEAD(, dx_work) items;
	unsigned int n;
};

int dx_workq_init(struct dxd *d);
void dx_workq_fini(struct dxd *d);
/* Run W's slices in turn with the other items, starting at a later turn. */
void dx_work_queue(struct dxd *d, struct dx_work *w);
/* A small item (at most one slice of bytes, in a few steps): run it now, in
 * the caller's turn, and queue only what is left after DX_WORK_INLINE_STEPS. */
#define DX_WORK_INLINE_STEPS 5
void dx_work_run_small(struct dxd *d, struct dx_work *w);
/* At exit, with the loop stopped: run every item to its end. */
void dx_workq_drain(struct dxd *d);
/* Take W off the queue now and call its done(-ECANCELED). */
void dx_work_cancel(struct dxd *d, struct dx_work *w);

#endif
