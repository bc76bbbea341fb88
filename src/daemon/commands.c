/* Control commands: what daxrdmactl(8) can ask the daemon. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"
#include "common/log.h"
#include "common/net.h"
#include "common/parse.h"
#include "daemon/ban.h"
#include "daemon/conn.h"
#include "daemon/daemon.h"
#include "daemon/layout.h"
#include "daemon/recall.h"
#include "daemon/seal.h"

struct ctl_cmd {
	const char *name;
	bool privileged; /* changes state: root or the daemon's own user only */
	/* Answers a page at a time: on success MSG holds the continuation token
	 * (empty on the last page), which follows the text after a NUL. */
	bool paged;
	int min_args, max_args;
	int (*fn)(struct dxd *d, const struct ucred *peer, int argc, char **argv, struct rnode *root,
		 struct dxbuf *msg);
};

static double elapsed_s(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static int cmd_status(struct dxd *d, const struct ucred *peer, int argc, char **argv, struct rnode *root,
		 struct dxbuf *msg)
{
	struct rnode *ex;

	rn_str(root, "version", DAXRDMA_VERSION);
	rn_int(root, "pid", getpid());
	rn_int(root, "uptime_s", (int64_t)elapsed_s(&d->started));
	rn_str(root, "config", d->cfg->file);
	rn_str(root, "listen", d->listener->addr);
	rn_str(root, "device", dx_listener_devname(d->listener));
	rn_bool(root, "listening", !d->listener->lost);
	rn_bool(root, "device_odp", d->listener->odp_rc);
	rn_int(root, "recall_timeout_ms", d->cfg->recall_timeout_ms);
	rn_int(root, "lease_break_time_s", d->lease_break_time_s);
	rn_int(root, "keepalive_ms", d->cfg->keepalive_ms);
	rn_int(root, "connection_requests", (int64_t)d->listener->conn_requests);
	rn_int(root, "connections_rejected", (int64_t)d->listener->conn_rejected);
	rn_int(root, "clients", (int64_t)d->n_conns);
	rn_int(root, "layouts", (int64_t)d->n_layouts);
	rn_int(root, "layouts_granted", (int64_t)d->st.layouts_granted);
	rn_int(root, "layouts_returned", (int64_t)d->st.layouts_returned);
	rn_int(root, "recalls", (int64_t)d->st.recalls);
	rn_int(root, "lease_breaks", (int64_t)d->st.lease_breaks);
	rn_int(root, "clients_fenced", (int64_t)d->st.fenced);
	rn_int(root, "malformed_messages", (int64_t)d->st.malformed);
	rn_int(root, "keepalives_sent", (int64_t)d->st.keepalives);
	rn_int(root, "peers_lost", (int64_t)d->st.peers_lost);
	rn_int(root, "commits", (int64_t)d->st.commits);
	rn_int(root, "bytes_committed", (int64_t)d->st.bytes_committed);
	rn_int(root, "bytes_copied_back", (int64_t)d->st.bytes_copied_back);
	rn_int(root, "bytes_copied", (int64_t)d->st.bytes_copied);
	rn_int(root, "staging_bytes", (int64_t)d->staging_bytes);
	rn_int(root, "staging_pooled_bytes", (int64_t)d->pooled_bytes);
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

static int cmd_exports(struct dxd *d, const struct ucred *peer, int argc, char **argv, struct rnode *root,
		 struct dxbuf *msg)
{
	dx_exports_report(d->exports, rn_records(root, "exports"));
	return 0;
}

/* The answer to `reload`, once it ended (dxd_reload_done): plain text. */
static void reload_answered(void *arg, int ret, const char *errs)
{
	struct dx_ctl_req *req = arg;
	struct dxbuf out = DXBUF_INIT;

	dxbuf_puts(&out, ret ? errs : "reloaded\n");
	dx_ctl_answer(req, ret, &out);
	dxbuf_release(&out);
}

/* The reload runs on (its exports are probed on a thread): the answer
 * comes when it ends. */
static int cmd_reload(struct dxd *d, const struct ucred *peer, int argc, char **argv, struct rnode *root,
		      struct dxbuf *msg)
{
	if (d->reload) {
		dxbuf_printf(msg, "a reload is running already: try again once it is done\n");
		return -EBUSY;
	}
	dxd_reload(d, reload_answered, dx_ctlsock_defer(d->ctl));
	return DX_CTL_LATER;
}

static unsigned int count_of(const struct dx_conn *c, bool layouts)
{
	unsigned int n = 0;
	const struct dx_layout *l;
	const struct dx_handle *h;

	if (layouts)
		TAILQ_FOREACH(l, &c->layouts, by_conn)
			n++;
	else
		TAILQ_FOREACH(h, &c->handles, link)
			n++;
	return n;
}

static int cmd_clients(struct dxd *d, const struct ucred *peer, int argc, char **argv, struct rnode *root,
		 struct dxbuf *msg)
{
	struct rnode *arr = rn_array(root, "clients");
	struct dx_conn *c;

	TAILQ_FOREACH(c, &d->conns, link) {
		struct rnode *o = rn_object(arr, NULL);

		rn_int(o, "id", (int64_t)c->id);
		rn_str(o, "address", c->peer);
		rn_str(o, "state", dx_conn_state_name(c->state));
		rn_int(o, "connected_s", (int64_t)elapsed_s(&c->since));
		rn_int(o, "files", count_of(c, false));
		rn_int(o, "layouts", count_of(c, true));
		rn_int(o, "requests", (int64_t)c->requests);
		rn_int(o, "errors", (int64_t)c->errors);
		rn_int(o, "recalls", (int64_t)c->recalls);
	}
	dx_bans_report(d, rn_array(root, "bans"));
	return 0;
}

static bool is_privileged(const struct ucred *peer)
{
	return peer->uid == 0 || peer->uid == geteuid();
}

/* An unprivileged caller names a served file by its path as the export
 * spells it: the daemon touches no file system on its behalf. */
static struct dx_file *find_file_by_name(struct dxd *d, const char *path)
{
	struct dx_file *f;

	TAILQ_FOREACH(f, &d->files, link) {
		size_t n = f->x ? strlen(f->x->cfg->path) : 0;

		if (f->device) { /* named by the device's own path */
			if (n && strcmp(path, f->x->cfg->path) == 0)
				return f;
			continue;
		}

		if (n && strncmp(path, f->x->cfg->path, n) == 0 && path[n] == '/' &&
		    strcmp(path + n + 1, f->relpath) == 0)
			return f;
	}
	return NULL;
}

/* FILE as daxrdmactl users name it: a local path of a served file, or NULL
 * with *ERR and a message. Only privileged callers have it looked up with
 * stat(2). */
static struct dx_file *find_file(struct dxd *d, const struct ucred *peer, const char *path, int *err,
				 struct dxbuf *msg)
{
	struct dx_file *f;
	struct stat st;

	if (!is_privileged(peer)) {
		f = find_file_by_name(d, path);
	} else if (stat(path, &st)) {
		*err = -errno;
		dxbuf_printf(msg, "%s: %s\n", path, strerror(errno));
		return NULL;
	} else {
		f = dx_file_find(d, st.st_dev, st.st_ino);
	}
	if (!f) {
		*err = -ENOENT;
		dxbuf_printf(msg, "%s: no client has this file open\n", path);
	}
	return f;
}

/* An rkey is a capability on the layout's client's QP: only root sees it. */
static void report_layout(struct rnode *arr, const struct dx_layout *l, bool show_rkey)
{
	struct rnode *o = rn_object(arr, NULL);
	char rkey[16];

	if (show_rkey)
		snprintf(rkey, sizeof(rkey), "%#x", l->mr ? l->mr->rkey : 0);
	else
		snprintf(rkey, sizeof(rkey), "hidden");
	rn_int(o, "id", (int64_t)l->id);
	rn_int(o, "client", (int64_t)l->c->id);
	rn_str(o, "address", l->c->peer);
	rn_str(o, "export", l->f->export_name);
	rn_str(o, "path", l->f->relpath);
	rn_int(o, "offset", (int64_t)l->off);
	rn_int(o, "length", (int64_t)l->len);
	rn_str(o, "iomode", l->iomode == DXP_IOMODE_RW ? "rw" : "read");
	rn_str(o, "mr", l->mr_mode == DXP_MR_BOUNCE ? "bounce" : l->mr_mode == DXP_MR_ODP ? "odp" : "pinned");
	rn_str(o, "rkey", rkey);
	rn_str(o, "state", dx_layout_state_name(l->state));
	rn_int(o, "age_s", (int64_t)elapsed_s(&l->granted));
}

/*
 * `layouts` answers DX_CTL_PAGE rows at a time (issue 19 §3: no listing of
 * a million rows in one turn of the loop, nor in one reply). Rows go in
 * order of client and layout id (layout ids only grow, and every list of
 * layouts is in grant order), or of layout id for one FILE; the token
 * "CLIENT:LAYOUT" names the last row sent, and the next page starts after
 * it. Layouts granted meanwhile behind the token are not shown, none twice.
 */
struct page {
	uint64_t client, id;  /* the last row of the page before */
	struct rnode *rows;
	unsigned int n;
	bool show_rkeys;
	struct dxbuf *next;
};

/* Row L on the page, or, if the page is full, the token that ends it: false
 * once the page is full. */
static bool page_add(struct page *p, const struct dx_layout *l)
{
	if (p->n == DX_CTL_PAGE) {
		dxbuf_printf(p->next, "%llu:%llu", (unsigned long long)p->client, (unsigned long long)p->id);
		return false;
	}
	report_layout(p->rows, l, p->show_rkeys);
	p->client = l->c->id;
	p->id = l->id;
	p->n++;
	return true;
}

/* The first layout of C after the token (C's layouts are in id order): the
 * token's row itself, if it is still there, else a walk. */
static struct dx_layout *conn_resume(const struct dx_conn *c, const struct page *p)
{
	struct dx_layout *l = c->id == p->client ? dx_layout_find(c, p->id) : NULL;

	if (c->id > p->client)
		return TAILQ_FIRST(&c->layouts);
	if (l)
		return TAILQ_NEXT(l, by_conn);
	TAILQ_FOREACH(l, &c->layouts, by_conn)
		if (l->id > p->id)
			break;
	return l;
}

static struct dx_layout *file_resume(struct dxd *d, const struct dx_file *f, const struct page *p)
{
	struct dx_layout *l = NULL;
	struct dx_conn *c;

	TAILQ_FOREACH(c, &d->conns, link)
		if (c->id == p->client)
			l = dx_layout_find(c, p->id);
	if (l && l->f == f)
		return TAILQ_NEXT(l, by_file);
	TAILQ_FOREACH(l, &f->layouts, by_file)
		if (l->id > p->id)
			break;
	return l;
}

static int parse_token(const char *arg, struct page *p, struct dxbuf *msg)
{
	unsigned long long client, id;
	int end = 0;

	if (sscanf(arg, "--after=%llu:%llu%n", &client, &id, &end) != 2 || arg[end] != '\0') {
		dxbuf_printf(msg, "%s: expected --after=CLIENT:LAYOUT, as the previous page ended\n", arg);
		return -EINVAL;
	}
	p->client = client;
	p->id = id;
	return 0;
}

static int cmd_layouts(struct dxd *d, const struct ucred *peer, int argc, char **argv, struct rnode *root,
		       struct dxbuf *msg)
{
	struct page p = { .rows = rn_array(root, "layouts"), .show_rkeys = is_privileged(peer), .next = msg };
	const char *path = NULL;
	struct dx_file *only = NULL;
	struct dx_layout *l;
	struct dx_conn *c;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--after=", 8) == 0)
			ret = parse_token(argv[i], &p, msg);
		else if (path)
			ret = -EINVAL, dxbuf_printf(msg, "one FILE at most\n");
		else
			ret = 0, path = argv[i];
		if (ret)
			return ret;
	}
	if (path) {
		only = find_file(d, peer, path, &ret, msg);
		if (!only && ret != -ENOENT)
			return ret;
		if (!only) { /* no client has it: no layouts, and no next page */
			dxbuf_release(msg);
			return 0;
		}
		for (l = file_resume(d, only, &p); l; l = TAILQ_NEXT(l, by_file))
			if (!page_add(&p, l))
				break;
		return 0;
	}
	TAILQ_FOREACH(c, &d->conns, link) {
		if (c->id < p.client)
			continue;
		for (l = conn_resume(c, &p); l; l = TAILQ_NEXT(l, by_conn))
			if (!page_add(&p, l))
				return 0;
	}
	return 0;
}

/* "NAME=VALUE": 0 with *V, 1 if ARG is not NAME's, -EINVAL (said in MSG)
 * if VALUE is not a plain decimal count (with a K, M, G or T suffix if
 * BYTES): no sign, no spaces, no 0x or octal. */
static int parse_u64_opt(const char *arg, const char *name, bool bytes, uint64_t *v, struct dxbuf *msg)
{
	size_t n = strlen(name);
	int ret;

	if (strncmp(arg, name, n) != 0 || arg[n] != '=')
		return 1;
	ret = bytes ? dx_parse_bytes(arg + n + 1, v) : dx_parse_uint(arg + n + 1, 0, UINT64_MAX, v);
	if (ret) {
		dxbuf_printf(msg, "%s takes %s, not \"%s\"\n", name,
			     bytes ? "a byte count (digits, and K, M, G or T)" : "a number of seconds", arg + n + 1);
		return -EINVAL;
	}
	return 0;
}

/* recall FILE [--offset=N] [--length=N] [--poll]: with --poll nothing new is
 * recalled; the answer is -EINPROGRESS while layouts over the range remain
 * (daxrdmactl recall --wait asks this until it is 0). */
static int cmd_recall(struct dxd *d, const struct ucred *peer, int argc, char **argv, struct rnode *root,
		 struct dxbuf *msg)
{
	uint64_t off = 0, len = UINT64_MAX;
	struct rnode *arr;
	struct dx_file *f = NULL;
	struct dx_layout *l;
	bool poll = false, show_rkeys;
	unsigned int n = 0;
	dev_t dev;
	ino_t ino;
	int ret;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--poll") == 0) {
			poll = true;
			continue;
		}
		ret = parse_u64_opt(argv[i], "--offset", true, &off, msg);
		if (ret > 0)
			ret = parse_u64_opt(argv[i], "--length", true, &len, msg);
		if (ret > 0) {
			dxbuf_printf(msg, "recall: unknown argument \"%s\"\n", argv[i]);
			return -EINVAL;
		}
		if (ret)
			return ret;
	}
	if (len == 0) {
		dxbuf_printf(msg, "recall: --length must not be 0\n");
		return -EINVAL;
	}
	f = find_file(d, peer, argv[1], &ret, msg);
	if (!f)
		return ret == -ENOENT && poll ? 0 : ret;
	dev = f->dev;
	ino = f->ino;
	if (!poll)
		dx_recall_file(f, off, len, DXP_RECALL_ADMIN);
	/* The file may be gone once the last layout and handle went. */
	if (dx_file_find(d, dev, ino) != f)
		f = NULL;
	arr = rn_array(root, "layouts");
	show_rkeys = is_privileged(peer);
	if (f)
		TAILQ_FOREACH(l, &f->layouts, by_file)
			if (dx_layout_overlaps(l, off, len) && n++ < DX_CTL_PAGE)
				report_layout(arr, l, show_rkeys);
	if (n > DX_CTL_PAGE) /* the rest: daxrdmactl layouts FILE */
		rn_int(root, "not_shown", (int64_t)(n - DX_CTL_PAGE));
	if (poll && n)
		return -EINPROGRESS;
	return 0;
}

