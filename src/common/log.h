/* Logging to stderr with syslog priorities (journald reads the <N> prefix). */
#ifndef DX_LOG_H
#define DX_LOG_H

#include <stdarg.h>
#include <syslog.h>

void dx_log_init(const char *ident, int max_prio);
void dx_log_set_level(int max_prio);
int dx_log_level_from_name(const char *name); /* -EINVAL if unknown */
void dx_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dx_vlog(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_err(...) dx_log(LOG_ERR, __VA_ARGS__)
#define log_warn(...) dx_log(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) dx_log(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) dx_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...) dx_log(LOG_DEBUG, __VA_ARGS__)

/* Log that CALL failed with the negative errno ERR and return ERR. */
void dx_log_failure(const char *call, int err);
static inline int dx_log_fail(const char *call, int err)
{
	dx_log_failure(call, err);
	return err; /* inline, so that analyzers see it is ERR */
}

#endif
