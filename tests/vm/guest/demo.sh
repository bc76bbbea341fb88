#!/bin/bash
# The README's demo, in the guest (Soft-RoCE rxe0, XFS -o dax on emulated
# pmem): a client writes to a served file over RDMA; a local truncate blocks;
# the client gets LAYOUT_RECALL and returns the layout; the truncate
# completes; the client's retry with its old rkey fails with a remote access error.
. "$DXVM_GUEST/lib.sh"
TOOL=$DX_BUILD/src/tool/daxrdma
LOP=$DX_BUILD/tests/vm/dx-localop
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { echo "\$ $*"; "$@"; }

say "Soft-RoCE on eth0, XFS mounted -o dax on emulated pmem"
rxe_up && rxe_active && pmem_up || { echo "rig setup failed"; exit 1; }
show ibv_devices
show grep pmem0 /proc/mounts

say "daxrdmad serves /mnt/pmem/export as \"pmem\" (recall_timeout 2 s)"
daemon_up || exit 1
show $CTL exports

say "a remote client writes a file over RDMA (daxrdma put), reads it back"
head -c 24000000 /dev/urandom > /tmp/data
show $TOOL put /tmp/data $GUEST_IP:pmem/demo.dat
show $TOOL get $GUEST_IP:pmem/demo.dat /tmp/data.back
show cmp /tmp/data /tmp/data.back && echo "identical"

say "a client holds an RW layout on demo.dat and writes into it"
DX_STALE_AFTER=/tmp/truncate.done $DXC $GUEST_IP pmem demo.dat hold 0 1048576 7 cooperate > /tmp/client.out 2>&1 &
cpid=$!
wait_line /tmp/client.out READY
cat /tmp/client.out
show $CTL layouts

say "a local process truncates demo.dat: the kernel blocks it and breaks daxrdmad's lease"
( $LOP truncate /mnt/pmem/export/demo.dat > /tmp/truncate.out; touch /tmp/truncate.done ) &
wait_line /tmp/truncate.out rc=
wait $cpid
echo "client said:"
sed 's/^/    /' /tmp/client.out
echo "truncate said: $(cat /tmp/truncate.out)   (blocked until the layout came back)"
show ls -l /mnt/pmem/export/demo.dat
grep -E "lease break|recalling|returned|lease released" /tmp/daemon.log | sed 's/^/    /'

say "a client that ignores the recall is fenced at the deadline; the truncate still completes"
$DXC $GUEST_IP pmem data.dat write 0 65536 3 > /dev/null
$DXC $GUEST_IP pmem data.dat hold 0 65536 3 ignore > /tmp/client.out 2>&1 &
cpid=$!
wait_line /tmp/client.out READY
show $LOP truncate /mnt/pmem/export/data.dat
wait $cpid
sed 's/^/    /' /tmp/client.out
grep -E "fencing" /tmp/daemon.log | sed 's/^/    /'
show $CTL status

say "SIGTERM stops daxrdmad"
daemon_down
echo "daxrdmad exited with status $?"
