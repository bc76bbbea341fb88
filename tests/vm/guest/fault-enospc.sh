#!/bin/bash
# Fault: the file system is full (issue 11 §3). ALLOCATE, and a LAYOUT_GET
# that has to allocate blocks first (a hole), get ENOSPC with the daemon's
# reason; the files are unchanged; ranges already allocated are still
# served; and once space is freed the same requests succeed.
. "$DXVM_GUEST/lib.sh"
F=/mnt/pmem/export
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
check "daxrdmad up" daemon_up

# Before the disk fills: a written file, a hole of 1 MiB, and an empty file
# (a full XFS has no room for a new inode either).
$DXC $GUEST_IP pmem full.dat write 0 1048576 1 > /dev/null
truncate -s 1M $F/hole.dat
: > $F/new.dat
# Fill it: one large fallocate, then whatever is left, block by block.
fallocate -l "$(df --output=avail -B1 /mnt/pmem | tail -1)" /mnt/pmem/fill 2> /dev/null ||
	fallocate -l "$(( $(df --output=avail -B1 /mnt/pmem | tail -1) - 8388608 ))" /mnt/pmem/fill
dd if=/dev/zero of=/mnt/pmem/fill2 bs=4096 2> /dev/null
check "the file system is full" test "$(df --output=avail -B1 /mnt/pmem | tail -1)" -lt 65536
df -h /mnt/pmem | tail -1

check "ALLOCATE of 1 MiB: ENOSPC" answers "ERR allocate ENOSPC" $GUEST_IP pmem new.dat write 0 1048576 2
check "... the new file stayed empty" test "$(stat -c %s $F/new.dat)" = 0
check "... and the daemon says why" grep -q 'ALLOCATE.*NOSPC\|NOSPC.*ALLOCATE' /tmp/daemon.log
check "an RW layout over a hole (it must allocate): ENOSPC" \
	answers "ERR layout_get ENOSPC" $GUEST_IP pmem hole.dat try rw 0 1048576 rw
check "... the hole is unchanged: 1 MiB of zeros" cmp <(head -c 1048576 /dev/zero) $F/hole.dat
check "... still without blocks" test "$(stat -c %b $F/hole.dat)" -lt 2048
check "a file already allocated is still written and committed (ALLOCATE of it needs no space)" \
	answers OK $GUEST_IP pmem full.dat write 4096 65536 3
check "... its bytes are there" cmp <(pattern 4096 65536 3) <(tail -c +4097 $F/full.dat | head -c 65536)
check "... and the rest of it is unchanged" cmp <(pattern 0 4096 1) <(head -c 4096 $F/full.dat)
check "no layout and no staging left behind" json "d['layouts'] == 0 and d['staging_bytes'] == 0 and d['clients'] == 0" status

rm -f /mnt/pmem/fill /mnt/pmem/fill2
check "space freed: the same ALLOCATE and write succeed" answers OK $GUEST_IP pmem new.dat write 0 1048576 2
check "... with its data" cmp <(pattern 0 1048576 2) $F/new.dat
check "... and the layout over the hole" answers OK $GUEST_IP pmem hole.dat try rw 0 1048576 rw
check "the daemon is alive" kill -0 $DPID
daemon_down
check "the daemon exits 0" test $? -eq 0
summary
