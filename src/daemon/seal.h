/*
 * Files and their seals (DESIGN.md §2-3). A dx_file is one served file: the
 * daemon's own fd on it, opened once however many clients open it, which
 * carries the write lease while any layout on the file exists, and the
 * layouts. Lease breaks arrive as a real-time signal read through a signalfd
 * in the event loop.
 */
#ifndef DX_SEAL_H
#define DX_SEAL_H

#include <stdbool.h>
#include <stdint.h>
#include "common/queue.h"
#include "daemon/itree.h"
#include <sys/stat.h>
#include <sys/types.h>

struct dxd;
struct event;
struct dx_export;
struct dx_fmap;
struct dx_layout;

/* Everything on a file whose lease is breaking is fenced this long before
 * the kernel's lease-break-time runs out (the kernel then gives the file to
 * the local process whatever we still hold). */
#define DX_LEASE_MARGIN_MS 1000

/* After a lease break, new layouts wait this long (BUSY_LOCAL) so that the
 * local process that broke it runs before the lease can be taken again. */
#define DX_LEASE_HOLDOFF_MS 50

/* How many disjoint prepared ranges a file remembers (a cache: when it is
 * full, it starts again). */
#define DX_PREPARED_MAX 32

/*
 * A file's lease (one setter, which logs and checks each move):
 *
 *   UNLEASED ──> LEASED ──> BREAKING ──> HOLDOFF ──> LEASED
 *                  └──> UNLEASED             └──> UNLEASED (seen expired)
 *
 *   LEASED    F_WRLCK held: layouts may be granted
 *   BREAKING  the kernel signalled a break: every layout is recalled and no
 *             new one is granted; the lease goes with the last layout. One
 *             deadline, the lease bound (dx_lease_bound_ms), covers every
 *             recall, queued or sent, and every copy-back and COMMIT on
 *             the file: at it, every holder is fenced.
 *   HOLDOFF   released after a break; for DX_LEASE_HOLDOFF_MS nothing takes
 *             it again, so the local process runs first
 */
enum dx_lease_state { LEASE_UNLEASED, LEASE_LEASED, LEASE_BREAKING, LEASE_HOLDOFF };

struct dx_file {
	TAILQ_ENTRY(dx_file) link;      /* in dxd.files */
	struct dxd *d;
	const struct dx_export *x;      /* the first opener's export, for names; NULL once a reload dropped
					 * it. Access is each handle's own export's (dx_handle.x). */
	char *export_name;
	char *relpath;
	dev_t dev;
	ino_t ino;
	uint64_t gen;                   /* inode generation, else birth time (ns), else 0: see dxp_file_id */
	int fd;                         /* O_RDWR, or O_RDONLY where the file cannot be written */
	bool writable;                  /* FD is O_RDWR: RW handles may be opened */
	bool device;                    /* a device-DAX export's one file: no lease, fixed size */
	bool dax;                       /* STATX_ATTR_DAX (always for a device): see dx_export_file_mr_mode */
	uint64_t device_size;           /* device only */
	unsigned int handles;           /* clients' OPENs not yet CLOSEd */
	enum dx_lease_state lease;
	uint64_t lease_breaks;
	int64_t break_ms;               /* when the kernel signalled the break (dx_now_ms) */
	int break_lbt_s;                /* the kernel's lease-break-time at that break */
	struct event *ev_bound;         /* BREAKING: fires at dx_lease_bound_ms() */
	int64_t holdoff_until_ms;       /* CLOCK_MONOTONIC; see DX_LEASE_HOLDOFF_MS */
	struct dx_fmap *fmap;           /* the current mapping (fmap.h), kept while the file is open */
	/* Ranges dx_seal_prepare made safe, sorted and disjoint: true while the
	 * lease is held (no one else can change the blocks), forgotten when
	 * it goes or the daemon shrinks the file. */
	struct dx_range { uint64_t lo, hi; } prepared[DX_PREPARED_MAX];
	unsigned int n_prepared;
	TAILQ_HEAD(, dx_layout) layouts;
	struct dx_itree ranges;         /* the same, by range (dx_layout.by_range) */
};

