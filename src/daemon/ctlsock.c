#include "daemon/ctlsock.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <grp.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/ctlmsg.h"
#include "common/log.h"

#define CTL_MAX_CONNS 16
#define CTL_ROOT_RESERVED 4 /* of those, kept for root: slow clients cannot lock out recall and evict */
#define CTL_IO_TIMEOUT_S 5  /* for the whole request, and again for the reply */

struct dx_ctlsock {
	struct event_base *base;
	struct evconnlistener *lev;
	char *path;
	dx_ctl_handler handler;
	void *arg;
	unsigned int nconns;
	struct ctl_conn *conns; /* open connections, freed with the socket */
	struct ctl_conn *current; /* whose request the handler is answering */
};

struct ctl_conn {
	struct dx_ctlsock *cs;
	struct bufferevent *bev;
	struct ucred peer;
	struct event *deadline; /* the whole request must arrive by then */
	bool replied;
	bool deferred;          /* answered by dx_ctl_answer() */
	bool hung_up;           /* ... to nobody: freed at the answer */
	struct ctl_conn *prev, *next;
};

/* The connection C, deferred and dropped by its peer (or its reply's write
 * timeout), waits for its answer: only then is it freed. */
static bool keep_for_answer(struct ctl_conn *c)
{
	if (!c->deferred || c->replied)
		return false;
	c->hung_up = true;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	return true;
}

static void ctl_conn_free(struct ctl_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->cs->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->cs->nconns--;
	if (c->deadline)
		event_free(c->deadline);
	bufferevent_free(c->bev);
	free(c);
}

static void ctl_conn_reply(struct ctl_conn *c, int32_t status, const struct dxbuf *text)
{
	struct dxctl_rep_hdr h;

	evtimer_del(c->deadline);
	dxctl_reply_hdr(&h, status, (uint32_t)text->len);
	bufferevent_write(c->bev, &h, sizeof(h));
	if (text->len)
		bufferevent_write(c->bev, text->buf, text->len);
	c->replied = true;
}

static void ctl_conn_on_read(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct dxbuf out = DXBUF_INIT;
	char *argv[DXCTL_MAX_ARGS], *payload;
	struct dxctl_req_hdr h;
	uint16_t flags;
	uint32_t len;
	int argc, ret;

	if (c->replied || c->deferred || evbuffer_get_length(in) < sizeof(h))
		return;
	evbuffer_copyout(in, &h, sizeof(h));
	ret = dxctl_request_check(&h, &flags, &len);
	if (ret) {
		log_warn("control socket: bad request from pid %d: %s", (int)c->peer.pid, strerror(-ret));
		dxbuf_printf(&out, "bad request: %s\n", strerror(-ret));
		goto reply;
	}
	if (evbuffer_get_length(in) < sizeof(h) + len)
		return; /* the request deadline bounds how long we wait for the rest */
	evbuffer_drain(in, sizeof(h));
	payload = (char *)evbuffer_pullup(in, len);
	ret = payload ? dxctl_request_split(payload, len, argv, &argc) : -ENOMEM;
	if (ret) {
		dxbuf_printf(&out, "bad request arguments: %s\n", strerror(-ret));
		goto reply;
	}
	c->cs->current = c;
	ret = c->cs->handler(c->cs->arg, &c->peer, argc, argv, (flags & DXCTL_F_JSON) ? REPORT_JSON : REPORT_TEXT,
			     &out);
	c->cs->current = NULL;
	if (ret == DX_CTL_LATER) {
		dxbuf_release(&out);
		return;
	}
	if (dxbuf_error(&out)) {
		dxbuf_release(&out);
		ret = -ENOMEM;
	}
reply:
	ctl_conn_reply(c, ret, &out);
	dxbuf_release(&out);
}

static void ctl_conn_on_write(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;

	if (c->replied)
		ctl_conn_free(c); /* the reply has been flushed */
}

static void ctl_conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_conn *c = arg;

	if (what & BEV_EVENT_TIMEOUT)
		log_warn("control socket: pid %d did not take its reply within %d s", (int)c->peer.pid,
			 CTL_IO_TIMEOUT_S);
	if (!keep_for_answer(c))
		ctl_conn_free(c);
}

/* Counted from the accept, not between bytes: a trickle cannot hold a slot. */
static void ctl_conn_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_conn *c = arg;

	log_warn("control socket: pid %d (uid %d) sent no complete request within %d s", (int)c->peer.pid,
		 (int)c->peer.uid, CTL_IO_TIMEOUT_S);
	ctl_conn_free(c);
}

