#!/bin/bash
# The rig's RDMA: Soft-RoCE rxe0 on eth0 is active and rdma_cm connects.
. "$DXVM_GUEST/lib.sh"
echo "kernel $(uname -r)"
check "rxe0 created on eth0" rxe_up
check "rxe0 port is PORT_ACTIVE" rxe_active
timeout 60 rping -s -a $GUEST_IP -C 3 > /tmp/rping-server.log 2>&1 &
server=$!
sleep 1
check "rping client: 3 rdma_cm ping-pongs to $GUEST_IP" timeout 60 rping -c -a $GUEST_IP -C 3 -v
check "rping server exits 0" wait $server
# Negative control: nothing listens on this port, so connecting must fail.
# (It must fail, not hang: a timeout is no answer.)
refused() { timeout 30 rping -c -a $GUEST_IP -p 7999 -C 1; local rc=$?; [ $rc -ne 0 ] && [ $rc -ne 124 ]; }
check "rdma_cm to a port with no listener fails, without hanging" refused
summary
