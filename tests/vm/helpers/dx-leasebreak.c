/*
 * dx-leasebreak FILE truncate|punch|open_wr: prove that a write lease breaks
 * on a local operation. The parent takes F_WRLCK with F_SETSIG(SIGRTMIN); a
 * child does the operation. Exit 0 only if the signal arrives, the child is
 * still blocked 500 ms later, and it completes once the lease is released.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int child_op(const char *file, const char *op)
{
	int fd;

	if (strcmp(op, "truncate") == 0)
		return truncate(file, 0) ? errno : 0;
	fd = open(file, O_RDWR);
	if (fd < 0)
		return errno;
	if (strcmp(op, "punch") == 0 && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 65536))
		return errno;
	close(fd);
	return 0;
}

/* Wait up to MS for PID; 1 if it exited (status in *ST), 0 if not. */
static int wait_for(pid_t pid, int ms, int *st)
{
	for (int i = 0; i < ms / 10; i++) {
		if (waitpid(pid, st, WNOHANG) == pid)
			return 1;
		usleep(10000);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec tmo = { .tv_sec = 5 };
	char buf[65536] = { 'x' };
	sigset_t set;
	int fd, st, ok = 1;
	pid_t pid;

	if (argc != 3) {
		fprintf(stderr, "usage: dx-leasebreak FILE truncate|punch|open_wr\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	for (int i = 0; fd >= 0 && i < 16; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			return perror("write"), 1;
	if (fd < 0)
		return perror(argv[1]), 1;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (fcntl(fd, F_SETSIG, SIGRTMIN) || fcntl(fd, F_SETLEASE, F_WRLCK))
		return perror("F_SETLEASE F_WRLCK"), 1;

	pid = fork();
	if (pid == 0)
		_exit(child_op(argv[1], argv[2]));
	if (sigtimedwait(&set, NULL, &tmo) != SIGRTMIN) {
		printf("%s: no lease-break signal within 5 s\n", argv[2]);
		ok = 0;
	} else {
		printf("%s: lease-break signal delivered\n", argv[2]);
	}
	if (wait_for(pid, 500, &st)) {
		printf("%s: the operation did not block on the lease\n", argv[2]);
		return 1;
	}
	printf("%s: blocked while the lease is held\n", argv[2]);
	if (fcntl(fd, F_SETLEASE, F_UNLCK))
		return perror("F_UNLCK"), 1;
	if (!wait_for(pid, 5000, &st) || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("%s: did not complete after F_UNLCK\n", argv[2]);
		return 1;
	}
	printf("%s: completed after F_UNLCK\n", argv[2]);
	return ok ? 0 : 1;
}
