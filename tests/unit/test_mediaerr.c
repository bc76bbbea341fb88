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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(copy__from_a_page_that_faults__is_eio_with_the_address),
		cmocka_unit_test(copy__into_a_page_that_faults__is_eio),
		cmocka_unit_test(persist__of_a_page_that_faults__is_eio),
		cmocka_unit_test(sigbus_outside_a_guard__still_kills),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
