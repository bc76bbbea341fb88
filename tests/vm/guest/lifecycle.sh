#!/bin/bash
# The daemon's limits and lifecycle with clients attached: max_clients and
# max_layouts refuse with their codes and free up when clients leave; a
# reload that drops an export recalls its layouts and closes it to new
# opens; SIGTERM recalls every layout, fences a client that does not answer,
# and only then exits 0, leaving no lease behind.
. "$DXVM_GUEST/lib.sh"
HOSTILE=$DX_BUILD/tests/vm/dx-hostile
LOP=$DX_BUILD/tests/vm/dx-localop
F=/mnt/pmem/export
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
DX_LIMITS="max_clients = 3; max_layouts = 2;"
check "daxrdmad up (max_clients 3, max_layouts 2)" daemon_up

# Limits: two holders use both layouts; a third client is refused a layout;
# with a third connection open, a fourth client is refused the connection.
$DXC $GUEST_IP pmem data write 0 65536 1 > /dev/null
$DXC $GUEST_IP pmem data hold 0 4096 1 cooperate read > /tmp/h1.out 2>&1 &
h1=$!
$DXC $GUEST_IP pmem data hold 8192 4096 1 cooperate read > /tmp/h2.out 2>&1 &
h2=$!
check "holder 1 has a layout" wait_line /tmp/h1.out READY
check "holder 2 has a layout" wait_line /tmp/h2.out READY
check "a third layout: EDQUOT (LIMIT, limits.max_layouts = 2)" \
	answers "ERR layout_get EDQUOT" $GUEST_IP pmem data try ro 16384 4096 read
check "the daemon says which limit" grep -q 'limits.max_layouts (2) reached' /tmp/daemon.log
$HOSTILE $GUEST_IP - - silent > /tmp/silent.out 2>&1 &
check "a third connection (it never says HELLO)" wait_line /tmp/silent.out CONNECTED
check "a fourth client: ECONNREFUSED (limits.max_clients = 3)" \
	answers "ERR connect ECONNREFUSED" $GUEST_IP pmem data try ro 16384 4096 read
check "the daemon says why it rejected" grep -q 'limits.max_clients reached' /tmp/daemon.log
check "the silent connection is dropped at the HELLO deadline" wait_line /tmp/silent.out DISCONNECTED
kill -KILL $h1
wait $h1 2>/dev/null
check "holder 1 killed: its layout is released" eventually json "d['layouts'] == 1 and d['clients'] == 1" status
check "... and a new client gets one" answers OK $GUEST_IP pmem data try ro 16384 4096 read
kill -KILL $h2
wait $h2 2>/dev/null
check "no recall was needed for any of it" bash -c "! grep -q RECALLED /tmp/h1.out /tmp/h2.out"

# A reload that drops an export recalls its layouts (reason 4, EXPORT).
$DXC $GUEST_IP shm f write 0 8192 3 > /dev/null
$DXC $GUEST_IP shm f hold 0 8192 3 cooperate > /tmp/s1.out 2>&1 &
s1=$!
check "a holder on the shm export" wait_line /tmp/s1.out READY
sed -i '/name = "shm"/d' /tmp/dx.conf
check "reload without the shm export" $CTL reload
check "its layout is recalled with reason EXPORT (4)" wait_line /tmp/s1.out 'RECALLED reason=4'
check "the holder returns it" wait_line /tmp/s1.out RETURNED
check "its old rkey is dead" wait_line /tmp/s1.out 'STALE_WRITE status=remote access error'
wait $s1
check "the dropped export refuses new opens: ENOENT" answers "ERR open ENOENT" $GUEST_IP shm f try ro 0 4096 read
check "the committed bytes stay in the file" cmp <(pattern 0 8192 3) /dev/shm/export/f
check "no layout left" eventually json "d['layouts'] == 0 and len(d['exports']) == 3" status

# SIGTERM with live layouts: one holder returns, one ignores and is fenced.
$DXC $GUEST_IP pmem t1 write 0 8192 7 > /dev/null
$DXC $GUEST_IP pmem t2 write 0 8192 8 > /dev/null
$DXC $GUEST_IP pmem t1 hold 0 8192 7 cooperate > /tmp/t1.out 2>&1 &
t1=$!
$DXC $GUEST_IP pmem t2 hold 0 8192 8 ignore > /tmp/t2.out 2>&1 &
t2=$!
check "a cooperating holder" wait_line /tmp/t1.out READY
check "an ignoring holder" wait_line /tmp/t2.out READY
t0=$(now_ms)
kill -TERM $DPID
wait $DPID
rc=$?
took=$(($(now_ms) - t0))
echo "   SIGTERM to exit: $took ms"
check "SIGTERM with live layouts: exit 0" test $rc -eq 0
check "it waited for the recall (>= recall_timeout, the ignoring holder)" test $took -ge 1900
check "the cooperating holder was recalled for shutdown (5)" grep -q 'RECALLED reason=5' /tmp/t1.out
check "... and returned its layout" grep -q RETURNED /tmp/t1.out
check "the ignoring holder was recalled" grep -q 'RECALLED reason=5' /tmp/t2.out
check "... and fenced" wait_line /tmp/t2.out FENCED
check "the daemon logged the fence" grep -q 'fenc' /tmp/daemon.log
wait $t1 $t2
check "committed bytes survive shutdown (returned)" cmp <(pattern 0 8192 7) $F/t1
check "committed bytes survive shutdown (fenced)" cmp <(pattern 0 8192 8) $F/t2
$LOP truncate $F/t2 > /tmp/trunc.out
cat /tmp/trunc.out
check "no lease outlives the daemon: a truncate completes" grep -q '^truncate rc=0 ' /tmp/trunc.out
summary
