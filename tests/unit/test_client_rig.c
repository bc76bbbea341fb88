/*
 * libdaxrdma-client's real code against a scripted daemon on fake verbs
 * (clientrig.h): what a server, a NIC or an application can make of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "clientrig.h"

/* An RW layout of [0, LEN) on a new file PATH of LEN bytes. */
static struct daxrdma_layout *rw_layout(struct crig *r, const char *path, uint64_t len, struct daxrdma_file **f)
{
	struct daxrdma_layout *l = NULL;

	assert_int_equal(daxrdma_open(r->c, "x", path, DAXRDMA_O_RDWR | DAXRDMA_O_CREAT, 0644, f), 0);
	assert_int_equal(daxrdma_allocate(*f, 0, len), 0);
	assert_int_equal(daxrdma_layout_get(*f, 0, len, DAXRDMA_RW, &l), 0);
	return l;
}

static void write__lands_in_the_file_and_reads_back(void **state)
{
	struct crig *r = cr_up(500, 0, NULL, NULL);
	struct daxrdma_file *f;
	struct daxrdma_layout *l = rw_layout(r, "a", 8192, &f);
	char out[4096], in[4096];

	memset(out, 'A', sizeof(out));
	assert_int_equal(daxrdma_write(l, 4096, out, sizeof(out)), 0);
	assert_memory_equal(cr_file(r, "a", false)->data + 4096, out, sizeof(out));
	assert_int_equal(daxrdma_read(l, 4096, in, sizeof(in)), 0);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(daxrdma_layout_return(&l), 0);
	assert_int_equal(daxrdma_close(&f), 0);
	cr_down(r);
}

/* Issue 26 §2: a WRITE that outlived its call's timeout stayed posted on
 * the shared staging buffer; the next call's bytes went there, and when
 * the stalled WRITE ran at last it wrote them into the first file. */
static void write__that_timed_out__never_lands_later(void **state)
{
	struct crig *r = cr_up(200, 0, NULL, NULL);
	struct daxrdma_file *fa, *fb;
	struct daxrdma_layout *la = rw_layout(r, "a", 4096, &fa), *lb = rw_layout(r, "b", 4096, &fb);
	static const uint8_t zero[4096];
	char a[4096], b[4096];
	int ret;

	memset(a, 'A', sizeof(a));
	memset(b, 'B', sizeof(b));
	r->stall_rdma = true;
	assert_int_equal(daxrdma_write(la, 0, a, sizeof(a)), -ETIMEDOUT);
	r->stall_rdma = false;
	ret = daxrdma_write(lb, 0, b, sizeof(b)); /* the next call, on another file */
	fv_peer_release(r->p);                  /* the stalled WRITE runs now, if it still can */
	assert_memory_not_equal(cr_file(r, "a", false)->data, b, sizeof(b)); /* b's bytes never reach a */
	assert_memory_equal(cr_file(r, "a", false)->data, zero, sizeof(zero)); /* nothing landed late */
	assert_true(ret == -ENOTCONN); /* the connection was given up to stop the stalled WRITE */
	assert_int_equal(daxrdma_close(&fa), 0);
	assert_int_equal(daxrdma_close(&fb), 0);
	cr_down(r);
}

/* Issue 26 §4: with RELAYOUT, I/O on a recalled layout gets it again; a
 * recall right behind that grant was parked and never applied, so the
 * layout was never returned (the client would be fenced). */
static void relayout__keeps_a_recall_right_behind_the_new_grant(void **state)
{
	struct crig *r = cr_up(500, DAXRDMA_RELAYOUT, NULL, NULL);
	struct daxrdma_file *f;
	struct daxrdma_layout *l = rw_layout(r, "a", 4096, &f);
	char a[4096];
	uint64_t second;

	memset(a, 'A', sizeof(a));
	cr_recall(r, 1);
	r->recall_next_grant = true; /* and another client wants the range again at once */
	second = r->next_layout_id + 1;
	assert_int_equal(daxrdma_write(l, 0, a, sizeof(a)), 0);
	assert_false(cr_layout(r, 1));       /* the first went back */
	assert_int_equal(r->next_layout_id, second);
	assert_false(cr_layout(r, second));  /* and so did the second, recalled right away */
	assert_int_equal(daxrdma_layout_return(&l), 0);
	assert_int_equal(daxrdma_close(&f), 0);
	cr_down(r);
}

