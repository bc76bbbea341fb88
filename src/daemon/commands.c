/* Control commands: what daxrdmactl(8) can ask the daemon. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "common/log.h"
#include "daemon/daemon.h"

struct ctl_cmd {
	const char *name;
	bool privileged; /* changes state: root or the daemon's own user only */
	int (*fn)(struct dxd *d, int argc, char **argv, struct rnode *root, struct dxbuf *msg);
};

static double elapsed_s(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static int cmd_status(struct dxd *d, int argc, char **argv, struct rnode *root, struct dxbuf *msg)
{
	struct rnode *ex;

	rn_str(root, "version", DAXRDMA_VERSION);
	rn_int(root, "pid", getpid());
	rn_int(root, "uptime_s", (int64_t)elapsed_s(&d->started));
	rn_str(root, "config", d->cfg->file);
	rn_str(root, "listen", d->listener->addr);
	rn_str(root, "device", dx_listener_devname(d->listener));
	rn_bool(root, "device_odp", d->listener->odp_rc);
	rn_int(root, "recall_timeout_ms", d->cfg->recall_timeout_ms);
	rn_int(root, "lease_break_time_s", d->lease_break_time_s);
	rn_int(root, "connection_requests", (int64_t)d->listener->conn_requests);
	rn_int(root, "connections_rejected", (int64_t)d->listener->conn_rejected);
	rn_int(root, "reloads", (int64_t)d->reloads);
	rn_int(root, "reloads_failed", (int64_t)d->reloads_failed);
	ex = rn_array(root, "exports");
	for (size_t i = 0; i < d->exports->n; i++) {
		const struct dx_export *x = &d->exports->v[i];
		struct rnode *o = rn_object(ex, NULL);
		rn_str(o, "name", x->cfg->name);
		rn_str(o, "kind", dx_export_kind_name(x->kind));
		rn_str(o, "mr_mode", dx_mr_mode_names[x->mr_mode]);
		rn_bool(o, "read_only", x->cfg->read_only);
		rn_str(o, "path", x->cfg->path);
	}
	return 0;
}

static int cmd_exports(struct dxd *d, int argc, char **argv, struct rnode *root, struct dxbuf *msg)
{
	dx_exports_report(d->exports, rn_records(root, "exports"));
	return 0;
}

static int cmd_reload(struct dxd *d, int argc, char **argv, struct rnode *root, struct dxbuf *msg)
{
	int ret = dxd_reload(d, msg);

	rn_bool(root, "reloaded", ret == 0);
	rn_str(root, "config", d->config_file);
	return ret;
}

static const struct ctl_cmd ctl_cmds[] = {
	{ "status", false, cmd_status },
	{ "exports", false, cmd_exports },
	{ "reload", true, cmd_reload },
};

int dxd_ctl_handle(void *arg, const struct ucred *peer, int argc, char **argv,
		   enum report_format fmt, struct dxbuf *out)
{
	struct dxd *d = arg;
	struct dxbuf msg = DXBUF_INIT;
	struct report *r;
	int ret;

	for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		const struct ctl_cmd *c = &ctl_cmds[i];

		if (strcmp(c->name, argv[0]) != 0)
			continue;
		if (c->privileged && peer->uid != 0 && peer->uid != geteuid()) {
			log_warn("control: uid %u (pid %d) may not run \"%s\"", peer->uid, (int)peer->pid, c->name);
			dxbuf_printf(out, "\"%s\" needs root\n", c->name);
			return -EPERM;
		}
		log_debug("control: uid %u (pid %d) runs \"%s\"", peer->uid, (int)peer->pid, c->name);
		r = report_new();
		if (!r)
			return -ENOMEM;
		ret = c->fn(d, argc, argv, report_root(r), &msg);
		if (ret) {
			/* On failure the reply is the message, in either format. */
			dxbuf_puts(out, dxbuf_str(&msg));
		} else if (report_render(r, fmt, out) != 0) {
			ret = -ENOMEM;
		}
		report_free(&r);
		dxbuf_release(&msg);
		return ret;
	}
	dxbuf_printf(out, "unknown command \"%s\"\n", argv[0]);
	return -EOPNOTSUPP;
}
