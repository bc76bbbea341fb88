#!/bin/bash
# Fault: a bad block in persistent memory (issue 11 §3). The rig injects one
# the way the pmem driver learns of media errors: a range written to
# /sys/block/pmem0/badblocks (ndctl list -M then reports it). The kernel
# then maps no DAX page over it: a local read gets EIO, and the daemon's
# copy of it raised SIGBUS, which killed daxrdmad (before mediaerr.c). Now a
# layout over the bad block is refused with EIO and the daemon's reason,
# the daemon lives on, and every other range of the file is still served.
# (ndctl inject-error needs ACPI NFIT error injection, which memmap= pmem
# does not have; the SIGBUS guards are unit-tested in test_mediaerr.)
. "$DXVM_GUEST/lib.sh"
F=/mnt/pmem/export
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
check "daxrdmad up" daemon_up

check "a file of 1 MiB, written and committed" answers OK $GUEST_IP pmem bb.dat write 0 1048576 1
xfs_io -c "fiemap -v" $F/bb.dat
sec=$(xfs_io -c "fiemap -v" $F/bb.dat | awk '/^ *0:/ { split($3, a, "[.][.]"); print a[1] }')
ext=$(xfs_io -c "fiemap -v" $F/bb.dat | awk '/^ *0:/ { print $4 }')
check "its first extent covers 1 MiB (2048 sectors) from sector $sec" test "${ext:-0}" -ge 2048
# The file's page 16 (offset 64 KiB) goes bad.
echo "$((sec + 128)) 8" > /sys/block/pmem0/badblocks
check "the bad block is known to the driver" grep -q "^$((sec + 128)) 8" /sys/block/pmem0/badblocks
check "... and to ndctl (media errors)" bash -c "ndctl list -M | grep -q badblock_count"
check "a local read stops there with EIO" bash -c "! dd if=$F/bb.dat of=/dev/null bs=4096 2> /tmp/dd.err; grep -q 'Input/output error' /tmp/dd.err"

check "a READ layout over the bad block: EIO" answers "ERR layout_get EIO" $GUEST_IP pmem bb.dat try ro 0 1048576 read
check "... the daemon says where" grep -q 'pmem/bb.dat: media error (a bad block) in the page at file offset 65536' /tmp/daemon.log
check "... and lives on" kill -0 $DPID
check "an RW layout over it: EIO" answers "ERR layout_get EIO" $GUEST_IP pmem bb.dat try rw 61440 8192 rw
check "the bytes before it read back over RDMA" cmp <(pattern 0 65536 1) <($DXC $GUEST_IP pmem bb.dat read 0 65536)
check "the bytes after it read back over RDMA" cmp <(pattern 69632 978944 1) <($DXC $GUEST_IP pmem bb.dat read 69632 978944)
check "a range after it is written and committed" answers OK $GUEST_IP pmem bb.dat write 131072 65536 2
check "... and reads back" cmp <(pattern 131072 65536 2) <($DXC $GUEST_IP pmem bb.dat read 131072 65536)
check "no layout, client or staging left behind" json "d['layouts'] == 0 and d['clients'] == 0 and d['staging_bytes'] == 0" status
daemon_down
check "the daemon exits 0" test $? -eq 0
summary