/* evict CLIENT [--ban=SECONDS]: with a ban, every connection of CLIENT's
 * host goes, and the host's new ones are refused until the ban ends. */
static int cmd_evict(struct dxd *d, const struct ucred *peer, int argc, char **argv, struct rnode *root,
		 struct dxbuf *msg)
{
	struct dx_conn *c = dx_conn_find(d, argv[1]), *o;
	struct sockaddr_storage host;
	uint64_t ban = 0;
	char why[96];
	int ret;

	if (argc > 2) {
		ret = parse_u64_opt(argv[2], "--ban", false, &ban, msg);
		if (ret > 0)
			dxbuf_printf(msg, "evict: unknown argument \"%s\"\n", argv[2]);
		if (ret == 0 && (ban < 1 || ban > DX_BAN_MAX_S)) {
			dxbuf_printf(msg, "evict: --ban takes 1 to %d seconds\n", DX_BAN_MAX_S);
			ret = -EINVAL;
		}
		if (ret)
			return ret > 0 ? -EINVAL : ret;
	}
	if (!c || c->state == CONN_CLOSING) {
		dxbuf_printf(msg, "no client \"%s\" (daxrdmactl clients lists them)\n", argv[1]);
		return -ENOENT;
	}
	memcpy(&host, &c->peer_addr, sizeof(host));
	if (ban && dx_ban_add(d, (const struct sockaddr *)&host, (int64_t)ban)) {
		dxbuf_printf(msg, "evict: out of memory for the ban\n");
		return -ENOMEM;
	}
	rn_int(root, "evicted", (int64_t)c->id);
	rn_str(root, "address", c->peer);
	rn_int(root, "layouts_revoked", count_of(c, true));
	snprintf(why, sizeof(why), "evicted by daxrdmactl%s", ban ? " (its host banned)" : "");
	dx_conn_fence(c, why);
	if (ban) {
		rn_int(root, "banned_s", (int64_t)ban);
		/* Fences only mark layouts and close connections: the walk is safe. */
		TAILQ_FOREACH(o, &d->conns, link)
			if (o->state != CONN_CLOSING && dx_same_host((const struct sockaddr *)&o->peer_addr,
								     (const struct sockaddr *)&host))
				dx_conn_fence(o, why);
		log_notice("control: host of client %s banned for %llu s", argv[1], (unsigned long long)ban);
	}
	return 0;
}

