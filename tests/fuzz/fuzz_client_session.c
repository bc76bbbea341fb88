/*
 * A stateful fuzzer of libdaxrdma-client (issue 26 §6): the library's real
 * code (its static build) on the fake verbs and rdma_cm, against the
 * scripted daemon of tests/unit/clientrig.h. An input is a list of steps of
 * three bytes (what, and two arguments): application calls (open, close,
 * layout_get, write, read, commit, set_size, return, process, reconnect,
 * connect, rename, remove), what the recall callback does (return, defer, close its file,
 * return another layout), and what the daemon and the NIC do (recalls of
 * one layout or of a file, BYE, a disconnect, a device removal, RDMA that
 * stalls and runs later, floods, files replaced at their path, connections
 * refused).
 *
 * After every step (oracle):
 *  - no sanitizer error;
 *  - an application call returns within the client's timeout, plus the
 *    flush of RDMA that timed out (DXC_FLUSH_WAIT_MS) and 50 ms;
 *  - an open handle names, at the daemon, the file it opened (or is stale);
 *  - every RDMA WRITE carries the bytes of the place it lands (the rig's
 *    payload check): no call's bytes reach another call's range, even after
 *    that call returned;
 *  - on a live connection, a recall that arrived during an application
 *    call is answered when the call returns, and every recall once
 *    daxrdma_client_process() returns, unless the callback deferred it;
 *  - when a call returns and the client's fd is not readable, nothing waits
 *    in its CQ or on its rdma_cm channel (no lost wakeup).
 */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientrig.h"

#define TIMEOUT_MS 20
#define NF 3u    /* the application's file slots */
#define NL 6u    /* ... and layout slots */
#define STEP 3u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum cb_action { CB_RETURN, CB_DEFER, CB_CLOSE_FILE, CB_RETURN_OTHER, CB_N };

static const char *const paths[] = { "a", "b", "c" };

struct app {
	struct crig *r;
	struct { struct daxrdma_file *f; uint64_t ino; } files[NF];
	struct { struct daxrdma_layout *l; unsigned int file; } layouts[NL];
	enum cb_action cb;
	struct fv_peer *ended;  /* the connection an rdma_cm event ended */
	uint64_t deferred[64];  /* stateids the callback kept (DEFER) */
	unsigned int n_deferred;
	uint8_t buf[2 * CR_FILE_SIZE];
};

static struct app A;

static void forget_layouts_of(unsigned int file)
{
	for (unsigned int i = 0; i < NL; i++)
		if (A.layouts[i].l && A.layouts[i].file == file)
			A.layouts[i].l = NULL;
}

static int slot_of(const struct daxrdma_layout *l)
{
	for (unsigned int i = 0; i < NL; i++)
		if (A.layouts[i].l == l)
			return (int)i;
	return -1;
}

/* The application's recall callback, doing what the input said. */
static int on_recall(void *arg, struct daxrdma_layout *l, int reason)
{
	int i = slot_of(l), j;

	switch (A.cb) {
	case CB_DEFER:
		if (A.n_deferred < sizeof(A.deferred) / sizeof(A.deferred[0]))
			A.deferred[A.n_deferred++] = l->sid.id;
		return DAXRDMA_RECALL_DEFER;
	case CB_CLOSE_FILE:
		if (i >= 0) {
			unsigned int f = A.layouts[i].file;

			forget_layouts_of(f);
			daxrdma_close(&A.files[f].f);
		}
		return DAXRDMA_RECALL_RETURN;
	case CB_RETURN_OTHER:
		for (j = 0; j < (int)NL; j++)
			if (j != i && A.layouts[j].l) {
				daxrdma_layout_return(&A.layouts[j].l);
				break;
			}
		return DAXRDMA_RECALL_RETURN;
	default:
		return DAXRDMA_RECALL_RETURN;
	}
}

static bool deferred(uint64_t id)
{
	for (unsigned int i = 0; i < A.n_deferred; i++)
		if (A.deferred[i] == id)
			return true;
	return false;
}

static bool connected(void)
{
	return A.r->c->connected && !A.r->c->broken;
}

