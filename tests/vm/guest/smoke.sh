#!/bin/bash
. "$DXVM_GUEST/lib.sh"
rxe_up && rxe_active && pmem_up || exit 1
check "daemon up" daemon_up
DX_DEBUG=1 $DXC $GUEST_IP pmem f1 write 0 10000 5; echo "rc=$?"
pattern 0 10000 5 > /tmp/exp; cmp /tmp/exp <(head -c 10000 /mnt/pmem/export/f1) && echo SAME
$DXC $GUEST_IP shm f1 write 100 10000 6; echo "rc=$?"
pattern 100 10000 6 > /tmp/exp; cmp /tmp/exp <(tail -c +101 /dev/shm/export/f1 | head -c 10000) && echo SAME2
$DXC $GUEST_IP pmem f1 hold 0 8192 9 cooperate > /tmp/hold.out 2>&1 &
wait_line /tmp/hold.out READY
cat /tmp/hold.out
$CTL layouts
t0=$(now_ms); truncate -s 0 /mnt/pmem/export/f1; echo "truncate rc=$? after $(( $(now_ms) - t0 )) ms"
wait_line /tmp/hold.out HOLD_DONE; cat /tmp/hold.out
$CTL status
cat /tmp/daemon.log
summary
