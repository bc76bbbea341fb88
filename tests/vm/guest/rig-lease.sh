#!/bin/bash
# The rig's leases: a write lease on an FS-DAX file breaks on a local
# truncate, hole punch and open for write, which block until F_UNLCK.
. "$DXVM_GUEST/lib.sh"
check "XFS on /dev/pmem0 mounted -o dax" pmem_up
echo "fs.lease-break-time = $(cat /proc/sys/fs/lease-break-time)"
for op in truncate punch open_wr; do
	check "lease breaks on $op, which waits for F_UNLCK" \
		"$DX_BUILD/tests/vm/dx-leasebreak" /mnt/pmem/lease-$op $op
done
check "the truncated file is empty" test "$(stat -c %s /mnt/pmem/lease-truncate)" -eq 0
summary
