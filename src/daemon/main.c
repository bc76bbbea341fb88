/* daxrdmad: serves files on persistent memory to RDMA clients. See daxrdmad(8). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "build-config.h"
#include "common/log.h"
#include "common/rdmadev.h"
#include "daemon/ban.h"
#include "daemon/conn.h"
#include "daemon/daemon.h"
#include "daemon/loop.h"
#include "daemon/mediaerr.h"
#include "daemon/reap.h"
#include "daemon/recall.h"
#include "daemon/seal.h"

static const int log_prio_of_level[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: daxrdmad [options]\n"
		"  -c, --config FILE   configuration file (default %s)\n"
		"      --check-config  validate the configuration file and exit\n"
		"      --dump-config   print the effective configuration and exit\n"
		"  -d, --debug         log debug messages\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          this text\n"
		"See daxrdmad(8) and daxrdmad.conf(5).\n",
		DAXRDMA_CONFIG_FILE);
}

/* A lease the kernel breaks by itself before we fence would let a local
 * truncate free blocks that an rkey still covers. */
static int check_recall_timeout(struct dxd *d, const struct dx_config *cfg)
{
	int lbt = dx_lease_break_time_read(DX_LEASE_BREAK_TIME_PATH);

	if (lbt < 0)
		return dx_log_fail("reading " DX_LEASE_BREAK_TIME_PATH, lbt);
	d->lease_break_time_s = lbt;
	/* Everything on a breaking file is fenced DX_LEASE_MARGIN_MS before the
	 * kernel's time runs out (seal.c): a recall must be able to end first. */
	if (cfg->recall_timeout_ms > (int64_t)lbt * 1000 - DX_LEASE_MARGIN_MS) {
		log_err("recall_timeout_ms = %lld leaves less than %d ms of /proc/sys/fs/lease-break-time (%d s): "
			"the kernel would break leases before daxrdmad fences clients; lower recall_timeout_ms or "
			"raise fs.lease-break-time", (long long)cfg->recall_timeout_ms, DX_LEASE_MARGIN_MS, lbt);
		return -EINVAL;
	}
	if (cfg->recall_timeout_ms * 2 > (int64_t)lbt * 1000)
		log_warn("recall_timeout_ms = %lld is more than half of fs.lease-break-time (%d s)",
			 (long long)cfg->recall_timeout_ms, lbt);
	return 0;
}

void dxd_notify_status(struct dxd *d)
{
	sd_notifyf(0, "STATUS=%s %s (%s), %zu export%s, %zu client%s, %zu layout%s",
		   d->listener->lost ? "waiting for an RDMA device with" : "listening on", d->listener->addr,
		   dx_listener_devname(d->listener), d->exports->n, d->exports->n == 1 ? "" : "s",
		   d->n_conns, d->n_conns == 1 ? "" : "s", d->n_layouts, d->n_layouts == 1 ? "" : "s");
}

static void on_cm_event(void *arg, struct rdma_cm_event *ev)
{
	dx_conn_cm_event(arg, ev);
}

/* Files, handles and layouts keep serving under a reloaded export of the
 * same name and path (and, for device-DAX, device_file); layouts granted
 * through one that went away are recalled, and their handles go stale. */
static void repoint_exports(struct dxd *d, struct dx_exports *nx)
{
	struct dx_file *f;

	/* An export of the same name that is no successor changed its mode. */
	for (size_t i = 0; i < d->exports->n; i++) {
		const struct dx_export *old = &d->exports->v[i];

		if (dx_export_successor(nx, old))
			continue;
		for (size_t j = 0; j < nx->n; j++)
			if (strcmp(nx->v[j].cfg->name, old->cfg->name) == 0)
				log_notice("export \"%s\" is served as %s, %s now (it was %s, %s): its layouts are "
					   "recalled and its open handles go stale", old->cfg->name,
					   dx_mr_mode_names[nx->v[j].mr_mode],
					   nx->v[j].remote_persist ? "remote-flush" : "COMMIT",
					   dx_mr_mode_names[old->mr_mode], old->remote_persist ? "remote-flush" : "COMMIT");
	}

	TAILQ_FOREACH(f, &d->files, link)
		if (f->x)
			f->x = dx_export_successor(nx, f->x);
	dx_conns_repoint_exports(d, nx);
}

