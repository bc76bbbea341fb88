/* SIGBUS guards (daemon/mediaerr.c). A page of a file mapping past the
 * file's end raises SIGBUS as a DAX page with a media error does, so the
 * guards are tested here without persistent memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/mediaerr.h"

#define PG 4096

/* The fault is reported in the bad page: a copy may touch it at any byte first. */
#define assert_in_page(where, page) assert_ptr_equal((const char *)((uintptr_t)(where) & ~(uintptr_t)(PG - 1)), (page))

/* Two pages mapped of a file one page long: the second faults. */
static char *half_backed(void)
{
	char path[] = "/tmp/dx-mediaerr-XXXXXX";
	int fd = mkstemp(path);
	char *p;

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(ftruncate(fd, PG), 0);
	p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	close(fd);
	memset(p, 0x5a, PG);
	return p;
}

static void copy__from_a_page_that_faults__is_eio_with_the_address(void **state)
{
	char *p = half_backed(), buf[2 * PG];
	const void *where = NULL;

	assert_int_equal(dx_mediaerr_init(), 0);
	assert_int_equal(dx_dax_copy(buf, p, PG, NULL, &where), 0);
	assert_int_equal((unsigned char)buf[PG - 1], 0x5a);
	assert_int_equal(dx_dax_copy(buf, p, 2 * PG, NULL, &where), -EIO);
	assert_in_page(where, p + PG);
	/* The guard is gone and SIGBUS is not left blocked: it works again. */
	where = NULL;
	assert_int_equal(dx_dax_copy(buf, p + PG, 16, NULL, &where), -EIO);
	assert_in_page(where, p + PG);
	assert_int_equal(dx_dax_copy(p, buf, 64, NULL, &where), 0);
	munmap(p, 2 * PG);
}

static void copy__into_a_page_that_faults__is_eio(void **state)
{
	char *p = half_backed(), buf[PG] = { 0 };
	const void *where = NULL;

	assert_int_equal(dx_mediaerr_init(), 0);
	assert_int_equal(dx_dax_copy(p + PG, buf, sizeof(buf), NULL, &where), -EIO);
	assert_in_page(where, p + PG);
	munmap(p, 2 * PG);
}

static void flush_of(const void *addr, size_t n)
{
	volatile const char *c = addr;

	for (size_t i = 0; i < n; i += 64)
		(void)c[i];
}

static void persist__of_a_page_that_faults__is_eio(void **state)
{
	char *p = half_backed();
	const void *where = NULL;

	assert_int_equal(dx_mediaerr_init(), 0);
	assert_int_equal(dx_dax_persist(flush_of, p, PG, &where), 0);
	assert_int_equal(dx_dax_persist(flush_of, p, 2 * PG, &where), -EIO);
	assert_in_page(where, p + PG);
	munmap(p, 2 * PG);
}

/* Outside a guard SIGBUS keeps its default action: the process dies of it. */
static void sigbus_outside_a_guard__still_kills(void **state)
{
	char *p = half_backed();
	int status;
	pid_t pid;

	assert_int_equal(dx_mediaerr_init(), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		p[PG] = 1;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGBUS);
	munmap(p, 2 * PG);
}

/* SIGBUS with SI_CODE at ADDR (a granule of 2^LSB bytes), sent to this
 * thread as the kernel would. */
static void sigbus_lsb(int si_code, const void *addr, short lsb)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = SIGBUS;
	si.si_code = si_code;
	si.si_addr = (void *)addr;
	si.si_addr_lsb = lsb;
	assert_int_equal(syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), SIGBUS, &si), 0);
}

static void sigbus_here(int si_code, const void *addr)
{
	sigbus_lsb(si_code, addr, 0);
}

static const char *ao_at;

/* A "copy" during which the kernel reports an action-optional machine
 * check in the page it copies from, then copies. */
static void *copy_with_an_ao(void *dst, const void *src, size_t n, unsigned int flags)
{
	sigbus_here(BUS_MCEERR_AO, ao_at);
	return memcpy(dst, src, n);
}

/* Issue 19 §4: an action-optional machine check (early kill) is no fault
 * of the copy running, nor a reason to die. (It failed the copy inside a
 * guard and killed the daemon outside one.) */
static void action_optional_mce__is_ignored(void **state)
{
	char src[64] = "data", dst[64];
	const void *where = NULL;

	assert_int_equal(dx_mediaerr_init(), 0);
	sigbus_here(BUS_MCEERR_AO, src); /* outside any guard: still alive */
	ao_at = src;
	assert_int_equal(dx_dax_copy(dst, src, sizeof(src), copy_with_an_ao, &where), 0);
	assert_string_equal(dst, "data");
}

static char *elsewhere;

static void *copy_touching_elsewhere(void *dst, const void *src, size_t n, unsigned int flags)
{
	elsewhere[PG] = 1; /* a fault outside the copy's ranges */
	return memcpy(dst, src, n);
}

/* A fault outside the guarded ranges is not the copy's: the default action.
 * (It was taken for the copy's media error.) */
static void sigbus_outside_the_guarded_ranges__still_kills(void **state)
{
	char src[64] = "data", dst[64];
	const void *where;
	int status;
	pid_t pid;

	elsewhere = half_backed();
	assert_int_equal(dx_mediaerr_init(), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(dx_dax_copy(dst, src, sizeof(src), copy_touching_elsewhere, &where) == -EIO ? 3 : 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGBUS);
	munmap(elsewhere, 2 * PG);
}

static const char *mce_page;

/* A "copy" that meets a machine check in its first page: the kernel names
 * the page (si_addr_lsb 12), whose start lies below the copy's source. */
static void *copy_meeting_an_mce(void *dst, const void *src, size_t n, unsigned int flags)
{
	sigbus_lsb(BUS_MCEERR_AR, mce_page, 12);
	return memcpy(dst, src, n);
}

/* Issue 19 review: an action-required machine check is the copy's when its
 * granule overlaps the copy's range, though its address is the page's
 * start. (The exact-address match let it kill the daemon.) */
static void action_required_mce_in_the_copys_page__is_eio(void **state)
{
	static char src[2 * PG] __attribute__((aligned(PG)));
	char dst[64];
	const void *where = NULL;

	assert_int_equal(dx_mediaerr_init(), 0);
	mce_page = src;
	assert_int_equal(dx_dax_copy(dst, src + 100, sizeof(dst), copy_meeting_an_mce, &where), -EIO);
	assert_ptr_equal(where, src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(copy__from_a_page_that_faults__is_eio_with_the_address),
		cmocka_unit_test(copy__into_a_page_that_faults__is_eio),
		cmocka_unit_test(persist__of_a_page_that_faults__is_eio),
		cmocka_unit_test(sigbus_outside_a_guard__still_kills),
		cmocka_unit_test(action_optional_mce__is_ignored),
		cmocka_unit_test(sigbus_outside_the_guarded_ranges__still_kills),
		cmocka_unit_test(action_required_mce_in_the_copys_page__is_eio),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
