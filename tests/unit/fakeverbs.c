#include "fakeverbs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/queue.h"

enum fv_call fv_calls[256];
unsigned int fv_n_calls, fv_fail_dereg, fv_fail_modify_qp, fv_fail_destroy_qp;
void (*fv_on_call)(enum fv_call c);

static void note(enum fv_call c)
{
	if (fv_n_calls < sizeof(fv_calls) / sizeof(fv_calls[0]))
		fv_calls[fv_n_calls++] = c;
	if (fv_on_call)
		fv_on_call(c);
}

/* ---- memory regions ---- */

struct fv_mr {
	struct ibv_mr mr; /* first */
	TAILQ_ENTRY(fv_mr) link;
	bool remote;      /* an rkey that works: remote access */
};

static TAILQ_HEAD(, fv_mr) live_mrs = TAILQ_HEAD_INITIALIZER(live_mrs);
static uint32_t next_rkey = 0x100;

static struct ibv_mr *reg(struct ibv_pd *pd, void *addr, size_t length, unsigned int access)
{
	struct fv_mr *m = calloc(1, sizeof(*m));

	if (!m) {
		errno = ENOMEM;
		return NULL;
	}
	m->mr.pd = pd;
	m->mr.addr = addr;
	m->mr.length = length;
	m->mr.lkey = m->mr.rkey = next_rkey++;
	m->remote = access & (IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_ATOMIC);
	TAILQ_INSERT_TAIL(&live_mrs, m, link);
	note(FV_REG);
	return &m->mr;
}

struct ibv_mr *(ibv_reg_mr)(struct ibv_pd *pd, void *addr, size_t length, int access)
{
	return reg(pd, addr, length, (unsigned int)access);
}

struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length, uint64_t iova, unsigned int access)
{
	return reg(pd, addr, length, access);
}

int ibv_dereg_mr(struct ibv_mr *mr)
{
	struct fv_mr *m = (struct fv_mr *)mr;

	if (fv_fail_dereg && m->remote) {
		fv_fail_dereg--;
		return EBUSY;
	}
	note(FV_DEREG);
	TAILQ_REMOVE(&live_mrs, m, link);
	free(m);
	return 0;
}

unsigned int fv_mrs_live(bool remote_only, void (*fn)(struct ibv_mr *mr, void *arg), void *arg)
{
	struct fv_mr *m, *tmp;
	unsigned int n = 0;

	TAILQ_FOREACH_SAFE(m, &live_mrs, link, tmp) {
		if (remote_only && !m->remote)
			continue;
		n++;
		if (fn)
			fn(&m->mr, arg);
	}
	return n;
}

/* ---- the device, its CQs, channels and QPs ---- */

#define FV_CQ_RING 512u
#define FV_RECV_MAX 64u
#define FV_HELD_MAX 64u

struct fv_channel {
	struct ibv_comp_channel ch; /* first */
	struct ibv_cq *cq;          /* the one CQ the daemon attaches to it */
};

struct fv_cq {
	struct ibv_cq cq; /* first */
	struct ibv_wc wc[FV_CQ_RING];
	unsigned int head, n;
	bool overflowed;
};

struct fv_peer {
	struct rdma_cm_id id;
	struct ibv_qp qp;
	struct fv_cq *cq;
	bool has_qp, qp_error, muted, destroyed;
	struct { uint64_t wr_id; void *addr; uint32_t len; } recv[FV_RECV_MAX]; /* posted, oldest first */
	unsigned int recv_head, n_recv;
	struct { struct ibv_send_wr wr; struct ibv_sge sge; } held[FV_HELD_MAX]; /* RDMA, oldest first */
	unsigned int n_held;
	uint8_t copy[DXP_MAX_MSG];
};

static fv_sent_fn *sent_hook;
static void *sent_arg;
static fv_rdma_fn *rdma_hook;
static void *rdma_arg;
static fv_recv_fn *recv_hook;
static void *recv_arg;
static struct ibv_context device;
static struct ibv_device_attr device_attr = { .max_qp_rd_atom = 16 };

void fv_set_sent_hook(fv_sent_fn *fn, void *arg)
{
	sent_hook = fn;
	sent_arg = arg;
}

void fv_set_recv_hook(fv_recv_fn *fn, void *arg)
{
	recv_hook = fn;
	recv_arg = arg;
}

void fv_set_rdma_hook(fv_rdma_fn *fn, void *arg)
{
	rdma_hook = fn;
	rdma_arg = arg;
}