static void print_errors(const struct dxbuf *errs)
{
	fputs(dxbuf_str(errs), stderr);
}

/* One log message per line of TEXT: a message never spans lines. */
static void log_lines(int prio, const char *text)
{
	while (*text) {
		size_t n = strcspn(text, "\n");

		dx_log(prio, "%.*s", (int)n, text);
		text += n + (text[n] == '\n');
	}
}

/*
 * RDMA devices come and go (rdma link delete, a driver unloaded, a NIC
 * removed). The kernel finishes removing one only when no process holds it,
 * and librdmacm (rdma-core 44) closes its context of a removed device only
 * when it next reads the device list, and only while another device is
 * left. So each second the daemon has it read the list, and:
 *  - when the listener's device goes, its connections close on their own
 *    events and the daemon tries each second to listen again, as at start;
 *    when a device has the address again, the exports are probed on it (as
 *    by a reload) and clients are served again;
 *  - when it was the last device, nothing in this process can let it go:
 *    the daemon exits with an error, the removal completes, and systemd
 *    (Restart=on-failure) starts it again.
 */
#define DX_DEVICES_MS 1000

static void on_listener_lost(void *arg);

static void relisten(struct dxd *d)
{
	struct dxbuf errs = DXBUF_INIT;
	struct dx_listener *nl = NULL;
	struct dx_exports *nx = NULL;

	if (dx_listener_new(d->base, d->cfg, on_cm_event, d, true, &nl))
		return; /* not yet: the next turn */
	if (dx_exports_open(d->cfg, nl, &nx, &errs)) {
		log_err("listening on %s again, but the exports do not open there:", nl->addr);
		log_lines(LOG_ERR, dxbuf_str(&errs));
		dxbuf_release(&errs);
		dx_listener_free(&nl);
		return;
	}
	dxbuf_release(&errs);
	nl->on_lost = on_listener_lost;
	repoint_exports(d, nx);
	dx_exports_close(&d->exports);
	d->exports = nx;
	/* What was on the removed device is dead: its connections go now. */
	dx_conns_destroy_of(d, d->listener);
	dx_listener_free(&d->listener);
	d->listener = nl;
	log_notice("RDMA device %s has %s: listening again", nl->devname, nl->addr);
	dxd_notify_status(d);
}

static void on_devices(evutil_socket_t fd, short what, void *arg)
{
	struct dxd *d = arg;

	if (d->listener->lost && !d->reload) /* a reload probes on the listener: not now */
		relisten(d);
	else
		dx_rdma_devices_sync();
}

static int watch_devices(struct dxd *d)
{
	struct timeval tv = { .tv_sec = DX_DEVICES_MS / 1000, .tv_usec = (suseconds_t)(DX_DEVICES_MS % 1000) * 1000 };

	d->ev_devices = event_new(d->base, -1, EV_PERSIST, on_devices, d);
	if (!d->ev_devices || evtimer_add(d->ev_devices, &tv))
		return dx_log_fail("event_add (RDMA device watch)", -ENOMEM);
	return 0;
}

static void on_listener_lost(void *arg)
{
	struct dxd *d = arg;

	if (dx_rdma_devices_sync() == 0) {
		log_err("RDMA device %s was the last one: librdmacm lets it go only when daxrdmad exits, and its "
			"removal waits for that; exiting (systemd starts daxrdmad again)", d->listener->devname);
		d->exit_error = -ENODEV;
		event_base_loopbreak(d->base);
		return;
	}
	dxd_notify_status(d);
}

/*
 * A reload (issue 19 §3) reads the file and makes a listener for a new
 * address in the loop, which is quick; opening the exports is not (a probe
 * file each, MR registrations, the ODP self-test, which may poll for up to
 * 2 s), so that runs on a thread of its own while the loop serves clients,
 * recall deadlines and the control socket. The switch happens back in the
 * loop. One reload at a time; the thread touches nothing the loop owns but
 * the listener it probes on, which the loop keeps until the reload ends.
 */
