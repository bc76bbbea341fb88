/*
 * Bans: hosts that "daxrdmactl evict CLIENT --ban SECONDS" keeps out. A
 * banned host's connection requests are refused until its ban ends, so an
 * evicted client cannot come straight back (daxrdma_reconnect() would,
 * 50 ms later). Bans are the daemon's memory only: a restart forgets them.
 */
#ifndef DX_BAN_H
#define DX_BAN_H

#include <stdint.h>
#include <sys/socket.h>

struct dxd;
struct rnode;

#define DX_BANS_MAX 256u /* hosts banned at once; the ban ending first makes room */
#define DX_BAN_MAX_S 86400

/* Ban PEER's host for SECONDS (1 to DX_BAN_MAX_S) from now; a second ban of
 * the same host replaces the first. 0 or -ENOMEM. */
int dx_ban_add(struct dxd *d, const struct sockaddr *peer, int64_t seconds);
/* Milliseconds left of PEER's host's ban; 0 if it is not banned. */
int64_t dx_ban_left_ms(struct dxd *d, const struct sockaddr *peer);
/* Every ban in force, as objects {address, seconds_left} in ARRAY. */
void dx_bans_report(struct dxd *d, struct rnode *array);
void dx_bans_free(struct dxd *d);

#endif
