#include "scratch.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREFIX "dx-test-"

static char process_dir[128];
static pid_t owner; /* a forked child must not remove its parent's directory */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	if (remove(path))
		fprintf(stderr, "scratch: remove %s: %m\n", path);
	return 0;
}

static void remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void dx_scratch_remove(const char *dir)
{
	remove_tree(dir);
}

static void remove_process_dir(void)
{
	if (getpid() == owner)
		remove_tree(process_dir);
}

/* The directories that processes killed before their exit left in BASE. */
static void sweep_dead(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end, path[PATH_MAX];
		long pid;

		if (strncmp(e->d_name, PREFIX, sizeof(PREFIX) - 1))
			continue;
		pid = strtol(e->d_name + sizeof(PREFIX) - 1, &end, 10);
		if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
		remove_tree(path);
	}
	closedir(d);
}

void dx_scratch_dir(char *buf, size_t len)
{
	static unsigned int n;

	if (!process_dir[0]) {
		const char *base = getenv("DX_TEST_SCRATCH");

		if (!base || !*base)
			base = "/dev/shm";
		sweep_dead(base);
		snprintf(process_dir, sizeof(process_dir), "%s/" PREFIX "%d", base, (int)getpid());
		if (mkdir(process_dir, 0755) && errno != EEXIST) {
			fprintf(stderr, "scratch: mkdir %s: %m\n", process_dir);
			abort();
		}
		owner = getpid();
		atexit(remove_process_dir);
	}
	for (;;) {
		if ((size_t)snprintf(buf, len, "%s/%u", process_dir, n++) >= len) {
			fprintf(stderr, "scratch: %s/...: path too long\n", process_dir);
			abort();
		}
		if (mkdir(buf, 0755) == 0)
			return;
		if (errno != EEXIST) { /* (a forked child may have taken the number) */
			fprintf(stderr, "scratch: mkdir %s: %m\n", buf);
			abort();
		}
	}
}
