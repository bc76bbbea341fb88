/* libdaxrdma-client's message engine, fed daemon messages directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"

static struct daxrdma_client *new_client(void)
{
	struct daxrdma_client *c = NULL;

	assert_int_equal(daxrdma_client_new(NULL, &c), 0);
	return c;
}

static void feed(struct daxrdma_client *c, const struct dxp_msg *m)
{
	uint8_t buf[DXP_MAX_MSG];
	ssize_t len = dxp_encode(m, buf, sizeof(buf));

	assert_true(len > 0);
	dxc_on_message(c, buf, (uint32_t)len);
}

static struct dxp_msg grant(uint64_t tag, uint64_t id)
{
	struct dxp_msg m = { .hdr = { .op = DXP_LAYOUT_GET, .flags = DXP_F_REPLY, .tag = tag } };

	m.u.lget_rep.stateid = (struct dxp_stateid){ .id = id, .seq = 1 };
	m.u.lget_rep.len = DXP_PAGE;
	m.u.lget_rep.iomode = DXP_IOMODE_RW;
	m.u.lget_rep.mr_mode = DXP_MR_PINNED;
	return m;
}

static struct dxp_msg recall(uint64_t id)
{
	struct dxp_msg m = { .hdr = { .op = DXP_LAYOUT_RECALL } };

	m.u.recall.stateid = (struct dxp_stateid){ .id = id, .seq = 1 };
	m.u.recall.len = DXP_PAGE;
	m.u.recall.reason = DXP_RECALL_CONFLICT;
	m.u.recall.timeout_ms = 2000;
	return m;
}

/* The daemon grants a layout and recalls it at once (another client wants
 * it): both arrive in one batch of completions, before the grant has a
 * handle. The recall must be kept, or the client is fenced for nothing. */
static void on_message__recall_right_behind_its_grant__is_kept(void **state)
{
	struct daxrdma_client *c = new_client();
	struct dxp_msg m = grant(7, 42);

	c->wait_tag = 7;
	feed(c, &m);
	assert_true(c->have_reply);
	m = recall(42);
	feed(c, &m);
	assert_true(c->early_recall_valid);
	assert_int_equal(c->early_recall.stateid.id, 42);
	assert_int_equal(c->early_recall.reason, DXP_RECALL_CONFLICT);
	daxrdma_client_delete(&c);
}

static struct dxp_msg file_recall(uint64_t rid, uint64_t fh, uint64_t max_id)
{
	struct dxp_msg m = { .hdr = { .op = DXP_FILE_RECALL } };

	m.u.frecall = (struct dxp_file_recall){
		.recall_id = rid, .fh = fh, .off = 0, .len = UINT64_MAX, .max_id = max_id,
		.reason = DXP_RECALL_LOCAL, .timeout_ms = 2000, .count = 2,
	};
	return m;
}

/* A handle with layouts of ids 5, 6 and 9 over pages 0, 1, 2. */
static struct daxrdma_file *file_with_layouts(struct daxrdma_client *c, uint64_t fh)
{
	static const uint64_t ids[] = { 5, 6, 9 };
	struct daxrdma_file *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->c = c;
	f->fh = fh;
	TAILQ_INIT(&f->layouts);
	TAILQ_INSERT_TAIL(&c->files, f, link);
	for (unsigned int i = 0; i < 3; i++) {
		struct daxrdma_layout *l = calloc(1, sizeof(*l));

		assert_non_null(l);
		l->file = f;
		l->sid = (struct dxp_stateid){ .id = ids[i], .seq = 1 };
		l->off = i * DXP_PAGE;
		l->len = DXP_PAGE;
		l->state = DXC_LAYOUT_VALID;
		TAILQ_INSERT_TAIL(&f->layouts, l, link);
	}
	return f;
}

/* A FILE_RECALL covers the layouts of its handle up to its max_id: one
 * granted after it (id 9 here) and other handles' layouts stay valid. */