struct dx_reload {
	struct dxd *d;
	struct dx_config *nc;
	struct dx_listener *nl;         /* for a new address; serves from the switch on */
	struct dx_listener *on;         /* where the exports are probed (held meanwhile) */
	struct dx_exports *nx;
	struct dxbuf errs;
	int ret;
	pthread_t thread;
	int efd;                        /* the thread's "done", for the loop */
	struct event *ev;
	dxd_reload_done done;
	void *arg;
};

static void reload_free(struct dx_reload *r)
{
	if (r->ev)
		event_free(r->ev);
	if (r->efd >= 0)
		close(r->efd);
	dx_exports_close(&r->nx);
	dx_listener_free(&r->nl);
	dx_config_free(&r->nc);
	dxbuf_release(&r->errs);
	free(r);
}

/* The end of reload R (RET: 0, or why it failed, said in R->errs), in the loop. */
static void reload_end(struct dx_reload *r, int ret)
{
	struct dxd *d = r->d;

	d->reload = NULL;
	if (ret) {
		d->reloads_failed++;
		log_err("reload of %s failed; the running configuration stays", d->config_file);
		log_lines(LOG_ERR, dxbuf_str(&r->errs));
	}
	sd_notify(0, "READY=1");
	if (r->done)
		r->done(r->arg, ret, dxbuf_str(&r->errs));
	reload_free(r);
}

/* The switch: everything is in place, nothing can fail any more. */
static void reload_switch(struct dx_reload *r)
{
	struct dxd *d = r->d;
	struct dx_exports *nx = r->nx;

	repoint_exports(d, nx);
	dx_exports_close(&d->exports);
	d->exports = nx;
	r->nx = NULL;
	if (r->nl) {
		r->nl->on_lost = on_listener_lost;
		if (event_add(r->nl->ev, NULL)) /* it serves from now on */
			log_err("event_add (the new listener): connection requests to %s wait", r->nl->addr);
		/* Connections live on the old listener's device and channel: it
		 * stays (refusing new ones) until its clients have given their
		 * layouts back and gone. */
		if (d->retired)
			dx_conns_destroy_of(d, d->retired); /* a second move while the first drains */
		dx_listener_free(&d->retired);
		d->retired = d->listener;
		d->listener = r->nl;
		r->nl = NULL;
		dx_conns_drain(d, d->retired);
	}
	dx_config_free(&d->cfg);
	d->cfg = r->nc;
	r->nc = NULL;
	dx_conns_reload_access(d);
	dx_conns_rearm_keepalive(d);
	dx_log_set_level(log_prio_of_level[d->cfg->log_level]);
	d->reloads++;
	log_notice("reloaded %s: %zu export%s", d->config_file, nx->n, nx->n == 1 ? "" : "s");
	dxd_notify_status(d);
}

static void *reload_probe(void *arg)
{
	struct dx_reload *r = arg;
	uint64_t one = 1;

	r->ret = dx_exports_open(r->nc, r->on, &r->nx, &r->errs);
	if (write(r->efd, &one, sizeof(one)) != sizeof(one))
		abort(); /* an eventfd write of 1 cannot fail: the loop would never hear */
	return NULL;
}

/* The probes are done: switch, or say why not. EXITING: at the exit,
 * where the thread was waited for. */
static void reload_complete(struct dx_reload *r, bool exiting)
{
	struct dxd *d = r->d;
	int ret;

	pthread_join(r->thread, NULL);
	dx_listener_release(r->on);
	ret = r->ret;
	if (!ret && (exiting || d->stopping)) {
		ret = -ECANCELED;
		dxbuf_printf(&r->errs, "%s: daxrdmad is shutting down\n", d->config_file);
	} else if (!ret && !r->nl && d->listener->lost) {
		ret = -ENODEV;
		dxbuf_printf(&r->errs, "%s: the RDMA device of %s went away during the reload\n", d->config_file,
			     d->listener->addr);
	}
	if (!ret)
		reload_switch(r);
	reload_end(r, ret);
}

