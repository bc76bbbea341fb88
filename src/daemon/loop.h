/*
 * The daemon's one event loop: three priorities (daemon.h: lease breaks,
 * recall deadlines and signals first, background work last), and below the
 * urgent priority the loop looks for new events after every callback, so a
 * callback that re-activates itself (a CQ with more completions, the next
 * slice of background work) cannot run again before a lease break is seen.
 */
#ifndef DX_LOOP_H
#define DX_LOOP_H

struct event_base;

/* 0 or -errno (logged). */
int dx_loop_new(struct event_base **out);

#endif
