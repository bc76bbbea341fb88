/*
 * dx-pmemcpy FILE SIZE: the baseline of a bounce COMMIT. Maps the first SIZE
 * bytes of FILE (created, written and synced first) with libpmem2 as the
 * daemon does, and copies SIZE bytes in with pmem2's memcpy (persisting)
 * twice: the first pass takes the page faults (cold), the second runs into
 * an already-faulted mapping (warm). Then, in a fresh mapping populated
 * first with MADV_POPULATE_WRITE as the daemon's grant does, once more
 * (populated). Prints cold_MBps=... warm_MBps=... populated_MBps=...
 */
#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what)
{
	fprintf(stderr, "dx-pmemcpy: %s: %s\n", what, pmem2_errormsg()[0] ? pmem2_errormsg() : strerror(errno));
	return 1;
}

/* Plain written blocks, as a prepared layout range is. */
static int write_file(int fd, const char *buf, size_t size)
{
	for (size_t off = 0; off < size;) {
		ssize_t n = pwrite(fd, buf, size - off < (1u << 20) ? size - off : (1u << 20), (off_t)off);

		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return fsync(fd);
}

/* Copy SIZE bytes from BUF into FD's mapping twice; T gets the times. */
/* Map FD; with POPULATE, prefault it writable first; copy BUF in twice.
 * T gets the times around the copies. */
static int copy_twice(int fd, char *buf, size_t size, bool populate, double t[3])
{
	struct pmem2_config *cfg = NULL;
	struct pmem2_source *src = NULL;
	struct pmem2_map *map = NULL;
	pmem2_memcpy_fn copy;
	char *dst;
	int ret;

	ret = pmem2_source_from_fd(&src, fd) || pmem2_config_new(&cfg) || pmem2_config_set_length(cfg, size) ||
	      pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE) ||
	      pmem2_map_new(&map, cfg, src);
	if (ret) {
		ret = fail("libpmem2 map");
	} else {
		dst = pmem2_map_get_address(map);
		copy = pmem2_get_memcpy_fn(map);
		if (populate && madvise(dst, size, MADV_POPULATE_WRITE))
			ret = fail("madvise MADV_POPULATE_WRITE");
		t[0] = now_s();
		copy(dst, buf, size, 0);
		t[1] = now_s();
		copy(dst, buf, size, 0);
		t[2] = now_s();
		pmem2_map_delete(&map);
	}
	pmem2_config_delete(&cfg);
	pmem2_source_delete(&src);
	return ret;
}

int main(int argc, char **argv)
{
	size_t size;
	double t[3] = { 0 }, p[3] = { 0 };
	char *buf;
	int fd, ret;

	if (argc != 3) {
		fprintf(stderr, "usage: dx-pmemcpy FILE SIZE\n");
		return 2;
	}
	size = strtoull(argv[2], NULL, 0);
	buf = malloc(size);
	if (!buf)
		return fail("malloc");
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	memset(buf, 0x5a, size);
	if (fd < 0 || write_file(fd, buf, size)) {
		ret = fail(argv[1]);
	} else {
		memset(buf, 0xa5, size);
		ret = copy_twice(fd, buf, size, false, t);
		if (ret == 0)
			ret = copy_twice(fd, buf, size, true, p);
	}
	if (ret == 0)
		printf("cold_MBps=%.1f warm_MBps=%.1f populated_MBps=%.1f\n", (double)size / (t[1] - t[0]) / 1e6,
		       (double)size / (t[2] - t[1]) / 1e6, (double)size / (p[1] - p[0]) / 1e6);
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}
