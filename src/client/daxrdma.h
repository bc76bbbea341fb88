/*
 * libdaxrdma-client: the client side of daxrdma. See libdaxrdma-client(3).
 *
 * Conventions: handles are opaque; functions return 0 or a negative errno;
 * _new(..., **out) creates, _delete(**p) destroys and sets *p to NULL. One
 * client is one connection to one daxrdmad; it is not thread-safe (use one
 * client per thread). Every wait on the daemon ends at the client's timeout.
 */
#ifndef DAXRDMA_H
#define DAXRDMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct daxrdma_client;
struct daxrdma_file;
struct daxrdma_layout;

/* Receives the library's log messages; PRIO is a syslog priority. */
typedef void (*daxrdma_log_fn)(void *arg, int prio, const char *msg);

enum daxrdma_recall_reason {
	DAXRDMA_RECALL_LOCAL = 1,    /* a local process truncates, punches or opens the file */
	DAXRDMA_RECALL_ADMIN = 2,    /* daxrdmactl recall */
	DAXRDMA_RECALL_CONFLICT = 3, /* another client wants the range for writing */
	DAXRDMA_RECALL_EXPORT = 4,   /* a reload removed the export or took our access */
	DAXRDMA_RECALL_SHUTDOWN = 5, /* the daemon is stopping */
};

enum daxrdma_recall_action {
	DAXRDMA_RECALL_RETURN = 0, /* the library returns the layout now */
	DAXRDMA_RECALL_DEFER = 1,  /* the application calls daxrdma_layout_return() itself, soon */
};

/*
 * Called when the daemon recalls LAYOUT (from daxrdma_client_process() or at
 * the end of any other call). Nothing more may be issued to the layout. The
 * daemon fences the client if the layout is not back within its
 * recall_timeout (daxrdma_client_recall_timeout_ms()).
 */
typedef int (*daxrdma_recall_fn)(void *arg, struct daxrdma_layout *layout, int reason);

enum daxrdma_client_flags {
	/* A read or write on a recalled layout gets the range again (waiting
	 * while a local process uses the file) instead of failing with -ESTALE. */
	DAXRDMA_RELAYOUT = 1u << 0,
	/* daxrdma_commit always sends COMMIT, even where one-sided persistence
	 * is on offer (see enum daxrdma_persist). */
	DAXRDMA_COMMIT_MESSAGE = 1u << 1,
	/* One-sided persistence never uses RDMA FLUSH, only an RDMA READ after
	 * the writes (for a device whose FLUSH is not trusted, or to compare). */
	DAXRDMA_NO_RDMA_FLUSH = 1u << 2,
};

struct daxrdma_client_opts {
	size_t size;       /* sizeof(struct daxrdma_client_opts): lets the struct grow */
	daxrdma_log_fn log;
	void *log_arg;
	int log_level;     /* least important priority passed to LOG; 0 means LOG_WARNING */
	int timeout_ms;    /* deadline of every wait on the daemon; 0 means 5000 */
	daxrdma_recall_fn recall;  /* NULL: layouts are returned when recalled */
	void *recall_arg;
	unsigned int flags;        /* enum daxrdma_client_flags */
	/* Before it sleeps for a reply or an RDMA completion, the library
	 * polls for this long (microseconds): lower latency for a core's
	 * worth of CPU while it waits. 0: sleep at once. */
	unsigned int busy_poll_us;
};

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *daxrdma_version(void);

int daxrdma_client_new(const struct daxrdma_client_opts *opts, struct daxrdma_client **out);
/* Returns every layout, closes every file, says BYE and disconnects. */
void daxrdma_client_delete(struct daxrdma_client **client);
int daxrdma_client_timeout_ms(const struct daxrdma_client *client);

/* Connect to daxrdmad at HOST (a name or address of its RDMA interface) and
 * PORT (NULL: 20049), then exchange HELLO. */
int daxrdma_connect(struct daxrdma_client *client, const char *host, const char *port);
/* After -ENOTCONN (the daemon restarted, fenced this client, or the link
 * failed): connect again to the same daemon and OPEN every file still open
 * here again. Layouts do not survive: I/O on them fails with -ESTALE (or
 * gets them again, with DAXRDMA_RELAYOUT); a file that cannot be opened
 * again fails its calls with -ESTALE. The client's fd stays the same.
 * -EISCONN while connected. */
int daxrdma_reconnect(struct daxrdma_client *client);
/* An fd that becomes readable when the daemon sent something (a recall):
 * poll it and call daxrdma_client_process(). */
int daxrdma_client_fd(const struct daxrdma_client *client);
/* Handle what arrived: run recall callbacks, return recalled layouts.
 * -ENOTCONN once the daemon is gone or has fenced this client. */
