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
	uint8_t data[CR_FILE_SIZE];
	uint64_t size;
	uint64_t ino;           /* its identity: a file made again at a path gets a new one */
};

struct cr_layout {
	uint64_t id;
	unsigned int file;
	uint64_t off, len;
	uint32_t rkey;
	bool live;              /* granted and not returned */
	bool rw;
};

struct crig {
	struct daxrdma_client *c;
	struct fv_peer *p;          /* the connection's peer, once the client connected */
	struct cr_file files[CR_FILES];
	int handle_file[CR_HANDLES]; /* of this connection, numbered from 1 as the daemon does; -1: none */
	uint64_t next_fh;
	struct cr_layout layouts[CR_LAYOUTS];
	uint64_t next_layout_id, next_ino;
	uint32_t next_rkey;
	/* What the test makes the daemon or the NIC do: */
	bool stall_rdma;            /* hold every RDMA request (a stalled responder) */
	bool refuse_connect;
	bool recall_next_grant;     /* a LAYOUT_RECALL right behind the next grant (another client wants it) */
	bool grant_elsewhere;       /* grant the page after the range asked for (a lying daemon) */
	unsigned int flood;         /* recalls of no layout, one per receive the client posts, this many */
	struct dxp_hello hello;     /* fields not 0 replace those of the HELLO reply (a lying daemon) */
	const char *error_text;     /* the text of every ERROR the daemon sends */
	unsigned int requests;      /* requests the client sent */
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
/* The daemon's layout ID, if it is live (granted and not returned). */
struct cr_layout *cr_layout(struct crig *r, uint64_t id);
/* The daemon sends LAYOUT_RECALL of layout ID (reason CONFLICT). */
void cr_recall(struct crig *r, uint64_t id);

#endif
