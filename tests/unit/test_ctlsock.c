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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

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

static int handler(void *arg, const struct ucred *peer, int argc, char **argv, enum report_format fmt,
		   struct dxbuf *out)
{
	return 0;
}

struct place {
	char dir[64], sock[96], victim[96];
	struct event_base *base;
};

static void place_up(struct place *p)
{
	int fd;

	snprintf(p->dir, sizeof(p->dir), "/tmp/dx-ctlsock-%d", (int)getpid());
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new__makes_a_socket_of_mode_0660),
		cmocka_unit_test(new__never_follows_a_symlink_swapped_in_after_bind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