static void on_reload_probed(evutil_socket_t fd, short what, void *arg)
{
	reload_complete(arg, false);
}

/* The quick half, in the loop: the file, the lease-break-time, a listener. */
static int reload_prepare(struct dx_reload *r)
{
	struct dxd *d = r->d;
	struct dx_config *nc;
	int ret;

	ret = dx_config_load(d->config_file, &r->nc, &r->errs);
	if (ret)
		return ret;
	nc = r->nc;
	ret = check_recall_timeout(d, nc);
	if (ret) {
		dxbuf_printf(&r->errs, "%s: recall_timeout_ms is not below fs.lease-break-time\n", d->config_file);
		return ret;
	}
	if (strcmp(nc->ctl_socket, d->cfg->ctl_socket) != 0 || strcmp(nc->ctl_group, d->cfg->ctl_group) != 0)
		log_warn("reload: ctl.socket and ctl.group take effect at the next start");
	if (strcmp(nc->listen_address, d->cfg->listen_address) != 0 || nc->listen_port != d->cfg->listen_port) {
		ret = dx_listener_new(d->base, nc, on_cm_event, d, false, &r->nl);
		if (ret) {
			dxbuf_printf(&r->errs, "%s: cannot listen on %s port %lld: %s\n", d->config_file,
				     nc->listen_address, (long long)nc->listen_port, strerror(-ret));
			return ret;
		}
		/* Connection requests wait in its backlog until the switch. */
		event_del(r->nl->ev);
	}
	if (!r->nl && d->listener->lost) {
		dxbuf_printf(&r->errs, "%s: the RDMA device of %s is gone: reload once it is back\n", d->config_file,
			     d->listener->addr);
		return -ENODEV;
	}
	r->on = r->nl ? r->nl : d->listener;
	return 0;
}

int dxd_reload(struct dxd *d, dxd_reload_done done, void *arg)
{
	struct dx_reload *r;
	int ret;

	if (d->reload)
		return -EBUSY;
	r = calloc(1, sizeof(*r));
	if (!r) {
		dx_log_fail("calloc (reload)", -ENOMEM);
		d->reloads_failed++;
		if (done)
			done(arg, -ENOMEM, "out of memory for a reload\n");
		return 0;
	}
	*r = (struct dx_reload){ .d = d, .efd = -1, .done = done, .arg = arg, .errs = DXBUF_INIT };
	d->reload = r;
	sd_notify(0, "RELOADING=1");
	log_notice("reloading %s", d->config_file);
	ret = reload_prepare(r);
	if (ret)
		goto fail;
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0) {
		ret = dx_log_fail("eventfd (reload)", -errno);
		goto fail;
	}
	r->ev = event_new(d->base, r->efd, EV_READ, on_reload_probed, r);
	if (!r->ev || event_add(r->ev, NULL)) {
		ret = dx_log_fail("event_add (reload)", -ENOMEM);
		goto fail;
	}
	dx_listener_hold(r->on);
	ret = -pthread_create(&r->thread, NULL, reload_probe, r);
	if (ret) {
		dx_log_fail("pthread_create (reload)", ret);
		dx_listener_release(r->on);
		goto fail;
	}
	return 0;

fail:
	if (!dxbuf_str(&r->errs)[0])
		dxbuf_printf(&r->errs, "%s: %s\n", d->config_file, strerror(-ret));
	reload_end(r, ret);
	return 0;
}

/* At exit: a reload still probing is waited for, and fails. */
static void reload_finish_at_exit(struct dxd *d)
{
	if (d->reload) /* only a probing reload outlasts its turn */
		reload_complete(d->reload, true);
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct dxd *d = arg;

	if (dxd_reload(d, NULL, NULL) == -EBUSY)
		log_warn("SIGHUP: a reload is running already; send it again once it is done");
}

static void on_stop_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct dxd *d = arg;

	log_warn("shutdown: %zu layout%s still out after the recall deadline", d->n_layouts,
		 d->n_layouts == 1 ? "" : "s");
	event_base_loopbreak(d->base);
}

