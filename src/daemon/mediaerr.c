/* SIGBUS guards around the daemon's copies and flushes on DAX mappings. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "daemon/mediaerr.h"

/* The copy or flush running on this thread: where it may fault, and where
 * it did. */
struct guard {
	sigjmp_buf jb;
	uintptr_t lo[2], hi[2];   /* its ranges: destination and source */
	const void *volatile faulted; /* written by the handler, read after the jump */
};

/* volatile, and fenced against the compiler on both sides of the copy: the
 * store must not sink below an inlined memcpy, nor the clear rise above it. */
static __thread struct guard *volatile guard;

static bool guarded(const struct guard *g, const void *addr)
{
	uintptr_t a = (uintptr_t)addr;

	return (a >= g->lo[0] && a < g->hi[0]) || (a >= g->lo[1] && a < g->hi[1]);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct guard *g = guard;

	(void)uc;
	/* Action optional: the kernel found a poisoned page somewhere in our
	 * memory and unmapped it ahead of any access (early kill). Nothing
	 * faulted here; an access to it later raises BUS_MCEERR_AR. */
	if (si->si_code == BUS_MCEERR_AO)
		return;
	if (g && guarded(g, si->si_addr)) {
		g->faulted = si->si_addr;
		siglongjmp(g->jb, 1);
	}
	/* Not the guarded access's own fault: the default action, as if we
	 * had not been here. */
	signal(sig, SIG_DFL);
	raise(sig);
}

int dx_mediaerr_init(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) ? -errno : 0;
}

static void arm(struct guard *g, const void *a, const void *b, size_t n)
{
	g->lo[0] = (uintptr_t)a;
	g->hi[0] = (uintptr_t)a + n;
	g->lo[1] = (uintptr_t)b;
	g->hi[1] = (uintptr_t)b + n;
	guard = g;
	atomic_signal_fence(memory_order_seq_cst);
}

static void disarm(void)
{
	atomic_signal_fence(memory_order_seq_cst);
	guard = NULL;
}

int dx_dax_copy(void *dst, const void *src, size_t n, pmem2_memcpy_fn copy, const void **where)
{
	struct guard g;

	g.faulted = NULL;
	/* The mask is saved and restored: SIGBUS is not left blocked. */
	if (sigsetjmp(g.jb, 1)) {
		disarm();
		*where = g.faulted;
		return -EIO;
	}
	arm(&g, dst, src, n);
	if (copy)
		copy(dst, src, n, 0);
	else
		memcpy(dst, src, n);
	disarm();
	return 0;
}

int dx_dax_persist(pmem2_persist_fn persist, const void *addr, size_t n, const void **where)
{
	struct guard g;

	g.faulted = NULL;
	if (sigsetjmp(g.jb, 1)) {
		disarm();
		*where = g.faulted;
		return -EIO;
	}
	arm(&g, addr, addr, n);
	persist(addr, n);
	disarm();
	return 0;
}
