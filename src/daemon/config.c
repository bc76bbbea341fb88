#include "daemon/config.h"

#include "build-config.h"

#include <errno.h>
#include <inttypes.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const dx_mr_mode_names[] = { "auto", "pinned", "odp", "bounce", NULL };
const char *const dx_persistence_names[] = { "commit", "remote-flush", NULL };
const char *const dx_nic_writes_names[] = { "cache", "memory", "eadr", NULL };
static const char *const log_level_names[] = { "error", "warning", "notice", "info", "debug", NULL };

enum cfg_type { CT_BOOL, CT_INT, CT_STRING, CT_ENUM, CT_STRLIST, CT_GROUP, CT_GROUPLIST };

/* Extra checks on a string value; write why it is wrong into MSG. */
typedef int (*cfg_check_fn)(const char *val, char *msg, size_t msglen);

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t off;                  /* value, from the enclosing struct */
	int64_t min, max;            /* CT_INT range; list length for lists */
	int64_t idef;                /* CT_BOOL / CT_INT / CT_ENUM default */
	const char *sdef;            /* CT_STRING default */
	const char *const *choices;  /* CT_ENUM */
	const struct cfg_key *sub;   /* CT_GROUP (same struct) / CT_GROUPLIST (element) */
	size_t elem_size;            /* CT_GROUPLIST */
	size_t count_off;            /* CT_STRLIST / CT_GROUPLIST: size_t element count */
	size_t line_off;             /* CT_GROUPLIST: int, the element's line */
	bool required;
	cfg_check_fn check;          /* CT_STRING and each CT_STRLIST item */
	const char *unit;
	const char *help;
};

static int check_ip(const char *val, char *msg, size_t len)
{
	struct sockaddr_storage ss;

	if (dx_sockaddr_parse(val, 0, &ss) == 0)
		return 0;
	snprintf(msg, len, "\"%s\" is not a numeric IPv4 or IPv6 address", val);
	return -EINVAL;
}

static int check_cidr(const char *val, char *msg, size_t len)
{
	struct dx_cidr c;

	if (dx_cidr_parse(val, &c) == 0)
		return 0;
	snprintf(msg, len, "\"%s\" is not an address or CIDR prefix (like 192.168.100.0/24)", val);
	return -EINVAL;
}

static int check_abs_path(const char *val, char *msg, size_t len)
{
	if (val[0] == '/')
		return 0;
	snprintf(msg, len, "\"%s\" is not an absolute path", val);
	return -EINVAL;
}

static int check_export_path(const char *val, char *msg, size_t len)
{
	struct stat st;

	if (check_abs_path(val, msg, len))
		return -EINVAL;
	if (stat(val, &st) != 0) {
		int err = errno;
		snprintf(msg, len, "\"%s\": %s", val, strerror(err));
		return -err;
	}
	if (S_ISDIR(st.st_mode) || S_ISCHR(st.st_mode))
		return 0;
	snprintf(msg, len, "\"%s\" is neither a directory nor a device-DAX character device", val);
	return -EINVAL;
}