static struct fv_peer *peer_of_qp(struct ibv_qp *qp)
{
	return (struct fv_peer *)((char *)qp - offsetof(struct fv_peer, qp));
}

static void signal_channel(struct fv_cq *cq)
{
	uint64_t one = 1;

	if (cq->cq.channel && write(cq->cq.channel->fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		abort(); /* an eventfd takes every write */
}

/* A completion for P; none for a muted peer's sends (it never acknowledges). */
static void complete(struct fv_peer *p, uint64_t wr_id, enum ibv_wc_status status, enum ibv_wc_opcode op,
		     uint32_t len)
{
	struct fv_cq *cq = p->cq;

	if (!cq)
		return;
	if (cq->n == FV_CQ_RING) {
		cq->overflowed = true; /* a real CQ overflow is an asynchronous error: a daemon bug */
		return;
	}
	cq->wc[(cq->head + cq->n++) % FV_CQ_RING] = (struct ibv_wc){
		.wr_id = wr_id, .status = status, .opcode = op, .byte_len = len, .qp_num = p->qp.qp_num,
	};
	signal_channel(cq);
}

static int fv_poll_cq(struct ibv_cq *ibcq, int num, struct ibv_wc *wc)
{
	struct fv_cq *cq = (struct fv_cq *)ibcq;
	int got = 0;

	if (cq->overflowed)
		abort(); /* the daemon sized its CQ too small for what it posted */
	while (got < num && cq->n) {
		wc[got++] = cq->wc[cq->head];
		cq->head = (cq->head + 1) % FV_CQ_RING;
		cq->n--;
	}
	return got;
}

static int fv_req_notify_cq(struct ibv_cq *ibcq, int solicited_only)
{
	struct fv_cq *cq = (struct fv_cq *)ibcq;

	if (cq->n) /* what is already there wakes the channel too: no lost wakeup */
		signal_channel(cq);
	return 0;
}

static void flush_recvs(struct fv_peer *p)
{
	while (p->n_recv) {
		complete(p, p->recv[p->recv_head].wr_id, IBV_WC_WR_FLUSH_ERR, IBV_WC_RECV, 0);
		p->recv_head = (p->recv_head + 1) % FV_RECV_MAX;
		p->n_recv--;
	}
}

static void flush_held(struct fv_peer *p)
{
	for (unsigned int i = 0; i < p->n_held; i++)
		complete(p, p->held[i].wr.wr_id, IBV_WC_WR_FLUSH_ERR,
			 p->held[i].wr.opcode == IBV_WR_RDMA_READ ? IBV_WC_RDMA_READ : IBV_WC_RDMA_WRITE, 0);
	p->n_held = 0;
}

static void to_error(struct fv_peer *p)
{
	p->qp_error = true;
	flush_recvs(p);
	flush_held(p);
}

/* RDMA request WR of P ran with STATUS: its completion (an error always
 * has one), and an error moves the QP to the error state. */
static void rdma_done(struct fv_peer *p, const struct ibv_send_wr *wr, int status)
{
	if (status != IBV_WC_SUCCESS || ((wr->send_flags & IBV_SEND_SIGNALED) && !p->muted))
		complete(p, wr->wr_id, (enum ibv_wc_status)status,
			 wr->opcode == IBV_WR_RDMA_READ ? IBV_WC_RDMA_READ : IBV_WC_RDMA_WRITE, 0);
	if (status != IBV_WC_SUCCESS)
		to_error(p);
}

static int post_rdma(struct fv_peer *p, struct ibv_send_wr *wr)
{
	int status = rdma_hook ? rdma_hook(p, wr, rdma_arg) : IBV_WC_SUCCESS;

	if (status != FV_RDMA_HOLD) {
		rdma_done(p, wr, status);
		return 0;
	}
	if (p->n_held == FV_HELD_MAX || wr->num_sge > 1)
		return ENOMEM;
	p->held[p->n_held].wr = *wr;
	if (wr->num_sge)
		p->held[p->n_held].sge = wr->sg_list[0];
	p->held[p->n_held].wr.sg_list = &p->held[p->n_held].sge;
	p->held[p->n_held].wr.next = NULL;
	p->n_held++;
	return 0;
}

unsigned int fv_peer_release(struct fv_peer *p)
{
	unsigned int n = p->n_held;

	for (unsigned int i = 0; i < n && !p->qp_error; i++) {
		int status = rdma_hook(p, &p->held[i].wr, rdma_arg);

		rdma_done(p, &p->held[i].wr, status == FV_RDMA_HOLD ? IBV_WC_SUCCESS : status);
	}
	p->n_held = 0;
	return n;
}

unsigned int fv_peer_held(const struct fv_peer *p)
{
	return p->n_held;
}

static int fv_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	struct fv_peer *p = peer_of_qp(qp);
	struct dxp_msg m;
	const char *why;
	int ret;

	for (; wr; wr = wr->next) {
		if (p->qp_error) {
			complete(p, wr->wr_id, IBV_WC_WR_FLUSH_ERR, IBV_WC_SEND, 0);
			continue;
		}
		if (wr->opcode == IBV_WR_RDMA_WRITE || wr->opcode == IBV_WR_RDMA_READ) {
			ret = post_rdma(p, wr);
			if (ret) {
				*bad = wr;
				return ret;
			}
			continue;
		}
		if (wr->opcode == IBV_WR_SEND) {
			size_t len = wr->sg_list->length < sizeof(p->copy) ? wr->sg_list->length : sizeof(p->copy);

			memcpy(p->copy, (const void *)(uintptr_t)wr->sg_list->addr, len);
			if (sent_hook)
				sent_hook(p, dxp_decode(p->copy, len, &m, &why) ? NULL : &m, sent_arg);
		}
		if ((wr->send_flags & IBV_SEND_SIGNALED) && !p->muted)
			complete(p, wr->wr_id, IBV_WC_SUCCESS,
				 wr->opcode == IBV_WR_SEND ? IBV_WC_SEND : IBV_WC_RDMA_WRITE, 0);
	}
	return 0;
}

static int fv_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	struct fv_peer *p = peer_of_qp(qp);

	for (; wr; wr = wr->next) {
		if (p->n_recv == FV_RECV_MAX) {
			*bad = wr;
			return ENOMEM;
		}
		if (p->qp_error) {
			complete(p, wr->wr_id, IBV_WC_WR_FLUSH_ERR, IBV_WC_RECV, 0);
			continue;
		}
		p->recv[(p->recv_head + p->n_recv) % FV_RECV_MAX].wr_id = wr->wr_id;
		p->recv[(p->recv_head + p->n_recv) % FV_RECV_MAX].addr = (void *)(uintptr_t)wr->sg_list->addr;
		p->recv[(p->recv_head + p->n_recv) % FV_RECV_MAX].len = wr->sg_list->length;
		p->n_recv++;
		if (recv_hook)
			recv_hook(p, recv_arg);
	}
	return 0;
}