static const struct ctl_cmd ctl_cmds[] = {
	{ "status", false, false, 0, 0, cmd_status },
	{ "exports", false, false, 0, 0, cmd_exports },
	{ "clients", false, false, 0, 0, cmd_clients },
	{ "layouts", false, true, 0, 2, cmd_layouts },
	{ "recall", true, false, 1, 4, cmd_recall },
	{ "evict", true, false, 1, 2, cmd_evict },
	{ "reload", true, false, 0, 0, cmd_reload },
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
		if (c->privileged && !is_privileged(peer)) {
			log_warn("control: uid %u (pid %d) may not run \"%s\"", peer->uid, (int)peer->pid, c->name);
			dxbuf_printf(out, "\"%s\" needs root\n", c->name);
			return -EPERM;
		}
		if (argc - 1 < c->min_args || argc - 1 > c->max_args) {
			dxbuf_printf(out, "\"%s\" takes %d to %d arguments\n", c->name, c->min_args, c->max_args);
			return -EINVAL;
		}
		log_debug("control: uid %u (pid %d) runs \"%s\"", peer->uid, (int)peer->pid, c->name);
		r = report_new();
		if (!r)
			return -ENOMEM;
		ret = c->fn(d, peer, argc, argv, report_root(r), &msg);
		if (ret == DX_CTL_LATER) {
			/* answered by whoever finishes it */
		} else if (ret) {
			/* On failure the reply is the message, in either format. */
			dxbuf_puts(out, dxbuf_str(&msg));
		} else if (report_render(r, fmt, out) != 0) {
			ret = -ENOMEM;
		} else if (c->paged && msg.len) {
			dxbuf_add(out, "", 1);
			dxbuf_puts(out, dxbuf_str(&msg));
		}
		report_free(&r);
		dxbuf_release(&msg);
		return ret;
	}
	dxbuf_printf(out, "unknown command \"%s\"\n", argv[0]);
	return -EOPNOTSUPP;
}
