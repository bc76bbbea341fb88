/* libdaxrdma-client's handle: options, defaults, the log callback, delete. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <syslog.h>

#include "daxrdma.h"

static void client_new__null_opts__uses_defaults(void **state)
{
	struct daxrdma_client *c = NULL;

	assert_int_equal(daxrdma_client_new(NULL, &c), 0);
	assert_int_equal(daxrdma_client_timeout_ms(c), 5000);
	daxrdma_client_delete(&c);
	assert_null(c);
	daxrdma_client_delete(&c); /* deleting NULL is harmless */
}

static void client_new__bad_opts__are_refused(void **state)
{
	struct daxrdma_client_opts o = { .size = 4 };
	struct daxrdma_client *c = (struct daxrdma_client *)&o;

	assert_int_equal(daxrdma_client_new(&o, &c), -EINVAL);
	assert_null(c);
	o = (struct daxrdma_client_opts){ .size = sizeof(o), .timeout_ms = -1 };
	assert_int_equal(daxrdma_client_new(&o, &c), -EINVAL);
	assert_int_equal(daxrdma_client_new(&o, NULL), -EINVAL);
	assert_int_equal(daxrdma_client_timeout_ms(NULL), -EINVAL);
}

static void reconnect__before_any_connect__is_refused(void **state)
{
	struct daxrdma_client *c = NULL;

	assert_int_equal(daxrdma_reconnect(NULL), -EINVAL);
	assert_int_equal(daxrdma_client_new(NULL, &c), 0);
	assert_int_equal(daxrdma_reconnect(c), -ENOTCONN);
	daxrdma_client_delete(&c);
}

static int logged;
static void on_log(void *arg, int prio, const char *msg)
{
	assert_ptr_equal(arg, &logged);
	assert_int_equal(prio, LOG_DEBUG);
	assert_non_null(strstr(msg, daxrdma_version()));
	logged++;
}

static void client_new__log_callback__gets_messages_up_to_its_level(void **state)
{
	struct daxrdma_client_opts o = { .size = sizeof(o), .log = on_log, .log_arg = &logged,
					 .log_level = LOG_DEBUG, .timeout_ms = 250 };
	struct daxrdma_client *c;

	logged = 0;
	assert_int_equal(daxrdma_client_new(&o, &c), 0);
	assert_int_equal(logged, 1);
	assert_int_equal(daxrdma_client_timeout_ms(c), 250);
	daxrdma_client_delete(&c);
	o.log_level = LOG_INFO; /* the creation message is LOG_DEBUG: filtered */
	assert_int_equal(daxrdma_client_new(&o, &c), 0);
	assert_int_equal(logged, 1);
	daxrdma_client_delete(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(client_new__null_opts__uses_defaults),
		cmocka_unit_test(client_new__bad_opts__are_refused),
		cmocka_unit_test(client_new__log_callback__gets_messages_up_to_its_level),
		cmocka_unit_test(reconnect__before_any_connect__is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
