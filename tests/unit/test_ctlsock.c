/*
 * The control socket's file (daemon/ctlsock.c). Whoever can write the
 * socket's directory could swap the node for a symlink between bind and
 * whatever the daemon does to the path next; bind() is interposed here to
 * do exactly that, at the worst moment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ctlmsg.h"
#include "daemon/ctlsock.h"
#include "daemon/loop.h"

/* A group that exists on Debian and is not root's: a chown that followed
 * the link would show on the victim. */
#define CTL_GROUP "daemon"

static const char *swap_to; /* set: right after bind, the path becomes a symlink to this */

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	int ret = (int)syscall(SYS_bind, fd, sa, len);

	if (ret == 0 && swap_to) {
		const char *path = ((const struct sockaddr_un *)sa)->sun_path;

		if (unlink(path) || symlink(swap_to, path))
			abort();
	}
	return ret;
}

/* "slow" is answered SLOW_MS later from a timer (as a reload's end is),
 * everything else at once. */
#define SLOW_MS 300

struct slow {
	struct event *ev;
	struct dx_ctl_req *req;
	int answered;
};

static struct dx_ctlsock *the_cs;
static struct slow slow;

static void answer_slow(evutil_socket_t fd, short what, void *arg)
{
	struct dxbuf out = DXBUF_INIT;

	dxbuf_puts(&out, "slow done\n");
	dx_ctl_answer(slow.req, -EINTR, &out);
	dxbuf_release(&out);
	slow.answered++;
}

static int handler(void *arg, const struct ucred *peer, int argc, char **argv, enum report_format fmt,
		   struct dxbuf *out)
{
	struct timeval tv = { 0, SLOW_MS * 1000 };

	if (argc == 1 && strcmp(argv[0], "slow") == 0) {
		slow.req = dx_ctlsock_defer(the_cs);
		evtimer_add(slow.ev, &tv);
		return DX_CTL_LATER;
	}
	dxbuf_puts(out, "at once\n");
	return 0;
}

struct place {
	char dir[64], sock[96], victim[96];
	struct event_base *base;
};