/* Block the lease-break signals in every thread and start the thread that
 * waits for them and passes them, time-stamped, to the loop. Call before any
 * other thread starts. */
int dx_seal_init(struct dxd *d);
void dx_seal_fini(struct dxd *d);

/*
 * Resolve PATH beneath export X (openat2 RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS;
 * no escape by "..", absolute paths or symlinks), creating or truncating it as
 * FLAGS (enum dxp_open_flags) say, and return the file with one more handle.
 * A new file gets MODE & the export's create_mode_mask (never beyond 0777),
 * and the daemon's umask on top.
 * -errno on failure; -EISDIR/-EINVAL for what is not a regular file.
 * A device-DAX export serves one file, its device_file: any other PATH is
 * -ENOENT, and TRUNC is -EOPNOTSUPP (a device has a fixed size).
 */
int dx_file_open(struct dxd *d, const struct dx_export *x, const char *path, uint32_t flags,
		 unsigned int mode, struct dx_file **out);
/*
 * FROM, beneath export X, if it still names F, becomes TO (beneath X too:
 * rename(2), atomically replacing a file there), or goes (TO NULL:
 * unlink(2)). F keeps its handles and layouts; its name for logs follows.
 * 0 or -errno: -ESTALE if FROM names another file now, -EXDEV or -ELOOP if
 * TO resolves outside X, -EINVAL for a TO of "", "." or "..", -EEXIST if
 * what TO names is not a regular file, -EACCES if the daemon could not
 * write it, -EOPNOTSUPP on a device-DAX export.
 */
int dx_file_rename(struct dx_file *f, const struct dx_export *x, const char *from, const char *to);
/* Drop one handle; the reaper frees the file once it has neither handles
 * nor layouts. */
void dx_file_put(struct dx_file *f);
/* The reaper's: release the lease if no layout is left, free F if no
 * handle is left either. */
void dx_file_settle(struct dx_file *f);
const char *dx_lease_state_name(enum dx_lease_state s);
/* BREAKING: when everything on F must be dead, by our clock (dx_now_ms):
 * lease-break-time (as it was at the break) minus DX_LEASE_MARGIN_MS after
 * the kernel's signal. The daemon refuses a recall_timeout_ms beyond that
 * (main.c). */
int64_t dx_lease_bound_ms(const struct dx_file *f);
#define DX_LEASE_BREAK_TIME_PATH "/proc/sys/fs/lease-break-time"
/* The lease-break-time in seconds read from PATH, or -errno. */
int dx_lease_break_time_read(const char *path);
struct dx_file *dx_file_find(struct dxd *d, dev_t dev, ino_t ino);
/* fstat(2) of F's fd, with a device-DAX file's size in st_size. 0 or -errno. */
int dx_file_stat(const struct dx_file *f, struct stat *st);

/* Take the write lease: 0, or -EAGAIN while a local process has the file open
 * or the lease is being broken (the client hears BUSY_LOCAL). A device-DAX
 * file has no lease (nothing local can truncate a device): always 0. */
int dx_seal_lease(struct dx_file *f);

/*
 * Make [OFF, OFF+LEN) safe to hand out for writing: inside the file (never
 * extended), allocated, zeroed where it was a hole or unwritten, unshared
 * where reflinked; verified with FIEMAP where the file system has it.
 */
int dx_seal_prepare(struct dx_file *f, uint64_t off, uint64_t len);
/* [OFF, OFF+LEN) is inside the file and plain written blocks already (by
 * FIEMAP): allocating it again changes nothing. fallocate would still need
 * a transaction (ENOSPC on a full XFS) and unmap the file's DAX mappings. */
bool dx_seal_allocated(struct dx_file *f, uint64_t off, uint64_t len);
/* Forget what was prepared at or past FROM (the daemon shrank the file). */
void dx_seal_forget_prepared(struct dx_file *f, uint64_t from);

#endif
