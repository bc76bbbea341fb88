/* Inside libdaxrdma-client: the handles' structs and the message engine. */
#ifndef DX_CLIENT_INTERNAL_H
#define DX_CLIENT_INTERNAL_H

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/daxrdma.h"
#include "common/msgslots.h"
#include "common/proto.h"
#include "common/queue.h"

#define DX_EXPORT __attribute__((visibility("default")))

#define DXC_RECALL_CREDITS 16u             /* recalls the daemon may have outstanding */
#define DXC_RECV (DXC_RECALL_CREDITS + 4u) /* + our one reply in flight + BYE + slack */
#define DXC_SEND 4u
#define DXC_POLL_BUDGET 32u               /* completions handled per look at the CQ */
#define DXC_ARM_TRIES 4u                   /* looks after arming, before a call leaves the rest */
#define DXC_FLUSH_WAIT_MS 100              /* for the flushes of RDMA that timed out (a NIC: microseconds) */
#define DXC_MAX_IDLE_MSGS (2u * DXC_RECV)  /* messages in a row that change nothing: then a flood */
#define DXC_STAGE_SLOTS 4u
#define DXC_STAGE_SLOT (1u << 20)          /* RDMA chunk through the staging buffer */
#define DXC_DEFAULT_PORT "20049"

enum dxc_layout_state {
	DXC_LAYOUT_VALID,
	DXC_LAYOUT_RECALLED, /* the daemon wants it back: no new I/O */
	DXC_LAYOUT_RETURNED, /* the stateid is dead; the handle waits for daxrdma_layout_return() */
};

struct daxrdma_layout {
	TAILQ_ENTRY(daxrdma_layout) link;        /* in file->layouts */
	TAILQ_ENTRY(daxrdma_layout) recall_link; /* in client->recalled */
	struct daxrdma_file *file;
	struct dxp_stateid sid;
	uint64_t off, len, raddr;
	uint32_t rkey;
	int iomode;
	uint32_t mr_mode;
	bool flush;               /* its MR takes RDMA FLUSH (DXP_LAYOUT_FLUSH) */
	enum dxc_layout_state state;
	bool recall_queued;
	bool in_run;              /* dxc_handle_recalls() holds it: its memory stays until the run ends */
	unsigned int pins;        /* calls that use it across a recall callback: the same */
	bool gone;                /* ... though the application closed its file or returned it meanwhile */
	bool recalled_again;      /* ... and got it again, and it was recalled again: queued at the end */
	uint64_t run_sid;         /* the stateid id it had when the run took it */
	bool return_now;          /* dxc_handle_recalls(): the library gives it back */
	int recall_reason;
	uint64_t recall_id;       /* the FILE_RECALL it is part of (0: a LAYOUT_RECALL) */
	uint64_t dirty_lo, dirty_hi; /* written and not committed since: [lo, hi), empty if equal */
	bool unsure;              /* went back with writes not known persistent: never got again */
};

/* Nothing written into L since it was last committed. */
static inline bool dxc_layout_clean(const struct daxrdma_layout *l)
{
	return l->dirty_lo == l->dirty_hi;
}

/* The layouts of one recall, while their callbacks run (recall_link). */
TAILQ_HEAD(dxc_run, daxrdma_layout);

struct daxrdma_file {
	TAILQ_ENTRY(daxrdma_file) link;
	struct daxrdma_client *c;
	uint64_t fh;
	char *export_name, *path; /* what daxrdma_reconnect() opens again */
	bool stale;               /* not open again after a reconnect: -ESTALE */
	struct dxp_file_id id;    /* which file its first OPEN opened (DXP_FEAT_FILE_ID) */
	bool has_id;              /* the daemon said */
	bool rw;
	bool remote_persist;      /* OPEN said DXP_ATTR_REMOTE_PERSIST */
	unsigned int pins;        /* calls that use it across a recall callback: freed after them */
	bool closed;              /* ... though a callback closed it meanwhile */
	TAILQ_HEAD(, daxrdma_layout) layouts;
};