static int check_name(const char *val, char *msg, size_t len)
{
	size_t n = strlen(val);

	if (n >= 1 && n <= 64 && strspn(val, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n)
		return 0;
	snprintf(msg, len, "\"%s\" is not a valid name (1 to 64 of A-Z a-z 0-9 . _ -)", val);
	return -EINVAL;
}

/* A permission mask in octal, as a string ("0640"): libconfig has no octal. */
static int check_mode_mask(const char *val, char *msg, size_t len)
{
	char *end;
	unsigned long v = strtoul(val, &end, 8);

	if (val[0] == '0' && *end == '\0' && v <= 0777)
		return 0;
	snprintf(msg, len, "\"%s\" is not an octal permission mask from \"0\" to \"0777\" "
		 "(setuid, setgid and sticky bits are never granted)", val);
	return -EINVAL;
}

static int check_nonempty(const char *val, char *msg, size_t len)
{
	if (val[0])
		return 0;
	snprintf(msg, len, "must not be empty");
	return -EINVAL;
}

#define CFG(field) offsetof(struct dx_config, field)
#define EXP(field) offsetof(struct dx_export_cfg, field)

static const struct cfg_key cfg_listen[] = {
	{ .name = "address", .type = CT_STRING, .off = CFG(listen_address), .sdef = "0.0.0.0",
	  .check = check_ip,
	  .help = "Address of the rdma_cm listener: an IPv4 or IPv6 address of an RDMA device "
		  "(for Soft-RoCE, the address of its netdev). 0.0.0.0 listens on every device." },
	{ .name = "port", .type = CT_INT, .off = CFG(listen_port), .min = 1, .max = 65535, .idef = 20049,
	  .help = "rdma_cm port of the listener." },
	{ 0 }
};

static const struct cfg_key cfg_ctl[] = {
	{ .name = "socket", .type = CT_STRING, .off = CFG(ctl_socket), .sdef = DAXRDMA_CTL_SOCKET,
	  .check = check_abs_path,
	  .help = "Path of the AF_UNIX control socket that daxrdmactl(8) talks to. Its parent "
		  "directory is created (mode 0755) if missing; the socket gets mode 0660." },
	{ .name = "group", .type = CT_STRING, .off = CFG(ctl_group), .sdef = "daxrdma",
	  .check = check_nonempty,
	  .help = "Group that owns the control socket. Its members may run the read-only "
		  "commands; changing commands (reload, recall, evict) need root." },
	{ 0 }
};

static const struct cfg_key cfg_limits[] = {
	{ .name = "max_clients", .type = CT_INT, .off = CFG(max_clients), .min = 1, .max = 4096, .idef = 64,
	  .help = "Connected clients at most; further connection requests are rejected. As many "
		  "requests may wait to be taken (the rdma_cm listen backlog, which the kernel caps at "
		  "net.rdma_ucm.max_backlog), so a burst of clients connecting at once is not dropped; "
		  "a change takes effect when the listener is next created." },
	{ .name = "max_layouts", .type = CT_INT, .off = CFG(max_layouts), .min = 1, .max = 1 << 20, .idef = 4096,
	  .help = "Layouts held by all clients together at most." },
	{ .name = "max_layout_size", .type = CT_INT, .off = CFG(max_layout_size), .min = 4096,
	  .max = INT64_C(1) << 40, .idef = INT64_C(1) << 30, .unit = "bytes",
	  .help = "Largest single layout (and so the largest memory region) granted." },
	{ .name = "max_allocate_size", .type = CT_INT, .off = CFG(max_allocate_size), .min = 4096,
	  .max = INT64_C(1) << 50, .idef = INT64_C(64) << 30, .unit = "bytes",
	  .help = "Largest range one ALLOCATE may reserve (daxrdma_allocate()); a larger one gets LIMIT. "
		  "An ALLOCATE runs in slices between the daemon's other work, and its reply waits for "
		  "the last slice: keep it well within what the clients' timeout_ms allows." },
	{ .name = "max_connections_per_address", .type = CT_INT, .off = CFG(max_conns_per_addr), .min = 1,
	  .max = 4096, .idef = 16,
	  .help = "Connections from one client address at most; further connection requests from it are "
		  "rejected." },
	{ .name = "max_files_per_client", .type = CT_INT, .off = CFG(max_files_per_client), .min = 1,
	  .max = 65536, .idef = 1024,
	  .help = "Files one client connection may have open; further OPENs get LIMIT." },
	{ .name = "max_layouts_per_client", .type = CT_INT, .off = CFG(max_layouts_per_client), .min = 1,
	  .max = 1 << 20, .idef = 1024,
	  .help = "Layouts one client connection may hold; further LAYOUT_GETs get LIMIT." },
	{ .name = "max_layout_bytes_per_client", .type = CT_INT, .off = CFG(max_layout_bytes_per_client),
	  .min = 4096, .max = INT64_C(1) << 50, .idef = INT64_C(16) << 30, .unit = "bytes",
	  .help = "Bytes one client connection may hold in layouts, all together; a LAYOUT_GET that "
		  "would pass it gets LIMIT." },
	{ .name = "staging_bytes", .type = CT_INT, .off = CFG(staging_bytes), .min = 4096,
	  .max = INT64_C(1) << 46, .idef = INT64_C(4) << 30, .unit = "bytes",
	  .help = "Memory all bounce layouts together may use for their staging buffers (FS-DAX "
		  "without ODP, and READ layouts over a file's last partial page); a LAYOUT_GET that "
		  "would pass it gets LIMIT." },
	{ 0 }
};

static const struct cfg_key cfg_export[] = {
	{ .name = "name", .type = CT_STRING, .off = EXP(name), .required = true, .check = check_name,
	  .help = "Name clients use to open files in this export; unique." },
	{ .name = "path", .type = CT_STRING, .off = EXP(path), .required = true, .check = check_export_path,
	  .help = "A directory on a DAX-mounted file system (a non-DAX one works, with a warning), "
		  "or a device-DAX character device such as /dev/dax0.0." },
	{ .name = "acl", .type = CT_STRLIST, .off = EXP(acl), .count_off = EXP(n_acl), .min = 1, .max = 64,
	  .required = true, .check = check_cidr,
	  .help = "Client addresses or CIDR prefixes allowed to use the export, e.g. "
		  "[ \"192.168.100.0/24\", \"fd00::/8\" ]. Clients that match none are refused." },
	{ .name = "device_file", .type = CT_STRING, .off = EXP(device_file), .sdef = "device", .check = check_name,
	  .help = "A device-DAX export serves the whole device as one file of fixed size under this "
		  "name (clients OPEN it; no other name exists, and it cannot be created, truncated "
		  "or resized). Layouts on it are pinned MRs on a mapping aligned as the device "
		  "requires. No local process can truncate a device, so its layouts are recalled only "
		  "by daxrdmactl recall (naming the device's path), a reload that drops or changes "
		  "the export, and shutdown. Ignored for directories." },
	{ .name = "persistence", .type = CT_ENUM, .off = EXP(persistence), .choices = dx_persistence_names,
	  .idef = DX_PERSIST_COMMIT,
	  .help = "How clients make their RDMA writes persistent. commit: the client sends COMMIT and "
		  "daxrdmad flushes the CPU caches over the range (in bounce mode it copies the data in "
		  "first); always right. remote-flush: the admin declares that the platform's persistence "
		  "domain covers what the NIC writes once it is placed in memory: eADR (CPU caches are "
		  "persistent), or ADR with DDIO turned off for the NIC's PCIe root port, so that NIC writes "
		  "go to the memory controller and not to the last-level cache. Clients then persist "
		  "one-sided, with no COMMIT and no server CPU: an RDMA FLUSH where their rdma-core has "
		  "ibv_wr_flush, otherwise an RDMA READ on the same QP after their writes (which returns "
		  "only once the writes before it are placed). Offered only where layouts address the file "
		  "itself (pinned, odp, device-DAX); a bounce export offers commit only and daxrdmactl "
		  "exports says why; on a file system without DAX it is a configuration error. It needs "
		  "a mapping with MAP_SYNC (libpmem2's store granularity cache line or byte): at "
		  "granularity page (virtio-pmem, for one) only msync persists, and daxrdmad refuses to "
		  "start. At granularity cache line (ADR), an RDMA READ proves only that NIC writes "
		  "reached the CPU's cache: nic_writes must say that the platform persists them. "
		  "A reload that changes an export's persistence or MR mode recalls its layouts and "
		  "makes its open handles stale: clients open the file again and get the new one." },
	{ .name = "read_only", .type = CT_BOOL, .off = EXP(read_only), .idef = false,
	  .help = "Grant only READ layouts; RW requests are refused." },
	{ .name = "odp_self_test", .type = CT_BOOL, .off = EXP(odp_self_test), .idef = true,
	  .help = "Prove the device's ODP path at start before an FS-DAX export uses it (see "
		  "mr_mode). false skips the test: with mr_mode = \"odp\" the export then uses ODP "
		  "whatever the device does with it, which on a device that misplaces data (rxe "
		  "before the fix of __rxe_odp_mr_copy) corrupts files. For tests and for devices "
		  "known to be right only." },
	{ .name = "create_mode_mask", .type = CT_STRING, .off = EXP(create_mode_mask), .sdef = "0777",
	  .check = check_mode_mask,
	  .help = "Permission bits a client's OPEN with CREATE may set on a new file, in octal; "
		  "daxrdmad's umask applies on top. Setuid, setgid and sticky bits are never set, "
		  "whatever the client asks." },
	{ .name = "mr_mode", .type = CT_ENUM, .off = EXP(mr_mode), .choices = dx_mr_mode_names,
	  .idef = DX_MR_AUTO,
	  .help = "How layouts become memory regions: pinned (ibv_reg_mr on the mapping), odp "
		  "(on-demand paging), bounce (a registered staging buffer, copied at grant and "
		  "commit) or auto (the first of pinned, odp, bounce that works on this export). "
		  "On FS-DAX, odp is used only after a self-test at start proves the device's ODP "
		  "path: a QP connected to itself writes 100 bytes at offset 4196 of a probe file and "
		  "they are read back; a device that fails it (rxe's ODP ignores in-page offsets) "
		  "serves the export in bounce mode, and daxrdmactl exports says why." },
	{ 0 }
};

static const struct cfg_key cfg_top[] = {
	{ .name = "listen", .type = CT_GROUP, .sub = cfg_listen, .help = "The rdma_cm listener." },
	{ .name = "ctl", .type = CT_GROUP, .sub = cfg_ctl, .help = "The control socket." },
	{ .name = "recall_timeout_ms", .type = CT_INT, .off = CFG(recall_timeout_ms), .min = 100,
	  .max = 60000, .idef = 2000, .unit = "milliseconds",
	  .help = "How long a client has to return a recalled layout before it is fenced. It must "
		  "leave at least 1 s of /proc/sys/fs/lease-break-time: on a file a local process "
		  "waits for, everything is fenced 1 s before the kernel's time runs out, whatever "
		  "any recall still has. daxrdmad refuses to start (or to reload) otherwise." },
	{ .name = "keepalive_ms", .type = CT_INT, .off = CFG(keepalive_ms), .min = 0, .max = 3600000,
	  .idef = 10000, .unit = "milliseconds",
	  .help = "A connection that has completed no work for this long is probed with a zero-length "
		  "RDMA WRITE, which the client's NIC acknowledges without the application. A probe "
		  "not acknowledged within this time again means the host is gone: its QP goes to "
		  "error, its layouts are fenced and the connection closes, so a vanished client "
		  "frees its slot within 2 to 3 times this value. 0 turns probing off." },
	{ .name = "busy_poll_us", .type = CT_INT, .off = CFG(busy_poll_us), .min = 0, .max = 10000, .idef = 0,
	  .unit = "microseconds",
	  .help = "After a client's work completion, daxrdmad polls that client's completion queue this "
		  "long for the next one before it goes back to sleep: a client's next request often "
		  "follows its reply at once, and small writes and COMMITs are answered sooner. It costs "
		  "CPU while clients are busy, none while they are idle. 0 turns polling off." },
	{ .name = "nic_writes", .type = CT_ENUM, .off = CFG(nic_writes), .choices = dx_nic_writes_names,
	  .idef = DX_NICW_CACHE,
	  .help = "Where an RDMA NIC's writes are once placed in memory, as the admin has checked it "
		  "on this machine; one-sided persistence (an export's persistence = \"remote-flush\") "
		  "on ADR pmem depends on it. cache: the NIC writes into the CPU's last-level cache "
		  "(Intel DDIO, on by default), which ADR does not cover; a power cut loses what is "
		  "there, so remote-flush is refused where libpmem2 reports granularity cache line. "
		  "memory: DDIO is off for the NIC's PCIe root port (on Intel, the port's "
		  "perfctrlsts_0 register: bit 7, Use_Allocating_Flow_Wr, clear, bit 3, NoSnoopOpWrEn, "
		  "set; see setpci(8)), so NIC writes go to the memory controller, in the ADR domain. "
		  "eadr: the CPU's caches are in the persistence domain (eADR; ndctl list -R shows "
		  "persistence_domain \"cpu_cache\"), which libpmem2 usually finds itself (granularity "
		  "byte). A wrong declaration loses acknowledged data at a power failure." },
	{ .name = "log_level", .type = CT_ENUM, .off = CFG(log_level), .choices = log_level_names,
	  .idef = 3, .help = "Least important messages logged." },
	{ .name = "limits", .type = CT_GROUP, .sub = cfg_limits, .help = "Resource limits." },
	{ .name = "exports", .type = CT_GROUPLIST, .sub = cfg_export, .off = CFG(exports),
	  .count_off = CFG(n_exports), .elem_size = sizeof(struct dx_export_cfg),
	  .line_off = EXP(line), .min = 1, .max = 256, .required = true,
	  .help = "What is served: a list of export groups." },
	{ 0 }
};

struct cfg_ctx {
	const char *file;
	struct dxbuf *errs;
	int nerr;
	bool oom;
};

static void cfg_error(struct cfg_ctx *x, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cfg_error(struct cfg_ctx *x, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = s ? config_setting_source_file(s) : NULL;
	unsigned int line = s ? config_setting_source_line(s) : 0;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		dxbuf_printf(x->errs, "%s:%u: %s\n", file ? file : x->file, line, msg);
	else
		dxbuf_printf(x->errs, "%s: %s\n", file ? file : x->file, msg);
	x->nerr++;
}

static const char *type_name(int t)
{
	switch (t) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a number with a fraction";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array";
	case CONFIG_TYPE_LIST: return "a list";
	default: return "nothing";
	}
}

static const char *want_name(enum cfg_type t)
{
	switch (t) {
	case CT_BOOL: return "a boolean (true or false)";
	case CT_INT: return "an integer";
	case CT_STRING:
	case CT_ENUM: return "a string";
	case CT_STRLIST: return "an array of strings [ \"...\", ... ]";
	case CT_GROUP: return "a group { ... }";
	case CT_GROUPLIST: return "a list of groups ( { ... }, ... )";
	}
	return "?";
}

static char *xstrdup(struct cfg_ctx *x, const char *s)
{
	char *d = strdup(s);

	if (!d)
		x->oom = true;
	return d;
}

static void apply_default(struct cfg_ctx *x, const struct cfg_key *k, char *base)
{
	switch (k->type) {
	case CT_BOOL: *(bool *)(base + k->off) = k->idef != 0; break;
	case CT_INT: *(int64_t *)(base + k->off) = k->idef; break;
	case CT_ENUM: *(int *)(base + k->off) = (int)k->idef; break;
	case CT_STRING: *(char **)(base + k->off) = k->sdef ? xstrdup(x, k->sdef) : NULL; break;
	default: break;
	}
}

static void parse_group(struct cfg_ctx *x, const config_setting_t *g, const struct cfg_key *keys,
			char *base, const char *where);

static void parse_string(struct cfg_ctx *x, const config_setting_t *s, const struct cfg_key *k,
			 const char *val, const char *path, char **dst)
{
	char msg[400];

	if (k->check && k->check(val, msg, sizeof(msg)) != 0) {
		cfg_error(x, s, "%s: %s", path, msg);
		return;
	}
	*dst = xstrdup(x, val);
}

static void parse_strlist(struct cfg_ctx *x, const config_setting_t *s, const struct cfg_key *k,
			  char *base, const char *path)
{
	int n = config_setting_length(s);
	char **list;

	if (n < k->min || n > k->max) {
		cfg_error(x, s, "%s: has %d entries; it takes %" PRId64 " to %" PRId64, path, n, k->min, k->max);
		return;
	}
	list = calloc((size_t)n, sizeof(*list));
	if (!list) {
		x->oom = true;
		return;
	}
	*(char ***)(base + k->off) = list;
	*(size_t *)(base + k->count_off) = (size_t)n;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
		char epath[224];

		snprintf(epath, sizeof(epath), "%s[%d]", path, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cfg_error(x, e, "%s: must be a string, not %s", epath, type_name(config_setting_type(e)));
			continue;
		}
		parse_string(x, e, k, config_setting_get_string(e), epath, &list[i]);
	}
}