/* Recall every layout first, so clients hear why their rkeys die; fenced
 * clients cannot delay the exit beyond recall_timeout_ms. */
static void on_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct dxd *d = arg;
	int64_t ms = d->cfg->recall_timeout_ms + 500;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (d->stopping) {
		event_base_loopbreak(d->base);
		return;
	}
	log_notice("%s: shutting down", strsignal((int)sig));
	sd_notify(0, "STOPPING=1");
	d->stopping = true;
	if (d->n_layouts == 0) {
		event_base_loopbreak(d->base);
		return;
	}
	log_notice("recalling %zu layout%s before exit", d->n_layouts, d->n_layouts == 1 ? "" : "s");
	d->ev_stop = evtimer_new(d->base, on_stop_deadline, d);
	if (!d->ev_stop || event_priority_set(d->ev_stop, DX_PRIO_URGENT) || evtimer_add(d->ev_stop, &tv)) {
		event_base_loopbreak(d->base);
		return;
	}
	dx_recall_all(d, DXP_RECALL_SHUTDOWN);
	dx_recall_check_stop(d);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	sd_notify(0, "WATCHDOG=1");
}

static int add_signal(struct dxd *d, struct event **ev, int sig, event_callback_fn cb)
{
	*ev = evsignal_new(d->base, sig, cb, d);
	if (!*ev || event_priority_set(*ev, DX_PRIO_URGENT) || evsignal_add(*ev, NULL))
		return dx_log_fail("evsignal_add", -ENOMEM);
	return 0;
}

static int start_watchdog(struct dxd *d)
{
	uint64_t usec = 0;
	struct timeval tv;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	usec /= 2; /* ping twice per period */
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	d->ev_watchdog = event_new(d->base, -1, EV_PERSIST, on_watchdog, d);
	if (!d->ev_watchdog || event_add(d->ev_watchdog, &tv))
		return dx_log_fail("event_add (watchdog)", -ENOMEM);
	return 0;
}

static void dxd_fini(struct dxd *d)
{
	reload_finish_at_exit(d); /* it may answer a control request */
	dx_ctlsock_free(&d->ctl);
	if (d->listener)
		dx_conns_destroy_all(d);
	/* Copy-backs of what clients returned finish before the exit, with the
	 * loop still turning: a lease break meanwhile is seen, and its file's
	 * bound stops a copy there. */
	while (d->work.n)
		event_base_loop(d->base, EVLOOP_ONCE);
	dx_workq_drain(d); /* nothing is left; but the loop could not run */
	dx_reap_now(d);
	dx_workq_fini(d);
	dx_reap_fini(d);
	dx_seal_fini(d);
	dx_bans_free(d);
	if (d->ev_stop)
		event_free(d->ev_stop);
	dx_exports_close(&d->exports);
	dx_listener_free(&d->retired);
	dx_listener_free(&d->listener);
	if (d->ev_watchdog)
		event_free(d->ev_watchdog);
	if (d->ev_devices)
		event_free(d->ev_devices);
	if (d->ev_sighup)
		event_free(d->ev_sighup);
	if (d->ev_sigterm)
		event_free(d->ev_sigterm);
	if (d->ev_sigint)
		event_free(d->ev_sigint);
	dx_config_free(&d->cfg);
	if (d->base)
		event_base_free(d->base);
}

