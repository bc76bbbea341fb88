/*
 * daxrdma wire protocol: libdaxrdma-client <-> daxrdmad control messages,
 * carried as SEND/RECV on the RC QP that rdma_cm sets up. Data never travels
 * here: clients RDMA READ/WRITE the (raddr, rkey) of a layout. See
 * daxrdma-protocol(7).
 *
 * Every message is a struct dxp_hdr followed by the body of its opcode and,
 * for OPEN and ERROR, trailing bytes whose lengths the body gives. All fields
 * are little-endian and fixed-width; reserved fields are zero on send and
 * checked on receipt. A message shorter than its opcode's minimum length
 * (dxp_min_len()) is rejected before any field is read.
 *
 * Requests carry a tag the reply echoes; a reply has DXP_F_REPLY set and the
 * request's opcode, or is an ERROR. LAYOUT_RECALL and BYE are unsolicited
 * (tag 0) and are not answered; a client answers a recall by LAYOUT_RETURN.
 *
 * Credits: the server grants `credits` requests in flight in its HELLO reply;
 * the client grants `credits` unanswered recalls in its HELLO request. Each
 * side reposts a receive buffer before it sends the answer to what arrived in
 * it, so a reply (or a LAYOUT_RETURN) frees one credit.
 *
 * History:
 *   1  first version; FILE_RECALL and RECALL_RETURN added behind the
 *      DXP_FEAT_FILE_RECALL feature bit of HELLO (a client that does not ask
 *      gets one LAYOUT_RECALL per layout, as before). One-sided persistence
 *      behind DXP_FEAT_REMOTE_PERSIST: OPEN replies mark the files whose
 *      export declares it (DXP_ATTR_REMOTE_PERSIST); COMMIT stays valid
 *      everywhere.
 *      The file's identity behind DXP_FEAT_FILE_ID: an OPEN reply with
 *      DXP_ATTR_FILE_ID is followed by a struct dxp_file_id, so that a
 *      client that opens a file again by its path after a reconnect knows
 *      whether it is still the file it had, and not one renamed over it.
 *      RDMA FLUSH behind DXP_FEAT_FLUSH: a LAYOUT_GET reply's flags (a
 *      reserved field before) say whether the layout takes it.
 */
#ifndef DAXRDMA_PROTO_H
#define DAXRDMA_PROTO_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#define DXP_MAGIC 0x50525844u /* "DXRP" as little-endian bytes */
#define DXP_VERSION 1
#define DXP_MAX_MSG 4096u     /* receive buffer size on both sides */
#define DXP_MAX_NAME 255u     /* export name bytes in OPEN */
#define DXP_MAX_PATH 2048u    /* path bytes in OPEN */
#define DXP_MAX_ERRMSG 256u   /* message bytes in ERROR */
#define DXP_PAGE 4096u        /* layouts are aligned to this */

enum dxp_op {
	DXP_HELLO = 1,
	DXP_OPEN = 2,
	DXP_CLOSE = 3,
	DXP_STAT = 4,
	DXP_ALLOCATE = 5,
	DXP_LAYOUT_GET = 6,
	DXP_LAYOUT_RETURN = 7,
	DXP_LAYOUT_RECALL = 8, /* server -> client, unsolicited */
	DXP_COMMIT = 9,
	DXP_ERROR = 10,        /* reply to any request */
	DXP_BYE = 11,          /* either way, unsolicited */
	DXP_FILE_RECALL = 12,  /* server -> client, unsolicited (DXP_FEAT_FILE_RECALL) */
	DXP_RECALL_RETURN = 13, /* everything one FILE_RECALL asked for, in one request */
	DXP_RENAME = 14,       /* an open file takes another name (DXP_FEAT_RENAME) */
	DXP_REMOVE = 15,       /* an open file loses its name (DXP_FEAT_RENAME) */
	DXP_OP_MAX
};

enum dxp_hdr_flags {
	DXP_F_REPLY = 1u << 0,
};

