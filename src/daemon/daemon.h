/* The daemon's state: one event loop owns every fd. */
#ifndef DX_DAEMON_H
#define DX_DAEMON_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/queue.h"
#include <time.h>

#include "daemon/config.h"
#include "daemon/ctlsock.h"
#include "daemon/export.h"
#include "daemon/listener.h"
#include "daemon/work.h"

struct dx_bans;
struct dx_conn;
struct dx_file;
struct dx_lease_watch;
struct dx_reload;

/* Event priorities: lease breaks and recall deadlines never wait behind
 * client requests, and background work (large copies) yields to both. */
enum dx_prio { DX_PRIO_URGENT, DX_PRIO_NORMAL, DX_PRIO_BACKGROUND, DX_PRIO_N };

struct dx_stats {
	uint64_t layouts_granted, layouts_returned, recalls, fenced, lease_breaks, malformed;
	uint64_t commits;            /* COMMIT requests */
	uint64_t bytes_committed;
	uint64_t bytes_copied_back;  /* bounce data copied in at a return that did not say CLEAN */
	uint64_t bytes_copied;       /* every byte copied between a staging buffer and a file (0: zero copy) */
	uint64_t keepalives, peers_lost; /* probes sent; connections closed by a failed one */
};

struct dxd {
	struct event_base *base;
	const char *config_file;
	struct dx_config *cfg;
	struct dx_exports *exports; /* opened from cfg */
	struct dx_listener *listener;
	struct dx_listener *retired;   /* the one before a reload moved the address; its clients drain */
	struct event *ev_devices;      /* each second: librdmacm lets removed devices go; relisten if lost */
	int exit_error;                /* -errno the daemon stops for (the last RDMA device removed) */
	struct dx_ctlsock *ctl;
	struct event *ev_sighup, *ev_sigterm, *ev_sigint, *ev_watchdog;
	struct timespec started;
	uint64_t reloads, reloads_failed;
	struct dx_reload *reload;      /* the reload in progress (main.c) */
	int lease_break_time_s;
	/* Read again at each lease break (an admin may change it at any time;
	 * the kernel takes it at the break): DX_LEASE_BREAK_TIME_PATH, or NULL
	 * (tests of the bound set lease_break_time_s themselves). */
	const char *lease_break_time_path;
	TAILQ_HEAD(, dx_conn) conns;
	TAILQ_HEAD(, dx_file) files;
	size_t n_conns, n_layouts;
	uint64_t staging_bytes;     /* of bounce layouts: limits.staging_bytes */
	uint64_t pooled_bytes;      /* staging kept for reuse: a quarter of limits.staging_bytes at most */
	uint64_t next_conn_id, next_layout_id;
	struct dx_lease_watch *leases; /* lease-break notes (seal.c) */
	struct dx_bans *bans;       /* hosts daxrdmactl evict --ban keeps out (ban.h) */
	bool stopping;              /* SIGTERM: recalling everything, then exit */
	struct event *ev_stop;
	struct event *ev_reap;      /* reap.h */
	struct dx_workq work;       /* work.h: background jobs in slices */
	struct dx_stats st;
};

/*
 * Reload the configuration file: parse, validate, open the exports (on a
 * thread), and switch only if everything worked. DONE(ARG, 0 or -errno,
 * ERRS: "file:line: why" lines), if not NULL, hears the end once, from the
 * loop (possibly before dxd_reload returns). -EBUSY (and no DONE) while
 * another reload runs; else 0.
 */
typedef void (*dxd_reload_done)(void *arg, int ret, const char *errs);
int dxd_reload(struct dxd *d, dxd_reload_done done, void *arg);
/* Rows of layouts in one control reply at most: `layouts` answers in pages
 * of this many, `recall` shows this many and counts the rest. A page takes
 * about 15 ms of the loop under TCG. */
#define DX_CTL_PAGE 500
/* Answer one control request (ctlsock.h's dx_ctl_handler). */
int dxd_ctl_handle(void *arg, const struct ucred *peer, int argc, char **argv,
		   enum report_format fmt, struct dxbuf *out);
/* STATUS= for systemd: a one-line summary. */
void dxd_notify_status(struct dxd *d);

#endif
