/*
 * dx-hostile: a client that sends the daemon what a hostile or broken peer
 * would, over a real connection, and prints one line per message:
 *
 *   NAME -> ERROR CODE tag=TAG    the daemon's answer
 *   NAME -> REPLY OP tag=TAG      it was accepted (a defect for every case here)
 *   NAME -> DISCONNECTED          the daemon hung up (BYE or a dead QP)
 *
 *   dx-hostile HOST EXPORT PATH requests    well-formed but forged or out of range
 *   dx-hostile HOST EXPORT PATH malformed   three malformed messages: the third ends it
 *   dx-hostile HOST EXPORT PATH oversize    a SEND larger than any receive buffer
 *   dx-hostile HOST EXPORT PATH flood       a 64 MiB RW layout, then 18 COMMITs of it
 *                                           at once (2 beyond the credits): BURST
 *                                           ok=N refused=M; then rounds of 16 for
 *                                           $DX_FLOOD_S seconds (20): FLOOD rounds=N
 *   dx-hostile HOST - - silent              connect and never say HELLO: prints
 *                                           DISCONNECTED ms=N when the daemon gives up
 *   dx-hostile HOST EXPORT PATH vanish      take a READ layout of PATH's first page,
 *                                           then play a host that lost power: VANISHED,
 *                                           then DISCONNECTED ms=N when the daemon
 *                                           notices (or STILL CONNECTED after 30 s)
 *
 * PATH must exist in EXPORT (some requests need a real file handle).
 */
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "client/client_internal.h"

#define TAG 0x5eed0000u

static unsigned int replies_ok, replies_refused, replies_wanted;

static void logger(void *arg, int prio, const char *msg)
{
	/* In a flood nobody waits for a particular reply: count them. */
	if (strstr(msg, "unexpected COMMIT reply"))
		replies_ok++;
	else if (strstr(msg, "unexpected ERROR reply"))
		replies_refused++;
	else if (prio <= LOG_ERR)
		fprintf(stderr, "dx-hostile: %s\n", msg);
}

static bool broken(struct daxrdma_client *c)
{
	return c->broken;
}

/* Send LEN bytes of BUF, wait for the answer to TAG, print it. */
static void send_case(struct daxrdma_client *c, const char *name, const void *buf, size_t len, uint64_t tag)
{
	const struct dxp_msg *rep;
	int ret = dxc_call_raw(c, buf, len, tag, &rep);

	if (ret == -ENOTCONN)
		printf("%s -> DISCONNECTED\n", name);
	else if (ret)
		printf("%s -> FAILED %s\n", name, strerrorname_np(-ret));
	else if (rep->hdr.op == DXP_ERROR)
		printf("%s -> ERROR %s tag=%llu\n", name, dxp_err_name(rep->u.error.code),
		       (unsigned long long)(rep->hdr.tag ? rep->hdr.tag - TAG : 0));
	else
		printf("%s -> REPLY %s tag=%llu\n", name, dxp_op_name(rep->hdr.op),
		       (unsigned long long)(rep->hdr.tag ? rep->hdr.tag - TAG : 0));
	fflush(stdout);
}

/* Encode M with tag TAG + N, let EDIT (if any) corrupt the bytes, send them. */
static void send_edited(struct daxrdma_client *c, const char *name, struct dxp_msg *m, unsigned int n,
			size_t (*edit)(uint8_t *buf, size_t len))
{
	uint8_t buf[DXP_MAX_MSG];
	ssize_t len;

	m->hdr.tag = TAG + n;
	len = dxp_encode(m, buf, sizeof(buf));
	if (len < 0) {
		printf("%s -> ENCODE %zd\n", name, len);
		return;
	}
	send_case(c, name, buf, edit ? edit(buf, (size_t)len) : (size_t)len, m->hdr.tag);
}

/* Encode M with tag TAG + N and send it as it is. */
static void send_msg_case(struct daxrdma_client *c, const char *name, struct dxp_msg *m, unsigned int n)
{
	send_edited(c, name, m, n, NULL);
}

static size_t claim_more(uint8_t *buf, size_t len) /* hdr.len says 8 bytes more than arrive */
{
	uint32_t claimed = htole32((uint32_t)len + 8);

	memcpy(buf + offsetof(struct dxp_hdr, len), &claimed, sizeof(claimed));
	return len;
}

static size_t unknown_op(uint8_t *buf, size_t len)
{
	buf[offsetof(struct dxp_hdr, op)] = 99;
	return len;
}

static size_t reserved_set(uint8_t *buf, size_t len) /* dxp_layout_get_req.reserved */
{
	buf[len - 1] = 1;
	return len;
}