static void ctl_on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
			  void *arg)
{
	struct dx_ctlsock *cs = arg;
	struct timeval tmo = { .tv_sec = CTL_IO_TIMEOUT_S };
	socklen_t len = sizeof(struct ucred);
	struct ctl_conn *c;
	unsigned int limit;

	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->peer, &len) != 0) {
		dx_log_fail("getsockopt SO_PEERCRED", -errno);
		free(c);
		close(fd);
		return;
	}
	limit = c->peer.uid == 0 ? CTL_MAX_CONNS : CTL_MAX_CONNS - CTL_ROOT_RESERVED;
	if (cs->nconns >= limit) {
		log_warn("control socket: %u connections open, refusing one from uid %d%s", cs->nconns,
			 (int)c->peer.uid, c->peer.uid ? " (the rest are kept for root)" : "");
		free(c);
		close(fd);
		return;
	}
	c->cs = cs;
	c->bev = bufferevent_socket_new(cs->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(cs->base, ctl_conn_on_deadline, c);
	if (!c->bev || !c->deadline || evtimer_add(c->deadline, &tmo)) {
		if (c->deadline)
			event_free(c->deadline);
		if (c->bev)
			bufferevent_free(c->bev);
		else
			close(fd);
		free(c);
		return;
	}
	cs->nconns++;
	c->next = cs->conns;
	if (cs->conns)
		cs->conns->prev = c;
	cs->conns = c;
	bufferevent_setcb(c->bev, ctl_conn_on_read, ctl_conn_on_write, ctl_conn_on_event, c);
	bufferevent_set_timeouts(c->bev, NULL, &tmo);
	bufferevent_setwatermark(c->bev, EV_READ, 0, sizeof(struct dxctl_req_hdr) + DXCTL_MAX_REQUEST);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

struct dx_ctl_req *dx_ctlsock_defer(struct dx_ctlsock *cs)
{
	struct ctl_conn *c = cs->current;

	c->deferred = true;
	evtimer_del(c->deadline); /* the request is in; the answer takes its time */
	return (struct dx_ctl_req *)c;
}

void dx_ctl_answer(struct dx_ctl_req *r, int status, const struct dxbuf *text)
{
	struct ctl_conn *c = (struct ctl_conn *)r;
	struct dxbuf none = DXBUF_INIT;

	if (c->hung_up) {
		ctl_conn_free(c);
		return;
	}
	ctl_conn_reply(c, status, dxbuf_error(text) ? &none : text); /* freed once it is flushed */
}

/* Another daemon still answering on PATH must not lose its socket to us. */
static int claim_path(const struct sockaddr_un *sun)
{
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return dx_log_fail("socket(AF_UNIX)", -errno);
	ret = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (ret == 0) {
		log_err("%s: another daxrdmad is running and answering on it", sun->sun_path);
		return -EADDRINUSE;
	}
	if (unlink(sun->sun_path) != 0 && errno != ENOENT)
		return dx_log_fail("unlink of the stale control socket", -errno);
	return 0;
}

static int make_parent_dir(const char *path)
{
	char *copy = strdup(path), *dir;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		ret = -errno;
		log_err("mkdir %s: %s", dir, strerror(errno));
	}
	free(copy);
	return ret;
}

/* PATH is still a socket of mode 0660: nobody replaced it between bind
 * and now. */
static int check_ours(const char *path)
{
	struct stat by_path;

	if (lstat(path, &by_path) != 0)
		return dx_log_fail("lstat (control socket)", -errno);
	if (!S_ISSOCK(by_path.st_mode) || (by_path.st_mode & 07777) != 0660 || by_path.st_uid != geteuid()) {
		log_err("%s was replaced right after it was made (now mode %o): refusing it", path,
			(unsigned int)by_path.st_mode);
		return -EEXIST;
	}
	return 0;
}

int dx_ctlsock_new(struct event_base *base, const char *path, const char *group,
		   dx_ctl_handler handler, void *arg, struct dx_ctlsock **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct dx_ctlsock *cs;
	struct group *gr;
	mode_t old_mask;
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err("control socket path %s is longer than %zu bytes", path, sizeof(sun.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	ret = make_parent_dir(path);
	if (ret)
		return ret;
	ret = claim_path(&sun);
	if (ret)
		return ret;
	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	cs->path = strdup(path);
	if (!cs->path) {
		ret = -ENOMEM;
		goto err_free;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ret = dx_log_fail("socket(AF_UNIX)", -errno);
		goto err_free;
	}
	/* The node gets its mode as bind makes it (a chmod after would follow
	 * a symlink swapped in by whoever can write the directory), and its
	 * group without following one; then it must still be our socket. */
	old_mask = umask(0117);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) ? -errno : 0;
	umask(old_mask);
	if (ret) {
		log_err("bind %s: %s", path, strerror(-ret));
		goto err_close;
	}
	gr = getgrnam(group);
	if (!gr)
		log_warn("group \"%s\" does not exist: only root can use %s", group, path);
	else if (lchown(path, (uid_t)-1, gr->gr_gid) != 0)
		log_warn("lchown %s to group %s: %s", path, group, strerror(errno));
	ret = check_ours(path);
	if (ret)
		goto err_close;
	cs->base = base;
	cs->handler = handler;
	cs->arg = arg;
	cs->lev = evconnlistener_new(base, ctl_on_accept, cs, LEV_OPT_CLOSE_ON_FREE, 16, fd);
	if (!cs->lev) {
		ret = dx_log_fail("evconnlistener_new (control socket)", errno ? -errno : -ENOMEM);
		goto err_unlink;
	}
	log_info("control socket %s (group %s)", path, gr ? group : "root");
	*out = cs;
	return 0;

err_unlink:
	unlink(path);
err_close:
	close(fd);
err_free:
	free(cs->path);
	free(cs);
	return ret;
}

void dx_ctlsock_free(struct dx_ctlsock **cp)
{
	struct dx_ctlsock *cs = *cp;

	if (!cs)
		return;
	for (struct ctl_conn *c = cs->conns, *next; c; c = next) {
		next = c->next;
		ctl_conn_free(c);
	}
	evconnlistener_free(cs->lev);
	unlink(cs->path);
	free(cs->path);
	free(cs);
	*cp = NULL;
}
