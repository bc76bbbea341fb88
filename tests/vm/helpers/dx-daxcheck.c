/* dx-daxcheck FILE: exit 0 only if FILE is DAX: statx says STATX_ATTR_DAX and
 * mmap(MAP_SHARED_VALIDATE | MAP_SYNC), which only DAX allows, succeeds. */
#include <errno.h>
#include <fcntl.h>
#include <linux/mman.h>
#include <linux/stat.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

int main(int argc, char **argv)
{
	struct statx stx;
	void *p;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: dx-daxcheck FILE\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CREAT, 0644);
	if (fd < 0 || ftruncate(fd, 4096) != 0) {
		perror(argv[1]);
		return 1;
	}
	if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) != 0) {
		perror("statx");
		return 1;
	}
	if (!(stx.stx_attributes_mask & STATX_ATTR_DAX) || !(stx.stx_attributes & STATX_ATTR_DAX)) {
		printf("%s: STATX_ATTR_DAX not set (mask %d)\n", argv[1], !!(stx.stx_attributes_mask & STATX_ATTR_DAX));
		return 1;
	}
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
	if (p == MAP_FAILED) {
		printf("%s: STATX_ATTR_DAX set but mmap(MAP_SYNC) fails: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("%s: STATX_ATTR_DAX set, mmap(MAP_SYNC) works\n", argv[1]);
	munmap(p, 4096);
	close(fd);
	return 0;
}