/* Issue 26 §4: a recall between a write and its COMMIT (fio's
 * commit=batch, daxrdma put) made the COMMIT fail with -ESTALE, though
 * the library had given the layout back without CLEAN, which the daemon
 * persists: the COMMIT answers 0 now, and the bytes are persistent. With
 * one layout recalled (LAYOUT_RECALL) and with a file's (FILE_RECALL). */
static void commit__after_a_recall_returned_the_layout__is_what_the_return_persisted(void **state)
{
	for (int file_recall = 0; file_recall < 2; file_recall++) {
		struct crig *r = cr_up(500, 0, NULL, NULL);
		struct daxrdma_file *f;
		struct daxrdma_layout *l = rw_layout(r, "a", 8192, &f);
		char a[4096];

		memset(a, 'A', sizeof(a));
		assert_int_equal(daxrdma_write(l, 4096, a, sizeof(a)), 0);
		if (file_recall)
			assert_int_equal(cr_file_recall(r, f->fh), 1);
		else
			cr_recall(r, 1);
		assert_int_equal(daxrdma_client_process(r->c), 0);
		assert_false(cr_layout(r, 1)); /* given back */
		assert_int_equal(daxrdma_commit(l, 0, 8192), 0);
		assert_memory_equal(cr_file(r, "a", false)->durable + 4096, a, sizeof(a));
		assert_int_equal(daxrdma_layout_return(&l), 0);
		assert_int_equal(daxrdma_close(&f), 0);
		cr_down(r);
	}
}

/* Review of issue 26: a daemon from before RETURN_PERSISTS answers a dirty
 * return OK without persisting it (pinned, ODP): its OK says nothing, and
 * the COMMIT stays -ESTALE as it was. */
static void commit__after_a_recall__with_a_daemon_that_does_not_persist_returns__is_estale(void **state)
{
	struct crig *r = cr_new(500, 0, NULL, NULL);
	struct daxrdma_file *f;
	struct daxrdma_layout *l;
	char a[4096];

	r->old_daemon = true;
	assert_int_equal(daxrdma_connect(r->c, "192.0.2.1", NULL), 0);
	l = rw_layout(r, "a", 4096, &f);
	memset(a, 'A', sizeof(a));
	assert_int_equal(daxrdma_write(l, 0, a, sizeof(a)), 0);
	cr_recall(r, 1);
	assert_int_equal(daxrdma_client_process(r->c), 0);
	assert_false(cr_layout(r, 1));
	assert_int_equal(daxrdma_commit(l, 0, 4096), -ESTALE);
	assert_int_equal(daxrdma_layout_return(&l), 0);
	assert_int_equal(daxrdma_close(&f), 0);
	cr_down(r);
}

/* Review of issue 26: a layout that went back with writes not known to be
 * persistent (its return failed) was got again by RELAYOUT with its old
 * dirty range, and a later COMMIT over the new one said 0 for bytes that
 * were lost. It is not got again: -ESTALE. */
