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

/* Fill OUT for ARGV; return 0 or -errno (the reply's status), or
 * DX_CTL_LATER after dx_ctlsock_defer(). */
typedef int (*dx_ctl_handler)(void *arg, const struct ucred *peer, int argc, char **argv,
			      enum report_format fmt, struct dxbuf *out);

struct dx_ctlsock;
struct dx_ctl_req;

/*
 * A request whose answer takes longer than a turn of the loop (a reload)
 * is answered later: its handler calls dx_ctlsock_defer() and returns
 * DX_CTL_LATER, and whoever finishes the work calls dx_ctl_answer() once,
 * from the loop (or still inside the handler). The request's connection
 * stays until then, even if the peer hangs up; the socket must not be
 * freed before.
 */
#define DX_CTL_LATER 1
struct dx_ctl_req *dx_ctlsock_defer(struct dx_ctlsock *cs);
void dx_ctl_answer(struct dx_ctl_req *r, int status, const struct dxbuf *text);

int dx_ctlsock_new(struct event_base *base, const char *path, const char *group,
		   dx_ctl_handler handler, void *arg, struct dx_ctlsock **out);
void dx_ctlsock_free(struct dx_ctlsock **cp);

#endif
