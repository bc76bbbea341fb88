#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "build-config.h"
#include "client/daxrdma.h"

#define DX_EXPORT __attribute__((visibility("default")))

struct daxrdma_client {
	struct daxrdma_client_opts opts;
};

static void client_log(const struct daxrdma_client *c, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void client_log(const struct daxrdma_client *c, int prio, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!c->opts.log || prio > c->opts.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->opts.log(c->opts.log_arg, prio, msg);
}

DX_EXPORT const char *daxrdma_version(void)
{
	return DAXRDMA_VERSION;
}

DX_EXPORT int daxrdma_client_new(const struct daxrdma_client_opts *opts, struct daxrdma_client **out)
{
	struct daxrdma_client *c;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts && (opts->size < offsetof(struct daxrdma_client_opts, timeout_ms) + sizeof(int) ||
		     opts->timeout_ms < 0))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (opts)
		memcpy(&c->opts, opts, sizeof(c->opts) < opts->size ? sizeof(c->opts) : opts->size);
	c->opts.size = sizeof(c->opts);
	if (!c->opts.log_level)
		c->opts.log_level = LOG_WARNING;
	if (!c->opts.timeout_ms)
		c->opts.timeout_ms = 5000;
	client_log(c, LOG_DEBUG, "libdaxrdma-client %s: client created", DAXRDMA_VERSION);
	*out = c;
	return 0;
}

DX_EXPORT void daxrdma_client_delete(struct daxrdma_client **client)
{
	if (!client || !*client)
		return;
	free(*client);
	*client = NULL;
}

DX_EXPORT int daxrdma_client_timeout_ms(const struct daxrdma_client *client)
{
	return client ? client->opts.timeout_ms : -EINVAL;
}
