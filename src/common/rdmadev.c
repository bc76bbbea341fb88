#include "common/rdmadev.h"

#include <rdma/rdma_cma.h>

int dx_rdma_devices_sync(void)
{
	int n = 0;
	struct ibv_context **list = rdma_get_devices(&n);

	if (list)
		rdma_free_devices(list);
	return list ? n : 0;
}
