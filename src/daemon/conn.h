/*
 * Client connections: one rdma_cm id, RC QP, CQ and completion channel each,
 * driven by the event loop. Control messages (proto/daxrdma_proto.h) arrive
 * in registered receive slots; replies leave from send slots. A connection
 * owns its open handles and layouts and releases them when it goes.
 *
 * States:
 *   ACCEPTING  rdma_accept sent; a HELLO may already arrive
 *   HELLO      established; HELLO due DX_HELLO_TIMEOUT_MS after the request
 *   READY      serving requests; probed by a keepalive when silent
 *   CLOSING    layouts returned or fenced, disconnect sent; the verbs
 *              objects go at DISCONNECTED or at the reap deadline, the
 *              struct with its last layout (a copy-back may still run)
 */
#ifndef DX_CONN_H
#define DX_CONN_H

#include <event2/event.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "common/msgslots.h"
#include "common/proto.h"
#include "common/queue.h"

#define DX_SRV_CREDITS 16u        /* requests a client may have in flight */
#define DX_SRV_RECV (DX_SRV_CREDITS + 2u) /* + an unsolicited BYE + slack */
#define DX_MAX_RECALL_CREDITS 64u
#define DX_SRV_SEND (DX_SRV_CREDITS + DX_MAX_RECALL_CREDITS + 2u)
#define DX_HELLO_TIMEOUT_MS 5000
#define DX_REAP_TIMEOUT_MS 3000
#define DX_MAX_MALFORMED 3u       /* then the connection is dropped */
#define DX_CQ_BUDGET 8            /* completions handled per turn */
#define DX_WR_KEEPALIVE (1ull << 33) /* wr_id of the keepalive probe */
#define DX_STAGING_POOL 8u        /* staging buffers kept per connection for reuse */
#define DX_STAGING_POOL_BYTES (64ull << 20) /* ... holding this much at most */
#define DX_LAYOUT_BUCKETS 1024u   /* a connection's layouts hashed by id (calloc makes them empty) */

struct dxd;
struct dx_export;
struct dx_exports;
struct dx_file;
struct dx_layout;
struct dx_recall;
struct dx_work;

enum dx_conn_state { CONN_ACCEPTING, CONN_HELLO, CONN_READY, CONN_CLOSING };

struct dx_handle {
	TAILQ_ENTRY(dx_handle) link;
	uint64_t fh;
	struct dx_file *f;               /* NULL once revoked */
	/* The export it was opened through, which decides its access (acl,
	 * read_only) whatever other exports the same file is in. NULL once a
	 * reload dropped the export. */
	const struct dx_export *x;
	char *path;                      /* its file's name beneath X, as opened or renamed (RENAME) */
	bool rw;
	char *revoked;                   /* why a reload took it away (ACCESS until CLOSE) */
	struct dx_work *job;             /* its ALLOCATE in progress: cancelled when the handle goes */
};

struct dx_conn {
	TAILQ_ENTRY(dx_conn) link;       /* in dxd.conns */
	struct dxd *d;
	uint64_t id;
	struct dx_listener *listener;    /* the one it came through */
	bool draining;                   /* its listener is retired: layouts recalled, then closed */
	char peer[64];
	struct sockaddr_storage peer_addr;
	enum dx_conn_state state;
	struct rdma_cm_id *cm;
	struct ibv_pd *pd;               /* its own: its rkeys work on no other QP */
	struct ibv_comp_channel *ch;
	struct ibv_cq *cq;
	struct dx_msgslots slots;        /* DX_SRV_RECV receive, then DX_SRV_SEND send slots */
	struct event *ev_cq, *ev_timer;
	struct event *ev_keepalive;      /* every keepalive_ms: probe if nothing completed meanwhile */
	int64_t heard_ms;                /* the last successful completion (dx_now_ms) */
	int64_t probe_ms;                /* when the probe in flight was posted */
	bool probing;                    /* a keepalive probe is in flight */
	bool cq_more;                    /* the budget ran out: poll again, no channel event */
	uint32_t recall_credits;         /* from the client's HELLO */
	uint32_t recalls_outstanding;    /* sent and not answered: at most recall_credits */
	uint32_t recalls_queued;
	bool file_recall;                /* it takes FILE_RECALL (DXP_FEAT_FILE_RECALL) */
	bool remote_persist;             /* it persists one-sided where OPEN says so (DXP_FEAT_REMOTE_PERSIST) */
	bool file_id;                    /* OPEN replies say which file (DXP_FEAT_FILE_ID) */
	bool flush;                      /* it persists with RDMA FLUSH where a layout takes it (DXP_FEAT_FLUSH) */
	uint64_t next_recall_id;
	TAILQ_HEAD(dx_layout_head, dx_layout) layouts;
	LIST_HEAD(, dx_layout) by_id[DX_LAYOUT_BUCKETS]; /* the same, hashed by id */
	TAILQ_HEAD(dx_recall_head, dx_recall) recall_queue; /* waiting for a recall credit */
	TAILQ_HEAD(, dx_recall) recalls_sent;
	TAILQ_HEAD(, dx_handle) handles;
	uint64_t next_fh;
	unsigned int malformed;
	unsigned int inflight;           /* requests not answered yet (at most DX_SRV_CREDITS) */
	unsigned int n_handles, n_layouts; /* limits.max_{files,layouts}_per_client */
	uint64_t layout_bytes;           /* limits.max_layout_bytes_per_client */
	struct { void *p; uint64_t len; } pool[DX_STAGING_POOL]; /* faulted-in staging, free for reuse */
	unsigned int n_pool;
	uint64_t pool_bytes;
	bool fenced;
	bool qp_dead;                    /* moved to the error state */
	bool qp_gone;                    /* destroyed, and ibv_destroy_qp said so */
	bool qp_unkillable;              /* neither: its rkeys may work (logged once) */
	bool destroyed;                  /* verbs objects gone; freed with its last layout */
	bool said_bye;                   /* the client's BYE: no BYE back */
	struct timespec since;
	uint64_t requests, errors, recalls;
	char close_reason[160];
};

