/* Wire protocol v1: every message round-trips, and every malformed form is
 * refused with a reason before a field is trusted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/proto.h"

static uint8_t buf[DXP_MAX_MSG];

static size_t encode_ok(const struct dxp_msg *m)
{
	ssize_t n = dxp_encode(m, buf, sizeof(buf));

	assert_true(n >= (ssize_t)sizeof(struct dxp_hdr));
	return (size_t)n;
}

static void decode_fails(size_t len, const char *why_part)
{
	struct dxp_msg out;
	const char *why;

	assert_int_equal(dxp_decode(buf, len, &out, &why), -EBADMSG);
	assert_non_null(why);
	if (!strstr(why, why_part))
		fail_msg("reason \"%s\" does not mention \"%s\"", why, why_part);
}

static struct dxp_msg msg(unsigned int op, bool reply, uint64_t tag)
{
	struct dxp_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.op = (uint8_t)op;
	m.hdr.flags = reply ? DXP_F_REPLY : 0;
	m.hdr.tag = tag;
	return m;
}

static void spec_widths__match_struct_sizes(void **state)
{
	for (unsigned int op = 1; op < DXP_OP_MAX; op++) {
		for (int reply = 0; reply < 2; reply++) {
			size_t w;
			const char *spec = dxp_spec_body(op, reply, &w);

			if (!spec)
				continue;
			assert_int_equal(dxp_min_len(op, reply), sizeof(struct dxp_hdr) + w);
		}
	}
	assert_int_equal(dxp_min_len(DXP_HELLO, false), 16 + sizeof(struct dxp_hello));
	assert_int_equal(dxp_min_len(DXP_LAYOUT_GET, true), 16 + sizeof(struct dxp_layout_get_rep));
	assert_int_equal(dxp_min_len(DXP_LAYOUT_RECALL, true), 0);
	assert_int_equal(dxp_min_len(DXP_ERROR, false), 0);
	assert_int_equal(dxp_min_len(0, false), 0);
	assert_int_equal(dxp_min_len(DXP_OP_MAX, false), 0);
}

/* Fill the non-reserved bytes of the body with a pattern, encode, decode:
 * every field must come back, in little-endian order on the wire. */
static void every_message__round_trips(void **state)
{
	for (unsigned int op = 1; op < DXP_OP_MAX; op++) {
		for (int reply = 0; reply < 2; reply++) {
			struct dxp_msg m = msg(op, reply, 0x1122334455667788ull), out;
			size_t w, n, off = 0;
			const char *spec = dxp_spec_body(op, reply, &w);
			uint8_t *body = (uint8_t *)&m.u;
			const char *why;

			if (!spec)
				continue;
			for (const char *f = spec; *f; f++) {
				size_t fw = (*f | 0x20) == 'q' ? 8 : (*f | 0x20) == 'w' ? 4 : (*f | 0x20) == 'h' ? 2 : 1;
				if (*f >= 'a')
					for (size_t i = 0; i < fw; i++)
						body[off + i] = (uint8_t)(op * 16 + off + i + 1);
				off += fw;
			}
			/* Values the decoder range-checks must be valid ones. */
			if (op == DXP_OPEN && !reply) {
				m.u.open.flags = DXP_OPEN_RW | DXP_OPEN_CREATE;
				m.u.open.export_len = 4;
				m.u.open.path_len = 9;
				m.u.open.mode = 0644;
				m.s1 = "pmem";
				m.s2 = "dir/file1";
			}
			if (op == DXP_LAYOUT_GET && !reply)
				m.u.lget.iomode = DXP_IOMODE_RW;
			if (op == DXP_ALLOCATE && !reply)
				m.u.alloc.flags = DXP_ALLOC_SETSIZE;
			if (op == DXP_LAYOUT_RECALL)
				m.u.recall.reason = DXP_RECALL_LOCAL;
			if (op == DXP_FILE_RECALL)
				m.u.frecall.reason = DXP_RECALL_SHUTDOWN;
			if (op == DXP_RECALL_RETURN && !reply)
				m.u.rret.flags = DXP_RETURN_CLEAN;
			if (op == DXP_LAYOUT_RETURN && !reply)
				m.u.lret.flags = DXP_RETURN_CLEAN;
			if (op == DXP_RENAME && !reply) {
				m.u.rename.path_len = 8;
				m.s1 = "dir/file";
			}
			if (op == DXP_ERROR) {
				m.u.error.code = DXP_E_BUSY_LOCAL;
				m.u.error.msg_len = 5;
				m.s1 = "busy!";
			}
			n = encode_ok(&m);
			assert_int_equal(buf[0], op);
			assert_int_equal(buf[4] | buf[5] << 8, n); /* len, little-endian */
			assert_int_equal(buf[8], 0x88);            /* tag, little-endian */
			assert_int_equal(dxp_decode(buf, n, &out, &why), 0);
			assert_null(why);
			assert_int_equal(out.hdr.op, op);
			assert_int_equal(out.hdr.tag, 0x1122334455667788ull);
			assert_int_equal(out.hdr.len, n);
			assert_memory_equal(&out.u, &m.u, w);
			if (op == DXP_OPEN && !reply) {
				assert_memory_equal(out.s1, "pmem", 4);
				assert_memory_equal(out.s2, "dir/file1", 9);
			}
			if (op == DXP_RENAME && !reply)
				assert_memory_equal(out.s1, "dir/file", 8);
			if (op == DXP_ERROR)
				assert_memory_equal(out.s1, "busy!", 5);
		}
	}
}

