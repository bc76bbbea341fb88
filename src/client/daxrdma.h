/*
 * libdaxrdma-client: the client side of daxrdma. See libdaxrdma-client(3).
 *
 * Conventions: handles are opaque; functions return 0 or a negative errno;
 * _new(..., **out) creates, _delete(**p) destroys and sets *p to NULL.
 */
#ifndef DAXRDMA_H
#define DAXRDMA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct daxrdma_client;

/* Receives the library's log messages; PRIO is a syslog priority. */
typedef void (*daxrdma_log_fn)(void *arg, int prio, const char *msg);

struct daxrdma_client_opts {
	size_t size;       /* sizeof(struct daxrdma_client_opts): lets the struct grow */
	daxrdma_log_fn log;
	void *log_arg;
	int log_level;     /* least important priority passed to LOG; 0 means LOG_WARNING */
	int timeout_ms;    /* deadline of every wait on the daemon; 0 means 5000 */
};

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *daxrdma_version(void);

int daxrdma_client_new(const struct daxrdma_client_opts *opts, struct daxrdma_client **out);
void daxrdma_client_delete(struct daxrdma_client **client);
int daxrdma_client_timeout_ms(const struct daxrdma_client *client);

#ifdef __cplusplus
}
#endif
#endif
