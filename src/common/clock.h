/* One monotonic clock for deadlines and polling, daemon and tools alike. */
#ifndef DX_CLOCK_H
#define DX_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t dx_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t dx_now_ms(void)
{
	return dx_now_us() / 1000;
}

#endif