static void on_message__file_recall__marks_its_handles_layouts_up_to_max_id(void **state)
{
	struct daxrdma_client *c = new_client();
	struct daxrdma_file *f = file_with_layouts(c, 1), *g = file_with_layouts(c, 2);
	struct daxrdma_layout *l;
	struct dxp_msg m = file_recall(77, 1, 6);
	unsigned int recalled = 0;

	feed(c, &m);
	TAILQ_FOREACH(l, &f->layouts, link) {
		assert_int_equal(l->state, l->sid.id <= 6 ? DXC_LAYOUT_RECALLED : DXC_LAYOUT_VALID);
		if (l->state == DXC_LAYOUT_RECALLED) {
			assert_int_equal(l->recall_id, 77);
			recalled++;
		}
	}
	assert_int_equal(recalled, 2);
	TAILQ_FOREACH(l, &g->layouts, link)
		assert_int_equal(l->state, DXC_LAYOUT_VALID);
	/* queued together, in order, for one RECALL_RETURN */
	l = TAILQ_FIRST(&c->recalled);
	assert_int_equal(l->sid.id, 5);
	assert_int_equal(TAILQ_NEXT(l, recall_link)->sid.id, 6);
	assert_null(TAILQ_NEXT(TAILQ_NEXT(l, recall_link), recall_link));
	daxrdma_client_delete(&c);
}

/* A set-size that shrinks the file recalls from the new size to the end:
 * [off, +UINT64_MAX), whose end does not fit in 64 bits. Every layout past
 * OFF is covered, not only those below the wrapped end (seen in the soak:
 * the holders of layouts past a new size were fenced). */
static void on_message__file_recall_from_an_offset_to_the_end__covers_what_is_past_it(void **state)
{
	struct daxrdma_client *c = new_client();
	struct daxrdma_file *f = file_with_layouts(c, 1);
	struct daxrdma_layout *l;
	struct dxp_msg m = file_recall(78, 1, 9);

	m.u.frecall.off = DXP_PAGE + 100; /* inside page 1 */
	feed(c, &m);
	TAILQ_FOREACH(l, &f->layouts, link)
		assert_int_equal(l->state, l->off + l->len > DXP_PAGE + 100 ? DXC_LAYOUT_RECALLED : DXC_LAYOUT_VALID);
	daxrdma_client_delete(&c);
}

/* ... and one that arrives right behind the grant of a layout it covers is
 * kept for daxrdma_layout_get() to apply. */
static void on_message__file_recall_right_behind_its_grant__is_kept(void **state)
{
	struct daxrdma_client *c = new_client();
	struct dxp_msg m = grant(7, 42);

	c->wait_tag = 7;
	c->lget_fh = 3;
	feed(c, &m);
	m = file_recall(78, 3, 42);
	feed(c, &m);
	assert_true(c->early_frecall_valid);
	assert_int_equal(c->early_frecall.recall_id, 78);
	c->early_frecall_valid = false;
	m = file_recall(79, 4, 42); /* another handle: not this grant's */
	feed(c, &m);
	assert_false(c->early_frecall_valid);
	daxrdma_client_delete(&c);
}

static void on_message__recall_of_an_unknown_layout__is_dropped(void **state)
{
	struct daxrdma_client *c = new_client();
	struct dxp_msg m = grant(7, 42);

	c->wait_tag = 7;
	feed(c, &m);
	m = recall(43);
	feed(c, &m);
	assert_false(c->early_recall_valid);
	daxrdma_client_delete(&c);
}

static void on_message__reply_with_another_tag__is_ignored(void **state)
{
	struct daxrdma_client *c = new_client();
	struct dxp_msg m = grant(8, 42);

	c->wait_tag = 7;
	feed(c, &m);
	assert_false(c->have_reply);
	assert_int_equal(c->idle_msgs, 1);       /* counted as a message that changed nothing */
	m.hdr.tag = 7;                           /* the control: the awaited one is taken */
	feed(c, &m);
	assert_true(c->have_reply);
	assert_int_equal(c->reply.u.lget_rep.stateid.id, 42);
	daxrdma_client_delete(&c);
}

static void on_message__malformed__is_ignored(void **state)
{
	struct daxrdma_client *c = new_client();
	uint8_t junk[24] = { DXP_LAYOUT_RECALL, 0, 0, 0, 24 };

	c->wait_tag = 0;                          /* a LAYOUT_RECALL's tag: were it taken as one */
	dxc_on_message(c, junk, sizeof(junk));
	assert_false(c->have_reply);
	assert_false(c->broken);
	assert_true(TAILQ_EMPTY(&c->recalled));
	assert_int_equal(c->idle_msgs, 1);       /* seen, logged, and counted against a flood */
	daxrdma_client_delete(&c);
}