static void parse_grouplist(struct cfg_ctx *x, const config_setting_t *s, const struct cfg_key *k,
			    char *base, const char *path)
{
	int n = config_setting_length(s);
	char *elems;

	if (n < k->min || n > k->max) {
		cfg_error(x, s, "%s: has %d entries; it takes %" PRId64 " to %" PRId64, path, n, k->min, k->max);
		return;
	}
	elems = calloc((size_t)n, k->elem_size);
	if (!elems) {
		x->oom = true;
		return;
	}
	*(char **)(base + k->off) = elems;
	*(size_t *)(base + k->count_off) = (size_t)n;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
		char *elem = elems + (size_t)i * k->elem_size;
		char epath[224];

		snprintf(epath, sizeof(epath), "%s[%d]", path, i);
		*(int *)(elem + k->line_off) = (int)config_setting_source_line(e);
		if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
			cfg_error(x, e, "%s: must be a group { ... }, not %s", epath, type_name(config_setting_type(e)));
			continue;
		}
		parse_group(x, e, k->sub, elem, epath);
	}
}

static void parse_value(struct cfg_ctx *x, const config_setting_t *s, const struct cfg_key *k,
			char *base, const char *path)
{
	int t = config_setting_type(s);
	bool type_ok;

	switch (k->type) {
	case CT_BOOL: type_ok = t == CONFIG_TYPE_BOOL; break;
	case CT_INT: type_ok = t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64; break;
	case CT_STRING:
	case CT_ENUM: type_ok = t == CONFIG_TYPE_STRING; break;
	case CT_STRLIST: type_ok = t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST; break;
	case CT_GROUP: type_ok = t == CONFIG_TYPE_GROUP; break;
	case CT_GROUPLIST: type_ok = t == CONFIG_TYPE_LIST; break;
	default: type_ok = false;
	}
	if (!type_ok) {
		cfg_error(x, s, "%s: must be %s, not %s", path, want_name(k->type), type_name(t));
		apply_default(x, k, base);
		return;
	}

	switch (k->type) {
	case CT_BOOL:
		*(bool *)(base + k->off) = config_setting_get_bool(s);
		break;
	case CT_INT: {
		long long v = config_setting_get_int64(s);
		if (v < k->min || v > k->max)
			cfg_error(x, s, "%s: %lld is out of range [%" PRId64 ", %" PRId64 "]%s%s", path, v,
				  k->min, k->max, k->unit ? " " : "", k->unit ? k->unit : "");
		*(int64_t *)(base + k->off) = v;
		break;
	}
	case CT_STRING:
		parse_string(x, s, k, config_setting_get_string(s), path, (char **)(base + k->off));
		break;
	case CT_ENUM: {
		const char *v = config_setting_get_string(s);
		int i;
		for (i = 0; k->choices[i]; i++)
			if (strcmp(v, k->choices[i]) == 0)
				break;
		if (k->choices[i]) {
			*(int *)(base + k->off) = i;
		} else {
			struct dxbuf sb = DXBUF_INIT;
			for (int j = 0; k->choices[j]; j++)
				dxbuf_printf(&sb, "%s%s", j ? ", " : "", k->choices[j]);
			cfg_error(x, s, "%s: \"%s\" is not one of: %s", path, v, dxbuf_str(&sb));
			dxbuf_release(&sb);
			*(int *)(base + k->off) = (int)k->idef;
		}
		break;
	}
	case CT_STRLIST:
		parse_strlist(x, s, k, base, path);
		break;
	case CT_GROUP:
		parse_group(x, s, k->sub, base, path);
		break;
	case CT_GROUPLIST:
		parse_grouplist(x, s, k, base, path);
		break;
	}
}

