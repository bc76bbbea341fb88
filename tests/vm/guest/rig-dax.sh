#!/bin/bash
# The rig's pmem: XFS on /dev/pmem0 mounted -o dax really is DAX.
. "$DXVM_GUEST/lib.sh"
check "XFS on /dev/pmem0 mounted -o dax" pmem_up
check "/proc/mounts shows dax=always" grep -q 'pmem0 /mnt/pmem xfs .*dax=always' /proc/mounts
check "statx STATX_ATTR_DAX and MAP_SYNC on a pmem file" "$DX_BUILD/tests/vm/dx-daxcheck" /mnt/pmem/f
# Negative control: tmpfs is not DAX, so the same check must say so.
check "the check says tmpfs is not DAX" bash -c "'$DX_BUILD/tests/vm/dx-daxcheck' /tmp/f | grep -q 'STATX_ATTR_DAX not set'"
summary
