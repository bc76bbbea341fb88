#include "daemon/fmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/log.h"
#include "daemon/export.h"
#include "daemon/seal.h"

#define PAGE 4096ull

static int fmap_new(struct dx_file *f, struct dx_fmap **out)
{
	int acc = fcntl(f->fd, F_GETFL) & O_ACCMODE;
	struct dx_fmap *fm;
	struct stat st;
	int ret;

	if (fstat(f->fd, &st))
		return dx_log_fail("fstat", errno ? -errno : -EIO);
	fm = calloc(1, sizeof(*fm));
	if (!fm)
		return -ENOMEM;
	/* Whole pages only: a layout never reaches into the partial last one
	 * through the mapping (it is served from a staging copy). */
	fm->len = (uint64_t)st.st_size & ~(PAGE - 1);
	ret = dx_pmem_map_new(f->fd, 0, (size_t)fm->len, acc == O_RDWR, &fm->src, &fm->map);
	if (ret) {
		log_err("libpmem2 map of %s/%s (%llu bytes): %s", f->export_name, f->relpath,
			(unsigned long long)fm->len, pmem2_errormsg());
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

int dx_fmap_get(struct dx_file *f, uint64_t end, struct dx_fmap **out)
{
	struct dx_fmap *fm;
	int ret;

	if (!f->fmap || f->fmap->len < end) {
		ret = fmap_new(f, &fm);
		if (ret)
			return ret;
		if (fm->len < end) {
			log_err("%s/%s: %llu bytes mapped, a layout needs %llu", f->export_name, f->relpath,
				(unsigned long long)fm->len, (unsigned long long)end);
			dx_fmap_put(&fm);
			return -ERANGE;
		}
		dx_fmap_put(&f->fmap);
		f->fmap = fm;
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