struct daxrdma_client {
	struct daxrdma_client_opts opts;
	char *host, *port;              /* of the last daxrdma_connect(), for daxrdma_reconnect() */
	struct rdma_event_channel *ec;
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_comp_channel *ch;
	struct ibv_cq *cq;
	struct dx_msgslots slots;       /* DXC_RECV receive, then DXC_SEND send slots */
	uint8_t *stage;                 /* DXC_STAGE_SLOTS * DXC_STAGE_SLOT */
	struct ibv_mr *stage_mr;
	int epfd;                       /* completion channel + rdma_cm channel + more_fd */
	int more_fd;                    /* readable: completions left for the next call (an eventfd) */
	unsigned int idle_msgs;         /* messages since the last that changed anything */
	unsigned int raw_requests;      /* sent by dxc_send_raw(): their replies are no flood */
	bool connected, broken;
	bool device_lost;               /* DEVICE_REMOVAL: free everything on the device now */
	bool closing;                   /* in daxrdma_client_delete(): a disconnect is expected */
	char why_broken[128];
	uint64_t next_tag;
	uint32_t credits;               /* from the daemon's HELLO */
	uint32_t recall_timeout_ms;
	uint64_t max_layout_size;
	/* the one outstanding request */
	uint64_t wait_tag;
	bool have_reply;
	uint8_t reply_buf[DXP_MAX_MSG];
	struct dxp_msg reply;
	/* RDMA completions of the data path */
	unsigned int rdma_outstanding;
	int rdma_status;                /* first failed wc status, or IBV_WC_SUCCESS */
	bool in_recall;
	/* A recall of the layout whose grant is the reply in hand (no handle yet). */
	struct dxp_layout_recall early_recall;
	bool early_recall_valid;
	/* The same for a FILE_RECALL that covers the layout being granted. */
	struct dxp_file_recall early_frecall;
	bool early_frecall_valid;
	uint64_t lget_fh;               /* the handle of the LAYOUT_GET in flight */
	bool file_recall;               /* the daemon sends FILE_RECALL */
	bool rename;                    /* ... and takes RENAME and REMOVE */
	bool return_persists;           /* ... and persists a dirty return before its OK */
	bool remote_persist;            /* the daemon marks files for one-sided persistence */
	struct ibv_qp_ex *qpx;          /* the QP's ibv_wr_* interface, where it takes RDMA FLUSH */
	bool flush;                     /* ... and the daemon marks the layouts whose MR takes it */
	TAILQ_HEAD(, daxrdma_file) files;
	TAILQ_HEAD(, daxrdma_layout) recalled;
};