static void place_up(struct place *p)
{
	char cmd[96];
	int fd;

	snprintf(p->dir, sizeof(p->dir), "/tmp/dx-ctlsock-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "rm -rf %s", p->dir); /* a failed run of an earlier process of this pid */
	assert_int_equal(system(cmd), 0);
	assert_int_equal(mkdir(p->dir, 0755), 0);
	snprintf(p->sock, sizeof(p->sock), "%s/ctl.sock", p->dir);
	snprintf(p->victim, sizeof(p->victim), "%s/victim", p->dir);
	fd = open(p->victim, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(dx_loop_new(&p->base), 0);
}

static void place_down(struct place *p)
{
	char cmd[96];

	swap_to = NULL;
	event_base_free(p->base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", p->dir);
	assert_int_equal(system(cmd), 0);
}

static void new__makes_a_socket_of_mode_0660(void **state)
{
	struct dx_ctlsock *cs = NULL;
	struct place p = { .base = NULL };
	struct stat st;

	place_up(&p);
	assert_int_equal(dx_ctlsock_new(p.base, p.sock, CTL_GROUP, handler, NULL, &cs), 0);
	assert_int_equal(lstat(p.sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	if (geteuid() == 0) /* only root may give it a group of its choice */
		assert_int_equal(st.st_gid, getgrnam(CTL_GROUP)->gr_gid);
	dx_ctlsock_free(&cs);
	place_down(&p);
}

/* Issue 19 §4: the old chmod after bind followed the symlink and made the
 * victim 0660. */
static void new__never_follows_a_symlink_swapped_in_after_bind(void **state)
{
	struct dx_ctlsock *cs = NULL;
	struct place p = { .base = NULL };
	struct stat st;

	place_up(&p);
	swap_to = p.victim;
	assert_int_not_equal(dx_ctlsock_new(p.base, p.sock, CTL_GROUP, handler, NULL, &cs), 0);
	assert_null(cs);
	assert_int_equal(stat(p.victim, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_gid, getegid());
	place_down(&p);
}

/* A control request to PATH: the connected socket (non-blocking). */
static int ask(const char *path, const char *cmd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct dxbuf req = DXBUF_INIT;
	char *argv[] = { (char *)cmd };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(dxctl_request_encode(&req, 0, 1, argv), 0);
	assert_int_equal(write(fd, req.buf, req.len), (ssize_t)req.len);
	dxbuf_release(&req);
	return fd;
}

/* The reply on FD, if it is all there: its status and text. */
static bool reply_in(int fd, int32_t *status, char *text, size_t len)
{
	char buf[sizeof(struct dxctl_rep_hdr) + 256];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK);
	uint32_t tlen;

	if (n < (ssize_t)sizeof(struct dxctl_rep_hdr))
		return false;
	assert_int_equal(dxctl_reply_check((struct dxctl_rep_hdr *)buf, status, &tlen), 0);
	if (n < (ssize_t)(sizeof(struct dxctl_rep_hdr) + tlen))
		return false;
	snprintf(text, len, "%.*s", (int)tlen, buf + sizeof(struct dxctl_rep_hdr));
	return true;
}

/* Issue 19 §3: a request answered later (a reload) holds up neither the
 * loop nor the other requests; its answer comes when the work ends. */
static void defer__answers_later_and_others_meanwhile(void **state)
{
	struct place p = { .base = NULL };
	char text[256];
	int32_t status;
	int slow_fd, fast_fd;
	int64_t t0;

	place_up(&p);
	slow = (struct slow){ .ev = evtimer_new(p.base, answer_slow, NULL) };
	assert_int_equal(dx_ctlsock_new(p.base, p.sock, CTL_GROUP, handler, NULL, &the_cs), 0);
	t0 = dx_now_ms();
	slow_fd = ask(p.sock, "slow");
	while (!slow.req)
		event_base_loop(p.base, EVLOOP_ONCE);
	fast_fd = ask(p.sock, "status");
	while (!reply_in(fast_fd, &status, text, sizeof(text)))
		event_base_loop(p.base, EVLOOP_ONCE);
	assert_int_equal(status, 0);
	assert_string_equal(text, "at once\n");
	assert_true(dx_now_ms() - t0 < SLOW_MS);
	assert_false(reply_in(slow_fd, &status, text, sizeof(text)));
	while (!reply_in(slow_fd, &status, text, sizeof(text)))
		event_base_loop(p.base, EVLOOP_ONCE);
	assert_int_equal(slow.answered, 1); /* by the timer, once the "work" ended (not a time: libevent's clock is coarse) */
	assert_int_equal(status, -EINTR);
	assert_string_equal(text, "slow done\n");
	close(slow_fd);
	close(fast_fd);
	dx_ctlsock_free(&the_cs);
	event_free(slow.ev);
	place_down(&p);
}

/* ... and a peer that hangs up before the answer costs nothing: the answer
 * goes to nobody, and the connection is freed then (ASan's build checks). */
static void defer__to_a_peer_that_hung_up(void **state)
{
	struct place p = { .base = NULL };

	place_up(&p);
	slow = (struct slow){ .ev = evtimer_new(p.base, answer_slow, NULL) };
	assert_int_equal(dx_ctlsock_new(p.base, p.sock, CTL_GROUP, handler, NULL, &the_cs), 0);
	close(ask(p.sock, "slow"));
	while (!slow.answered)
		event_base_loop(p.base, EVLOOP_ONCE);
	for (int i = 0; i < 4; i++)
		event_base_loop(p.base, EVLOOP_NONBLOCK);
	dx_ctlsock_free(&the_cs);
	event_free(slow.ev);
	place_down(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new__makes_a_socket_of_mode_0660),
		cmocka_unit_test(new__never_follows_a_symlink_swapped_in_after_bind),
		cmocka_unit_test(defer__answers_later_and_others_meanwhile),
		cmocka_unit_test(defer__to_a_peer_that_hung_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