static void layout_get_reply__wire_bytes_are_little_endian(void **state)
{
	struct dxp_msg m = msg(DXP_LAYOUT_GET, true, 7);

	m.u.lget_rep.stateid.id = 0x0102030405060708ull;
	m.u.lget_rep.rkey = 0xaabbccdd;
	encode_ok(&m);
	assert_int_equal(buf[16], 0x08);
	assert_int_equal(buf[23], 0x01);
	assert_int_equal(buf[16 + offsetof(struct dxp_layout_get_rep, rkey)], 0xdd);
}

static void encode__refuses_unknown_combinations_and_oversize(void **state)
{
	struct dxp_msg m = msg(DXP_LAYOUT_RECALL, true, 0);
	char big[DXP_MAX_MSG];

	assert_int_equal(dxp_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = msg(DXP_ERROR, false, 1);
	assert_int_equal(dxp_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = msg(0, false, 1);
	assert_int_equal(dxp_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = msg(DXP_STAT, false, 1);
	m.hdr.flags = 0x80;
	assert_int_equal(dxp_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = msg(DXP_OPEN, false, 1);
	memset(big, 'a', sizeof(big));
	m.u.open.export_len = 4;
	m.u.open.path_len = DXP_MAX_MSG - 20;
	m.s1 = big;
	m.s2 = big;
	assert_int_equal(dxp_encode(&m, buf, sizeof(buf)), -EMSGSIZE);
	m.u.open.path_len = 10;
	assert_int_equal(dxp_encode(&m, buf, 20), -EMSGSIZE);
	m.s2 = NULL;
	assert_int_equal(dxp_encode(&m, buf, sizeof(buf)), -EINVAL);
}

static size_t good_stat(void)
{
	struct dxp_msg m = msg(DXP_STAT, false, 3);

	m.u.fh.fh = 42;
	return encode_ok(&m);
}

static void decode__refuses_short_and_mislabelled_lengths(void **state)
{
	size_t n = good_stat();

	decode_fails(0, "shorter than a header");
	decode_fails(15, "shorter than a header");
	decode_fails(n - 1, "header length differs");
	buf[4] = 16; /* claims header only */
	decode_fails(16, "minimum length");
	n = good_stat();
	buf[4] = (uint8_t)(n + 4);
	decode_fails(n + 4, "length does not match");
}

static void decode__refuses_reserved_bits(void **state)
{
	struct dxp_msg m;
	size_t n = good_stat();

	buf[2] = 1; /* hdr.reserved */
	decode_fails(n, "reserved header bits");
	n = good_stat();
	buf[1] = 0x02; /* unknown flag */
	decode_fails(n, "reserved header bits");

	m = msg(DXP_LAYOUT_RETURN, false, 1);
	n = encode_ok(&m);
	buf[16 + offsetof(struct dxp_stateid, reserved)] = 1;
	decode_fails(n, "reserved field not zero");

	m = msg(DXP_HELLO, false, 1);
	m.u.hello.magic = DXP_MAGIC;
	n = encode_ok(&m);
	buf[16 + offsetof(struct dxp_hello, reserved1) + 3] = 0x80;
	decode_fails(n, "reserved field not zero");
}

static void decode__refuses_unknown_opcodes_and_directions(void **state)
{
	size_t n = good_stat();

	buf[0] = 0;
	decode_fails(n, "unknown opcode");
	buf[0] = DXP_OP_MAX;
	decode_fails(n, "unknown opcode");
	buf[0] = 0xff;
	decode_fails(n, "unknown opcode");
	buf[0] = DXP_LAYOUT_RECALL; /* a recall is never a reply */
	buf[1] = DXP_F_REPLY;
	decode_fails(n, "unknown opcode for a reply");
}

static void decode__checks_open_strings(void **state)
{
	struct dxp_msg m = msg(DXP_OPEN, false, 9);
	size_t n;

	m.u.open.export_len = 4;
	m.u.open.path_len = 3;
	m.s1 = "pmem";
	m.s2 = "a/b";
	n = encode_ok(&m);
	buf[n - 2] = '\0';
	decode_fails(n, "NUL byte");

	m.u.open.flags = 1u << 7;
	n = encode_ok(&m);
	decode_fails(n, "unknown flags");
	m.u.open.flags = 0;
	m.u.open.mode = 010000;
	n = encode_ok(&m);
	decode_fails(n, "mode");
	m.u.open.mode = 0;

	m.u.open.export_len = 0;
	m.u.open.path_len = 7;
	m.s2 = "pmemabc";
	n = encode_ok(&m);
	decode_fails(n, "export name length");

	/* lengths claiming more bytes than the message holds */
	m.u.open.export_len = 4;
	m.u.open.path_len = 3;
	m.s2 = "a/b";
	n = encode_ok(&m);
	buf[16 + offsetof(struct dxp_open_req, path_len)] = 200;
	decode_fails(n, "length does not match");
	buf[16 + offsetof(struct dxp_open_req, path_len)] = 0xff;
	buf[16 + offsetof(struct dxp_open_req, path_len) + 1] = 0xff;
	decode_fails(n, "path too long");
}

/* RENAME's new path: one string, not empty, not too long, no NUL. */
static void decode__checks_the_rename_path(void **state)
{
	struct dxp_msg m = msg(DXP_RENAME, false, 9), out;
	const char *why;
	size_t n;

	m.u.rename.path_len = 3;
	m.s1 = "a/b";
	n = encode_ok(&m);
	assert_int_equal(dxp_decode(buf, n, &out, &why), 0);
	buf[n - 2] = '\0';
	decode_fails(n, "NUL byte");
	m.u.rename.path_len = 0;
	m.s1 = NULL;
	n = encode_ok(&m);
	decode_fails(n, "path length out of range");
	m.u.rename.path_len = 3;
	m.s1 = "a/b";
	n = encode_ok(&m);
	buf[16 + offsetof(struct dxp_rename_req, path_len)] = 0xff;
	buf[16 + offsetof(struct dxp_rename_req, path_len) + 1] = 0xff;
	decode_fails(n, "path length out of range");
	buf[16 + offsetof(struct dxp_rename_req, path_len)] = 4;
	buf[16 + offsetof(struct dxp_rename_req, path_len) + 1] = 0;
	decode_fails(n, "length does not match");
}

static void decode__checks_enum_values(void **state)
{
	struct dxp_msg m = msg(DXP_LAYOUT_GET, false, 1);
	size_t n;

	m.u.lget.iomode = 3;
	n = encode_ok(&m);
	decode_fails(n, "iomode");
	m.u.lget.iomode = 0;
	n = encode_ok(&m);
	decode_fails(n, "iomode");

	m = msg(DXP_ALLOCATE, false, 1);
	m.u.alloc.flags = 2;
	n = encode_ok(&m);
	decode_fails(n, "ALLOCATE: unknown flags");

	m = msg(DXP_LAYOUT_RECALL, false, 0);
	m.u.recall.reason = 99;
	n = encode_ok(&m);
	decode_fails(n, "reason");

	m = msg(DXP_FILE_RECALL, false, 0);
	m.u.frecall = (struct dxp_file_recall){ .recall_id = 1, .fh = 1, .len = 4096, .reason = 0, .count = 1 };
	n = encode_ok(&m);
	decode_fails(n, "FILE_RECALL: unknown reason");
	m.u.frecall.reason = DXP_RECALL_LOCAL;
	m.u.frecall.count = 0;
	n = encode_ok(&m);
	decode_fails(n, "no layout");

	m = msg(DXP_RECALL_RETURN, false, 1);
	m.u.rret = (struct dxp_recall_return_req){ .recall_id = 1, .flags = 4 };
	n = encode_ok(&m);
	decode_fails(n, "RECALL_RETURN: unknown flags");

	m = msg(DXP_LAYOUT_RETURN, false, 1);
	m.u.lret = (struct dxp_layout_return_req){ .stateid = { .id = 1, .seq = 1 }, .flags = 2 };
	n = encode_ok(&m);
	decode_fails(n, "LAYOUT_RETURN: unknown flags");

	m = msg(DXP_ERROR, true, 1);
	m.u.error.code = DXP_E_MAX;
	n = encode_ok(&m);
	decode_fails(n, "unknown code");
	m.u.error.code = 0;
	n = encode_ok(&m);
	decode_fails(n, "unknown code");
}

static void error_codes__have_names_and_errnos(void **state)
{
	for (unsigned int c = 1; c < DXP_E_MAX; c++) {
		assert_string_not_equal(dxp_err_name(c), "UNKNOWN");
		assert_true(dxp_err_to_errno(c) < 0);
		assert_int_equal(dxp_errno_to_err(dxp_err_to_errno(c)), c);
	}
	assert_string_equal(dxp_err_name(DXP_E_BUSY_LOCAL), "BUSY_LOCAL");
	assert_string_equal(dxp_err_name(DXP_E_MAX), "UNKNOWN");
	assert_int_equal(dxp_errno_to_err(-ENOTDIR), DXP_E_NOENT);
	assert_int_equal(dxp_errno_to_err(-EXDEV), DXP_E_NOENT);
	assert_int_equal(dxp_errno_to_err(-ENOTTY), DXP_E_IO);
	assert_string_equal(dxp_op_name(DXP_LAYOUT_RECALL), "LAYOUT_RECALL");
	assert_string_equal(dxp_op_name(200), "UNKNOWN");
}

/* DXP_FEAT_FILE_ID: an OPEN reply with DXP_ATTR_FILE_ID carries the file's
 * identity after its body; without the attribute it is the 24-byte reply
 * of before, so clients that did not ask decode it as ever. */
static void open_reply__carries_the_file_identity_only_when_it_says_so(void **state)
{
	struct dxp_msg m = msg(DXP_OPEN, true, 5), out;
	const char *why;
	size_t n, plain;

	m.u.open_rep = (struct dxp_open_rep){ .fh = 3, .size = 4096 };
	plain = encode_ok(&m);
	assert_int_equal(plain, sizeof(struct dxp_hdr) + sizeof(struct dxp_open_rep));
	m.u.open_rep.attrs = DXP_ATTR_FILE_ID;
	m.file_id = (struct dxp_file_id){ .ino = 0x1122334455667788ull, .gen = 42 };
	n = encode_ok(&m);
	assert_int_equal(n, plain + sizeof(struct dxp_file_id));
	assert_int_equal(buf[plain], 0x88); /* little-endian, right after the body */
	assert_int_equal(dxp_decode(buf, n, &out, &why), 0);
	assert_true(out.file_id.ino == 0x1122334455667788ull && out.file_id.gen == 42);
	/* The attribute without the identity, or the identity without it: refused. */
	decode_fails(plain, "length");
	m.u.open_rep.attrs = 0;
	encode_ok(&m);
	decode_fails(n, "length");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spec_widths__match_struct_sizes),
		cmocka_unit_test(every_message__round_trips),
		cmocka_unit_test(open_reply__carries_the_file_identity_only_when_it_says_so),
		cmocka_unit_test(layout_get_reply__wire_bytes_are_little_endian),
		cmocka_unit_test(encode__refuses_unknown_combinations_and_oversize),
		cmocka_unit_test(decode__refuses_short_and_mislabelled_lengths),
		cmocka_unit_test(decode__refuses_reserved_bits),
		cmocka_unit_test(decode__refuses_unknown_opcodes_and_directions),
		cmocka_unit_test(decode__checks_open_strings),
		cmocka_unit_test(decode__checks_the_rename_path),
		cmocka_unit_test(decode__checks_enum_values),
		cmocka_unit_test(error_codes__have_names_and_errnos),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
