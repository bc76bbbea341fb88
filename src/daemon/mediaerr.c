/* SIGBUS guards around the daemon's copies and flushes on DAX mappings. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "daemon/mediaerr.h"

/* The guard of the copy running on this thread, and what faulted. */
static __thread sigjmp_buf *guard;
static __thread const void *volatile faulted;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (guard) {
		faulted = si->si_addr;
		siglongjmp(*guard, 1);
	}
	/* Not inside a guard: the default action, as if we had not been here. */
	signal(sig, SIG_DFL);
	raise(sig);
}

int dx_mediaerr_init(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) ? -errno : 0;
}

int dx_dax_copy(void *dst, const void *src, size_t n, pmem2_memcpy_fn copy, const void **where)
{
	sigjmp_buf jb;

	/* The mask is saved and restored: SIGBUS is not left blocked. */
	if (sigsetjmp(jb, 1)) {
		guard = NULL;
		*where = faulted;
		return -EIO;
	}
	guard = &jb;
	if (copy)
		copy(dst, src, n, 0);
	else
		memcpy(dst, src, n);
	guard = NULL;
	return 0;
}

int dx_dax_persist(pmem2_persist_fn persist, const void *addr, size_t n, const void **where)
{
	sigjmp_buf jb;

	if (sigsetjmp(jb, 1)) {
		guard = NULL;
		*where = faulted;
		return -EIO;
	}
	guard = &jb;
	persist(addr, n);
	guard = NULL;
	return 0;
}