/* Which of the daemon's layouts were recalled before a call. */
static void recalled_before(bool *was)
{
	for (unsigned int i = 0; i < CR_LAYOUTS; i++)
		was[i] = A.r->layouts[i].live && A.r->layouts[i].recalled;
}

/* The oracle after an application call that took MS milliseconds: a
 * recall that arrived during it is answered when it returns, and after
 * daxrdma_client_process() (ALL) every recall that arrived. */
static void check_call(int64_t ms, const bool *was, bool all)
{
	struct pollfd pfd = { .fd = daxrdma_client_fd(A.r->c), .events = POLLIN };

	if (ms > TIMEOUT_MS + DXC_FLUSH_WAIT_MS + 50)
		abort(); /* a call outlived its timeout (and the flush of what timed out) */
	if (!connected())
		return;
	for (unsigned int i = 0; i < CR_LAYOUTS; i++) {
		const struct cr_layout *l = &A.r->layouts[i];

		if (l->live && l->recalled && !deferred(l->id) && (all || !was[i]))
			abort(); /* a recall was not answered */
	}
	if (pfd.fd >= 0 && poll(&pfd, 1, 0) == 0 && A.r->p && fv_peer_cq_depth(A.r->p))
		abort(); /* completions wait behind a quiet fd */
}

/* The oracle after every step: each open handle names its own file. */
static void check_handles(void)
{
	if (!connected())
		return;
	for (unsigned int i = 0; i < NF; i++) {
		const struct daxrdma_file *f = A.files[i].f;
		int k;

		if (!f || f->stale)
			continue;
		k = f->fh < CR_HANDLES ? A.r->handle_file[f->fh] : -1;
		if (k < 0 || A.r->files[k].ino != A.files[i].ino)
			abort(); /* a handle that names another file (or none) */
	}
}

static bool app_open(uint8_t a, uint8_t b)
{
	unsigned int i = a % NF;
	const char *path = paths[b % 3];
	unsigned int flags = DAXRDMA_O_RDWR | (b & 4 ? DAXRDMA_O_CREAT : 0) | (b & 8 ? DAXRDMA_O_TRUNC : 0);
	struct cr_file *rf;

	if (A.files[i].f)
		return false;
	if (daxrdma_open(A.r->c, "x", path, flags, 0644, &A.files[i].f) == 0) {
		rf = cr_file(A.r, path, false);
		A.files[i].ino = rf ? rf->ino : 0;
		if (!rf)
			abort(); /* opened a file the daemon does not have */
	}
	return true;
}

static bool app_close(uint8_t a)
{
	unsigned int i = a % NF;

	if (!A.files[i].f)
		return false;
	forget_layouts_of(i);
	daxrdma_close(&A.files[i].f);
	return true;
}

static bool app_layout_get(uint8_t a, uint8_t b)
{
	unsigned int i = a % NF, s;
	uint64_t off = (uint64_t)(b % 8) * DXP_PAGE, len = (uint64_t)(1 + (b >> 3) % 4) * DXP_PAGE;

	for (s = 0; s < NL && A.layouts[s].l; s++)
		;
	if (s == NL || !A.files[i].f)
		return false;
	A.layouts[s].file = i; /* before: a callback inside the call may see the new layout */
	daxrdma_layout_get(A.files[i].f, off, len, b & 0x80 ? DAXRDMA_READ : DAXRDMA_RW, &A.layouts[s].l);
	return true;
}

/* A write of the bytes of where it lands, a read, or a commit, of layout
 * slot A at a place B says. */
static bool app_io(unsigned int what, uint8_t a, uint8_t b)
{
	struct daxrdma_layout *l = A.layouts[a % NL].l;
	struct daxrdma_layout_info info;
	uint64_t off, len;

	if (!l || daxrdma_layout_info(l, &info))
		return false;
	off = info.off + (uint64_t)(b % 4) * 1024;
	len = (uint64_t)(1 + (b >> 2) % 8) * 1024;
	if (off + len > info.off + info.len)
		len = info.off + info.len - off;
	if (what == 0) {
		cr_pattern(A.files[A.layouts[a % NL].file].ino, off, A.buf, len);
		daxrdma_write(l, off, A.buf, len);
	} else if (what == 1) {
		daxrdma_read(l, off, A.buf, len);
	} else {
		daxrdma_commit(l, off, len);
	}
	return true;
}


