/* src/common: addresses and ACLs, the report renderer, control-message
 * framing, escaping of client-supplied names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctlmsg.h"
#include "common/escape.h"
#include "common/net.h"
#include "common/parse.h"
#include "common/report.h"

static struct sockaddr_storage addr(const char *s)
{
	struct sockaddr_storage ss;

	assert_int_equal(dx_sockaddr_parse(s, 1, &ss), 0);
	return ss;
}

static bool acl_allows(const char *cidr, const char *peer)
{
	struct sockaddr_storage ss = addr(peer);
	struct dx_cidr c;

	assert_int_equal(dx_cidr_parse(cidr, &c), 0);
	return dx_cidr_match(&c, (struct sockaddr *)&ss);
}

static void cidr__matches_inside_its_prefix_only(void **state)
{
	assert_true(acl_allows("192.168.100.0/24", "192.168.100.7"));
	assert_false(acl_allows("192.168.100.0/24", "192.168.101.7"));
	assert_true(acl_allows("10.1.2.3", "10.1.2.3"));
	assert_false(acl_allows("10.1.2.3", "10.1.2.4"));
	assert_true(acl_allows("10.0.0.0/9", "10.127.0.1"));
	assert_false(acl_allows("10.0.0.0/9", "10.128.0.1"));
	assert_true(acl_allows("0.0.0.0/0", "203.0.113.9"));
	assert_true(acl_allows("fd00::/8", "fd12::1"));
	assert_false(acl_allows("fd00::/8", "fe80::1"));
	assert_true(acl_allows("192.168.100.0/24", "::ffff:192.168.100.9")); /* v4-mapped peer */
	assert_false(acl_allows("::/0", "192.168.100.9"));
}

static void cidr__rejects_malformed_entries(void **state)
{
	static const char *const bad[] = { "", "/24", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8x",
					   "::/129", "300.1.1.1", "host.example", "10.0.0.0/24/1" };
	struct dx_cidr c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dx_cidr_parse(bad[i], &c) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
}

static void sockaddr__prints_v4_and_v6_with_port(void **state)
{
	struct sockaddr_storage ss;
	char buf[64];

	assert_int_equal(dx_sockaddr_parse("192.168.100.1", 20049, &ss), 0);
	assert_string_equal(dx_sockaddr_str((struct sockaddr *)&ss, buf, sizeof(buf)), "192.168.100.1:20049");
	assert_int_equal(dx_sockaddr_parse("fe80::1", 7, &ss), 0);
	assert_string_equal(dx_sockaddr_str((struct sockaddr *)&ss, buf, sizeof(buf)), "[fe80::1]:7");
	assert_int_equal(dx_sockaddr_parse("localhost", 7, &ss), -EINVAL);
}

static char *render(struct report *r, enum report_format fmt)
{
	struct dxbuf out = DXBUF_INIT;

	assert_int_equal(report_render(r, fmt, &out), 0);
	return dxbuf_detach(&out);
}

static void report__json_escapes_and_nests(void **state)
{
	struct report *r = report_new();
	struct rnode *root = report_root(r), *arr, *o;
	char *s;

	rn_str(root, "path", "/a\"b\\c\n\x01");
	rn_int(root, "n", -5);
	rn_bool(root, "ok", true);
	arr = rn_array(root, "rows");
	o = rn_object(arr, NULL);
	rn_str(o, "name", "x");
	rn_array(root, "empty");
	s = render(r, REPORT_JSON);
	assert_string_equal(s, "{\"path\":\"/a\\\"b\\\\c\\n\\u0001\",\"n\":-5,\"ok\":true,"
			       "\"rows\":[{\"name\":\"x\"}],\"empty\":[]}\n");
	free(s);
	report_free(&r);
	assert_null(r);
}

static char *escaped(const char *in)
{
	struct dxbuf b = DXBUF_INIT;
	char *s;

	dx_escape(&b, in);
	s = strdup(dxbuf_str(&b));
	dxbuf_release(&b);
	return s;
}

