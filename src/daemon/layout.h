/*
 * Layouts (DESIGN.md §2, §5): a client's grant on a page-aligned range of a
 * sealed file, backed by its own MR whose rkey covers exactly that range.
 * pinned/odp: the MR is on the file's libpmem2 mapping (fmap.h). bounce: the MR is
 * on a staging buffer filled from the file at grant and copied back (and
 * persisted) at COMMIT and at RETURN.
 */
#ifndef DX_LAYOUT_H
#define DX_LAYOUT_H

#include <event2/event.h>
#include <infiniband/verbs.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/queue.h"
#include "daxrdma_proto.h"

struct dx_conn;
struct dx_file;
struct dx_fmap;

enum dx_layout_state {
	LAYOUT_GRANTED,   /* the client may RDMA to it */
	LAYOUT_RECALLING, /* LAYOUT_RECALL queued or sent; fenced at the deadline */
};

struct dx_layout {
	TAILQ_ENTRY(dx_layout) by_file;
	TAILQ_ENTRY(dx_layout) by_conn;
	TAILQ_ENTRY(dx_layout) recall_q;   /* waiting for a recall credit */
	struct dx_file *f;
	struct dx_conn *c;
	uint64_t id;
	uint32_t seq;
	uint64_t off, len;
	uint32_t iomode;                  /* enum dxp_iomode */
	uint32_t mr_mode;                 /* enum dxp_mr_mode */
	enum dx_layout_state state;
	struct dx_fmap *fm;               /* the file mapping it lies in (NULL: a tail READ layout) */
	void *staging;                    /* bounce only */
	struct ibv_mr *mr;
	uint32_t recall_reason;
	bool recall_sent, queued;
	struct event *ev_deadline;
	struct timespec granted, recall_started;
};

/* Map the range, register its MR (or fill and register a staging buffer).
 * F is sealed and the range prepared. A READ layout reaching past SIZE (the
 * file's last partial page) is served from a staging buffer, zeros past the
 * end. 0 or -errno. */
int dx_layout_new(struct dx_conn *c, struct dx_file *f, uint64_t off, uint64_t len, uint32_t iomode,
		  uint64_t size, struct dx_layout **out);
/* Persist [OFF, OFF+LEN) (absolute file offsets inside the layout). */
int dx_layout_commit(struct dx_layout *l, uint64_t off, uint64_t len);
/* Deregister the MR (the rkey dies here), copy back first if COPY_BACK and
 * bounce RW, unmap, unlink from file and connection, free; the file may drop
 * its lease. */
void dx_layout_release(struct dx_layout **lp, bool copy_back);
bool dx_layout_overlaps(const struct dx_layout *l, uint64_t off, uint64_t len);
const char *dx_layout_state_name(enum dx_layout_state s);

#endif