struct ibv_context *fv_device(void)
{
	device.ops.poll_cq = fv_poll_cq;
	device.ops.req_notify_cq = fv_req_notify_cq;
	device.ops.post_send = fv_post_send;
	device.ops.post_recv = fv_post_recv;
	return &device;
}

int ibv_query_device(struct ibv_context *context, struct ibv_device_attr *attr)
{
	*attr = device_attr;
	return 0;
}

struct ibv_pd *ibv_alloc_pd(struct ibv_context *context)
{
	struct ibv_pd *pd = calloc(1, sizeof(*pd));

	if (!pd)
		errno = ENOMEM;
	else
		pd->context = context;
	return pd;
}

int ibv_dealloc_pd(struct ibv_pd *pd)
{
	free(pd);
	return 0;
}

struct ibv_comp_channel *ibv_create_comp_channel(struct ibv_context *context)
{
	struct fv_channel *c = calloc(1, sizeof(*c));

	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->ch.context = context;
	c->ch.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->ch.fd < 0) {
		free(c);
		return NULL;
	}
	return &c->ch;
}

int ibv_destroy_comp_channel(struct ibv_comp_channel *ch)
{
	close(ch->fd);
	free(ch);
	return 0;
}

struct ibv_cq *ibv_create_cq(struct ibv_context *context, int cqe, void *cq_context, struct ibv_comp_channel *ch,
			     int comp_vector)
{
	struct fv_cq *cq = calloc(1, sizeof(*cq));

	if (!cq) {
		errno = ENOMEM;
		return NULL;
	}
	cq->cq.context = context;
	cq->cq.channel = ch;
	cq->cq.cq_context = cq_context;
	cq->cq.cqe = cqe;
	if (ch)
		((struct fv_channel *)ch)->cq = &cq->cq;
	return &cq->cq;
}

int ibv_destroy_cq(struct ibv_cq *cq)
{
	free(cq);
	return 0;
}