static void relayout__of_a_layout_whose_return_failed__is_estale(void **state)
{
	struct crig *r = cr_up(500, DAXRDMA_RELAYOUT, NULL, NULL);
	struct daxrdma_file *f;
	struct daxrdma_layout *l = rw_layout(r, "a", 8192, &f);
	char a[4096];

	memset(a, 'A', sizeof(a));
	assert_int_equal(daxrdma_write(l, 0, a, sizeof(a)), 0);
	cr_recall(r, 1);
	cr_layout(r, 1)->live = false; /* fenced meanwhile: its return fails */
	assert_int_equal(daxrdma_client_process(r->c), 0);
	assert_int_equal(daxrdma_write(l, 4096, a, sizeof(a)), -ESTALE);
	assert_int_equal(daxrdma_commit(l, 0, 8192), -ESTALE);
	assert_int_equal(daxrdma_layout_return(&l), 0);
	assert_int_equal(daxrdma_close(&f), 0);
	cr_down(r);
}

/* ... but a layout the daemon no longer had (it fenced it) was not
 * persisted by its return: that COMMIT is -ESTALE. */
static void commit__after_a_fenced_layout_went_back__is_estale(void **state)
{
	struct crig *r = cr_up(500, 0, NULL, NULL);
	struct daxrdma_file *f;
	struct daxrdma_layout *l = rw_layout(r, "a", 4096, &f);
	static const uint8_t zero[4096];
	char a[4096];

	memset(a, 'A', sizeof(a));
	assert_int_equal(daxrdma_write(l, 0, a, sizeof(a)), 0);
	cr_recall(r, 1);
	cr_layout(r, 1)->live = false; /* the daemon fenced it meanwhile */
	assert_int_equal(daxrdma_client_process(r->c), 0);
	assert_int_equal(daxrdma_commit(l, 0, 4096), -ESTALE);
	assert_memory_equal(cr_file(r, "a", false)->durable, zero, sizeof(zero));
	assert_int_equal(daxrdma_layout_return(&l), 0);
	assert_int_equal(daxrdma_close(&f), 0);
	cr_down(r);
}

/* Issue 26 §5: a grant of another range than asked for is refused, and
 * given back: the daemon must not think the client holds it. */
static void layout_get__of_another_range__is_returned(void **state)
{
	struct crig *r = cr_up(500, 0, NULL, NULL);
	struct daxrdma_layout *l = NULL;
	struct daxrdma_file *f;

	assert_int_equal(daxrdma_open(r->c, "x", "a", DAXRDMA_O_RDWR | DAXRDMA_O_CREAT, 0644, &f), 0);
	assert_int_equal(daxrdma_allocate(f, 0, 8192), 0);
	r->grant_elsewhere = true;
	assert_int_equal(daxrdma_layout_get(f, 0, 4096, DAXRDMA_RW, &l), -EPROTO);
	assert_null(l);
	assert_false(cr_layout(r, r->next_layout_id));
	assert_int_equal(daxrdma_close(&f), 0);
	cr_down(r);
}

/* Issue 26 §4: a daemon that floods kept every call busy for as long as
 * the flood lasted (daxrdma_client_process, which must not block, drained
 * all of it). Each call now does bounded work, the fd stays readable while
 * there is more, and a flood of messages that change nothing ends the
 * connection. */
static void flood__is_handled_a_bounded_part_per_call_then_ends_the_connection(void **state)
{
	struct crig *r = cr_up(200, 0, NULL, NULL);
	struct pollfd pfd = { .events = POLLIN };
	struct daxrdma_file *f;
	int64_t t0, worst = 0;
	int ret = 0, calls = 0;

	assert_int_equal(daxrdma_open(r->c, "x", "a", DAXRDMA_O_RDWR | DAXRDMA_O_CREAT, 0644, &f), 0);
	pfd.fd = daxrdma_client_fd(r->c);
	r->flood = 200000;
	cr_recall(r, 1u << 30); /* the first of them */
	while (ret == 0 && calls < 1000) {
		assert_int_equal(poll(&pfd, 1, 1000), 1); /* readable while there is work */
		t0 = dxc_now_ms();
		ret = daxrdma_client_process(r->c);
		worst = dxc_now_ms() - t0 > worst ? dxc_now_ms() - t0 : worst;
		calls++;
	}
	assert_int_equal(ret, -ENOTCONN);    /* the flood ended the connection */
	assert_true(worst < 100);            /* each call bounded */
	assert_true(r->flood > 199000);      /* long before the flood's end */
	assert_int_equal(daxrdma_close(&f), 0);
	cr_down(r);
}

