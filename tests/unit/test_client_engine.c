/* libdaxrdma-client's message engine, fed daemon messages directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
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
	daxrdma_client_delete(&c);
}

static void on_message__malformed__is_ignored(void **state)
{
	struct daxrdma_client *c = new_client();
	uint8_t junk[24] = { DXP_LAYOUT_RECALL, 0, 0, 0, 24 };

	dxc_on_message(c, junk, sizeof(junk));
	assert_false(c->have_reply);
	assert_false(c->broken);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(on_message__recall_right_behind_its_grant__is_kept),
		cmocka_unit_test(on_message__recall_of_an_unknown_layout__is_dropped),
		cmocka_unit_test(on_message__reply_with_another_tag__is_ignored),
		cmocka_unit_test(on_message__malformed__is_ignored),
		cmocka_unit_test(on_message__bye__breaks_the_connection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