static void escape__makes_controls_and_bad_utf8_visible(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "plain/path.img", "plain/path.img" },
		{ "evil\n<0>forged", "evil\\n<0>forged" },          /* no second log line */
		{ "a\\b\tc\rd", "a\\\\b\\tc\\rd" },
		{ "bell\x07 esc\x1b[2J del\x7f", "bell\\x07 esc\\x1b[2J del\\x7f" },
		{ "c1:\xc2\x9b", "c1:\\u009b" },                     /* CSI as a C1 control */
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "bad\xff\xc3", "bad\\xff\\xc3" },              /* stray and cut-off bytes */
		{ "overlong\xc0\xaf", "overlong\\xc0\\xaf" },
		{ "surrogate\xed\xa0\x80", "surrogate\\xed\\xa0\\x80" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = escaped(cases[i].in);

		assert_string_equal(s, cases[i].out);
		free(s);
	}
}

static void escape_to__cuts_between_characters(void **state)
{
	char out[6];

	dx_escape_to(out, sizeof(out), "ab\xe2\x82\xac\xe2\x82\xac"); /* "ab€€": 8 bytes */
	assert_string_equal(out, "ab\xe2\x82\xac");
	dx_escape_to(out, sizeof(out), "a\nbcdef");
	assert_string_equal(out, "a\\nbc");
}

static void report__json_is_valid_utf8_and_text_escapes(void **state)
{
	struct report *r = report_new();
	char *s;

	rn_str(report_root(r), "path", "x\xff\n\x1b");
	s = render(r, REPORT_JSON);
	assert_string_equal(s, "{\"path\":\"x\\\\xff\\n\\u001b\"}\n");
	free(s);
	s = render(r, REPORT_TEXT);
	assert_non_null(strstr(s, "x\\xff\\n\\x1b"));
	assert_null(strchr(s, '\x1b'));
	free(s);
	report_free(&r);
}

static void report__text_aligns_tables_and_records(void **state)
{
	struct report *r = report_new();
	struct rnode *root = report_root(r), *t, *o;
	char *s;

	rn_str(root, "device", "rxe0");
	rn_int(root, "uptime_s", 3);
	t = rn_array(root, "exports");
	o = rn_object(t, NULL);
	rn_str(o, "name", "pmem");
	rn_bool(o, "read_only", false);
	o = rn_object(t, NULL);
	rn_str(o, "name", "scratchpad");
	rn_bool(o, "read_only", true);
	t = rn_records(root, "detail");
	o = rn_object(t, NULL);
	rn_str(o, "name", "pmem");
	rn_str(o, "mode", "bounce");
	rn_array(root, "clients");
	s = render(r, REPORT_TEXT);
	assert_string_equal(s, "device:   rxe0\n"
			       "uptime_s: 3\n"
			       "exports:\n"
			       "  NAME        READ ONLY\n"
			       "  pmem        no\n"
			       "  scratchpad  yes\n"
			       "detail:\n"
			       "  - name: pmem\n"
			       "    mode: bounce\n"
			       "clients:  (none)\n");
	free(s);
	report_free(&r);
}

static void ctl_request__round_trips(void **state)
{
	char *argv[] = { "recall", "/export/f", "--wait" }, *got[DXCTL_MAX_ARGS];
	struct dxbuf b = DXBUF_INIT;
	uint16_t flags;
	uint32_t len;
	int argc;

	assert_int_equal(dxctl_request_encode(&b, DXCTL_F_JSON, 3, argv), 0);
	assert_int_equal(b.len, sizeof(struct dxctl_req_hdr) + 7 + 10 + 7);
	assert_int_equal(dxctl_request_check((struct dxctl_req_hdr *)b.buf, &flags, &len), 0);
	assert_int_equal(flags, DXCTL_F_JSON);
	assert_int_equal(dxctl_request_split(b.buf + sizeof(struct dxctl_req_hdr), len, got, &argc), 0);
	assert_int_equal(argc, 3);
	assert_string_equal(got[1], "/export/f");
	dxbuf_release(&b);
}

