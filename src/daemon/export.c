#include "daemon/export.h"

#include <daxctl/libdaxctl.h>
#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "daxrdma_proto.h"
#include "daemon/odptest.h"

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

#define PROBE_LEN (64u << 10)

const char *dx_export_kind_name(enum dx_export_kind k)
{
	switch (k) {
	case DX_EXPORT_FSDAX: return "fsdax";
	case DX_EXPORT_FS: return "fs";
	case DX_EXPORT_DEVDAX: return "devdax";
	}
	return "?";
}

bool dx_export_admits(const struct dx_export *x, const struct sockaddr *peer)
{
	for (size_t i = 0; i < x->cfg->n_acl; i++)
		if (dx_cidr_match(&x->cfg->acl_cidr[i], peer))
			return true;
	return false;
}

static const char *granularity_name(int g)
{
	switch (g) {
	case PMEM2_GRANULARITY_BYTE: return "byte (eADR: stores are persistent)";
	case PMEM2_GRANULARITY_CACHE_LINE: return "cache line (MAP_SYNC: flush caches to persist)";
	case PMEM2_GRANULARITY_PAGE: return "page (msync to persist)";
	}
	return "unknown";
}

int dx_pmem_map_new(int fd, uint64_t off, size_t len, bool writable, struct pmem2_source **src,
		    struct pmem2_map **map)
{
	struct pmem2_config *cfg;
	int ret;

	*src = NULL;
	*map = NULL;
	ret = pmem2_source_from_fd(src, fd);
	if (ret)
		goto err;
	ret = pmem2_config_new(&cfg);
	if (ret)
		goto err_source;
	ret = pmem2_config_set_offset(cfg, (size_t)off);
	if (!ret)
		ret = pmem2_config_set_length(cfg, len);
	if (!ret)
		ret = pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE);
	if (!ret && !writable)
		ret = pmem2_config_set_protection(cfg, PMEM2_PROT_READ);
	if (!ret)
		ret = pmem2_map_new(map, cfg, *src);
	pmem2_config_delete(&cfg);
	if (ret)
		goto err_source;
	return 0;

err_source:
	pmem2_source_delete(src);
err:
	return ret < 0 && ret > -4096 ? ret : -EIO; /* PMEM2_E_* codes are not errnos */
}

void dx_pmem_map_delete(struct pmem2_source **src, struct pmem2_map **map)
{
	if (*map)
		pmem2_map_delete(map);
	if (*src)
		pmem2_source_delete(src);
}

struct probe_map {
	struct pmem2_source *src;
	struct pmem2_map *map;
};

static int probe_map_new(int fd, size_t len, struct probe_map *pm, char *why, size_t whylen)
{
	int ret = dx_pmem_map_new(fd, 0, len, true, &pm->src, &pm->map);

	if (ret)
		snprintf(why, whylen, "libpmem2 cannot map it: %s", pmem2_errormsg());
	return ret;
}

static void probe_map_delete(struct probe_map *pm)
{
	dx_pmem_map_delete(&pm->src, &pm->map);
}

/* Can this device register MRs on ADDR with ACCESS? 0 or -errno. */
static int probe_reg(struct ibv_pd *pd, void *addr, size_t len, int access)
{
	struct ibv_mr *mr = ibv_reg_mr(pd, addr, len, access);

	if (!mr)
		return errno ? -errno : -EIO;
	ibv_dereg_mr(mr);
	return 0;
}

/*
 * auto: pinned where ibv_reg_mr on the mapping works; where it fails the way
 * FS-DAX makes it fail (EOPNOTSUPP, or EFAULT on newer kernels), ODP if the
 * device has it, else bounce. Any other failure is an error, not a fallback.
 * Never pinned on the page cache of a file system other than shmem: a NIC
 * writing into long-term pinned file pages is never seen by writeback, so a
 * COMMIT would answer OK for bytes that never reach the disk (kernels from
 * 6.5 refuse such pins; 6.1 still allows them).
 */
