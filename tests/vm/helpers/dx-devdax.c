/*
 * dx-devdax DEV OFF LEN: a local reader of a device-DAX instance. libdaxctl
 * finds DEV (/dev/daxX.Y) and its alignment; the bytes [OFF, OFF+LEN) are
 * read through an mmap of the device (device-DAX has no read(2)) and written
 * to stdout.
 */
#include <daxctl/libdaxctl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static unsigned long long device_align(const char *dev)
{
	const char *base = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;
	struct daxctl_region *region;
	struct daxctl_ctx *ctx;
	struct daxctl_dev *d;
	unsigned long long align = 0;

	if (daxctl_new(&ctx))
		return 0;
	daxctl_region_foreach(ctx, region) {
		daxctl_dev_foreach(region, d) {
			if (strcmp(daxctl_dev_get_devname(d), base) == 0)
				align = daxctl_dev_get_align(d);
		}
	}
	daxctl_unref(ctx);
	return align;
}

int main(int argc, char **argv)
{
	unsigned long long off, len, align, lo, hi;
	char *p;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: dx-devdax DEV OFF LEN\n");
		return 2;
	}
	off = strtoull(argv[2], NULL, 0);
	len = strtoull(argv[3], NULL, 0);
	align = device_align(argv[1]);
	if (!align) {
		fprintf(stderr, "dx-devdax: libdaxctl does not know %s\n", argv[1]);
		return 1;
	}
	lo = off / align * align;
	hi = (off + len + align - 1) / align * align;
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	p = mmap(NULL, hi - lo, PROT_READ, MAP_SHARED, fd, (off_t)lo);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (fwrite(p + (off - lo), 1, len, stdout) != len) {
		perror("write");
		return 1;
	}
	munmap(p, hi - lo);
	close(fd);
	return 0;
}