int ibv_get_cq_event(struct ibv_comp_channel *ch, struct ibv_cq **cq, void **cq_context)
{
	uint64_t n;

	if (read(ch->fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return -1; /* EAGAIN: nothing yet */
	*cq = ((struct fv_channel *)ch)->cq;
	*cq_context = (*cq)->cq_context;
	return 0;
}

void ibv_ack_cq_events(struct ibv_cq *cq, unsigned int nevents)
{
}

int ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask)
{
	if (fv_fail_modify_qp) {
		fv_fail_modify_qp--;
		errno = EIO;
		return EIO;
	}
	if ((mask & IBV_QP_STATE) && attr->qp_state == IBV_QPS_ERR) {
		note(FV_QP_ERR);
		if (qp->context == &device) { /* a fake peer's QP (tests may bring their own) */
			struct fv_peer *p = peer_of_qp(qp);

			to_error(p);
		}
	}
	return 0;
}

int ibv_destroy_qp(struct ibv_qp *qp)
{
	if (fv_fail_destroy_qp) {
		fv_fail_destroy_qp--;
		return EBUSY;
	}
	note(FV_QP_DESTROY);
	if (qp->context == &device) {
		struct fv_peer *p = peer_of_qp(qp);

		p->has_qp = false;
		p->n_recv = p->n_held = 0;
	}
	return 0;
}

/* ---- rdma_cm ---- */

struct fv_peer *fv_peer_new(uint32_t addr)
{
	struct fv_peer *p = calloc(1, sizeof(*p));
	struct sockaddr_in *sin;
	static uint32_t qp_num = 100;

	if (!p)
		return NULL;
	p->id.verbs = fv_device();
	sin = (struct sockaddr_in *)&p->id.route.addr.dst_addr;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(addr);
	sin->sin_port = htons(40000);
	p->qp.qp_num = qp_num++;
	return p;
}

struct rdma_cm_id *fv_peer_id(struct fv_peer *p)
{
	return &p->id;
}

bool fv_peer_destroyed(const struct fv_peer *p)
{
	return p->destroyed;
}

void fv_peer_free(struct fv_peer *p)
{
	free(p);
}

int fv_peer_deliver(struct fv_peer *p, const void *bytes, size_t len)
{
	if (!p->has_qp || p->qp_error)
		return -ENOTCONN;
	if (!p->n_recv)
		return -ENOBUFS;
	if (len > p->recv[p->recv_head].len) {
		complete(p, p->recv[p->recv_head].wr_id, IBV_WC_LOC_LEN_ERR, IBV_WC_RECV, 0);
	} else {
		memcpy(p->recv[p->recv_head].addr, bytes, len);
		complete(p, p->recv[p->recv_head].wr_id, IBV_WC_SUCCESS, IBV_WC_RECV, (uint32_t)len);
	}
	p->recv_head = (p->recv_head + 1) % FV_RECV_MAX;
	p->n_recv--;
	return 0;
}

void fv_peer_mute(struct fv_peer *p, bool muted)
{
	p->muted = muted;
}

unsigned int fv_peer_cq_depth(const struct fv_peer *p)
{
	return p->cq ? p->cq->n : 0;
}

int rdma_create_qp(struct rdma_cm_id *id, struct ibv_pd *pd, struct ibv_qp_init_attr *attr)
{
	struct fv_peer *p = (struct fv_peer *)((char *)id - offsetof(struct fv_peer, id));

	p->qp.context = id->verbs;
	p->qp.pd = pd;
	p->qp.send_cq = attr->send_cq;
	p->qp.recv_cq = attr->recv_cq;
	p->qp.qp_type = attr->qp_type;
	p->cq = (struct fv_cq *)attr->send_cq;
	p->has_qp = true;
	id->qp = &p->qp;
	return 0;
}

void rdma_destroy_qp(struct rdma_cm_id *id)
{
	struct fv_peer *p = (struct fv_peer *)((char *)id - offsetof(struct fv_peer, id));

	p->has_qp = false;
	p->cq = NULL; /* the daemon destroys its CQ next */
	p->n_recv = p->n_held = 0;
	id->qp = NULL;
}

int rdma_accept(struct rdma_cm_id *id, struct rdma_conn_param *param)
{
	return 0;
}

int rdma_reject(struct rdma_cm_id *id, const void *private_data, uint8_t len)
{
	return 0;
}

int rdma_disconnect(struct rdma_cm_id *id)
{
	note(FV_DISCONNECT);
	return 0;
}

int rdma_destroy_id(struct rdma_cm_id *id)
{
	struct fv_peer *p = (struct fv_peer *)((char *)id - offsetof(struct fv_peer, id));

	p->destroyed = true;
	return 0;
}

int rdma_ack_cm_event(struct rdma_cm_event *event)
{
	return 0;
}