void dxc_log(const struct daxrdma_client *c, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int64_t dxc_now_ms(void);
/* Send REQ (op, body, strings set) and wait for its reply into *REP (valid
 * until the next call). The daemon's ERROR becomes its -errno; *CODE, if not
 * NULL, gets the protocol code (DXP_E_OK on success). */
int dxc_call(struct daxrdma_client *c, struct dxp_msg *req, const struct dxp_msg **rep, unsigned int *code);
/* The same, waiting no later than DEADLINE (ms, dxc_now_ms()). */
int dxc_call_until(struct daxrdma_client *c, struct dxp_msg *req, const struct dxp_msg **rep, unsigned int *code,
		   int64_t deadline);
/* Work through completions until DEADLINE (ms, dxc_now_ms()) or until DONE()
 * is true; 0, -ETIMEDOUT, or -ENOTCONN when the connection broke. */
int dxc_progress(struct daxrdma_client *c, int64_t deadline, bool (*done)(struct daxrdma_client *));
/* A message from the daemon, LEN bytes in BUF: a reply is kept for
 * dxc_call(), a recall marks its layout, BYE breaks the connection. */
void dxc_on_message(struct daxrdma_client *c, const uint8_t *buf, uint32_t len);
/* Mark L recalled by the daemon (by FILE_RECALL RECALL_ID, or 0) and queue
 * it for dxc_handle_recalls(). */
void dxc_layout_recalled(struct daxrdma_layout *l, uint32_t reason, uint64_t recall_id);
/* Whether FILE_RECALL R covers layout L of handle FH. */
bool dxc_file_recall_covers(const struct dxp_file_recall *r, uint64_t fh, const struct daxrdma_layout *l);
/* Run recall callbacks and return recalled layouts (not re-entered). */
void dxc_handle_recalls(struct daxrdma_client *c);
/* Send LAYOUT_RETURN for L unless already returned. */
int dxc_layout_send_return(struct daxrdma_layout *l);
/* What the answer RET to a return of L says of L's writes: persistent (0,
 * with RETURN_PERSISTS), or not known to be (unsure). */
void dxc_layout_returned(struct daxrdma_layout *l, int ret);
/* Unlink L from its file and the recall queue and free it (or, while a
 * recall run holds it, mark it gone: the run frees it). */
void dxc_layout_free(struct daxrdma_layout *l);
/* OPEN F again on a new connection (its path, read-only or RDWR, never
 * creating or truncating); on failure F is stale. */
int dxc_file_reopen(struct daxrdma_file *f);
void dxc_break(struct daxrdma_client *c, const char *why);
/* The same, and the QP goes to the error state: nothing more arrives. */
void dxc_give_up(struct daxrdma_client *c, const char *why);

/*
 * For tests only (not exported): RDMA WRITE (write true) or READ of LEN bytes
 * (<= DXC_STAGE_SLOT) from the staging buffer to any RADDR/RKEY, as a
 * misbehaving client would. Returns the work completion status
 * (IBV_WC_SUCCESS, IBV_WC_REM_ACCESS_ERR, ...) or -errno.
 */
int dxc_rdma_raw(struct daxrdma_client *c, bool write, uint64_t raddr, uint32_t rkey, void *buf, size_t len);
/* An RDMA FLUSH to persistence of [RADDR, RADDR+LEN) under RKEY (c->qpx),
 * waited for: its wc status, or -errno. */
int dxc_rdma_flush(struct daxrdma_client *c, uint64_t raddr, uint32_t rkey, uint64_t len);
/*
 * For tests only: SEND LEN raw bytes (<= DXC_STAGE_SLOT, so more than a
 * message slot holds) as a hostile peer would, and wait for the reply that
 * carries TAG into *REP. 0, -ENOTCONN when the daemon hung up instead, or
 * -ETIMEDOUT.
 */
int dxc_call_raw(struct daxrdma_client *c, const void *bytes, size_t len, uint64_t tag, const struct dxp_msg **rep);
/*
 * For tests only: SEND LEN raw bytes and wait for the send to complete, not
 * for a reply (replies that nobody waits for are logged as unexpected).
 */
int dxc_send_raw(struct daxrdma_client *c, const void *bytes, size_t len);
/* Post RDMA ops for up to DXC_STAGE_SLOTS chunks of the staging buffer;
 * used by io.c, which then waits with dxc_rdma_wait(). */
int dxc_rdma_chunks(struct daxrdma_client *c, bool write, uint64_t raddr, uint32_t rkey, size_t len);
/*
 * Wait until every RDMA request posted is complete: 0 (c->rdma_status says
 * how they ended), or an error. A call returns only when nothing it posted
 * can still read or write memory (issue 26 §2): requests not complete
 * within the client's timeout are flushed (the QP goes to the error state,
 * or is destroyed if even the flushes do not come within DXC_FLUSH_WAIT_MS)
 * and the connection is given up: -ETIMEDOUT.
 */
int dxc_rdma_wait(struct daxrdma_client *c);

#endif
