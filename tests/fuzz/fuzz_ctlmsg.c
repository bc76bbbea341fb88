/*
 * The control socket, from the bytes any local user in the control group
 * may send to what the command does. First the parser (src/common/ctlmsg.c):
 * a header, checked, then a payload split into arguments; neither may
 * crash, and what is accepted encodes again to the same arguments. Then
 * the command handlers and their option parsing (daemon/commands.c), run as
 * root or as a group member (bit 0 of a byte after the payload) against a
 * daemon with two clients holding layouts on two files (daemon_rig.h): the
 * answer is 0 or a -errno with a message, the daemon's invariants hold
 * after it, and after the clients leave nothing is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ctlmsg.h"
#include "daemon/daemon.h"
#include "daemon_rig.h"

/* main.c's, which is not in the daemon library. `reload` is not run here:
 * it reads a configuration file and answers through the control socket's
 * deferral (test_ctlsock and the guest tests cover both). */
int dxd_reload(struct dxd *d, dxd_reload_done done, void *arg)
{
	abort();
}

/* Client 0: HELLO (2 credits, FILE_RECALL), "a" and "b" open RW, RW layouts
 * on pages 0 and 2 of "a" and a READ one on "b"; client 1: "a" open READ, a
 * READ layout on page 4 (daemon_rig.h's step format). */
static const uint8_t story[] = {
	0x00, 0, 0,  0x01, 0, 2, 1, 0,  0x01, 1, 0x01, 0,  0x01, 1, 0x11, 0,
	0x02, 1, 0, 0, 0, 1, 0,  0x02, 1, 0, 2, 0, 1, 0,  0x02, 1, 1, 0, 0, 0, 0,
	0x10, 0, 0,  0x11, 0, 2, 1, 0,  0x11, 1, 0x00, 0,  0x12, 1, 0, 4, 0, 0, 0,
};

/* OUT is a page of `layouts` and its continuation token "CLIENT:LAYOUT". */
static bool paged(const char *cmd, const struct dxbuf *out)
{
	const char *token = out->buf + strlen(out->buf) + 1;
	unsigned long long client, id;
	int end = 0;

	return strcmp(cmd, "layouts") == 0 && sscanf(token, "%llu:%llu%n", &client, &id, &end) == 2 &&
	       token + end == out->buf + out->len;
}

/* Run argv as PEER against the daemon. */
static void run_command(const struct ucred *peer, uint16_t flags, int argc, char **argv)
{
	struct dxbuf out = DXBUF_INIT;
	int ret;

	int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);

	fz_rig_up(0x12); /* pinned, recall_timeout 200 ms, lease-break-time 3 s */
	fz_run(story, sizeof(story));
	/* Root's file arguments are local paths: "a" names the daemon's file. */
	if (cwd < 0 || chdir(fz_dir()))
		abort();
	ret = dxd_ctl_handle(fz_daemon(), peer, argc, argv, flags & DXCTL_F_JSON ? REPORT_JSON : REPORT_TEXT,
			     &out);
	if (fchdir(cwd))
		abort();
	close(cwd);
	if (ret > 0 || ret < -4095)
		abort(); /* 0 or -errno */
	if (ret && ret != -EINPROGRESS && out.len == 0)
		abort(); /* a refusal says why (recall --poll's "not yet" is no refusal) */
	if (out.len && strlen(dxbuf_str(&out)) != out.len && !(ret == 0 && paged(argv[0], &out)))
		abort(); /* text, no NUL inside, but before a page's continuation token */
	fz_check();
	dxbuf_release(&out);
	fz_rig_down();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ucred root = { .pid = 1, .uid = 0 }, member = { .pid = 1, .uid = 4242 };
	struct dxctl_req_hdr h;
	struct dxbuf again = DXBUF_INIT;
	char *argv[DXCTL_MAX_ARGS], *payload;
	uint16_t flags;
	uint32_t len;
	int argc;

	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	if (dxctl_request_check(&h, &flags, &len) != 0)
		return 0;
	if (len > size - sizeof(h))
		return 0; /* the daemon waits for the rest */
	payload = malloc(len + 1);
	if (!payload)
		abort();
	memcpy(payload, data + sizeof(h), len);
	if (dxctl_request_split(payload, len, argv, &argc) == 0) {
		char *copy[DXCTL_MAX_ARGS];
		int argc2;

		if (argc < 0 || (unsigned int)argc > DXCTL_MAX_ARGS)
			abort();
		if (dxctl_request_encode(&again, flags, argc, argv) != 0)
			abort(); /* accepted arguments must encode again */
		if (again.len != sizeof(h) + len)
			abort();
		if (dxctl_request_split(again.buf + sizeof(h), len, copy, &argc2) != 0 || argc2 != argc)
			abort();
		for (int i = 0; i < argc; i++)
			if (strcmp(argv[i], copy[i]) != 0)
				abort();
		const struct ucred *peer = size > sizeof(h) + len && data[sizeof(h) + len] & 1 ? &member : &root;

		if (argc > 0 && !(peer == &root && strcmp(argv[0], "reload") == 0))
			run_command(peer, flags, argc, argv);
	}
	dxbuf_release(&again);
	free(payload);
	return 0;
}
