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

/* Does the fault SI overlap G's ranges? A machine check names its whole
 * granule (si_addr rounded down to 2^si_addr_lsb bytes, a page), not the
 * byte the copy touched: a copy that starts inside a bad page faults at an
 * address below its own start. */
static bool guarded(const struct guard *g, const siginfo_t *si)
{
	uintptr_t lo = (uintptr_t)si->si_addr, hi = lo + 1;

	if ((si->si_code == BUS_MCEERR_AR || si->si_code == BUS_MCEERR_AO) && si->si_addr_lsb > 0 &&
	    (size_t)si->si_addr_lsb < 8 * sizeof(uintptr_t)) {
		lo &= ~(((uintptr_t)1 << si->si_addr_lsb) - 1);
		hi = lo + ((uintptr_t)1 << si->si_addr_lsb);
	}
	return (lo < g->hi[0] && g->lo[0] < hi) || (lo < g->hi[1] && g->lo[1] < hi);
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
	if (g && guarded(g, si)) {
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
	/* SA_RESTART: an ignored action-optional SIGBUS interrupts no system call. */
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_RESTART };

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
