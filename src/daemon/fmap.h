/*
 * File mappings: one libpmem2 mapping of a served file, from offset 0, shared
 * by the layouts that lie inside it and kept while clients have the file
 * open. Creating a mapping is slow (pmem2_map_new walks the nd bus in sysfs
 * for the eADR check every time), so grants reuse it; when the file grew past
 * it, a bigger one is made and the old one lives on until its last layout
 * goes. A file mapping outlives the lease safely: nothing touches it without
 * a layout, and every layout lies inside the file while the lease is held.
 */
#ifndef DX_FMAP_H
#define DX_FMAP_H

#include <libpmem2.h>
#include <stdint.h>

struct dx_file;

struct dx_fmap {
	struct pmem2_source *src;
	struct pmem2_map *map;
	char *addr;
	uint64_t len;        /* bytes mapped, from file offset 0 */
	unsigned int refs;   /* layouts inside it, + 1 while it is its file's current one */
	pmem2_persist_fn persist;
	pmem2_memcpy_fn memcpy_persist;
};

/* A reference to a mapping of F that covers [0, END) (END <= the file's
 * size): the file's current one if it is big enough, else a new current one
 * of the whole file. 0 or -errno (the failure is logged). */
int dx_fmap_get(struct dx_file *f, uint64_t end, struct dx_fmap **out);
/* Drop a reference; the mapping goes with the last one. *FM becomes NULL. */
void dx_fmap_put(struct dx_fmap **fm);

#endif