static void ctl_request__malformed_is_refused(void **state)
{
	struct dxctl_req_hdr good = { htole32(DXCTL_MAGIC), htole16(DXCTL_VERSION), 0, htole32(5), 0 }, h;
	char *many[DXCTL_MAX_ARGS + 1], big[DXCTL_MAX_REQUEST + 1], *argv[DXCTL_MAX_ARGS];
	char unterminated[] = { 's', 't', 'a' }, lots[2 * (DXCTL_MAX_ARGS + 1)];
	struct dxbuf b = DXBUF_INIT;
	uint16_t flags;
	uint32_t len;
	int argc;

	h = good, h.magic = 0;
	assert_int_equal(dxctl_request_check(&h, &flags, &len), -EPROTO);
	h = good, h.version = htole16(2);
	assert_int_equal(dxctl_request_check(&h, &flags, &len), -EPROTONOSUPPORT);
	h = good, h.reserved = 1;
	assert_int_equal(dxctl_request_check(&h, &flags, &len), -EINVAL);
	h = good, h.flags = htole16(0x8000);
	assert_int_equal(dxctl_request_check(&h, &flags, &len), -EINVAL);
	h = good, h.len = htole32(DXCTL_MAX_REQUEST + 1);
	assert_int_equal(dxctl_request_check(&h, &flags, &len), -EMSGSIZE);
	h = good, h.len = 0;
	assert_int_equal(dxctl_request_check(&h, &flags, &len), -EMSGSIZE);
	assert_int_equal(dxctl_request_split(unterminated, sizeof(unterminated), argv, &argc), -EINVAL);
	memset(lots, 0, sizeof(lots));
	for (size_t i = 0; i < sizeof(lots); i += 2)
		lots[i] = 'a';
	assert_int_equal(dxctl_request_split(lots, sizeof(lots), argv, &argc), -E2BIG);
	for (size_t i = 0; i < DXCTL_MAX_ARGS + 1; i++)
		many[i] = "x";
	assert_int_equal(dxctl_request_encode(&b, 0, DXCTL_MAX_ARGS + 1, many), -E2BIG);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	many[0] = big;
	assert_int_equal(dxctl_request_encode(&b, 0, 1, many), -E2BIG);
	dxbuf_release(&b);
}

static void ctl_reply__carries_negative_status(void **state)
{
	struct dxctl_rep_hdr h;
	int32_t status;
	uint32_t len;

	dxctl_reply_hdr(&h, -EPERM, 12);
	assert_int_equal(dxctl_reply_check(&h, &status, &len), 0);
	assert_int_equal(status, -EPERM);
	assert_int_equal(len, 12);
	h.len = htole32(DXCTL_MAX_REPLY + 1);
	assert_int_equal(dxctl_reply_check(&h, &status, &len), -EMSGSIZE);
	h.magic = 0;
	assert_int_equal(dxctl_reply_check(&h, &status, &len), -EPROTO);
}

/* Issue 26 §5: daxrdmactl's --offset " -4096" passed a sign check and
 * became 2^64 - 4096, "010" was octal, "5x" a timeout of 5. */
static void parse__takes_plain_decimal_numbers_only(void **state)
{
	static const char *const bad[] = { "", " 1", "-4096", " -4096", "+1", "0x10", "1.5", "5x", "1 ", "1KB", "1kk",
					   "18446744073709551616", "16777216T" };
	uint64_t v;

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(dx_parse_bytes(bad[i], &v), 0);
	assert_int_equal(dx_parse_bytes("010", &v), 0);
	assert_int_equal(v, 10);                         /* decimal, not octal */
	assert_int_equal(dx_parse_bytes("4k", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(dx_parse_bytes("2MiB", &v), 0);
	assert_int_equal(v, 2 << 20);
	assert_int_equal(dx_parse_bytes("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(dx_parse_bytes("16777215T", &v), 0);
	assert_int_equal(dx_parse_uint("5x", 1, 3600, &v), -EINVAL);
	assert_int_equal(dx_parse_uint("0", 1, 3600, &v), -ERANGE);
	assert_int_equal(dx_parse_uint("3601", 1, 3600, &v), -ERANGE);
	assert_int_equal(dx_parse_uint("3600", 1, 3600, &v), 0);
	assert_int_equal(v, 3600);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cidr__matches_inside_its_prefix_only),
		cmocka_unit_test(cidr__rejects_malformed_entries),
		cmocka_unit_test(sockaddr__prints_v4_and_v6_with_port),
		cmocka_unit_test(report__json_escapes_and_nests),
		cmocka_unit_test(report__json_is_valid_utf8_and_text_escapes),
		cmocka_unit_test(escape__makes_controls_and_bad_utf8_visible),
		cmocka_unit_test(escape_to__cuts_between_characters),
		cmocka_unit_test(report__text_aligns_tables_and_records),
		cmocka_unit_test(ctl_request__round_trips),
		cmocka_unit_test(ctl_request__malformed_is_refused),
		cmocka_unit_test(ctl_reply__carries_negative_status),
		cmocka_unit_test(parse__takes_plain_decimal_numbers_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