static int resolve_mr_mode(struct dx_export *x, const struct dx_listener *l, void *addr, size_t len,
			   bool page_cache, char *why, size_t whylen)
{
	int want = x->cfg->mr_mode;
	int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |
		     (x->cfg->read_only ? 0 : IBV_ACCESS_REMOTE_WRITE);
	int pinned = -EOPNOTSUPP, odp = -EOPNOTSUPP;
	const char *no_pin;
	char odp_why[160];

	if (want == DX_MR_BOUNCE) {
		x->mr_mode = DX_MR_BOUNCE;
		snprintf(x->mr_reason, sizeof(x->mr_reason), "configured");
		return 0;
	}
	if (want == DX_MR_PINNED && page_cache) {
		snprintf(why, whylen, "mr_mode pinned on a file system without DAX: NIC writes into pinned "
			 "page-cache pages are never seen by writeback (pinned is for shmem and DAX)");
		return -EINVAL;
	}
	if ((want == DX_MR_AUTO || want == DX_MR_PINNED) && !page_cache) {
		pinned = probe_reg(l->pd, addr, len, access);
		if (pinned == 0) {
			x->mr_mode = DX_MR_PINNED;
			snprintf(x->mr_reason, sizeof(x->mr_reason), "%s: ibv_reg_mr on the mapping works",
				 want == DX_MR_AUTO ? "auto" : "configured");
			return 0;
		}
		if (want == DX_MR_PINNED || (pinned != -EOPNOTSUPP && pinned != -EFAULT)) {
			snprintf(why, whylen, "ibv_reg_mr on a mapping of the export fails: %s%s", strerror(-pinned),
				 pinned == -ENOMEM ? " (is LimitMEMLOCK/ulimit -l too low?)" : "");
			return pinned;
		}
	}
	no_pin = want != DX_MR_AUTO ? "not tried" : page_cache ? "not tried on the page cache" : strerror(-pinned);
	if (l->odp_rc) {
		odp = probe_reg(l->pd, addr, len, access | IBV_ACCESS_ON_DEMAND);
		/* Registration is not enough: the data must land where it is
		 * aimed. A device that fails the test serves in bounce mode. */
		if (odp == 0 && x->kind == DX_EXPORT_FSDAX) {
			if (!x->cfg->odp_self_test) {
				log_warn("export \"%s\": odp_self_test = false: ODP is used unproven", x->cfg->name);
			} else if (dx_odp_self_test(l->id, l->pd, addr, len, odp_why, sizeof(odp_why))) {
				log_warn("export \"%s\": %s; serving it in bounce mode", x->cfg->name, odp_why);
				x->mr_mode = DX_MR_BOUNCE;
				snprintf(x->mr_reason, sizeof(x->mr_reason), "%s: %s",
					 want == DX_MR_AUTO ? "auto" : "mr_mode odp refused", odp_why);
				return 0;
			}
		}
		if (odp == 0) {
			x->mr_mode = DX_MR_ODP;
			snprintf(x->mr_reason, sizeof(x->mr_reason), "%s: ibv_reg_mr %s; ODP registration works%s",
				 want == DX_MR_AUTO ? "auto" : "configured", no_pin,
				 x->kind != DX_EXPORT_FSDAX ? ""
				 : x->cfg->odp_self_test ? " and passed its self-test"
							 : " (odp_self_test = false: unproven)");
			return 0;
		}
	}
	if (want == DX_MR_ODP) {
		snprintf(why, whylen, "mr_mode odp: %s", l->odp_rc ? strerror(-odp) : "the device has no RC ODP");
		return l->odp_rc ? odp : -EOPNOTSUPP;
	}
	x->mr_mode = DX_MR_BOUNCE;
	snprintf(x->mr_reason, sizeof(x->mr_reason), "auto: ibv_reg_mr on the mapping %s%s and %s",
		 page_cache ? "" : "fails: ", no_pin, l->odp_rc ? "ODP registration fails" : "the device has no ODP");
	return 0;
}

bool dx_rdma_flush_built(void)
{
	return DX_ACCESS_FLUSH != 0;
}

/*
 * RDMA FLUSH to persistence (rdma-core 45 and later): whether layouts on X
 * can be registered for it, tried on a mapping of X with its MR mode's
 * access. A NIC that serves FLUSH may still refuse it on memory that is not
 * persistent (rxe: pages outside an NVDIMM region, memmap= ones among them).
 * Only layouts that address the file take it: not bounce, not read_only.
 */
