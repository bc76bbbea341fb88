#include "daemon/ban.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/net.h"
#include "common/report.h"
#include "daemon/daemon.h"

struct dx_ban {
	struct sockaddr_storage host; /* the address; its port is not compared */
	int64_t until_ms;             /* dx_now_ms */
};

struct dx_bans {
	struct dx_ban v[DX_BANS_MAX];
	unsigned int n;
};

/* Forget the bans that ended. */
static void expire(struct dx_bans *b)
{
	int64_t now = dx_now_ms();

	for (unsigned int i = 0; i < b->n;)
		if (b->v[i].until_ms <= now)
			b->v[i] = b->v[--b->n];
		else
			i++;
}

static struct dx_ban *find(struct dx_bans *b, const struct sockaddr *peer)
{
	for (unsigned int i = 0; i < b->n; i++)
		if (dx_same_host((const struct sockaddr *)&b->v[i].host, peer))
			return &b->v[i];
	return NULL;
}

int dx_ban_add(struct dxd *d, const struct sockaddr *peer, int64_t seconds)
{
	struct dx_bans *b = d->bans;
	struct dx_ban *ban;

	if (!b) {
		b = d->bans = calloc(1, sizeof(*b));
		if (!b)
			return -ENOMEM;
	}
	expire(b);
	ban = find(b, peer);
	if (!ban && b->n < DX_BANS_MAX)
		ban = &b->v[b->n++];
	if (!ban) { /* full: the ban that ends first makes room */
		ban = &b->v[0];
		for (unsigned int i = 1; i < b->n; i++)
			if (b->v[i].until_ms < ban->until_ms)
				ban = &b->v[i];
	}
	memset(&ban->host, 0, sizeof(ban->host));
	memcpy(&ban->host, peer, peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	ban->until_ms = dx_now_ms() + seconds * 1000;
	return 0;
}

int64_t dx_ban_left_ms(struct dxd *d, const struct sockaddr *peer)
{
	const struct dx_ban *ban;

	if (!d->bans)
		return 0;
	expire(d->bans);
	ban = find(d->bans, peer);
	return ban ? ban->until_ms - dx_now_ms() : 0;
}

void dx_bans_report(struct dxd *d, struct rnode *array)
{
	char addr[64];

	if (!d->bans)
		return;
	expire(d->bans);
	for (unsigned int i = 0; i < d->bans->n; i++) {
		struct rnode *o = rn_object(array, NULL);

		dx_sockaddr_host_str((const struct sockaddr *)&d->bans->v[i].host, addr, sizeof(addr));
		rn_str(o, "address", addr);
		rn_int(o, "seconds_left", (d->bans->v[i].until_ms - dx_now_ms() + 999) / 1000);
	}
}

void dx_bans_free(struct dxd *d)
{
	free(d->bans);
	d->bans = NULL;
}
