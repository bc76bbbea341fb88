/*
 * Exports at run time: the open directory (or device-DAX device), whether it
 * really is DAX, how its persistence works, and which MR mode layouts on it
 * use, with the reason, all decided once when the export is opened.
 */
#ifndef DX_EXPORT_H
#define DX_EXPORT_H

#include <infiniband/verbs.h>
#include <libpmem2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "build-config.h"
#include "common/report.h"
#include "common/dxbuf.h"
#include "daemon/config.h"
#include "daemon/listener.h"

enum dx_export_kind {
	DX_EXPORT_FSDAX,  /* directory on a DAX file system */
	DX_EXPORT_FS,     /* directory without DAX: page cache, served with a warning */
	DX_EXPORT_DEVDAX, /* device-DAX character device */
};

struct dx_export {
	const struct dx_export_cfg *cfg;
	enum dx_export_kind kind;
	int fd;             /* O_PATH directory, or the O_RDWR device-DAX device */
	/* device-DAX only, as libdaxctl reports them: */
	uint64_t dev_size;
	uint64_t dev_align;  /* mappings start and end on multiples of it */
	int dev_region;      /* daxctl region id */
	int dev_node;        /* the memory's NUMA node (target node), -1 if none */
	int granularity;    /* enum pmem2_granularity of a mapping */
	enum dx_mr_mode mr_mode;
	char mr_reason[200];
	bool remote_persist;  /* clients may persist one-sided (persistence = "remote-flush", zero copy) */
	char persist_reason[160];
	bool flush;           /* its MRs can be registered for RDMA FLUSH (DX_ACCESS_FLUSH) */
	char flush_reason[160];
};

/* The access flags of an MR that takes RDMA FLUSH (rdma-core 45 and later). */
#ifdef DX_HAVE_WR_FLUSH
#define DX_ACCESS_FLUSH (IBV_ACCESS_FLUSH_GLOBAL | IBV_ACCESS_FLUSH_PERSISTENT)
#else
#define DX_ACCESS_FLUSH 0
#endif

/* Whether this build registers MRs for RDMA FLUSH (DX_ACCESS_FLUSH). */
bool dx_rdma_flush_built(void);

struct dx_exports {
	struct dx_export *v;
	size_t n;
};

/*
 * Open every export of CFG and decide its MR mode on L's device. Problems go
 * to ERRS as "file:line: message" lines; then -EINVAL (or the first -errno).
 */
int dx_exports_open(const struct dx_config *cfg, const struct dx_listener *l,
		    struct dx_exports **out, struct dxbuf *errs);
void dx_exports_close(struct dx_exports **xp);
void dx_exports_report(const struct dx_exports *xs, struct rnode *array);
const char *dx_export_kind_name(enum dx_export_kind k);
/* Whether X's acl admits PEER. */
bool dx_export_admits(const struct dx_export *x, const struct sockaddr *peer);
/* OLD's successor after a reload: the export of NX with the same name and
 * path (and device_file), MR mode and one-sided persistence, or NULL if it
 * went away or changed. */
const struct dx_export *dx_export_successor(const struct dx_exports *nx, const struct dx_export *old);

/* X's one-sided persistence (x->remote_persist, persist_reason) from its
 * configuration, kind, MR mode and store granularity, on a platform whose
 * NIC writes are placed as NIC_WRITES (enum dx_nic_writes) says. 0, or
 * -EINVAL with WHY where the declaration cannot hold. */
int dx_export_resolve_persistence(struct dx_export *x, int nic_writes, char *why, size_t whylen);
/* The MR mode and one-sided persistence a file gets through X: X's own,
 * unless X is FS-DAX and the file is not DAX (its DAX attribute off, on a
 * dax=inode mount): page cache then, served as such (bounce, or ODP, and
 * COMMIT). FILE_DAX: statx's STATX_ATTR_DAX of the open file. */
enum dx_mr_mode dx_export_file_mr_mode(const struct dx_export *x, bool file_dax);
bool dx_export_file_remote_persist(const struct dx_export *x, bool file_dax);
/* M as the protocol says it (enum dxp_mr_mode; AUTO is never an export's). */
uint8_t dx_mr_mode_wire(enum dx_mr_mode m);

/* Map [OFF, OFF+LEN) of FD with libpmem2 (any granularity; read-only unless
 * WRITABLE): the export probe and every layout map this way. 0 or -errno;
 * pmem2_errormsg() says why. */
int dx_pmem_map_new(int fd, uint64_t off, size_t len, bool writable, struct pmem2_source **src,
		    struct pmem2_map **map);
void dx_pmem_map_delete(struct pmem2_source **src, struct pmem2_map **map);

#endif
