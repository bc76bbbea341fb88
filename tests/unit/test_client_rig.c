/*
 * libdaxrdma-client's real code against a scripted daemon on fake verbs
 * (clientrig.h): what a server, a NIC or an application can make of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(write__lands_in_the_file_and_reads_back),
		cmocka_unit_test(write__that_timed_out__never_lands_later),
		cmocka_unit_test(relayout__keeps_a_recall_right_behind_the_new_grant),
		cmocka_unit_test(layout_get__of_another_range__is_returned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