/* The listener's rdma_cm events for connections (CONNECT_REQUEST and all
 * events of accepted ids). */
void dx_conn_cm_event(struct dxd *d, struct rdma_cm_event *ev);

/* Encode and post M; -ENOBUFS if the peer overran its credits. */
int dx_conn_send(struct dx_conn *c, struct dxp_msg *m);
/* Answer request TAG (opcode OP), now or when its background job ended:
 * REP (its body filled) if CODE is DXP_E_OK, else an ERROR saying ERRMSG. */
void dx_conn_answer(struct dx_conn *c, uint32_t op, uint64_t tag, unsigned int code, const char *errmsg,
		    struct dxp_msg *rep);
/* Move C's QP to the error state now (once), or, if that fails, destroy
 * it: nothing the client sends lands, no rkey of its PD works. */
void dx_conn_kill_qp(struct dx_conn *c, const char *why);
/* Whether no rkey of C can work any more (its QP is in error or gone). */
bool dx_conn_rkeys_dead(const struct dx_conn *c);
/* A layout of C was freed: free a destroyed C with its last one. */
void dx_conn_layout_freed(struct dx_conn *c);

/* Give back everything the client holds: its layouts are returned (RW
 * ones persisted, bounce data copied back first, as a job) if PERSIST, else
 * fenced; its handles
 * close. Send BYE(REASON) if it can still hear it, disconnect. Idempotent. */
void dx_conn_close(struct dx_conn *c, uint32_t reason, bool persist, const char *why);
/* A client that did not return a recalled layout in time: the QP goes to
 * error, then the MRs (all synchronously), the client is disconnected and
 * counted; the reaper frees what it held. */
void dx_conn_fence(struct dx_conn *c, const char *why);
/* Close handle H of C: its ALLOCATE in progress, if any, is cancelled
 * (answered, unless C is closing), its file reference dropped, H freed. */
void dx_handle_free(struct dx_conn *c, struct dx_handle *h);
/* At exit, once every layout is back: a probe behind the last replies on
 * every live connection (true if any is out; the loop breaks when they are
 * all in), so that answers already sent are not flushed by the disconnect. */
bool dx_conns_flush(struct dxd *d);
/* After a reload: revoke the handles (and recall the layouts) of clients the
 * acl no longer admits; recall RW layouts on exports that became read_only. */
void dx_conns_reload_access(struct dxd *d);
/* Whether C may still change a file it reaches through export X (a handle's
 * or a layout's): DXP_E_OK, or why not (NOENT: the export is gone (X NULL),
 * ACCESS: its acl no longer admits C, ROFS: read_only). ALLOCATE, COMMIT
 * and the copy-back of bounce data depend on it. */
unsigned int dx_conn_write_refusal(const struct dx_conn *c, const struct dx_export *x);
/* After a reload swapped the exports for NX: every handle and layout
 * follows its export to NX (same name and path), or loses it (NULL). */
void dx_conns_repoint_exports(struct dxd *d, const struct dx_exports *nx);
/* After a reload: keepalive_ms may have changed. */
void dx_conns_rearm_keepalive(struct dxd *d);
/* A reload moved the listen address: OLD's clients get their layouts
 * recalled (reason EXPORT) and nothing new, and go once they hold nothing. */
void dx_conns_drain(struct dxd *d, struct dx_listener *old);
/* Close draining clients that hold nothing any more; free a retired
 * listener with no connection left. The reaper's. */
void dx_conns_drain_check(struct dxd *d);
/* Close and destroy every connection that came through L (all if NULL)
 * now: their layouts are returned, copy-backs go on. */
void dx_conns_destroy_of(struct dxd *d, const struct dx_listener *l);
void dx_conns_destroy_all(struct dxd *d);
struct dx_conn *dx_conn_find(struct dxd *d, const char *id_or_addr);
const char *dx_conn_state_name(enum dx_conn_state s);

#endif