static const struct cfg_key *find_key(const struct cfg_key *keys, const char *name)
{
	for (; keys->name; keys++)
		if (strcmp(keys->name, name) == 0)
			return keys;
	return NULL;
}

static void join_path(char *buf, size_t len, const char *where, const char *name)
{
	if (where[0])
		snprintf(buf, len, "%s.%s", where, name);
	else
		snprintf(buf, len, "%s", name);
}

static void parse_group(struct cfg_ctx *x, const config_setting_t *g, const struct cfg_key *keys,
			char *base, const char *where)
{
	int n = g ? config_setting_length(g) : 0;
	char path[200];

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned int)i);
		const char *name = config_setting_name(s);

		if (!find_key(keys, name)) {
			join_path(path, sizeof(path), where, name);
			cfg_error(x, s, "unknown setting '%s'", path);
		}
	}
	for (const struct cfg_key *k = keys; k->name; k++) {
		const config_setting_t *s = g ? config_setting_get_member(g, k->name) : NULL;

		join_path(path, sizeof(path), where, k->name);
		if (s) {
			parse_value(x, s, k, base, path);
		} else if (k->required) {
			cfg_error(x, g, "%s: missing required setting '%s'", where[0] ? where : "top level", k->name);
		} else if (k->type == CT_GROUP) {
			parse_group(x, NULL, k->sub, base, path);
		} else {
			apply_default(x, k, base);
		}
	}
}

