#include "fakeclock.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_bool frozen;
static _Atomic int64_t frozen_ns, offset_ns; /* the lease watcher thread reads them too */

static int64_t real_ns(clockid_t clk)
{
	struct timespec ts;

	syscall(SYS_clock_gettime, clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool monotonic(clockid_t clk)
{
	return clk == CLOCK_MONOTONIC || clk == CLOCK_MONOTONIC_COARSE || clk == CLOCK_MONOTONIC_RAW ||
	       clk == CLOCK_BOOTTIME;
}

int clock_gettime(clockid_t clk, struct timespec *ts)
{
	int64_t ns;

	if (!monotonic(clk))
		return (int)syscall(SYS_clock_gettime, clk, ts);
	ns = atomic_load(&frozen) ? atomic_load(&frozen_ns) : real_ns(CLOCK_MONOTONIC) + atomic_load(&offset_ns);
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
	return 0;
}

void dx_fake_clock_freeze(void)
{
	if (atomic_load(&frozen))
		return;
	atomic_store(&frozen_ns, real_ns(CLOCK_MONOTONIC) + atomic_load(&offset_ns));
	atomic_store(&frozen, true);
}

void dx_fake_clock_advance(int64_t ms)
{
	atomic_fetch_add(&frozen_ns, ms * 1000000);
}

void dx_fake_clock_thaw(void)
{
	if (!atomic_load(&frozen))
		return;
	atomic_store(&offset_ns, atomic_load(&frozen_ns) - real_ns(CLOCK_MONOTONIC));
	atomic_store(&frozen, false);
}