/* Stable error codes: never renumbered, only added to. */
enum dxp_err {
	DXP_E_OK = 0,
	DXP_E_MALFORMED = 1,     /* length, reserved field or value out of range */
	DXP_E_VERSION = 2,       /* HELLO with an unknown magic or version */
	DXP_E_PROTO = 3,         /* a message not valid now (no HELLO yet, a reply as request) */
	DXP_E_ACCESS = 4,        /* the export's ACL denies this client */
	DXP_E_NOENT = 5,         /* no such export or file */
	DXP_E_ROFS = 6,          /* RW on a read_only export */
	DXP_E_RANGE = 7,         /* outside the file, unaligned, or too large */
	DXP_E_BUSY_LOCAL = 8,    /* a local process uses the file: retry later */
	DXP_E_RECALL_PENDING = 9,/* conflicting layouts are being recalled: retry later */
	DXP_E_CONFLICT = 10,     /* you hold an overlapping layout: return it first */
	DXP_E_STALE_STATEID = 11,/* no such layout (returned, recalled, fenced) */
	DXP_E_BADHANDLE = 12,    /* no such open file */
	DXP_E_LIMIT = 13,        /* a daemon limit (layouts, layout size) */
	DXP_E_NOSPC = 14,        /* the file system is full */
	DXP_E_NOTSUPP = 15,      /* not possible on this export or file type */
	DXP_E_IO = 16,           /* the daemon failed (see its log) */
	DXP_E_EXIST = 17,        /* OPEN with EXCL of a file that exists */
	DXP_E_MAX
};

enum dxp_iomode {
	DXP_IOMODE_READ = 1,
	DXP_IOMODE_RW = 2,
};

enum dxp_open_flags {
	DXP_OPEN_RW = 1u << 0,
	DXP_OPEN_CREATE = 1u << 1,
	DXP_OPEN_EXCL = 1u << 2,
	DXP_OPEN_TRUNC = 1u << 3,
	DXP_OPEN_ALL = (1u << 4) - 1,
};

enum dxp_attrs {
	DXP_ATTR_DAX = 1u << 0,       /* the file is on persistent memory */
	DXP_ATTR_READ_ONLY = 1u << 1, /* the export is read_only */
	/* Persist one-sided (DXP_FEAT_REMOTE_PERSIST): NIC writes to this file's
	 * layouts are persistent once placed, and RW layouts address the file
	 * itself, so an RDMA READ after the writes on the same QP (or an RDMA
	 * FLUSH) persists them with no COMMIT. */
	DXP_ATTR_REMOTE_PERSIST = 1u << 2,
	DXP_ATTR_FILE_ID = 1u << 3,   /* a struct dxp_file_id follows (DXP_FEAT_FILE_ID) */
};

enum dxp_features {
	DXP_FEAT_REMOTE_PERSIST = 1u << 0, /* OPEN says which files may be persisted one-sided */
	DXP_FEAT_FILE_RECALL = 1u << 1, /* recalls come as FILE_RECALL, one per handle and range */
	DXP_FEAT_FILE_ID = 1u << 2,     /* OPEN replies say which file they opened */
	DXP_FEAT_RENAME = 1u << 3,      /* RENAME and REMOVE */
	/* A return without CLEAN persists the layout before its OK (a COMMIT of
	 * it); without this feature, an OK says nothing of persistence. */
	DXP_FEAT_RETURN_PERSISTS = 1u << 4,
	/* RDMA FLUSH (placement type persistent) on the layouts whose
	 * LAYOUT_GET reply says DXP_LAYOUT_FLUSH: their MR takes it. */
	DXP_FEAT_FLUSH = 1u << 5,
};

enum dxp_layout_flags {
	/* The layout's MR was registered for RDMA FLUSH to persistence
	 * (IBV_ACCESS_FLUSH_PERSISTENT): an RDMA FLUSH of a range persists what
	 * the QP wrote there. Only on files marked DXP_ATTR_REMOTE_PERSIST, and
	 * only for clients granted DXP_FEAT_FLUSH; a READ after the writes
	 * persists them as well. */
	DXP_LAYOUT_FLUSH = 1u << 0,
};

enum dxp_recall_reason {
	DXP_RECALL_LOCAL = 1,    /* a local open, truncate or hole punch */
	DXP_RECALL_ADMIN = 2,    /* daxrdmactl recall */
	DXP_RECALL_CONFLICT = 3, /* another client wants the range RW */
	DXP_RECALL_EXPORT = 4,   /* a reload removed the export or took this client's access */
	DXP_RECALL_SHUTDOWN = 5,
};

