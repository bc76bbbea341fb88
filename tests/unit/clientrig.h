/*
 * libdaxrdma-client's real code (its static test build) against a scripted
 * daemon on the fake verbs and rdma_cm (fakeverbs.h, fakecm.h): the rig
 * answers every request the client sends as daxrdmad would, keeps the
 * remote files as buffers that RDMA WRITEs and READs really reach (through
 * the rkey of a granted layout, else a remote access error), and lets a
 * test stall RDMA, hold replies and send recalls, byes and rdma_cm events.
 * For the client's unit tests and its stateful fuzzer.
 */
#ifndef DX_CLIENTRIG_H
#define DX_CLIENTRIG_H

#include <stdbool.h>
#include <stdint.h>

#include "client/client_internal.h"
#include "fakecm.h"

#define CR_FILES 8u
#define CR_FILE_SIZE (64u << 10)
#define CR_LAYOUTS 64u
#define CR_HANDLES 64u

struct cr_file {
	char path[32];          /* "" : no file */
	uint8_t data[CR_FILE_SIZE];    /* what RDMA reached */
	uint8_t durable[CR_FILE_SIZE]; /* ... and what of it was persisted (COMMIT, a return without CLEAN) */
	uint64_t size;
	uint64_t ino;           /* its identity: a file made again at a path gets a new one */
	bool unlinked;          /* another file took its path; handles that have it keep it */
};

struct cr_layout {
	uint64_t id;
	unsigned int file;
	uint64_t fh;            /* the handle it was granted through */
	uint64_t off, len;
	uint32_t rkey;
	bool live;              /* granted and not returned */
	bool rw;
	bool recalled;          /* a recall of it was sent */
	uint64_t recall_id;     /* the FILE_RECALL it is in (0: none) */
};

struct crig {
	struct daxrdma_client *c;
	struct fv_peer *p;          /* the connection's peer, once the client connected */
	struct cr_file files[CR_FILES];
	int handle_file[CR_HANDLES]; /* of this connection, numbered from 1 as the daemon does; -1: none */
	uint64_t next_fh;
	struct cr_layout layouts[CR_LAYOUTS];
	uint64_t next_layout_id, next_ino, next_recall_id;
	uint32_t next_rkey;
	/* What the test makes the daemon or the NIC do: */
	bool stall_rdma;            /* hold every RDMA request (a stalled responder) */
	bool refuse_connect;
	bool recall_next_grant;     /* a LAYOUT_RECALL right behind the next grant (another client wants it) */
	bool grant_elsewhere;       /* grant the page after the range asked for (a lying daemon) */
	bool old_daemon;            /* at the next HELLO: no RETURN_PERSISTS (a daemon from before it) */
	bool one_sided;             /* grant REMOTE_PERSIST, mark files for it, and mark every layout
				     * DXP_LAYOUT_FLUSH, whether FLUSH was granted or not */
	unsigned int flood;         /* recalls of no layout, one per receive the client posts, this many */
	struct dxp_hello hello;     /* fields not 0 replace those of the HELLO reply (a lying daemon) */
	const char *error_text;     /* the text of every ERROR the daemon sends */
	bool check_payload;         /* every WRITE must carry cr_pattern() of where it lands, or abort */
	unsigned int busy_replies;  /* answer the next this many requests BUSY_LOCAL (a local process has the file) */
	bool silent_after_busy;     /* ... and then answer none */
	unsigned int requests;      /* requests the client sent */
	/* Messages waiting for the client to post a receive (a NIC retries on
	 * RNR until it does), oldest first. */
	struct { uint8_t bytes[DXP_MAX_MSG]; size_t len; } pending[32];
	unsigned int n_pending;
};

/* A client (TIMEOUT_MS, FLAGS, RECALL callback with ARG) of the rig's
 * daemon, which has no file yet: not connected (cr_new), or connected. */
struct crig *cr_new(int timeout_ms, unsigned int flags, daxrdma_recall_fn recall, void *arg);
struct crig *cr_up(int timeout_ms, unsigned int flags, daxrdma_recall_fn recall, void *arg);
/* The client's log, at LOG_DEBUG and up: the last messages, oldest first. */
extern char cr_log[16][512];
extern unsigned int cr_n_log;
void cr_down(struct crig *r);
/* The rig's file at PATH (made empty if MAKE), or NULL. */
struct cr_file *cr_file(struct crig *r, const char *path, bool make);
/* A local process puts another (empty) file at PATH, as a rename over it
 * does: the old one stays with the handles that have it. The new file, or
 * NULL (no file at PATH, or no room). */
struct cr_file *cr_replace(struct crig *r, const char *path);
/* The daemon's layout ID, if it is live (granted and not returned). */
struct cr_layout *cr_layout(struct crig *r, uint64_t id);
/* The daemon sends LAYOUT_RECALL of layout ID (reason CONFLICT). */
void cr_recall(struct crig *r, uint64_t id);
/* The daemon sends FILE_RECALL of every live layout of handle FH (reason
 * LOCAL): how many it covers. */
unsigned int cr_file_recall(struct crig *r, uint64_t fh);
/* The daemon sends BYE (REASON, a protocol code). */
void cr_bye(struct crig *r, unsigned int reason);
/* The bytes a write of LEN at OFF of the file of identity INO carries when
 * the payload is checked: each 8-byte word says where it belongs. */
void cr_pattern(uint64_t ino, uint64_t off, void *buf, size_t len);

#endif
