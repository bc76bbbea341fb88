/*
 * make-seeds DIR: write the seed corpora of the fuzz targets that take
 * binary input, made by the project's own encoders, into DIR/fuzz_proto,
 * DIR/fuzz_client and DIR/fuzz_ctlmsg (which must exist). The corpora in
 * the tree came from it: `build-fuzz/tests/fuzz/make-seeds tests/fuzz/corpus`.
 * fuzz_config's seeds are configuration files, kept by hand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctlmsg.h"
#include "common/proto.h"

static const char *dir;

static void put(const char *target, const char *name, const void *buf, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* A message that decodes: the fields a zeroed one lacks filled in. */
static ssize_t example(unsigned int op, bool reply, uint8_t *buf, size_t cap)
{
	struct dxp_msg m = { .hdr = { .op = (uint8_t)op, .flags = reply ? DXP_F_REPLY : 0, .tag = reply ? 7 : 0 } };

	switch (op) {
	case DXP_HELLO:
		m.u.hello = (struct dxp_hello){ .magic = DXP_MAGIC, .version = DXP_VERSION, .credits = 16,
						.max_msg = DXP_MAX_MSG, .features = DXP_FEAT_FILE_RECALL };
		break;
	case DXP_OPEN:
		if (reply) {
			m.u.open_rep = (struct dxp_open_rep){ .fh = 1, .size = 65536, .attrs = DXP_ATTR_DAX,
							      .mr_mode = DXP_MR_PINNED };
		} else {
			m.u.open = (struct dxp_open_req){ .flags = DXP_OPEN_RW, .export_len = 4, .path_len = 5 };
			m.s1 = "pmem";
			m.s2 = "a.dat";
		}
		break;
	case DXP_LAYOUT_GET:
		if (reply)
			m.u.lget_rep = (struct dxp_layout_get_rep){ .stateid = { .id = 5, .seq = 1 }, .len = DXP_PAGE,
								    .raddr = 0x10000, .rkey = 0x1234,
								    .iomode = DXP_IOMODE_RW, .mr_mode = DXP_MR_PINNED };
		else
			m.u.lget = (struct dxp_layout_get_req){ .fh = 1, .len = DXP_PAGE, .iomode = DXP_IOMODE_RW };
		break;
	case DXP_LAYOUT_RECALL:
		m.u.recall = (struct dxp_layout_recall){ .stateid = { .id = 5, .seq = 1 }, .len = DXP_PAGE,
							 .reason = DXP_RECALL_LOCAL, .timeout_ms = 2000 };
		break;
	case DXP_FILE_RECALL:
		m.u.frecall = (struct dxp_file_recall){ .recall_id = 1, .fh = 1, .len = UINT64_MAX, .max_id = 6,
							.reason = DXP_RECALL_LOCAL, .timeout_ms = 2000, .count = 2 };
		break;
	case DXP_ERROR:
		m.u.error = (struct dxp_error){ .code = DXP_E_RANGE, .msg_len = 5 };
		m.s1 = "range";
		break;
	case DXP_COMMIT:
		m.u.commit = (struct dxp_commit_req){ .stateid = { .id = 5, .seq = 1 }, .len = DXP_PAGE };
		break;
	default:
		break;
	}
	return dxp_encode(&m, buf, cap);
}

int main(int argc, char **argv)
{
	/* fuzz_ctlmsg runs them in its daemon's directory, where "a" and "b"
	 * have layouts and clients 1 and 2 (10.0.0.1, 10.0.0.2) hold them; a
	 * byte after the payload with bit 0 set runs them as a group member. */
	static const struct {
		const char *name;
		bool member;
		const char *argv[5];
	} ctl[] = {
		{ "status", false, { "status" } }, { "exports", false, { "exports" } },
		{ "layouts", false, { "layouts", "/mnt/pmem/export/a.dat" } },
		{ "recall", false, { "recall", "/mnt/pmem/export/a.dat", "--wait" } },
		{ "evict", false, { "evict", "3" } }, { "reload", false, { "reload" } },
		{ "clients", false, { "clients" } }, { "layouts-a", false, { "layouts", "a" } },
		{ "layouts-a-member", true, { "layouts", "a" } },
		{ "recall-a-range", false, { "recall", "a", "--offset=4096", "--length=8192" } },
		{ "recall-b-poll", false, { "recall", "b", "--poll" } }, { "recall-member", true, { "recall", "a" } },
		{ "evict-address", false, { "evict", "10.0.0.2" } },
	};
	uint8_t buf[DXP_MAX_MSG], seq[3 * (DXP_MAX_MSG + 2)];
	size_t seqlen = 0;
	char name[64];

	if (argc != 2) {
		fprintf(stderr, "usage: make-seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	for (unsigned int op = 1; op < DXP_OP_MAX; op++) {
		for (int reply = 0; reply < 2; reply++) {
			ssize_t n = dxp_spec_body(op, reply, &(size_t){ 0 }) ? example(op, reply, buf, sizeof(buf)) : -1;

			if (n <= 0)
				continue;
			snprintf(name, sizeof(name), "%s-%s", dxp_op_name(op), reply ? "reply" : "request");
			put("fuzz_proto", name, buf, (size_t)n);
			/* the client: each message alone, and a grant, a recall and an error in a row */
			uint8_t one[DXP_MAX_MSG + 2] = { (uint8_t)n, (uint8_t)(n >> 8) };

			memcpy(one + 2, buf, (size_t)n);
			put("fuzz_client", name, one, (size_t)n + 2);
			if ((op == DXP_LAYOUT_GET && reply) || op == DXP_FILE_RECALL || op == DXP_ERROR) {
				memcpy(seq + seqlen, one, (size_t)n + 2);
				seqlen += (size_t)n + 2;
			}
		}
	}
	put("fuzz_client", "grant-recall-error", seq, seqlen);
	for (size_t i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++) {
		struct dxbuf b = DXBUF_INIT;
		int n = 0;

		while (n < 5 && ctl[i].argv[n])
			n++;
		if (dxctl_request_encode(&b, i % 2 ? DXCTL_F_JSON : 0, n, (char *const *)ctl[i].argv)) {
			fprintf(stderr, "make-seeds: cannot encode %s\n", ctl[i].name);
			return 1;
		}
		if (ctl[i].member)
			dxbuf_add(&b, "\1", 1);
		put("fuzz_ctlmsg", ctl[i].name, b.buf, b.len);
		dxbuf_release(&b);
	}
	return 0;
}
