#include "common/log.h"

#include "common/escape.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *log_ident = "daxrdma";
static int log_max = LOG_INFO;
static int log_journal; /* stderr goes to journald: it parses "<N>" */
static int log_time;    /* DAXRDMA_LOG_TIME set: CLOCK_MONOTONIC seconds first (the test rig's) */

static const char *const prio_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "error",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

void dx_log_init(const char *ident, int max_prio)
{
	log_ident = ident;
	log_max = max_prio;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
	log_time = getenv("DAXRDMA_LOG_TIME") != NULL;
}

void dx_log_set_level(int max_prio)
{
	log_max = max_prio;
}

int dx_log_level_from_name(const char *name)
{
	for (int p = LOG_EMERG; p <= LOG_DEBUG; p++)
		if (strcasecmp(name, prio_names[p]) == 0)
			return p;
	return -EINVAL;
}

void dx_vlog(int prio, const char *fmt, va_list ap)
{
	char raw[1024], msg[2048];

	if (prio > log_max)
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	/* Client-supplied names are in there: one message, one line, no "<N>"
	 * of journald's at the start of a forged one. */
	dx_escape_to(msg, sizeof(msg), raw);
	if (log_journal) {
		fprintf(stderr, "<%d>%s\n", prio, msg);
	} else if (log_time) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		fprintf(stderr, "%lld.%03ld %s: %s: %s\n", (long long)ts.tv_sec, ts.tv_nsec / 1000000, log_ident,
			prio_names[prio], msg);
	} else {
		fprintf(stderr, "%s: %s: %s\n", log_ident, prio_names[prio], msg);
	}
}

void dx_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dx_vlog(prio, fmt, ap);
	va_end(ap);
}

void dx_log_failure(const char *call, int err)
{
	dx_log(LOG_ERR, "%s: %s", call, strerror(-err));
}
