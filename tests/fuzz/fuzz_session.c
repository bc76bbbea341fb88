/*
 * The daemon's state machine under any sequence of steps (daemon_rig.h):
 * the first byte configures the daemon, the rest are steps. The oracle is
 * the lease bound and the daemon's other invariants (daemon_rig.c).
 *
 * The mutators know what a step is: besides libFuzzer's byte mutations
 * they duplicate, drop and move whole steps and mutate one step's bytes
 * alone, and cross two inputs over at step boundaries, so that stories
 * (a client with few credits, layouts on two files, a local truncate, a
 * client answering just in time) combine without falling apart.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "daemon_rig.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2, size_t size2,
				 uint8_t *out, size_t max_out, unsigned int seed);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fz_rig_up(data[0]);
	fz_run(data + 1, size - 1);
	fz_rig_down();
	return 0;
}

/* Where the steps of DATA start (AT[0..n-1]; AT[n] is SIZE); n. */
static size_t steps_of(const uint8_t *data, size_t size, size_t *at)
{
	size_t n = 0, pos = 1;

	while (pos < size && n < FZ_MAX_STEPS) {
		at[n++] = pos;
		pos += fz_step_size(data + pos, size - pos);
	}
	at[n] = pos < size ? pos : size;
	return n;
}

static uint32_t next(uint32_t *r)
{
	*r = *r * 1103515245u + 12345u;
	return *r >> 8;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	static uint8_t tmp[1 << 16];
	size_t at[FZ_MAX_STEPS + 1], n, i, j, len, got;
	uint32_t r = seed;

	if (size < 2 || max_size > sizeof(tmp) || next(&r) % 2)
		return LLVMFuzzerMutate(data, size, max_size);
	n = steps_of(data, size, at);
	i = next(&r) % n;
	len = at[i + 1] - at[i];
	switch (next(&r) % 4) {
	case 0: /* the step twice */
		if (size + len > max_size)
			return LLVMFuzzerMutate(data, size, max_size);
		memmove(data + at[i + 1], data + at[i], size - at[i]);
		return size + len;
	case 1: /* the step dropped */
		memmove(data + at[i], data + at[i + 1], size - at[i + 1]);
		return size - len;
	case 2: /* the step moved before step J */
		j = next(&r) % (n + 1);
		memcpy(tmp, data + at[i], len);
		memmove(data + at[i], data + at[i + 1], size - at[i + 1]);
		j = at[j] > at[i] ? at[j] - len : at[j];
		memmove(data + j + len, data + j, size - len - j);
		memcpy(data + j, tmp, len);
		return size;
	default: /* the step's own bytes mutated, the rest kept */
		memcpy(tmp, data + at[i], len);
		got = LLVMFuzzerMutate(tmp, len, len + (max_size - size) < 64 ? len + (max_size - size) : 64);
		memmove(data + at[i] + got, data + at[i + 1], size - at[i + 1]);
		memcpy(data + at[i], tmp, got);
		return size - len + got;
	}
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2, size_t size2,
				 uint8_t *out, size_t max_out, unsigned int seed)
{
	size_t at1[FZ_MAX_STEPS + 1], at2[FZ_MAX_STEPS + 1], n1, n2, i, j, k, len;
	uint32_t r = seed;

	if (size1 < 2 || size2 < 2)
		return 0;
	n1 = steps_of(data1, size1, at1);
	n2 = steps_of(data2, size2, at2);
	/* DATA1's first I steps, then a run of DATA2's steps J..K-1, then the rest of DATA1. */
	i = next(&r) % (n1 + 1);
	j = next(&r) % n2;
	k = j + 1 + next(&r) % (n2 - j);
	len = at1[i] + (at2[k] - at2[j]) + (size1 - at1[i]);
	if (len > max_out)
		return 0;
	memcpy(out, data1, at1[i]);
	memcpy(out + at1[i], data2 + at2[j], at2[k] - at2[j]);
	memcpy(out + at1[i] + (at2[k] - at2[j]), data1 + at1[i], size1 - at1[i]);
	return len;
}