static void step(const uint8_t *s)
{
	uint8_t what = s[0] % 27, a = s[1], b = s[2];
	int64_t t0 = dxc_now_ms();
	bool call = what < 12 || what >= 25, was[CR_LAYOUTS];

	recalled_before(was);

	switch (what) {
	case 0: call = app_open(a, b); break;
	case 1: call = app_close(a); break;
	case 2: call = app_layout_get(a, b); break;
	case 3: call = app_io(0, a, b); break;
	case 4: call = app_io(1, a, b); break;
	case 5: call = app_io(2, a, b); break;
	case 6:
		call = A.files[a % NF].f;
		if (call)
			daxrdma_set_size(A.files[a % NF].f, (uint64_t)(b % 16) * 4096);
		break;
	case 7:
		call = A.layouts[a % NL].l;
		daxrdma_layout_return(&A.layouts[a % NL].l);
		break;
	case 8: daxrdma_client_process(A.r->c); break;
	case 9: daxrdma_reconnect(A.r->c); break;
	case 10: daxrdma_connect(A.r->c, "192.0.2.1", NULL); break;
	case 11:
		call = A.files[a % NF].f;
		if (call)
			daxrdma_allocate(A.files[a % NF].f, 0, (uint64_t)(1 + b % 16) * 4096);
		break;
	case 25: /* the file takes another name (over the file there) */
		call = A.files[a % NF].f;
		if (call)
			daxrdma_rename(A.files[a % NF].f, paths[b % 3]);
		break;
	case 26:
		call = A.files[a % NF].f;
		if (call)
			daxrdma_remove(A.files[a % NF].f);
		break;
	default:
		call = false;
		break;
	}
	if (call) {
		check_call(dxc_now_ms() - t0, was, what == 8);
		check_handles();
		return;
	}
	if (what >= 12 && what < 15) {
		A.cb = (enum cb_action)(a % CB_N);
		return;
	}
	if (!connected() && what != 21 && what != 24)
		return; /* the daemon cannot send on a connection that is gone */
	switch (what) {
	case 15: cr_recall(A.r, A.r->next_layout_id - (a % 4)); break;
	case 16: cr_file_recall(A.r, 1 + a % 4); break;
	case 17: cr_bye(A.r, DXP_E_IO); break;
	case 18: /* a connection ends once */
		if (A.r->p != A.ended) {
			A.ended = A.r->p;
			fv_cm_push(A.r->c->id, a & 1 ? RDMA_CM_EVENT_DISCONNECTED : RDMA_CM_EVENT_DEVICE_REMOVAL);
		}
		break;
	case 19: A.r->stall_rdma = a & 1; break;
	case 20:
		A.r->stall_rdma = false;
		if (A.r->p)
			fv_peer_release(A.r->p);
		break;
	case 21: cr_replace(A.r, paths[a % 3]); break;
	case 22: A.r->flood = a; break;
	case 23: A.r->recall_next_grant = a & 1; break;
	}
	if (what == 24) /* the daemon refuses new connections (a restart under way) */
		A.r->refuse_connect = a & 1;
	check_handles();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	memset(&A, 0, sizeof(A));
	A.r = cr_up(TIMEOUT_MS, DAXRDMA_RELAYOUT, on_recall, NULL);
	A.r->check_payload = true;
	for (size_t i = 0; i + STEP <= size && i < 64 * STEP; i += STEP)
		step(data + i);
	for (unsigned int i = 0; i < NL; i++)
		if (A.layouts[i].l)
			daxrdma_layout_return(&A.layouts[i].l);
	for (unsigned int i = 0; i < NF; i++)
		if (A.files[i].f)
			daxrdma_close(&A.files[i].f);
	/* The daemon goes first: a delete then sends no BYE and waits for
	 * nothing (its 100 ms for the BYE would be most of a run). */
	if (A.r->c->id && A.r->p != A.ended) {
		fv_cm_push(A.r->c->id, RDMA_CM_EVENT_DISCONNECTED);
		daxrdma_client_process(A.r->c);
	}
	cr_down(A.r);
	return 0;
}