static void resolve_flush(struct dx_export *x, const struct dx_listener *l, void *addr, size_t len)
{
	x->flush = false;
	if (x->mr_mode == DX_MR_BOUNCE || x->cfg->read_only) {
		snprintf(x->flush_reason, sizeof(x->flush_reason), "%s", x->cfg->read_only ? "read_only"
			 : "bounce layouts (NIC writes land in staging buffers)");
		return;
	}
#ifndef DX_HAVE_WR_FLUSH
	(void)l, (void)addr, (void)len;
	snprintf(x->flush_reason, sizeof(x->flush_reason), "daxrdmad was built with an rdma-core without RDMA "
		 "FLUSH (before 45)");
#else
	int ret = probe_reg(l->pd, addr, len, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |
			    IBV_ACCESS_REMOTE_WRITE | DX_ACCESS_FLUSH |
			    (x->mr_mode == DX_MR_ODP ? IBV_ACCESS_ON_DEMAND : 0));

	x->flush = ret == 0;
	snprintf(x->flush_reason, sizeof(x->flush_reason), "ibv_reg_mr with IBV_ACCESS_FLUSH_PERSISTENT%s%s",
		 ret ? " fails: " : " works", ret ? strerror(-ret) : "");
#endif
}

/*
 * Clients' paths are resolved with openat2(RESOLVE_BENEATH), and only so: a
 * sandbox that refuses it (a seccomp filter that cannot look into struct
 * open_how, such as systemd's RestrictSUIDSGID=, answers ENOSYS or EPERM)
 * stops the start here, with the reason, rather than later at every OPEN.
 */
static int probe_openat2(int dirfd, char *why, size_t whylen)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };
	long fd = syscall(SYS_openat2, dirfd, ".", &how, sizeof(how));
	int err = errno;

	if (fd >= 0) {
		close((int)fd);
		return 0;
	}
	snprintf(why, whylen, "openat2(RESOLVE_BENEATH) is refused: %s%s; daxrdmad resolves every client path "
		 "with it and has no weaker fallback", strerror(err),
		 err == ENOSYS || err == EPERM ? " (a seccomp filter blocks it; systemd's RestrictSUIDSGID= does)" : "");
	return -err;
}