/* Issue 26 §5: a HELLO reply no daemon sends is refused. */
static void hello__that_lies__is_refused(void **state)
{
	static const struct dxp_hello lies[] = {
		{ .max_layout_size = 512 },                  /* chunks of 0 bytes: put wrote nothing */
		{ .recall_timeout_ms = 0x80000000u },        /* came back as a negative errno */
		{ .features = DXP_FEAT_REMOTE_PERSIST },     /* not asked for (COMMIT_MESSAGE) */
		{ .features = DXP_FEAT_FLUSH },              /* not asked for (COMMIT_MESSAGE, and no FLUSH here) */
	};

	for (unsigned int i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		struct crig *r = cr_new(500, DAXRDMA_COMMIT_MESSAGE, NULL, NULL);

		r->hello = lies[i];
		assert_int_equal(daxrdma_connect(r->c, "192.0.2.1", NULL), -EPROTO);
		cr_down(r);
	}
}

/* Issue 20 §3: a layout marked for RDMA FLUSH by a daemon that did not
 * grant FLUSH (the library, built here without it, did not ask) is
 * persisted by an RDMA READ after the writes, with no COMMIT. */
static void flush_flag_not_granted__persists_by_read(void **state)
{
	struct crig *r = cr_new(500, 0, NULL, NULL);
	struct daxrdma_layout_info info;
	struct daxrdma_file *f;
	struct daxrdma_layout *l;
	unsigned int requests;
	int method = 0;
	char a[64] = "persist me";

	r->one_sided = true;
	assert_int_equal(daxrdma_connect(r->c, "192.0.2.1", NULL), 0);
	l = rw_layout(r, "a", 4096, &f);
	assert_int_equal(daxrdma_layout_info(l, &info), 0);
	assert_int_equal(info.persist, DAXRDMA_PERSIST_READ_AFTER_WRITE);
	assert_int_equal(daxrdma_write(l, 0, a, sizeof(a)), 0);
	requests = r->requests;
	assert_int_equal(daxrdma_commit_method(l, 0, sizeof(a), &method), 0);
	assert_int_equal(method, DAXRDMA_PERSIST_READ_AFTER_WRITE);
	assert_int_equal(r->requests, requests); /* no COMMIT */
	assert_int_equal(daxrdma_layout_return(&l), 0);
	assert_int_equal(daxrdma_close(&f), 0);
	cr_down(r);
}

/* Issue 26 §5: the daemon's error text reaches the application's log
 * without control bytes. */
static void error_text__reaches_the_log_escaped(void **state)
{
	struct crig *r = cr_up(500, 0, NULL, NULL);
	struct daxrdma_file *f = NULL;
	bool seen = false;

	r->error_text = "no \x1b]0;owned\x07 file";
	assert_int_equal(daxrdma_open(r->c, "x", "nope", 0, 0, &f), -ENOENT);
	for (unsigned int i = 0; i < cr_n_log; i++) {
		assert_null(strchr(cr_log[i], 0x1b));
		assert_null(strchr(cr_log[i], 0x07));
		seen = seen || strstr(cr_log[i], "owned");
	}
	assert_true(seen);
	cr_down(r);
}

/* Issue 26 §5: I/O when the connection breaks says so (ENOTCONN), not that
 * the layout was recalled; a reconnect that brings no file back says so. */