/* Every served file is an fd (and every client a few): the usual soft limit
 * of 1024 would turn a client's OPENs into EMFILE for everyone. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		dx_log_fail("getrlimit RLIMIT_NOFILE", -errno);
		return;
	}
	if (rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		dx_log_fail("setrlimit RLIMIT_NOFILE", -errno);
	else
		log_info("open files: up to %llu (RLIMIT_NOFILE raised to its hard limit)",
			 (unsigned long long)rl.rlim_cur);
}

static int dxd_run(struct dxd *d)
{
	struct dxbuf errs = DXBUF_INIT;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &d->started);
	ret = check_recall_timeout(d, d->cfg);
	if (ret)
		return ret;
	raise_nofile();
	/* A daxrdmactl that hangs up before its reply must not kill us. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return dx_log_fail("signal SIGPIPE", -errno);
	/* Nor a client's layout over a bad block of persistent memory. */
	ret = dx_mediaerr_init();
	if (ret)
		return dx_log_fail("sigaction SIGBUS", ret);
	ret = dx_loop_new(&d->base);
	if (ret)
		return ret;
	ret = add_signal(d, &d->ev_sighup, SIGHUP, on_sighup);
	if (!ret)
		ret = add_signal(d, &d->ev_sigterm, SIGTERM, on_sigterm);
	if (!ret)
		ret = add_signal(d, &d->ev_sigint, SIGINT, on_sigterm);
	if (!ret)
		ret = dx_seal_init(d);
	if (!ret)
		ret = dx_workq_init(d);
	if (!ret)
		ret = dx_reap_init(d);
	if (ret)
		return ret;
	ret = dx_listener_new(d->base, d->cfg, on_cm_event, d, false, &d->listener);
	if (ret == 0)
		d->listener->on_lost = on_listener_lost;
	if (ret)
		return ret;
	ret = dx_exports_open(d->cfg, d->listener, &d->exports, &errs);
	if (ret) {
		print_errors(&errs);
		dxbuf_release(&errs);
		return ret;
	}
	ret = dx_ctlsock_new(d->base, d->cfg->ctl_socket, d->cfg->ctl_group, dxd_ctl_handle, d, &d->ctl);
	if (ret)
		return ret;
	ret = start_watchdog(d);
	if (ret)
		return ret;
	ret = watch_devices(d);
	if (ret)
		return ret;
	sd_notify(0, "READY=1");
	dxd_notify_status(d);
	log_notice("daxrdmad %s ready: %zu export%s, listening on %s", DAXRDMA_VERSION, d->exports->n,
		   d->exports->n == 1 ? "" : "s", d->listener->addr);
	if (event_base_dispatch(d->base) < 0)
		return dx_log_fail("event_base_dispatch", -EIO);
	return d->exit_error;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "dump-config", no_argument, NULL, 'D' },
		{ "config-reference", no_argument, NULL, 'R' },
		{ "debug", no_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct dxd d = { .config_file = DAXRDMA_CONFIG_FILE, .lease_break_time_path = DX_LEASE_BREAK_TIME_PATH };
	struct dxbuf out = DXBUF_INIT;
	bool check = false, dump = false, debug = false;
	int c, ret;

	dx_log_init("daxrdmad", LOG_INFO);
	TAILQ_INIT(&d.conns);
	TAILQ_INIT(&d.files);
	while ((c = getopt_long(argc, argv, "c:dVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': d.config_file = optarg; break;
		case 'C': check = true; break;
		case 'D': dump = true; break;
		case 'd': debug = true; break;
		case 'R':
			dx_config_reference(&out);
			fputs(dxbuf_str(&out), stdout);
			dxbuf_release(&out);
			return EXIT_SUCCESS;
		case 'V': printf("daxrdmad %s\n", DAXRDMA_VERSION); return EXIT_SUCCESS;
		case 'h': usage(stdout); return EXIT_SUCCESS;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "daxrdmad: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	ret = dx_config_load(d.config_file, &d.cfg, &out);
	if (ret) {
		print_errors(&out);
		fprintf(stderr, "daxrdmad: %s has errors; not starting\n", d.config_file);
		dxbuf_release(&out);
		return EXIT_FAILURE;
	}
	if (dump || check) {
		if (dump)
			dx_config_dump(d.cfg, &out);
		else
			dxbuf_printf(&out, "%s: OK\n", d.config_file);
		fputs(dxbuf_str(&out), stdout);
		dxbuf_release(&out);
		dx_config_free(&d.cfg);
		return EXIT_SUCCESS;
	}
	dx_log_set_level(debug ? LOG_DEBUG : log_prio_of_level[d.cfg->log_level]);

	ret = dxd_run(&d);
	if (ret)
		log_err("not running: %s", strerror(-ret));
	dxd_fini(&d);
	return ret ? EXIT_FAILURE : EXIT_SUCCESS;
}
