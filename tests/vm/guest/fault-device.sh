#!/bin/bash
# Fault: the RDMA device is removed under live layouts (issue 11 §3):
# rdma link delete rxe0, then rdma link add again. The kernel completes the
# removal only once every process has let go of the device, so the daemon
# and the library free all they have on it at RDMA_CM_EVENT_DEVICE_REMOVAL.
# The daemon survives, logs the loss, stops listening (status: listening
# false), frees every layout (a local truncate does not wait), and listens
# again by itself when a device has its address again; a client that polls
# its fd lets go too and, once the device is back, daxrdma_reconnect()
# carries its handles on.
#
# The guest has a second RDMA device (rxe1 on a dummy netdev). librdmacm
# (rdma-core 44, sync_devices_list) marks a removed device dead, and so
# closes its context, only while some other device is left: when the last
# one goes, the daemon exits with an error so that the removal completes.
. "$DXVM_GUEST/lib.sh"
LOP=$DX_BUILD/tests/vm/dx-localop
F=/mnt/pmem/export
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
check "a second RDMA device: rxe1 on dummy0" rxe1_up
check "daxrdmad up" daemon_up

$DXC $GUEST_IP pmem x.dat write 0 65536 1 > /dev/null
$DXC $GUEST_IP pmem x.dat hold 0 65536 1 cooperate > /tmp/x.out 2>&1 &
xpid=$!
rm -f /tmp/go
DX_GO=/tmp/go $DXC $GUEST_IP pmem s.dat survive 1048576 40 > /tmp/s.out 2>&1 &
spid=$!
check "a holder has its layout" wait_line /tmp/x.out READY
check "a second client has written and committed" wait_line /tmp/s.out READY
check "two clients, two layouts" json "d['clients'] == 2 and d['layouts'] == 2 and d['listening']" status

t0=$(now_ms)
rdma link delete rxe0
rc=$?
ms=$(( $(now_ms) - t0 ))
echo "   rdma link delete rxe0: rc=$rc after $ms ms"
check "rdma link delete completes (nothing holds the device)" test $rc -eq 0
check "... within 10 s" test $ms -lt 10000
check "the daemon lives on and logs the loss" grep -q 'RDMA device rxe0 was removed: not listening on' /tmp/daemon.log
check "status: not listening, no client, no layout" \
	eventually json "not d['listening'] and d['clients'] == 0 and d['layouts'] == 0" status
check "a local truncate does not wait (no lease left)" bash -c "$LOP truncate $F/x.dat | grep -q 'rc=0 ms=[0-9]\{1,3\} '"
check "the holder sees its connection gone" wait_line /tmp/x.out FENCED
wait $xpid

rdma link add rxe0 type rxe netdev "$NETDEV"
check "rxe0 is back" rxe_active
check "the daemon listens again by itself" eventually json "d['listening']" status
check "... and says so" grep -q 'RDMA device rxe0 has .*: listening again' /tmp/daemon.log
check "a new client writes and commits" answers OK $GUEST_IP pmem n.dat write 0 65536 2
check "... and reads it back" cmp <(pattern 0 65536 2) <($DXC $GUEST_IP pmem n.dat read 0 65536)
touch /tmp/go
wait $spid
survived device /tmp/s.out $F/s.dat 1048576 40

# A device the daemon does not listen on goes: it does not wait for us
# (librdmacm held its context until the daemon's next look at the list).
( rdma link delete rxe1; echo "rc=$?" > /tmp/del1 ) &
check "rdma link delete rxe1 (unused) completes within 10 s" eventually grep -qx 'rc=0' /tmp/del1
# Now rxe0 is the last device: the daemon exits with an error so that the
# removal can complete (systemd's Restart=on-failure starts it again).
( rdma link delete rxe0; echo "rc=$?" > /tmp/del0 ) &
check "rdma link delete of the last device completes" eventually grep -qx 'rc=0' /tmp/del0
wait $DPID
rc=$?
check "the daemon exits with an error ($rc)" test $rc -eq 1
check "... and says why" grep -q 'RDMA device rxe0 was the last one: librdmacm lets it go only when daxrdmad exits' /tmp/daemon.log
summary
