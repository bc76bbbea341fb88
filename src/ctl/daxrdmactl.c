/* daxrdmactl: the admin CLI of daxrdmad. See daxrdmactl(8). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "common/clock.h"
#include "common/ctlmsg.h"
#include "common/parse.h"

struct ctl_opts {
	const char *socket;
	int timeout_ms;
	bool json;
	bool wait;
	const char *offset, *length; /* recall */
	const char *ban;             /* evict */
};

struct subcmd {
	const char *name;
	const char *args;
	const char *summary;
	bool has_json;
	int min_args, max_args; /* positional arguments after the name */
};

static const struct subcmd subcmds[] = {
	{ "status", "[--json]", "daemon state: listener, device, counters, exports", true, 0, 0 },
	{ "exports", "[--json]", "each export: kind, DAX, MR mode and why, ACL", true, 0, 0 },
	{ "clients", "[--json]", "connected clients: address, state, files, layouts, requests", true, 0, 0 },
	{ "layouts", "[FILE] [--json]", "granted layouts (of FILE): range, iomode, MR mode, rkey, state", true, 0, 1 },
	{ "recall", "FILE [--offset N] [--length N] [--wait] [--json]",
	  "recall the layouts over a range of FILE (a local path); --wait until they are back or fenced", true, 1, 1 },
	{ "evict", "CLIENT [--ban SECONDS] [--json]",
	  "fence a client (id or address): its rkeys die, it is disconnected; --ban keeps its host out", true, 1, 1 },
	{ "reload", "", "re-read the configuration file (like SIGHUP); a bad file keeps the old one", false, 0, 0 },
};
#define N_SUBCMDS (sizeof(subcmds) / sizeof(subcmds[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: daxrdmactl [-s SOCKET] [-t SECONDS] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < N_SUBCMDS; i++)
		fprintf(f, "  %-8s %s\n  %-8s   %s\n", subcmds[i].name, subcmds[i].args, "", subcmds[i].summary);
	fprintf(f, "  %-8s %s\n  %-8s   %s\n", "help", "[COMMAND]", "", "this text, or one command's");
	fprintf(f, "\noptions:\n"
		   "  -s, --socket PATH    control socket (default %s)\n"
		   "  -t, --timeout SECS   how long to wait for the daemon (default 10)\n"
		   "  -j, --json           JSON output, for the commands that list\n"
		   "  -V, --version        print the version\n"
		   "See daxrdmactl(8).\n", DAXRDMA_CTL_SOCKET);
}

static const struct subcmd *find_subcmd(const char *name)
{
	for (size_t i = 0; i < N_SUBCMDS; i++)
		if (strcmp(subcmds[i].name, name) == 0)
			return &subcmds[i];
	return NULL;
}