enum dxp_mr_mode {
	DXP_MR_PINNED = 1, /* the rkey addresses the file's pages */
	DXP_MR_ODP = 2,    /* same, registered on demand */
	DXP_MR_BOUNCE = 3, /* the rkey addresses a staging buffer; COMMIT copies it in */
};

struct dxp_hdr {
	uint8_t op;       /* enum dxp_op */
	uint8_t flags;    /* enum dxp_hdr_flags */
	uint16_t reserved;
	uint32_t len;     /* whole message, header included */
	uint64_t tag;     /* chosen by the requester, echoed in the reply */
};
static_assert(sizeof(struct dxp_hdr) == 16, "dxp_hdr is 16 bytes");

struct dxp_stateid {
	uint64_t id;
	uint32_t seq;
	uint32_t reserved;
};
static_assert(sizeof(struct dxp_stateid) == 16, "dxp_stateid is 16 bytes");

struct dxp_hello {        /* request and reply */
	uint32_t magic;
	uint16_t version;
	uint16_t reserved0;
	uint32_t credits;     /* request: recalls the client can take; reply: requests in flight */
	uint32_t max_msg;
	uint64_t features;    /* request: wanted; reply: granted */
	uint32_t recall_timeout_ms; /* reply only */
	uint32_t reserved1;
	uint64_t max_layout_size;   /* reply only */
};
static_assert(sizeof(struct dxp_hello) == 40, "dxp_hello is 40 bytes");

struct dxp_open_req {     /* followed by export name, then path (no NULs) */
	uint32_t flags;       /* enum dxp_open_flags */
	uint16_t export_len;
	uint16_t path_len;
	uint32_t mode;        /* permission bits for DXP_OPEN_CREATE */
	uint32_t reserved;
};
static_assert(sizeof(struct dxp_open_req) == 16, "dxp_open_req is 16 bytes");

struct dxp_open_rep {
	uint64_t fh;
	uint64_t size;
	uint32_t attrs;       /* enum dxp_attrs */
	uint32_t mr_mode;     /* enum dxp_mr_mode */
	/* then, with DXP_ATTR_FILE_ID, a struct dxp_file_id */
};
static_assert(sizeof(struct dxp_open_rep) == 24, "dxp_open_rep is 24 bytes");

/* Which file an OPEN opened (DXP_FEAT_FILE_ID): its inode number and its
 * inode generation (FS_IOC_GETVERSION) where the file system keeps one,
 * else its birth time in ns, else 0; both 0 for a device-DAX export's file
 * (the device). An inode number that a new file takes after the old one
 * was deleted comes with another generation. Not the device number: that
 * may change when the server reboots. */
struct dxp_file_id {
	uint64_t ino;
	uint64_t gen;
};
static_assert(sizeof(struct dxp_file_id) == 16, "dxp_file_id is 16 bytes");

struct dxp_fh_req {       /* CLOSE, STAT and REMOVE */
	uint64_t fh;
};
static_assert(sizeof(struct dxp_fh_req) == 8, "dxp_fh_req is 8 bytes");

/* RENAME: the file open as FH, if it is still at the path it was opened by,
 * takes the name PATH (path_len bytes follow) in the handle's export,
 * atomically replacing a file there (rename(2)); the handle keeps the file.
 * REMOVE (a struct dxp_fh_req): the file loses its name (unlink(2)); open
 * handles and layouts keep it until they close. Both need an RW handle,
 * and answer NOENT if the file is no longer at that path. */
struct dxp_rename_req {
	uint64_t fh;
	uint16_t path_len;
	uint16_t reserved;
	uint32_t reserved1;
};
static_assert(sizeof(struct dxp_rename_req) == 16, "dxp_rename_req is 16 bytes");

struct dxp_stat_rep {
	uint64_t size;
	uint64_t blocks;      /* 512-byte units */
	uint64_t mtime_ns;
	uint32_t blksize;
	uint32_t attrs;
};
static_assert(sizeof(struct dxp_stat_rep) == 32, "dxp_stat_rep is 32 bytes");

enum dxp_allocate_flags {
	/* The size becomes exactly off + len (len may be 0): blocks past it are
	 * freed once no layout covers them. */
	DXP_ALLOC_SETSIZE = 1u << 0,
};

