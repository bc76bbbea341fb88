#include "daemon/loop.h"

#include <errno.h>
#include <event2/event.h>

#include "common/log.h"
#include "daemon/daemon.h"

int dx_loop_new(struct event_base **out)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (!ec)
		return dx_log_fail("event_config_new", -ENOMEM);
	if (event_config_set_max_dispatch_interval(ec, NULL, 1, DX_PRIO_NORMAL)) {
		event_config_free(ec);
		return dx_log_fail("event_config_set_max_dispatch_interval", -EINVAL);
	}
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (!base)
		return dx_log_fail("event_base_new_with_config", -ENOMEM);
	if (event_base_priority_init(base, DX_PRIO_N)) {
		event_base_free(base);
		return dx_log_fail("event_base_priority_init", -EINVAL);
	}
	*out = base;
	return 0;
}
