#!/bin/bash
# Fault: the link goes down under live layouts and transfers (issue 11 §3).
# A client keeps writing, another holds a layout; eth0 goes down. A local
# truncate proceeds within recall_timeout; the daemon drops both clients and
# frees every layout, MR and QP of theirs, and keeps serving its control
# socket; SIGTERM still exits 0.
#
# What this rig cannot show: new rdma_cm connections after the link comes
# back. Client and daemon share rxe0 in this guest, and after a link flap
# while connections close, rdma_cm connects no more on rxe0 until it is
# deleted and added again: even rping times out (on 7.3 rxe's GSI QP, QP1,
# which carries rdma_cm's MADs, is left in the ERR state). The test prints
# what it sees at the end.
# A client's reconnect after losing its daemon is shown by fault-kill.sh.
. "$DXVM_GUEST/lib.sh"
LOP=$DX_BUILD/tests/vm/dx-localop
F=/mnt/pmem/export
RECALL_MS=2000
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
DX_RECALL_MS=$RECALL_MS
DX_TOP="keepalive_ms = 1000;"
check "daxrdmad up (keepalive_ms 1000)" daemon_up

$DXC $GUEST_IP pmem w.dat write 0 1048576 1 > /dev/null
$DXC $GUEST_IP pmem w.dat hold 0 1048576 1 loop > /tmp/w.out 2>&1 &
wpid=$!
$DXC $GUEST_IP pmem x.dat write 0 65536 2 > /dev/null
$DXC $GUEST_IP pmem x.dat hold 0 65536 2 cooperate > /tmp/x.out 2>&1 &
xpid=$!
check "a writer is writing" wait_line /tmp/w.out READY
check "a holder has its layout" wait_line /tmp/x.out READY
check "two clients, two layouts" json "d['clients'] == 2 and d['layouts'] == 2" status
sleep 0.3

ip link set "$NETDEV" down
check "eth0 is down, rxe0's port with it" bash -c "ibv_devinfo -d rxe0 | grep -q 'state:.*PORT_DOWN'"
t0=$(now_ms)
$LOP truncate $F/x.dat > /tmp/op.out
ms=$(( $(now_ms) - t0 ))
echo "   the local truncate took $ms ms"
check "a local truncate completes (rc=0)" grep -q 'truncate rc=0' /tmp/op.out
check "... within recall_timeout_ms + 1.5 s" test $ms -lt $((RECALL_MS + 1500))
check "... and the file is empty" test "$(stat -c %s $F/x.dat)" = 0
check "the daemon drops both clients and frees their layouts" \
	eventually json "d['clients'] == 0 and d['layouts'] == 0 and d['staging_bytes'] == 0" status
check "... and their RDMA resources: no QP or MR of the daemon's is left" \
	bash -c "! rdma resource show qp | grep -q 'pid $DPID ' && ! rdma resource show mr | grep -q 'pid $DPID '"
check "the daemon says why, for each" test "$(grep -cE 'gone: (local QP operation error|not responding)' /tmp/daemon.log)" -eq 2
check "the daemon is alive and answers" bash -c "$CTL status > /dev/null"
kill $wpid $xpid 2> /dev/null
wait $wpid $xpid 2> /dev/null
check "the writer's data up to the loss is intact past what it wrote (the file size stays)" \
	test "$(stat -c %s $F/w.dat)" = 1048576

ip link set "$NETDEV" up
check "eth0 up again: rxe0 active" rxe_active
echo "   rxe's GSI QP after the flap: $(rdma resource show qp | grep 'type GSI' | sed 's/.*state \([A-Z]*\).*/\1/')"
echo "   a new client after the flap (not checked, see above): $(timeout 15 $DXC $GUEST_IP pmem n.dat write 0 4096 3 2>&1 | tail -1)"
t0=$(now_ms)
daemon_down
rc=$?
echo "   SIGTERM to exit: $(( $(now_ms) - t0 )) ms"
check "SIGTERM: the daemon exits 0" test $rc -eq 0
summary
