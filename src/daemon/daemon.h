/* The daemon's state: one event loop owns every fd. */
#ifndef DX_DAEMON_H
#define DX_DAEMON_H

#include <event2/event.h>
#include <stdint.h>
#include <time.h>

#include "daemon/config.h"
#include "daemon/ctlsock.h"
#include "daemon/export.h"
#include "daemon/listener.h"

struct dxd {
	struct event_base *base;
	const char *config_file;
	struct dx_config *cfg;
	struct dx_exports *exports; /* opened from cfg */
	struct dx_listener *listener;
	struct dx_ctlsock *ctl;
	struct event *ev_sighup, *ev_sigterm, *ev_sigint, *ev_watchdog;
	struct timespec started;
	uint64_t reloads, reloads_failed;
	int lease_break_time_s;
};

/* Parse, validate, open; swap only if everything worked. ERRS says why not. */
int dxd_reload(struct dxd *d, struct dxbuf *errs);
/* Answer one control request (ctlsock.h's dx_ctl_handler). */
int dxd_ctl_handle(void *arg, const struct ucred *peer, int argc, char **argv,
		   enum report_format fmt, struct dxbuf *out);
/* STATUS= for systemd: a one-line summary. */
void dxd_notify_status(struct dxd *d);

#endif
