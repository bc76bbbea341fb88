/*
 * A monotonic clock the test moves. clock_gettime() is interposed for the
 * whole process, so that the daemon's own deadlines (dx_now_ms), libevent's
 * timers and the lease watcher's time stamps all read it: the real code
 * under a clock that only jumps when the test says so. CLOCK_REALTIME is
 * never touched (libFuzzer and the sanitizers time themselves with it).
 *
 * Off (the default), the monotonic clocks run as they do. Frozen, they
 * stand still until dx_fake_clock_advance(). Never backwards: thawing keeps
 * the time reached and runs on from there.
 */
#ifndef DX_FAKECLOCK_H
#define DX_FAKECLOCK_H

#include <stdint.h>

void dx_fake_clock_freeze(void);
void dx_fake_clock_advance(int64_t ms);
void dx_fake_clock_thaw(void);

#endif