/* Checks that span several settings. */
static void check_exports(struct cfg_ctx *x, struct dx_config *cfg)
{
	for (size_t i = 0; i < cfg->n_exports; i++) {
		struct dx_export_cfg *e = &cfg->exports[i];

		for (size_t j = 0; j < i; j++) {
			const struct dx_export_cfg *o = &cfg->exports[j];
			if (o->name && e->name && strcmp(o->name, e->name) == 0)
				dxbuf_printf(x->errs, "%s:%d: exports[%zu]: name \"%s\" is already used by the export on line %d\n",
					      x->file, e->line, i, e->name, o->line), x->nerr++;
			else if (o->path && e->path && strcmp(o->path, e->path) == 0)
				dxbuf_printf(x->errs, "%s:%d: exports[%zu]: path \"%s\" is already exported by the export on line %d\n",
					      x->file, e->line, i, e->path, o->line), x->nerr++;
		}
		if (e->create_mode_mask)
			e->create_mask = (unsigned int)strtoul(e->create_mode_mask, NULL, 8); /* checked while parsing */
		if (!e->acl)
			continue;
		e->acl_cidr = calloc(e->n_acl, sizeof(*e->acl_cidr));
		if (!e->acl_cidr) {
			x->oom = true;
			continue;
		}
		for (size_t j = 0; j < e->n_acl; j++)
			if (e->acl[j])
				dx_cidr_parse(e->acl[j], &e->acl_cidr[j]); /* checked while parsing */
	}
}

