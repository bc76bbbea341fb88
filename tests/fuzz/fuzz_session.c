/*
 * The daemon's state machine under any sequence of steps (daemon_rig.h):
 * the first byte configures the daemon, the rest are steps. The oracle is
 * the lease bound and the daemon's other invariants (daemon_rig.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "daemon_rig.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