int daxrdma_client_process(struct daxrdma_client *client);
/* The daemon's recall_timeout and largest layout, from HELLO. */
int daxrdma_client_recall_timeout_ms(const struct daxrdma_client *client);
uint64_t daxrdma_client_max_layout_size(const struct daxrdma_client *client);

enum daxrdma_open_flags {
	DAXRDMA_O_RDWR = 1u << 0,
	DAXRDMA_O_CREAT = 1u << 1,
	DAXRDMA_O_EXCL = 1u << 2,
	DAXRDMA_O_TRUNC = 1u << 3,
};

/* Open PATH (relative to export EXPORT; it cannot lead outside it). */
int daxrdma_open(struct daxrdma_client *client, const char *export_name, const char *path,
		 unsigned int flags, unsigned int mode, struct daxrdma_file **out);
/* Returns the file's layouts and closes it. */
int daxrdma_close(struct daxrdma_file **file);

struct daxrdma_stat {
	uint64_t size;
	uint64_t blocks;   /* 512-byte units */
	uint64_t mtime_ns;
	uint32_t blksize;
	bool dax;          /* on persistent memory */
	bool read_only;    /* the export is read_only */
};
int daxrdma_stat(struct daxrdma_file *file, struct daxrdma_stat *st);
/* Make sure [OFF, OFF+LEN) exists and is allocated: the file grows if needed.
 * RDMA never extends a file. */
int daxrdma_allocate(struct daxrdma_file *file, uint64_t off, uint64_t len);
/* Make the size exactly SIZE (this client's layouts past it must be returned;
 * other clients' are recalled first). */
int daxrdma_set_size(struct daxrdma_file *file, uint64_t size);
/* FILE, if it is still at the path it was opened by, takes the name PATH in
 * the same export, atomically replacing a file there (rename(2)); FILE
 * stays open. -ENOENT if another file is at its path now; -EOPNOTSUPP if
 * the daemon has no RENAME. Needs DAXRDMA_O_RDWR. */
int daxrdma_rename(struct daxrdma_file *file, const char *path);
/* FILE, if it is still at that path, loses its name (unlink(2)); it stays
 * open, and its data stays until every handle on it is closed. */
int daxrdma_remove(struct daxrdma_file *file);

enum daxrdma_iomode {
	DAXRDMA_READ = 1,
	DAXRDMA_RW = 2,
};

/*
 * Get a layout on [OFF, OFF+LEN) (multiples of 4096, inside the file). While
 * a local process uses the file or other clients' layouts are recalled, this
 * retries until the client's timeout, then fails with -EAGAIN.
 */
int daxrdma_layout_get(struct daxrdma_file *file, uint64_t off, uint64_t len, int iomode,
		       struct daxrdma_layout **out);
/* Return the layout (if the daemon still has it) and free the handle. */
int daxrdma_layout_return(struct daxrdma_layout **layout);

/* How daxrdma_commit makes writes persistent on a layout. */
enum daxrdma_persist {
	/* A COMMIT message: the daemon flushes (in bounce mode, copies in). */
	DAXRDMA_PERSIST_COMMIT = 1,
	/* One-sided, where the export declares that NIC writes are persistent
	 * once placed (daxrdmad.conf(5), persistence): an RDMA READ after the
	 * writes on the same QP, which completes only once they are placed. */
	DAXRDMA_PERSIST_READ_AFTER_WRITE = 2,
	/* One-sided, the same ground, by RDMA FLUSH (placement type
	 * persistent) of the range: where the library was built with an
	 * rdma-core that has it (45 and later), the QP takes it and the daemon
	 * registered the layout's MR for it. */
	DAXRDMA_PERSIST_FLUSH = 3,
};

struct daxrdma_layout_info {
	uint64_t off, len;   /* file range */
	uint64_t raddr;      /* remote address of file offset OFF */
	uint32_t rkey;
	int iomode;
	bool bounce;         /* data reaches the file at commit or return */
	bool recalled;       /* recalled or returned: no more I/O on this stateid */
	int persist;         /* enum daxrdma_persist: what daxrdma_commit does here */
};
int daxrdma_layout_info(const struct daxrdma_layout *layout, struct daxrdma_layout_info *info);

/* RDMA WRITE/READ of LEN bytes at file offset OFF, inside the layout. */
int daxrdma_write(struct daxrdma_layout *layout, uint64_t off, const void *buf, size_t len);
int daxrdma_read(struct daxrdma_layout *layout, uint64_t off, void *buf, size_t len);
/* Make [OFF, OFF+LEN) of what was written durable in the file, by the
 * layout's method (daxrdma_layout_info's persist). */
int daxrdma_commit(struct daxrdma_layout *layout, uint64_t off, uint64_t len);
/* The same, and *METHOD says which enum daxrdma_persist it used. */
int daxrdma_commit_method(struct daxrdma_layout *layout, uint64_t off, uint64_t len, int *method);

#ifdef __cplusplus
}
#endif
#endif