static void free_group(const struct cfg_key *keys, char *base)
{
	for (const struct cfg_key *k = keys; k->name; k++) {
		switch (k->type) {
		case CT_STRING:
			free(*(char **)(base + k->off));
			break;
		case CT_STRLIST: {
			char **list = *(char ***)(base + k->off);
			for (size_t i = 0; list && i < *(size_t *)(base + k->count_off); i++)
				free(list[i]);
			free(list);
			break;
		}
		case CT_GROUP:
			free_group(k->sub, base);
			break;
		case CT_GROUPLIST: {
			char *elems = *(char **)(base + k->off);
			for (size_t i = 0; elems && i < *(size_t *)(base + k->count_off); i++)
				free_group(k->sub, elems + i * k->elem_size);
			free(elems);
			break;
		}
		default:
			break;
		}
	}
}

void dx_config_free(struct dx_config **cfgp)
{
	struct dx_config *cfg = *cfgp;

	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_exports && cfg->exports; i++)
		free(cfg->exports[i].acl_cidr);
	free_group(cfg_top, (char *)cfg);
	free(cfg->file);
	free(cfg);
	*cfgp = NULL;
}

/* No NUL byte in the text: libconfig would cut it there, report a
 * confusing syntax error and leak the string it was scanning (found by
 * fuzz_config). */