static int open_directory(struct dx_export *x, const struct dx_listener *l, char *why, size_t whylen)
{
	struct probe_map pm;
	struct statfs sfs;
	struct statx stx;
	int tmp, ret;

	x->fd = open(x->cfg->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (x->fd < 0) {
		ret = -errno;
		snprintf(why, whylen, "open: %s", strerror(errno));
		return ret;
	}
	ret = probe_openat2(x->fd, why, whylen);
	if (ret)
		return ret;
	/* An unnamed file in the export shows what a served file gets: DAX or not, and which MR mode. */
	tmp = openat(x->fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (tmp < 0) {
		ret = -errno;
		snprintf(why, whylen, "cannot create a probe file in it (O_TMPFILE): %s", strerror(errno));
		return ret;
	}
	ret = posix_fallocate(tmp, 0, PROBE_LEN);
	if (ret) {
		snprintf(why, whylen, "fallocate of a probe file: %s", strerror(ret));
		ret = -ret;
		goto out_close;
	}
	if (statx(tmp, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx)) {
		ret = -errno;
		snprintf(why, whylen, "statx: %s", strerror(errno));
		goto out_close;
	}
	x->kind = (stx.stx_attributes & STATX_ATTR_DAX) ? DX_EXPORT_FSDAX : DX_EXPORT_FS;
	if (fstatfs(tmp, &sfs)) {
		ret = -errno;
		snprintf(why, whylen, "fstatfs: %s", strerror(errno));
		goto out_close;
	}
	ret = probe_map_new(tmp, PROBE_LEN, &pm, why, whylen);
	if (ret)
		goto out_close;
	x->granularity = pmem2_map_get_store_granularity(pm.map);
	ret = resolve_mr_mode(x, l, pmem2_map_get_address(pm.map), PROBE_LEN,
			      x->kind == DX_EXPORT_FS && sfs.f_type != TMPFS_MAGIC, why, whylen);
	if (!ret)
		resolve_flush(x, l, pmem2_map_get_address(pm.map), PROBE_LEN);
	probe_map_delete(&pm);
out_close:
	close(tmp);
	return ret;
}

/* Is DEV usable as an export? 0, or -errno with WHY. */
static int check_devdax(struct daxctl_dev *dev, uint64_t size, uint64_t align, char *why, size_t whylen)
{
	if (!daxctl_dev_is_enabled(dev)) {
		snprintf(why, whylen, "device-DAX instance is disabled (daxctl enable-device)");
		return -ENODEV;
	}
	if (daxctl_dev_get_memory(dev)) {
		snprintf(why, whylen, "device-DAX instance is in system-ram mode: the kernel uses it as memory "
			 "(daxctl reconfigure-device -m devdax)");
		return -EBUSY;
	}
	if (size == 0 || align < 4096 || (align & (align - 1)) || size % align) {
		snprintf(why, whylen, "device-DAX size %llu and alignment %llu: not a nonzero multiple of a "
			 "power-of-two alignment of at least 4096", (unsigned long long)size,
			 (unsigned long long)align);
		return -EINVAL;
	}
	return 0;
}

/* libdaxctl's facts about the device-DAX instance at X's path, checked. */
static int find_devdax(struct dx_export *x, char *why, size_t whylen)
{
	const char *base = strrchr(x->cfg->path, '/') + 1;
	struct daxctl_region *region;
	struct daxctl_ctx *ctx;
	struct daxctl_dev *dev;
	int ret = daxctl_new(&ctx);

	if (ret) {
		snprintf(why, whylen, "daxctl_new: %s", strerror(-ret));
		return ret;
	}
	ret = -ENODEV;
	snprintf(why, whylen, "a character device that libdaxctl does not know as a device-DAX instance");
	daxctl_region_foreach(ctx, region) {
		daxctl_dev_foreach(region, dev) {
			if (strcmp(daxctl_dev_get_devname(dev), base) != 0)
				continue;
			x->dev_size = daxctl_dev_get_size(dev);
			x->dev_align = daxctl_dev_get_align(dev);
			x->dev_region = daxctl_region_get_id(region);
			x->dev_node = daxctl_dev_get_target_node(dev);
			ret = check_devdax(dev, x->dev_size, x->dev_align, why, whylen);
		}
	}
	daxctl_unref(ctx);
	return ret;
}

static int open_devdax(struct dx_export *x, const struct dx_listener *l, char *why, size_t whylen)
{
	struct probe_map pm;
	int ret;

	x->kind = DX_EXPORT_DEVDAX;
	ret = find_devdax(x, why, whylen);
	if (ret)
		return ret;
	x->fd = open(x->cfg->path, (x->cfg->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (x->fd < 0) {
		ret = -errno;
		snprintf(why, whylen, "open: %s", strerror(errno));
		return ret;
	}
	ret = dx_pmem_map_new(x->fd, 0, (size_t)x->dev_align, !x->cfg->read_only, &pm.src, &pm.map);
	if (ret) {
		snprintf(why, whylen, "libpmem2 cannot map it: %s", pmem2_errormsg());
		return ret;
	}
	x->granularity = pmem2_map_get_store_granularity(pm.map);
	ret = resolve_mr_mode(x, l, pmem2_map_get_address(pm.map), pmem2_map_get_size(pm.map), false, why, whylen);
	if (!ret)
		resolve_flush(x, l, pmem2_map_get_address(pm.map), pmem2_map_get_size(pm.map));
	probe_map_delete(&pm);
	return ret;
}

/*
 * persistence = "remote-flush" holds only where NIC writes reach the file
 * itself and are durable once placed: never through the page cache (only
 * msync persists it), not in bounce mode (NIC writes land in a staging
 * buffer), not without MAP_SYNC (granularity page: msync again), and on ADR
 * (granularity cache line) only where the admin declares that NIC writes
 * bypass the CPU's cache or that the cache is persistent (nic_writes).
 */
int dx_export_resolve_persistence(struct dx_export *x, int nic_writes, char *why, size_t whylen)
{
	x->remote_persist = false;
	if (x->cfg->persistence == DX_PERSIST_COMMIT) {
		snprintf(x->persist_reason, sizeof(x->persist_reason), "configured: COMMIT");
		return 0;
	}
	if (x->kind == DX_EXPORT_FS) {
		snprintf(why, whylen, "persistence = \"remote-flush\" on a file system without DAX: NIC writes "
			 "reach the page cache, which only msync persists");
		return -EINVAL;
	}
	if (x->granularity == PMEM2_GRANULARITY_PAGE) {
		snprintf(why, whylen, "persistence = \"remote-flush\" on a mapping without MAP_SYNC (libpmem2: "
			 "store granularity page, as on virtio-pmem): only msync makes data and metadata "
			 "durable, which a client cannot do one-sided");
		return -EINVAL;
	}
	if (x->granularity == PMEM2_GRANULARITY_CACHE_LINE && nic_writes == DX_NICW_CACHE) {
		snprintf(why, whylen, "persistence = \"remote-flush\" on ADR memory (libpmem2: store granularity "
			 "cache line) while nic_writes = \"cache\": an RDMA READ proves only that NIC writes "
			 "reached the CPU's cache (DDIO), which a power cut loses; set nic_writes = \"memory\" "
			 "(DDIO off for the NIC's port) or \"eadr\" once checked, see daxrdmad.conf(5)");
		return -EINVAL;
	}
	if (x->mr_mode == DX_MR_BOUNCE) {
		snprintf(x->persist_reason, sizeof(x->persist_reason), "remote-flush declared, but layouts are "
			 "bounce (NIC writes land in staging buffers): COMMIT");
		log_warn("export \"%s\": %s", x->cfg->name, x->persist_reason);
		return 0;
	}
	x->remote_persist = true;
	snprintf(x->persist_reason, sizeof(x->persist_reason), "remote-flush declared, NIC writes %s, layouts "
		 "%s: one-sided, or COMMIT",
		 x->granularity == PMEM2_GRANULARITY_BYTE ? "persistent once placed (granularity byte)"
		 : nic_writes == DX_NICW_EADR		 ? "in the caches, declared persistent (nic_writes eadr)"
							 : "in memory, declared so (nic_writes memory)",
		 dx_mr_mode_names[x->mr_mode]);
	return 0;
}

uint8_t dx_mr_mode_wire(enum dx_mr_mode m)
{
	return m == DX_MR_BOUNCE ? DXP_MR_BOUNCE : m == DX_MR_ODP ? DXP_MR_ODP : DXP_MR_PINNED;
}

enum dx_mr_mode dx_export_file_mr_mode(const struct dx_export *x, bool file_dax)
{
	if (x->kind != DX_EXPORT_FSDAX || file_dax)
		return x->mr_mode;
	/* Page cache: never pinned (writeback would not see NIC writes). */
	return x->mr_mode == DX_MR_ODP ? DX_MR_ODP : DX_MR_BOUNCE;
}

bool dx_export_file_remote_persist(const struct dx_export *x, bool file_dax)
{
	return x->remote_persist && (x->kind != DX_EXPORT_FSDAX || file_dax);
}

int dx_exports_open(const struct dx_config *cfg, const struct dx_listener *l,
		    struct dx_exports **out, struct dxbuf *errs)
{
	struct dx_exports *xs;
	int first_err = 0;

	xs = calloc(1, sizeof(*xs));
	if (!xs)
		return -ENOMEM;
	xs->v = calloc(cfg->n_exports, sizeof(*xs->v));
	if (!xs->v) {
		free(xs);
		return -ENOMEM;
	}
	xs->n = cfg->n_exports;
	for (size_t i = 0; i < xs->n; i++) {
		struct dx_export *x = &xs->v[i];
		char why[300] = "";
		struct stat st;
		int ret;

		x->cfg = &cfg->exports[i];
		x->fd = -1;
		if (stat(x->cfg->path, &st) != 0)
			ret = -errno, snprintf(why, sizeof(why), "%s", strerror(errno));
		else if (S_ISCHR(st.st_mode))
			ret = open_devdax(x, l, why, sizeof(why));
		else
			ret = open_directory(x, l, why, sizeof(why));
		if (!ret)
			ret = dx_export_resolve_persistence(x, cfg->nic_writes, why, sizeof(why));
		if (ret) {
			dxbuf_printf(errs, "%s:%d: export \"%s\" (%s): %s\n", cfg->file, x->cfg->line,
				      x->cfg->name, x->cfg->path, why);
			if (!first_err)
				first_err = ret;
			continue;
		}
		if (x->kind == DX_EXPORT_FS)
			log_warn("export \"%s\" (%s) is not on a DAX file system: served from the page cache",
				 x->cfg->name, x->cfg->path);
		log_info("export \"%s\" (%s): %s, MR mode %s (%s), persistence granularity %s, RDMA FLUSH %s (%s)",
			 x->cfg->name, x->cfg->path, dx_export_kind_name(x->kind), dx_mr_mode_names[x->mr_mode],
			 x->mr_reason, granularity_name(x->granularity), x->flush ? "yes" : "no", x->flush_reason);
		if (x->kind == DX_EXPORT_DEVDAX)
			log_info("export \"%s\": one file \"%s\" of %llu bytes; alignment %llu, daxctl region %d, "
				 "NUMA node %d", x->cfg->name, x->cfg->device_file, (unsigned long long)x->dev_size,
				 (unsigned long long)x->dev_align, x->dev_region, x->dev_node);
	}
	if (first_err) {
		dx_exports_close(&xs);
		return first_err;
	}
	*out = xs;
	return 0;
}

void dx_exports_close(struct dx_exports **xp)
{
	struct dx_exports *xs = *xp;

	if (!xs)
		return;
	for (size_t i = 0; i < xs->n; i++)
		if (xs->v[i].fd >= 0)
			close(xs->v[i].fd);
	free(xs->v);
	free(xs);
	*xp = NULL;
}

void dx_exports_report(const struct dx_exports *xs, struct rnode *array)
{
	for (size_t i = 0; i < xs->n; i++) {
		const struct dx_export *x = &xs->v[i];
		struct rnode *o = rn_object(array, NULL);
		struct rnode *acl, *methods;

		rn_str(o, "name", x->cfg->name);
		rn_str(o, "path", x->cfg->path);
		rn_str(o, "kind", dx_export_kind_name(x->kind));
		rn_bool(o, "dax", x->kind != DX_EXPORT_FS);
		rn_bool(o, "read_only", x->cfg->read_only);
		rn_str(o, "mr_mode", dx_mr_mode_names[x->mr_mode]);
		rn_str(o, "mr_mode_reason", x->mr_reason);
		rn_str(o, "persistence", granularity_name(x->granularity));
		methods = rn_array(o, "persistence_methods");
		rn_str(methods, NULL, "commit");
		if (x->remote_persist)
			rn_str(methods, NULL, "remote-flush");
		rn_str(o, "persistence_reason", x->persist_reason);
		rn_bool(o, "rdma_flush", x->flush);
		rn_str(o, "rdma_flush_reason", x->flush_reason);
		if (x->kind == DX_EXPORT_DEVDAX) {
			rn_str(o, "device_file", x->cfg->device_file);
			rn_int(o, "device_size", (int64_t)x->dev_size);
			rn_int(o, "device_align", (int64_t)x->dev_align);
			rn_int(o, "device_region", x->dev_region);
			rn_int(o, "device_numa_node", x->dev_node);
		}
		acl = rn_array(o, "acl");
		for (size_t j = 0; j < x->cfg->n_acl; j++)
			rn_str(acl, NULL, x->cfg->acl[j]);
	}
}

const struct dx_export *dx_export_successor(const struct dx_exports *nx, const struct dx_export *old)
{
	for (size_t i = 0; i < nx->n; i++) {
		const struct dx_export *x = &nx->v[i];

		/* Clients were told the mode and the persistence at OPEN: a
		 * change of either is a new export, its handles go stale. */
		if (strcmp(x->cfg->name, old->cfg->name) == 0 && strcmp(x->cfg->path, old->cfg->path) == 0 &&
		    x->kind == old->kind && x->mr_mode == old->mr_mode && x->remote_persist == old->remote_persist &&
		    (x->kind != DX_EXPORT_DEVDAX || strcmp(x->cfg->device_file, old->cfg->device_file) == 0))
			return x;
	}
	return NULL;
}
