#include "daemon/fmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/log.h"
#include "daemon/export.h"
#include "daemon/seal.h"

#define PAGE 4096ull

static int fmap_new(struct dx_file *f, uint64_t off, uint64_t end, struct dx_fmap **out)
{
	int acc = fcntl(f->fd, F_GETFL) & O_ACCMODE;
	struct dx_fmap *fm;
	struct stat st;
	uint64_t size;
	int ret;

	ret = dx_file_stat(f, &st);
	if (ret)
		return dx_log_fail("fstat", ret);
	/* Whole pages only: a layout never reaches into the partial last one
	 * through the mapping (it is served from a staging copy). A device-DAX
	 * device's size is a multiple of its alignment, and so is the window's
	 * offset: the mapping is aligned as the device requires. */
	size = (uint64_t)st.st_size & ~(PAGE - 1);
	if (end > size) {
		log_err("%s/%s: %llu bytes of whole pages, a layout needs %llu", f->export_name, f->relpath,
			(unsigned long long)size, (unsigned long long)end);
		return -ERANGE;
	}
	fm = calloc(1, sizeof(*fm));
	if (!fm)
		return -ENOMEM;
	fm->off = off / DX_FMAP_WINDOW * DX_FMAP_WINDOW;
	end = (end + DX_FMAP_WINDOW - 1) / DX_FMAP_WINDOW * DX_FMAP_WINDOW;
	fm->len = (end < size ? end : size) - fm->off;
	ret = dx_pmem_map_new(f->fd, fm->off, (size_t)fm->len, acc == O_RDWR, &fm->src, &fm->map);
	if (ret) {
		log_err("libpmem2 map of %s/%s [%llu, +%llu): %s", f->export_name, f->relpath,
			(unsigned long long)fm->off, (unsigned long long)fm->len, pmem2_errormsg());
		free(fm);
		return ret;
	}
	fm->addr = pmem2_map_get_address(fm->map);
	fm->persist = pmem2_get_persist_fn(fm->map);
	fm->memcpy_persist = pmem2_get_memcpy_fn(fm->map);
	fm->refs = 1; /* the file's */
	*out = fm;
	return 0;
}

int dx_fmap_get(struct dx_file *f, uint64_t off, uint64_t end, struct dx_fmap **out)
{
	const struct dx_fmap *cur = f->fmap;
	struct dx_fmap *fresh = NULL;
	int ret;

	if (!cur || off < cur->off || end > cur->off + cur->len) {
		ret = fmap_new(f, off, end, &fresh);
		if (ret)
			return ret;
		dx_fmap_put(&f->fmap); /* layouts in the old window keep it alive */
		f->fmap = fresh;
	}
	f->fmap->refs++;
	*out = f->fmap;
	return 0;
}

void dx_fmap_put(struct dx_fmap **fmp)
{
	struct dx_fmap *fm = *fmp;

	*fmp = NULL;
	if (!fm || --fm->refs)
		return;
	dx_pmem_map_delete(&fm->src, &fm->map);
	free(fm);
}