static int check_text(const char *file, const char *text, size_t len, struct dxbuf *errs)
{
	const char *nul = memchr(text, '\0', len);
	int line = 1;

	if (!nul)
		return 0;
	for (const char *p = text; p < nul; p++)
		line += *p == '\n';
	dxbuf_printf(errs, "%s:%d: a NUL byte: not a text file\n", file, line);
	return -EINVAL;
}

/* FILE's text, NUL-terminated, at most DX_CONFIG_MAX_BYTES. */
static int read_text(const char *file, char **out, struct dxbuf *errs)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY), ret = 0;
	struct stat st;
	size_t len = 0;
	char *text;

	*out = NULL;
	if (fd < 0 || fstat(fd, &st)) {
		ret = -EINVAL;
		dxbuf_printf(errs, "%s: cannot read: %s\n", file, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > DX_CONFIG_MAX_BYTES) {
		dxbuf_printf(errs, "%s: cannot read: %s\n", file, S_ISREG(st.st_mode) ? "larger than 1 MiB"
								: "not a regular file");
		ret = -EINVAL;
		goto out;
	}
	text = calloc(1, (size_t)st.st_size + 1);
	if (!text) {
		ret = -ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, text + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* it shrank: take what there is */
		len += (size_t)n;
	}
	text[len] = '\0';
	ret = check_text(file, text, len, errs);
	if (ret)
		free(text);
	else
		*out = text;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

int dx_config_load(const char *file, struct dx_config **out, struct dxbuf *errs)
{
	struct cfg_ctx x = { .file = file, .errs = errs };
	struct dx_config *cfg;
	char *text;
	config_t lc;
	int ret = 0;

	*out = NULL;
	ret = read_text(file, &text, errs);
	if (ret)
		return ret;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		free(text);
		return -ENOMEM;
	}
	config_init(&lc);
	if (config_read_string(&lc, text) != CONFIG_TRUE) {
		dxbuf_printf(errs, "%s:%d: %s\n", config_error_file(&lc) ? config_error_file(&lc) : file,
			      config_error_line(&lc), config_error_text(&lc));
		ret = -EINVAL;
		goto out_free;
	}
	cfg->file = xstrdup(&x, file);
	parse_group(&x, config_root_setting(&lc), cfg_top, (char *)cfg, "");
	check_exports(&x, cfg);
	if (x.oom || dxbuf_error(errs))
		ret = -ENOMEM; /* errors may be missing from ERRS */
	else if (x.nerr)
		ret = -EINVAL;
out_free:
	config_destroy(&lc);
	free(text);
	if (ret)
		dx_config_free(&cfg);
	*out = cfg;
	return ret;
}

const char *dx_config_log_level_name(int level)
{
	return log_level_names[level];
}

const struct dx_export_cfg *dx_config_find_export(const struct dx_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_exports; i++)
		if (strcmp(cfg->exports[i].name, name) == 0)
			return &cfg->exports[i];
	return NULL;
}

static void dump_string(struct dxbuf *out, const char *s)
{
	dxbuf_puts(out, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			dxbuf_puts(out, "\\");
		dxbuf_add(out, s, 1);
	}
	dxbuf_puts(out, "\"");
}