static size_t nul_in_path(uint8_t *buf, size_t len) /* OPEN: the path's first byte */
{
	buf[len - 3] = 0;
	return len;
}

/* F is open read-only, FRW read-write, on the same file. */
static void requests(struct daxrdma_client *c, struct daxrdma_file *f, struct daxrdma_file *frw)
{
	struct dxp_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.op = DXP_LAYOUT_GET;
	m.u.lget = (struct dxp_layout_get_req){ .fh = 0xdeadbeef, .off = 0, .len = DXP_PAGE, .iomode = DXP_IOMODE_RW };
	send_msg_case(c, "forged-handle", &m, 1);

	m.u.lget = (struct dxp_layout_get_req){
		.fh = f->fh, .off = 1ull << 63, .len = 1ull << 63, .iomode = DXP_IOMODE_READ,
	};
	send_msg_case(c, "range-wraps-around", &m, 2);
	m.u.lget = (struct dxp_layout_get_req){ .fh = f->fh, .off = 100, .len = DXP_PAGE, .iomode = DXP_IOMODE_READ };
	send_msg_case(c, "unaligned-offset", &m, 3);
	m.u.lget = (struct dxp_layout_get_req){
		.fh = f->fh, .off = UINT64_MAX - DXP_PAGE + 1, .len = DXP_PAGE, .iomode = DXP_IOMODE_READ,
	};
	send_msg_case(c, "offset-at-2^64", &m, 4);

	memset(&m.u, 0, sizeof(m.u));
	m.hdr.op = DXP_LAYOUT_RETURN;
	m.u.lret.stateid = (struct dxp_stateid){ .id = 12345, .seq = 1 };
	send_msg_case(c, "forged-stateid-return", &m, 5);

	memset(&m.u, 0, sizeof(m.u));
	m.hdr.op = DXP_COMMIT;
	m.u.commit.stateid = (struct dxp_stateid){ .id = 12345, .seq = 1 };
	m.u.commit.len = DXP_PAGE;
	send_msg_case(c, "forged-stateid-commit", &m, 6);

	memset(&m.u, 0, sizeof(m.u));
	m.hdr.op = DXP_HELLO;
	m.u.hello = (struct dxp_hello){ .magic = DXP_MAGIC, .version = DXP_VERSION, .credits = 1, .max_msg = 4096 };
	send_msg_case(c, "second-hello", &m, 7);

	memset(&m.u, 0, sizeof(m.u));
	m.hdr.op = DXP_LAYOUT_RECALL;
	m.u.recall.stateid = (struct dxp_stateid){ .id = 1, .seq = 1 };
	m.u.recall.reason = DXP_RECALL_ADMIN;
	send_msg_case(c, "server-only-op", &m, 8);

	memset(&m.u, 0, sizeof(m.u));
	m.hdr.op = DXP_ALLOCATE;
	m.u.alloc = (struct dxp_allocate_req){ .fh = frw->fh, .off = UINT64_MAX - 10, .len = 20 };
	send_msg_case(c, "allocate-wraps-around", &m, 9);

	memset(&m.u, 0, sizeof(m.u));
	m.hdr.op = DXP_ALLOCATE;
	m.u.alloc = (struct dxp_allocate_req){ .fh = f->fh, .off = 0, .len = DXP_PAGE };
	send_msg_case(c, "allocate-on-read-only-handle", &m, 12);

	/* A read-only handle cannot grant RW. */
	memset(&m.u, 0, sizeof(m.u));
	m.hdr.op = DXP_LAYOUT_GET;
	m.u.lget = (struct dxp_layout_get_req){ .fh = f->fh, .off = 0, .len = DXP_PAGE, .iomode = DXP_IOMODE_RW };
	send_msg_case(c, "rw-on-read-only-handle", &m, 10);

	m.u.lget.iomode = 7;
	send_msg_case(c, "bad-iomode", &m, 11);
}

static void malformed(struct daxrdma_client *c, struct daxrdma_file *f)
{
	uint8_t shorty[5] = { DXP_STAT, 0, 0, 0, 5 };
	struct dxp_msg m;

	send_case(c, "shorter-than-header", shorty, sizeof(shorty), 0);

	memset(&m, 0, sizeof(m));
	m.hdr.op = DXP_STAT;
	m.u.fh.fh = f->fh;
	send_edited(c, "length-field-lies", &m, 2, claim_more);
	send_edited(c, "unknown-opcode", &m, 3, unknown_op);
	/* The third malformed message was answered; the daemon hangs up. */
	if (dxc_progress(c, dxc_now_ms() + 5000, broken) == 0 || c->broken)
		printf("after-third -> DISCONNECTED\n");
	else
		printf("after-third -> STILL CONNECTED\n");
}

