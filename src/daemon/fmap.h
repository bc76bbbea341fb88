/*
 * File mappings: one libpmem2 mapping of a window of a served file, shared
 * by the layouts that lie inside it and kept while clients have the file
 * open. Creating a mapping is slow (pmem2_map_new walks the nd bus in sysfs
 * for the eADR check every time), so grants reuse it. A window covers the
 * layout's range rounded out to DX_FMAP_WINDOW (and clipped to the file), not
 * the whole file: a few huge sparse files must not exhaust the address space.
 * When a layout lies outside the current window, a new one is made and the
 * old one lives on until its last layout goes. A mapping outlives the lease
 * safely: nothing touches it without a layout, and every layout lies inside
 * the file while the lease is held.
 */
#ifndef DX_FMAP_H
#define DX_FMAP_H

#include <libpmem2.h>
#include <stdint.h>

#define DX_FMAP_WINDOW (1ull << 30)

struct dx_file;

struct dx_fmap {
	struct pmem2_source *src;
	struct pmem2_map *map;
	char *addr;          /* where file offset OFF is mapped */
	uint64_t off, len;   /* the window: [OFF, OFF+LEN) of the file */
	unsigned int refs;   /* layouts inside it, + 1 while it is its file's current one */
	pmem2_persist_fn persist;
	pmem2_memcpy_fn memcpy_persist;
};

/* A reference to a mapping of F that covers [OFF, END) (END <= the file's
 * size, rounded down to a page): the file's current one if it covers it,
 * else a new current one. 0 or -errno (the failure is logged). */
int dx_fmap_get(struct dx_file *f, uint64_t off, uint64_t end, struct dx_fmap **out);
/* Drop a reference; the mapping goes with the last one. *FM becomes NULL. */
void dx_fmap_put(struct dx_fmap **fm);

/* The address of file offset AT, which lies inside FM's window. */
static inline char *dx_fmap_at(const struct dx_fmap *fm, uint64_t at)
{
	return fm->addr + (at - fm->off);
}

#endif