static void dump_group(struct dxbuf *out, const struct cfg_key *keys, const char *base, int indent)
{
	for (const struct cfg_key *k = keys; k->name; k++) {
		dxbuf_pad(out, '\t', (size_t)indent);
		switch (k->type) {
		case CT_BOOL:
			dxbuf_printf(out, "%s = %s;\n", k->name, *(const bool *)(base + k->off) ? "true" : "false");
			break;
		case CT_INT: {
			int64_t v = *(const int64_t *)(base + k->off);
			dxbuf_printf(out, "%s = %" PRId64 "%s;\n", k->name, v, v > INT32_MAX ? "L" : "");
			break;
		}
		case CT_ENUM:
			dxbuf_printf(out, "%s = \"%s\";\n", k->name, k->choices[*(const int *)(base + k->off)]);
			break;
		case CT_STRING:
			dxbuf_printf(out, "%s = ", k->name);
			dump_string(out, *(char *const *)(base + k->off));
			dxbuf_puts(out, ";\n");
			break;
		case CT_STRLIST: {
			char *const *list = *(char *const *const *)(base + k->off);
			size_t n = *(const size_t *)(base + k->count_off);
			dxbuf_printf(out, "%s = [ ", k->name);
			for (size_t i = 0; i < n; i++) {
				if (i)
					dxbuf_puts(out, ", ");
				dump_string(out, list[i]);
			}
			dxbuf_puts(out, " ];\n");
			break;
		}
		case CT_GROUP:
			dxbuf_printf(out, "%s = {\n", k->name);
			dump_group(out, k->sub, base, indent + 1);
			dxbuf_pad(out, '\t', (size_t)indent);
			dxbuf_puts(out, "};\n");
			break;
		case CT_GROUPLIST: {
			const char *elems = *(char *const *)(base + k->off);
			size_t n = *(const size_t *)(base + k->count_off);
			dxbuf_printf(out, "%s = (\n", k->name);
			for (size_t i = 0; i < n; i++) {
				dxbuf_pad(out, '\t', (size_t)indent + 1);
				dxbuf_puts(out, "{\n");
				dump_group(out, k->sub, elems + i * k->elem_size, indent + 2);
				dxbuf_pad(out, '\t', (size_t)indent + 1);
				dxbuf_puts(out, i + 1 < n ? "},\n" : "}\n");
			}
			dxbuf_pad(out, '\t', (size_t)indent);
			dxbuf_puts(out, ");\n");
			break;
		}
		}
	}
}

void dx_config_dump(const struct dx_config *cfg, struct dxbuf *out)
{
	dxbuf_printf(out, "# effective configuration, read from %s\n", cfg->file);
	dump_group(out, cfg_top, (const char *)cfg, 0);
}

static void reference_group(struct dxbuf *out, const struct cfg_key *keys, const char *prefix)
{
	for (const struct cfg_key *k = keys; k->name; k++) {
		char path[128];

		snprintf(path, sizeof(path), "%s%s", prefix, k->name);
		if (k->type == CT_GROUP || k->type == CT_GROUPLIST) {
			dxbuf_printf(out, "*%s* (%s%s)\n\t%s\n\n", path, want_name(k->type),
				      k->required ? ", required" : "", k->help);
			snprintf(path, sizeof(path), "%s%s%s.", prefix, k->name, k->type == CT_GROUPLIST ? "[]" : "");
			reference_group(out, k->sub, path);
			continue;
		}
		dxbuf_printf(out, "*%s* (", path);
		switch (k->type) {
		case CT_BOOL:
			dxbuf_printf(out, "boolean, default %s", k->idef ? "true" : "false");
			break;
		case CT_INT:
			dxbuf_printf(out, "integer%s%s, %" PRId64 " to %" PRId64 ", default %" PRId64,
				      k->unit ? " " : "", k->unit ? k->unit : "", k->min, k->max, k->idef);
			break;
		case CT_ENUM:
			dxbuf_puts(out, "one of");
			for (int i = 0; k->choices[i]; i++)
				dxbuf_printf(out, "%s \"%s\"", i ? "," : "", k->choices[i]);
			dxbuf_printf(out, "; default \"%s\"", k->choices[k->idef]);
			break;
		case CT_STRING:
			if (k->required)
				dxbuf_puts(out, "string, required");
			else
				dxbuf_printf(out, "string, default \"%s\"", k->sdef);
			break;
		case CT_STRLIST:
			dxbuf_printf(out, "array of %" PRId64 " to %" PRId64 " strings%s", k->min, k->max,
				      k->required ? ", required" : "");
			break;
		default:
			break;
		}
		dxbuf_printf(out, ")\n\t%s\n\n", k->help);
	}
}

void dx_config_reference(struct dxbuf *out)
{
	reference_group(out, cfg_top, "");
}