static void on_message__bye__breaks_the_connection(void **state)
{
	struct daxrdma_client *c = new_client();
	struct dxp_msg m = { .hdr = { .op = DXP_BYE } };

	m.u.bye.reason = DXP_E_MALFORMED;
	feed(c, &m);
	assert_true(c->broken);
	assert_non_null(strstr(c->why_broken, "MALFORMED"));
	daxrdma_client_delete(&c);
}

/* Recall callbacks that do what an application may do (issue 26 §1). */
struct in_callback {
	struct daxrdma_file *close;       /* close this file in the first callback */
	struct daxrdma_layout *give_back; /* return this layout in the second */
	unsigned int calls;
};

static int callback(void *arg, struct daxrdma_layout *l, int reason)
{
	struct in_callback *cb = arg;

	if (++cb->calls == 1 && cb->close)
		assert_int_equal(daxrdma_close(&cb->close), 0);
	if (cb->calls == 2 && cb->give_back)
		daxrdma_layout_return(&cb->give_back);
	return DAXRDMA_RECALL_RETURN;
}

/* A callback that closes the recalled layout's file: the layout, the rest
 * of its recall and the file go, and nothing touches them after (ASan's
 * build saw a use after free here). */
static void recall_callback__may_close_the_file(void **state)
{
	struct daxrdma_client *c = new_client();
	struct in_callback cb = { .close = file_with_layouts(c, 1) };
	struct dxp_msg m = file_recall(77, 1, 6);
	struct dxp_msg r = recall(9);

	file_with_layouts(c, 2);
	c->opts.recall = callback;
	c->opts.recall_arg = &cb;
	feed(c, &m);
	feed(c, &r);                             /* and the file's third layout alone, behind it */
	dxc_handle_recalls(c);
	assert_int_equal(cb.calls, 1);           /* the others went with the file */
	assert_null(cb.close);
	assert_true(TAILQ_EMPTY(&c->recalled));
	daxrdma_client_delete(&c);
}

/* A callback that returns an earlier layout of the same recall. */
static void recall_callback__may_return_another_layout_of_the_recall(void **state)
{
	struct daxrdma_client *c = new_client();
	struct daxrdma_file *f = file_with_layouts(c, 1);
	struct in_callback cb = { .give_back = TAILQ_FIRST(&f->layouts) };
	struct dxp_msg m = file_recall(77, 1, 9);

	c->opts.recall = callback;
	c->opts.recall_arg = &cb;
	feed(c, &m);
	dxc_handle_recalls(c);
	assert_int_equal(cb.calls, 3);
	assert_null(cb.give_back);
	assert_true(TAILQ_EMPTY(&c->recalled));
	assert_int_equal(TAILQ_FIRST(&f->layouts)->sid.id, 6); /* the returned one is gone */
	daxrdma_client_delete(&c);
}

/* Issue 26 §3: after a failed reconnect, a connect would number its
 * handles from 1 again, and the old files' handles would name new files. */
static void connect__with_files_of_an_earlier_connection__is_refused(void **state)
{
	struct daxrdma_client *c = new_client();
	struct daxrdma_file *f = file_with_layouts(c, 1); /* left from a lost connection */

	assert_int_equal(daxrdma_connect(c, "192.0.2.1", NULL), -EBUSY);
	assert_int_equal(daxrdma_close(&f), 0);
	/* none left: it tries (and fails here, with no RDMA device) */
	assert_int_not_equal(daxrdma_connect(c, "192.0.2.1", NULL), -EBUSY);
	daxrdma_client_delete(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(on_message__recall_right_behind_its_grant__is_kept),
		cmocka_unit_test(on_message__recall_of_an_unknown_layout__is_dropped),
		cmocka_unit_test(on_message__file_recall__marks_its_handles_layouts_up_to_max_id),
		cmocka_unit_test(on_message__file_recall_from_an_offset_to_the_end__covers_what_is_past_it),
		cmocka_unit_test(on_message__file_recall_right_behind_its_grant__is_kept),
		cmocka_unit_test(on_message__reply_with_another_tag__is_ignored),
		cmocka_unit_test(on_message__malformed__is_ignored),
		cmocka_unit_test(on_message__bye__breaks_the_connection),
		cmocka_unit_test(recall_callback__may_close_the_file),
		cmocka_unit_test(recall_callback__may_return_another_layout_of_the_recall),
		cmocka_unit_test(connect__with_files_of_an_earlier_connection__is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