static void oversize(struct daxrdma_client *c, struct daxrdma_file *f)
{
	uint8_t *big = calloc(1, DXP_MAX_MSG + 904);
	struct dxp_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.op = DXP_LAYOUT_GET;
	m.u.lget = (struct dxp_layout_get_req){ .fh = f->fh, .off = 0, .len = DXP_PAGE, .iomode = DXP_IOMODE_READ };
	send_edited(c, "reserved-field-set", &m, 1, reserved_set);

	memset(&m, 0, sizeof(m));
	m.hdr.op = DXP_OPEN;
	m.u.open.export_len = 3;
	m.u.open.path_len = 3;
	m.s1 = "abc";
	m.s2 = "xyz";
	send_edited(c, "nul-in-path", &m, 2, nul_in_path);

	/* Bigger than the daemon's receive buffers: its receive fails (local
	 * length error) and it must drop us, nothing else. */
	if (!big)
		return;
	m.hdr.op = DXP_STAT;
	m.hdr.tag = TAG + 3;
	m.u.fh.fh = f->fh;
	dxp_encode(&m, big, DXP_MAX_MSG);
	send_case(c, "larger-than-a-receive-buffer", big, DXP_MAX_MSG + 904, TAG + 3);
	free(big);
}

/* Wait for the rdma_cm event WANT on EC until DEADLINE; 0 or -1. */
static int wait_event(struct rdma_event_channel *ec, enum rdma_cm_event_type want, int64_t deadline)
{
	struct pollfd pfd = { .fd = ec->fd, .events = POLLIN };
	struct rdma_cm_event *ev;
	enum rdma_cm_event_type got;

	for (;;) {
		int64_t left = deadline - dxc_now_ms();

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0 || rdma_get_cm_event(ec, &ev))
			return -1;
		got = ev->event;
		rdma_ack_cm_event(ev);
		if (got == want)
			return 0;
		fprintf(stderr, "dx-hostile: rdma_cm event %s\n", rdma_event_str(got));
		if (got != RDMA_CM_EVENT_CONNECT_RESPONSE)
			return -1;
	}
}

/* An RC connection that never sends a byte: the daemon must not wait forever. */
static int silent(const char *host)
{
	struct rdma_event_channel *ec = rdma_create_event_channel();
	struct ibv_qp_init_attr qa = { .qp_type = IBV_QPT_RC, .cap = { 1, 1, 1, 1, 0 } };
	struct rdma_conn_param param = { .retry_count = 7, .rnr_retry_count = 7 };
	struct addrinfo *ai;
	struct rdma_cm_id *id;
	int64_t t0, end = dxc_now_ms() + 10000;
	const char *port = getenv("DX_PORT") ? getenv("DX_PORT") : "20049";

	if (!ec || rdma_create_id(ec, &id, NULL, RDMA_PS_TCP) || getaddrinfo(host, port, NULL, &ai) ||
	    rdma_resolve_addr(id, NULL, ai->ai_addr, 2000) || wait_event(ec, RDMA_CM_EVENT_ADDR_RESOLVED, end) ||
	    rdma_resolve_route(id, 2000) || wait_event(ec, RDMA_CM_EVENT_ROUTE_RESOLVED, end) ||
	    rdma_create_qp(id, NULL, &qa) || rdma_connect(id, &param) ||
	    wait_event(ec, RDMA_CM_EVENT_ESTABLISHED, end)) {
		printf("SETUP failed\n");
		return 1;
	}
	t0 = dxc_now_ms();
	printf("CONNECTED\n");
	fflush(stdout);
	if (wait_event(ec, RDMA_CM_EVENT_DISCONNECTED, t0 + 30000)) {
		printf("STILL CONNECTED after 30 s\n");
		return 1;
	}
	printf("DISCONNECTED ms=%lld\n", (long long)(dxc_now_ms() - t0));
	rdma_destroy_qp(id);
	rdma_destroy_id(id);
	rdma_destroy_event_channel(ec);
	freeaddrinfo(ai);
	return 0;
}

/*
 * The QP goes to the error state behind the daemon's back: this NIC now drops
 * whatever the daemon sends and acknowledges nothing, as if the host had lost
 * power. The rdma_cm id stays, so no DREQ tells the daemon; its own DREQ,
 * when it gives up, still gets here (the CM has a QP of its own).
 */
