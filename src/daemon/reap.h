/*
 * The reaper: dead layouts (RETURNED or FENCED, no job left), files with
 * neither handles nor layouts, and destroyed connections are freed here,
 * from a deferred event at the highest priority, never in the middle of a
 * walk over them. A file's lease is released here when its last layout goes,
 * so the local process that waits for it proceeds in the same turn.
 */
#ifndef DX_REAP_H
#define DX_REAP_H

struct dxd;

int dx_reap_init(struct dxd *d);
void dx_reap_fini(struct dxd *d);
/* Something died: reap at the next turn of the loop. */
void dx_reap_soon(struct dxd *d);
/* Reap now (from a callback of the loop's own, or at exit). */
void dx_reap_now(struct dxd *d);

#endif