/* Move LEN bytes to or from FD before DEADLINE (ms, CLOCK_MONOTONIC). */
static int xfer(int fd, void *buf, size_t len, bool out, int64_t deadline)
{
	char *p = buf;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = out ? POLLOUT : POLLIN };
		int64_t left = deadline - dx_now_ms();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!pfd.revents)
			continue;
		n = out ? send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT) : recv(fd, p, len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int ctl_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (!path || strlen(path) >= sizeof(sun.sun_path))
		return path ? -ENAMETOOLONG : -EINVAL;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* One request; the reply goes to stdout (stderr on failure) unless QUIET.
 * *STATUS gets the daemon's answer; *NEXT (if NEXT) the continuation token
 * of a paged reply, or NULL on its last page. Returns an exit code. */
static int request(const struct ctl_opts *o, int argc, char **argv, bool quiet, int32_t *status_out,
		   char **next)
{
	struct dxbuf req = DXBUF_INIT;
	struct dxctl_rep_hdr h;
	int64_t deadline = dx_now_ms() + o->timeout_ms;
	char *text = NULL;
	int32_t status;
	uint32_t len;
	int fd, ret;

	ret = dxctl_request_encode(&req, o->json ? DXCTL_F_JSON : 0, argc, argv);
	if (ret) {
		fprintf(stderr, "daxrdmactl: request too large: %s\n", strerror(-ret));
		dxbuf_release(&req);
		return 2;
	}
	fd = ctl_connect(o->socket);
	if (fd < 0) {
		fprintf(stderr, "daxrdmactl: cannot connect to daxrdmad at %s: %s\n", o->socket, strerror(-fd));
		if (fd == -ENOENT || fd == -ECONNREFUSED)
			fprintf(stderr, "daxrdmactl: is daxrdmad running? (systemctl status daxrdmad)\n");
		else if (fd == -EACCES)
			fprintf(stderr, "daxrdmactl: root and members of the socket's group may use it\n");
		dxbuf_release(&req);
		return 1;
	}
	ret = xfer(fd, req.buf, req.len, true, deadline);
	dxbuf_release(&req);
	if (!ret)
		ret = xfer(fd, &h, sizeof(h), false, deadline);
	if (!ret)
		ret = dxctl_reply_check(&h, &status, &len);
	if (!ret) {
		text = malloc((size_t)len + 1);
		ret = text ? xfer(fd, text, len, false, deadline) : -ENOMEM;
	}
	close(fd);
	if (ret) {
		fprintf(stderr, "daxrdmactl: no valid reply from daxrdmad at %s: %s\n", o->socket, strerror(-ret));
		free(text);
		return 1;
	}
	text[len] = '\0';
	*status_out = status;
	if (next)
		*next = !status && strlen(text) < len ? strdup(text + strlen(text) + 1) : NULL;
	if (!quiet)
		fputs(text, status ? stderr : stdout);
	free(text);
	if (quiet)
		return status ? 1 : 0;
	if (status) {
		fprintf(stderr, "daxrdmactl: %s: %s\n", argv[0], strerror(-status));
		return 1;
	}
	return 0;
}

static int run_request(const struct ctl_opts *o, int argc, char **argv)
{
	int32_t status = 0;

	return request(o, argc, argv, false, &status, NULL);
}

/* layouts: the daemon answers a page at a time; ask for each next page
 * until the last (each page is printed as it comes: a table with its
 * header, or one JSON document per line). */
static int run_paged(const struct ctl_opts *o, int argc, char **argv)
{
	char after[96] = "", *next = NULL;
	int32_t status = 0;
	int n = argc, ret;

	for (;;) {
		ret = request(o, n, argv, false, &status, &next);
		if (ret || !next)
			return ret;
		if (strcmp(after + 8, next) == 0) { /* a daemon that does not move on */
			fprintf(stderr, "daxrdmactl: %s: the daemon sent page %s twice\n", argv[0], next);
			free(next);
			return 1;
		}
		snprintf(after, sizeof(after), "--after=%s", next);
		free(next);
		argv[argc] = after; /* argv has room: at most DXCTL_MAX_ARGS, layouts takes 1 */
		n = argc + 1;
	}
}

/* recall --wait: ask again (with --poll) until no layout over the range is left. */
static int recall_wait(const struct ctl_opts *o, int argc, char **argv)
{
	int64_t deadline = dx_now_ms() + o->timeout_ms;
	struct ctl_opts q = *o;
	int32_t status = 0;
	int ret;

	ret = request(o, argc, argv, false, &status, NULL);
	if (ret)
		return ret;
	argv[argc++] = "--poll";
	q.json = false;
	while (dx_now_ms() < deadline) {
		request(&q, argc, argv, true, &status, NULL);
		if (status == 0) {
			if (!o->json)
				printf("recall complete: no layout over the range is left\n");
			return 0;
		}
		if (status != -EINPROGRESS)
			return request(&q, argc, argv, false, &status, NULL);
		usleep(50 * 1000);
	}
	fprintf(stderr, "daxrdmactl: recall: layouts still out after %d s\n", o->timeout_ms / 1000);
	return 1;
}

static int help(const char *name)
{
	const struct subcmd *c = name ? find_subcmd(name) : NULL;

	if (!name) {
		usage(stdout);
		return 0;
	}
	if (!c) {
		fprintf(stderr, "daxrdmactl: no command \"%s\"\n", name);
		return 2;
	}
	printf("usage: daxrdmactl %s %s\n  %s\n", c->name, c->args, c->summary);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "offset", required_argument, NULL, 'o' },
		{ "length", required_argument, NULL, 'l' },
		{ "wait", no_argument, NULL, 'w' },
		{ "ban", required_argument, NULL, 'b' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct ctl_opts o = { .socket = DAXRDMA_CTL_SOCKET, .timeout_ms = 10000 };
	const struct subcmd *cmd;
	char *args[DXCTL_MAX_ARGS], offset[64], length[64], ban[64];
	int c, nargs = 0;
	uint64_t t, v;

	/* Options may come before or after the command: "status --json". */
	while ((c = getopt_long(argc, argv, "s:t:jVh", opts, NULL)) != -1) {
		switch (c) {
		case 's': o.socket = optarg; break;
		case 't':
			if (dx_parse_uint(optarg, 1, 3600, &t)) {
				fprintf(stderr, "daxrdmactl: --timeout takes 1 to 3600 seconds, not \"%s\"\n", optarg);
				return 2;
			}
			o.timeout_ms = (int)t * 1000;
			break;
		case 'j': o.json = true; break;
		case 'o': o.offset = optarg; break;
		case 'l': o.length = optarg; break;
		case 'w': o.wait = true; break;
		case 'b': o.ban = optarg; break;
		case 'V': printf("daxrdmactl %s\n", DAXRDMA_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[optind], "help") == 0)
		return help(optind + 1 < argc ? argv[optind + 1] : NULL);
	cmd = find_subcmd(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "daxrdmactl: no command \"%s\" (daxrdmactl --help lists them)\n", argv[optind]);
		return 2;
	}
	if (o.json && !cmd->has_json) {
		fprintf(stderr, "daxrdmactl: %s has no --json output\n", cmd->name);
		return 2;
	}
	for (int i = optind; i < argc && (size_t)nargs < DXCTL_MAX_ARGS; i++)
		args[nargs++] = argv[i];
	if (nargs - 1 < cmd->min_args || nargs - 1 > cmd->max_args) {
		fprintf(stderr, "daxrdmactl: usage: daxrdmactl %s %s\n", cmd->name, cmd->args);
		return 2;
	}
	if ((o.offset || o.length || o.wait) && strcmp(cmd->name, "recall") != 0) {
		fprintf(stderr, "daxrdmactl: --offset, --length and --wait belong to recall\n");
		return 2;
	}
	if (o.ban && strcmp(cmd->name, "evict") != 0) {
		fprintf(stderr, "daxrdmactl: --ban belongs to evict\n");
		return 2;
	}
	/* Checked here as the daemon checks them: nothing is cut to fit. */
	if ((o.offset && dx_parse_bytes(o.offset, &v)) || (o.length && dx_parse_bytes(o.length, &v))) {
		fprintf(stderr, "daxrdmactl: --offset and --length take a byte count: digits, and K, M, G or T\n");
		return 2;
	}
	if (o.ban && dx_parse_uint(o.ban, 1, 86400, &v)) {
		fprintf(stderr, "daxrdmactl: --ban takes 1 to 86400 seconds, not \"%s\"\n", o.ban);
		return 2;
	}
	if (o.ban) {
		snprintf(ban, sizeof(ban), "--ban=%s", o.ban);
		args[nargs++] = ban;
	}
	if (o.offset) {
		snprintf(offset, sizeof(offset), "--offset=%s", o.offset);
		args[nargs++] = offset;
	}
	if (o.length) {
		snprintf(length, sizeof(length), "--length=%s", o.length);
		args[nargs++] = length;
	}
	if (o.wait)
		return recall_wait(&o, nargs, args);
	if (strcmp(cmd->name, "layouts") == 0)
		return run_paged(&o, nargs, args);
	return run_request(&o, nargs, args);
}
