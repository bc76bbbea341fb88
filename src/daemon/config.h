/*
 * daxrdmad.conf: a libconfig file read through one declarative schema
 * (config.c: cfg_top[]) that drives parsing, validation, defaults,
 * --dump-config and the daxrdmad.conf(5) reference.
 */
#ifndef DX_CONFIG_H
#define DX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/net.h"
#include "common/dxbuf.h"

enum dx_mr_mode { DX_MR_AUTO, DX_MR_PINNED, DX_MR_ODP, DX_MR_BOUNCE };
extern const char *const dx_mr_mode_names[]; /* NULL-terminated */
enum dx_persistence { DX_PERSIST_COMMIT, DX_PERSIST_REMOTE_FLUSH };
extern const char *const dx_persistence_names[]; /* NULL-terminated */
/* Where a NIC's write is once placed in memory, as the admin declares it:
 * CACHE, the CPU's last-level cache (DDIO) outside the persistence domain;
 * MEMORY, the memory controller (DDIO off for the NIC's port; ADR covers
 * it); EADR, the caches, which eADR makes persistent. */
enum dx_nic_writes { DX_NICW_CACHE, DX_NICW_MEMORY, DX_NICW_EADR };
extern const char *const dx_nic_writes_names[]; /* NULL-terminated */

struct dx_export_cfg {
	char *name;
	char *path;
	bool read_only;
	int mr_mode; /* enum dx_mr_mode */
	bool odp_self_test; /* prove ODP on FS-DAX before using it (default true) */
	char *device_file;  /* device-DAX: the name its one file is served under */
	int persistence;    /* enum dx_persistence */
	char *create_mode_mask;   /* octal, as written */
	unsigned int create_mask; /* create_mode_mask, parsed: never beyond 0777 */
	char **acl;
	size_t n_acl;
	struct dx_cidr *acl_cidr; /* acl[], parsed */
	int line;
};

struct dx_config {
	char *file;
	char *listen_address;
	int64_t listen_port;
	char *ctl_socket;
	char *ctl_group;
	int64_t recall_timeout_ms;
	int64_t keepalive_ms; /* 0: off */
	int64_t busy_poll_us; /* 0: off */
	int log_level; /* index into the log level names */
	int nic_writes; /* enum dx_nic_writes */
	int64_t max_clients;
	int64_t max_layouts;
	int64_t max_layout_size;
	int64_t max_allocate_size;
	int64_t max_conns_per_addr;
	int64_t max_files_per_client;
	int64_t max_layouts_per_client;
	int64_t max_layout_bytes_per_client;
	int64_t staging_bytes;
	struct dx_export_cfg *exports;
	size_t n_exports;
};

/* A configuration file larger than this is refused. */
#define DX_CONFIG_MAX_BYTES (1 << 20)

/*
 * Read and validate FILE. On success *OUT is a new config. On failure every
 * problem found is appended to ERRS as "file:line: message\n" lines and
 * -EINVAL (or -ENOMEM) is returned.
 */
int dx_config_load(const char *file, struct dx_config **out, struct dxbuf *errs);
void dx_config_free(struct dx_config **cfg);
/* The effective configuration in libconfig syntax, each setting commented. */
void dx_config_dump(const struct dx_config *cfg, struct dxbuf *out);
/* The SETTINGS section of daxrdmad.conf(5), in scdoc markup. */
void dx_config_reference(struct dxbuf *out);
const char *dx_config_log_level_name(int level);
const struct dx_export_cfg *dx_config_find_export(const struct dx_config *cfg, const char *name);

#endif
