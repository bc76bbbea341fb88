/*
 * The AF_UNIX control socket (proto/daxrdma_ctl.h): one request, one reply
 * per connection. The socket file is mode 0660, owned by root and the
 * configured group; each peer's credentials (SO_PEERCRED) go to the handler,
 * which decides what that peer may do.
 */
#ifndef DX_CTLSOCK_H
#define DX_CTLSOCK_H

#include <event2/event.h>
#include <sys/socket.h>

#include "common/report.h"
#include "common/dxbuf.h"

/* Fill OUT for ARGV; return 0 or -errno (the reply's status). */
typedef int (*dx_ctl_handler)(void *arg, const struct ucred *peer, int argc, char **argv,
			      enum report_format fmt, struct dxbuf *out);

struct dx_ctlsock;

int dx_ctlsock_new(struct event_base *base, const char *path, const char *group,
		   dx_ctl_handler handler, void *arg, struct dx_ctlsock **out);
void dx_ctlsock_free(struct dx_ctlsock **cp);

#endif
