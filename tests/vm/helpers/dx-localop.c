/*
 * dx-localop truncate|punch|open_wr FILE: what a local process does to a
 * served file, with blocking calls (coreutils truncate opens O_NONBLOCK and
 * would fail with EAGAIN instead of waiting for the lease). Prints
 * "OP rc=ERRNO ms=ELAPSED us=ELAPSED" and exits 0 if the operation succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	long long t0 = now_us(), us;
	struct stat st;
	int rc = 0, fd;

	if (argc != 3) {
		fprintf(stderr, "usage: dx-localop truncate|punch|open_wr FILE\n");
		return 2;
	}
	if (strcmp(argv[1], "truncate") == 0) {
		rc = truncate(argv[2], 0) ? errno : 0;
	} else if (strcmp(argv[1], "punch") == 0 || strcmp(argv[1], "open_wr") == 0) {
		fd = open(argv[2], O_RDWR);
		if (fd < 0) {
			rc = errno;
		} else {
			if (argv[1][0] == 'p' && (fstat(fd, &st) ||
			    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, st.st_size)))
				rc = errno;
			close(fd);
		}
	} else {
		fprintf(stderr, "dx-localop: unknown operation %s\n", argv[1]);
		return 2;
	}
	us = now_us() - t0;
	printf("%s rc=%d ms=%lld us=%lld\n", argv[1], rc, us / 1000, us);
	return rc ? 1 : 0;
}
