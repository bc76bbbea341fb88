/*
 * The configuration parser (libconfig text -> schema -> errors) against any
 * file an admin can write: dx_config_load accepts it or says why, line by
 * line, and never crashes; what it accepts dumps (--dump-config) and loads
 * again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/dxbuf.h"
#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* DATA as a file libconfig can read by name. */
static int as_file(const void *data, size_t size, char *path, size_t len)
{
	int fd = memfd_create("dxfuzz.conf", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dxbuf errs = DXBUF_INIT, dump = DXBUF_INIT, errs2 = DXBUF_INIT;
	struct dx_config *cfg = NULL, *cfg2 = NULL;
	char path[64], path2[64];
	int fd, fd2, ret;

	/* @include reads any file of the host (/dev/zero for ever): not the
	 * parser's input, so not fuzzed. */
	if (memmem(data, size, "@include", 8))
		return 0;
	fd = as_file(data, size, path, sizeof(path));
	ret = dx_config_load(path, &cfg, &errs);
	if (ret) {
		if (!errs.len || cfg)
			abort(); /* a refusal says why, and returns nothing */
	} else {
		dx_config_dump(cfg, &dump);
		fd2 = as_file(dxbuf_str(&dump), dump.len, path2, sizeof(path2));
		if (dx_config_load(path2, &cfg2, &errs2))
			abort(); /* its own dump must load */
		dx_config_free(&cfg2);
		close(fd2);
		dx_config_free(&cfg);
	}
	dxbuf_release(&errs);
	dxbuf_release(&errs2);
	dxbuf_release(&dump);
	close(fd);
	return 0;
}