static int vanish(struct daxrdma_client *c, struct daxrdma_file *f)
{
	struct ibv_qp_attr qa = { .qp_state = IBV_QPS_ERR };
	struct daxrdma_layout *l;
	int64_t t0;
	int ret;

	ret = daxrdma_layout_get(f, 0, DXP_PAGE, DAXRDMA_READ, &l);
	if (ret) {
		printf("LAYOUT_GET %s\n", strerrorname_np(-ret));
		return 1;
	}
	if (ibv_modify_qp(c->id->qp, &qa, IBV_QP_STATE)) {
		perror("ibv_modify_qp");
		return 1;
	}
	t0 = dxc_now_ms();
	printf("VANISHED\n");
	fflush(stdout);
	if (wait_event(c->ec, RDMA_CM_EVENT_DISCONNECTED, t0 + 30000)) {
		printf("STILL CONNECTED after 30 s\n");
		return 1;
	}
	printf("DISCONNECTED ms=%lld\n", (long long)(dxc_now_ms() - t0));
	return 0;
}

#define FLOOD_LEN (64ull << 20)

static bool all_answered(struct daxrdma_client *c)
{
	return replies_ok + replies_refused >= replies_wanted;
}

/* Send N COMMITs of the whole layout at once; wait for N answers. */
static int commit_burst(struct daxrdma_client *c, struct daxrdma_layout *l, unsigned int n)
{
	uint8_t buf[DXP_MAX_MSG];
	struct dxp_msg m;
	ssize_t len;
	int ret;

	memset(&m, 0, sizeof(m));
	m.hdr.op = DXP_COMMIT;
	m.u.commit = (struct dxp_commit_req){ .stateid = l->sid, .off = 0, .len = FLOOD_LEN };
	replies_ok = replies_refused = 0;
	for (unsigned int i = 0; i < n; i++) {
		m.hdr.tag = TAG + 100 + i;
		len = dxp_encode(&m, buf, sizeof(buf));
		ret = len < 0 ? (int)len : dxc_send_raw(c, buf, (size_t)len);
		if (ret)
			return ret;
	}
	replies_wanted = n;
	return dxc_progress(c, dxc_now_ms() + 60000, all_answered);
}

static int flood(struct daxrdma_client *c, struct daxrdma_file *frw)
{
	int64_t end = dxc_now_ms() + 1000 * (getenv("DX_FLOOD_S") ? atoll(getenv("DX_FLOOD_S")) : 20);
	struct daxrdma_layout *l;
	unsigned int rounds = 0;
	int ret;

	ret = daxrdma_allocate(frw, 0, FLOOD_LEN);
	if (!ret)
		ret = daxrdma_layout_get(frw, 0, FLOOD_LEN, DAXRDMA_RW, &l);
	if (ret) {
		printf("FLOOD setup %s\n", strerrorname_np(-ret));
		return 1;
	}
	ret = commit_burst(c, l, c->credits + 2);
	printf("BURST ok=%u refused=%u%s\n", replies_ok, replies_refused, ret ? " (incomplete)" : "");
	fflush(stdout);
	while (!ret && dxc_now_ms() < end) {
		ret = commit_burst(c, l, c->credits);
		rounds += !ret && replies_ok == c->credits;
	}
	printf("FLOOD rounds=%u%s\n", rounds, ret ? " (broken)" : "");
	return ret ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct daxrdma_client_opts o = { .size = sizeof(o), .log = logger, .log_level = LOG_WARNING, .timeout_ms = 10000 };
	struct daxrdma_client *c;
	struct daxrdma_file *f, *frw;
	int ret;

	if (argc != 5) {
		fprintf(stderr, "usage: dx-hostile HOST EXPORT PATH requests|malformed|oversize|flood|vanish|silent\n");
		return 2;
	}
	if (!strcmp(argv[4], "silent"))
		return silent(argv[1]);
	ret = daxrdma_client_new(&o, &c);
	if (!ret)
		ret = daxrdma_connect(c, argv[1], getenv("DX_PORT"));
	if (!ret)
		ret = daxrdma_open(c, argv[2], argv[3], 0, 0, &f);
	if (!ret)
		ret = daxrdma_open(c, argv[2], argv[3], DAXRDMA_O_RDWR, 0, &frw);
	if (ret) {
		printf("SETUP %s\n", strerrorname_np(-ret));
		return 1;
	}
	if (!strcmp(argv[4], "requests"))
		requests(c, f, frw);
	else if (!strcmp(argv[4], "malformed"))
		malformed(c, f);
	else if (!strcmp(argv[4], "oversize"))
		oversize(c, f);
	else if (!strcmp(argv[4], "flood"))
		ret = flood(c, frw);
	else if (!strcmp(argv[4], "vanish"))
		return vanish(c, f); /* no goodbye: the process just ends */
	else
		return 2;
	daxrdma_client_delete(&c);
	return ret ? 1 : 0;
}