static void break__is_enotconn_and_a_reconnect_without_files_is_estale(void **state)
{
	struct crig *r = cr_up(500, 0, NULL, NULL);
	struct daxrdma_file *f;
	struct daxrdma_layout *l = rw_layout(r, "a", 4096, &f);
	char a[16] = "a";

	fv_cm_push(r->c->id, RDMA_CM_EVENT_DISCONNECTED); /* the daemon went away */
	assert_int_equal(daxrdma_write(l, 0, a, sizeof(a)), -ENOTCONN);
	cr_file(r, "a", false)->path[0] = '\0';             /* and the file with it */
	assert_int_equal(daxrdma_reconnect(r->c), -ESTALE);
	assert_int_equal(daxrdma_layout_return(&l), 0);
	assert_int_equal(daxrdma_close(&f), 0);
	cr_down(r);
}

/* Issue 26 §5: a call that retries while the daemon says "later" had a
 * timeout per try: the last try could take another whole timeout. */
static void retries__end_at_the_calls_one_timeout(void **state)
{
	struct crig *r = cr_up(200, 0, NULL, NULL);
	struct daxrdma_file *f;
	int64_t t0;
	int ret;

	assert_int_equal(daxrdma_open(r->c, "x", "a", DAXRDMA_O_RDWR | DAXRDMA_O_CREAT, 0644, &f), 0);
	r->busy_replies = 5;          /* tries at 0, 5, 15, 35, 75 ms; the sixth, at 155 ms, */
	r->silent_after_busy = true;  /* gets no answer */
	t0 = dxc_now_ms();
	ret = daxrdma_allocate(f, 0, 4096);
	assert_true(ret == -ETIMEDOUT || ret == -EAGAIN);
	assert_true(dxc_now_ms() - t0 <= 200 + 50);
	r->silent_after_busy = false;
	assert_int_equal(ret, -EAGAIN);   /* no try whose answer the deadline would cut off */
	assert_false(r->c->broken);       /* and so the connection stays */
	assert_int_equal(daxrdma_close(&f), 0);
	cr_down(r);
}

/* Issue 26 §5: busy_poll_us polled for its whole time even past the call's
 * deadline: a silent daemon held daxrdma_stat() for busy_poll_us, not
 * timeout_ms. */
static void busy_poll__ends_at_the_calls_deadline(void **state)
{
	struct crig *r = cr_up(100, 0, NULL, NULL);
	struct daxrdma_file *f;
	struct daxrdma_stat st;
	int64_t t0;

	assert_int_equal(daxrdma_open(r->c, "x", "a", DAXRDMA_O_RDWR | DAXRDMA_O_CREAT, 0644, &f), 0);
	r->c->opts.busy_poll_us = 2000000;
	r->silent_after_busy = true; /* no answer at all */
	t0 = dxc_now_ms();
	assert_int_equal(daxrdma_stat(f, &st), -ETIMEDOUT);
	assert_true(dxc_now_ms() - t0 <= 100 + 50);
	r->silent_after_busy = false;
	daxrdma_close(&f);
	cr_down(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(write__lands_in_the_file_and_reads_back),
		cmocka_unit_test(write__that_timed_out__never_lands_later),
		cmocka_unit_test(relayout__keeps_a_recall_right_behind_the_new_grant),
		cmocka_unit_test(commit__after_a_recall_returned_the_layout__is_what_the_return_persisted),
		cmocka_unit_test(commit__after_a_fenced_layout_went_back__is_estale),
		cmocka_unit_test(commit__after_a_recall__with_a_daemon_that_does_not_persist_returns__is_estale),
		cmocka_unit_test(relayout__of_a_layout_whose_return_failed__is_estale),
		cmocka_unit_test(layout_get__of_another_range__is_returned),
		cmocka_unit_test(flood__is_handled_a_bounded_part_per_call_then_ends_the_connection),
		cmocka_unit_test(hello__that_lies__is_refused),
		cmocka_unit_test(flush_flag_not_granted__persists_by_read),
		cmocka_unit_test(error_text__reaches_the_log_escaped),
		cmocka_unit_test(break__is_enotconn_and_a_reconnect_without_files_is_estale),
		cmocka_unit_test(retries__end_at_the_calls_one_timeout),
		cmocka_unit_test(busy_poll__ends_at_the_calls_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
