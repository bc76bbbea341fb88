/*
 * librdmacm (rdma-core 44) closes its context of a removed RDMA device, which
 * the kernel's removal waits for, only when it next reads the device list,
 * and only while another device is left (sync_devices_list).
 */
#ifndef DX_RDMADEV_H
#define DX_RDMADEV_H

/* Have librdmacm read the device list (and let removed devices go): the
 * number of RDMA devices present. */
int dx_rdma_devices_sync(void);

#endif