struct dxp_allocate_req { /* the file grows to at least off + len, allocated */
	uint64_t fh;
	uint64_t off;
	uint64_t len;
	uint32_t flags;       /* enum dxp_allocate_flags */
	uint32_t reserved;
};
static_assert(sizeof(struct dxp_allocate_req) == 32, "dxp_allocate_req is 32 bytes");

struct dxp_allocate_rep {
	uint64_t size;
};
static_assert(sizeof(struct dxp_allocate_rep) == 8, "dxp_allocate_rep is 8 bytes");

struct dxp_layout_get_req {
	uint64_t fh;
	uint64_t off;         /* page-aligned */
	uint64_t len;         /* page-aligned, not 0 */
	uint32_t iomode;      /* enum dxp_iomode */
	uint32_t reserved;
};
static_assert(sizeof(struct dxp_layout_get_req) == 32, "dxp_layout_get_req is 32 bytes");

struct dxp_layout_get_rep {
	struct dxp_stateid stateid;
	uint64_t off;
	uint64_t len;
	uint64_t raddr;       /* remote address of file offset `off` */
	uint32_t rkey;        /* covers [raddr, raddr + len) and nothing else */
	uint32_t iomode;
	uint32_t mr_mode;     /* enum dxp_mr_mode */
	uint32_t flags;       /* enum dxp_layout_flags (0 unless DXP_FEAT_FLUSH) */
};
static_assert(sizeof(struct dxp_layout_get_rep) == 56, "dxp_layout_get_rep is 56 bytes");

enum dxp_return_flags {
	/* The client wrote nothing into the layout(s) since its last COMMIT of
	 * what it wrote: a bounce layout need not be copied back. Without it
	 * the daemon copies a returned bounce RW layout back whole. */
	DXP_RETURN_CLEAN = 1u << 0,
};

struct dxp_layout_return_req {
	struct dxp_stateid stateid;
	uint32_t flags;       /* enum dxp_return_flags */
	uint32_t reserved;
};
static_assert(sizeof(struct dxp_layout_return_req) == 24, "dxp_layout_return_req is 24 bytes");

struct dxp_layout_recall {
	struct dxp_stateid stateid;
	uint64_t off;
	uint64_t len;
	uint32_t reason;      /* enum dxp_recall_reason */
	uint32_t timeout_ms;  /* fenced if not returned within this */
};
static_assert(sizeof(struct dxp_layout_recall) == 40, "dxp_layout_recall is 40 bytes");

/* All of the client's layouts granted on handle FH that overlap [off,
 * off + len) and whose stateid id is at most MAX_ID: COUNT of them. A layout
 * granted later is not part of it. Answered by one RECALL_RETURN (or by a
 * LAYOUT_RETURN of each); the deadline is for the whole recall. */
struct dxp_file_recall {
	uint64_t recall_id;
	uint64_t fh;
	uint64_t off;
	uint64_t len;
	uint64_t max_id;
	uint32_t reason;      /* enum dxp_recall_reason */
	uint32_t timeout_ms;  /* fenced if not all returned within this */
	uint32_t count;
	uint32_t reserved;
};
static_assert(sizeof(struct dxp_file_recall) == 56, "dxp_file_recall is 56 bytes");

struct dxp_recall_return_req {
	uint64_t recall_id;   /* every layout of that FILE_RECALL not returned yet goes back */
	uint32_t flags;       /* enum dxp_return_flags, for all of them */
	uint32_t reserved;
};
static_assert(sizeof(struct dxp_recall_return_req) == 16, "dxp_recall_return_req is 16 bytes");

struct dxp_commit_req {   /* persist [off, off + len) of the layout's file range */
	struct dxp_stateid stateid;
	uint64_t off;
	uint64_t len;
};
static_assert(sizeof(struct dxp_commit_req) == 32, "dxp_commit_req is 32 bytes");

struct dxp_error {        /* followed by msg_len bytes of text */
	uint32_t code;        /* enum dxp_err */
	uint16_t msg_len;
	uint16_t reserved;
};
static_assert(sizeof(struct dxp_error) == 8, "dxp_error is 8 bytes");

struct dxp_bye {
	uint32_t reason;      /* enum dxp_err: why the sender is going away; 0 normal */
	uint32_t reserved;
};
static_assert(sizeof(struct dxp_bye) == 8, "dxp_bye is 8 bytes");

#endif
