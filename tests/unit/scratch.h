/* Scratch directories for the tests that need files on tmpfs (the lease
 * tests need a file system that takes leases; /dev/shm is RAM, so nothing
 * may be left behind: a test killed by a timeout or a sanitizer would
 * otherwise keep its files in memory until reboot). */
#pragma once

#include <stddef.h>

/* A new empty directory for one rig, under this process's own directory
 * $DX_TEST_SCRATCH/dx-test-PID (default /dev/shm). The process's directory is
 * removed at exit, and the directories of dead processes are removed when a
 * process makes its own. Writes the path to BUF; aborts on failure. */
void dx_scratch_dir(char *buf, size_t len);

/* Removes DIR and everything in it (a rig's directory when it goes down). */
void dx_scratch_remove(const char *dir);
