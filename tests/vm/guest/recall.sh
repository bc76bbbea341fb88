#!/bin/bash
# Recall (DESIGN.md §4), end to end on rxe0 and FS-DAX: a local truncate, hole
# punch or open for writing recalls the layout; the local operation finishes
# within recall_timeout_ms plus a margin; after the recall an RDMA WRITE with
# the old rkey fails and the file's bytes are unchanged. A client that ignores
# recalls is fenced; killed clients and a killed daemon release everything.
. "$DXVM_GUEST/lib.sh"
LOP=$DX_BUILD/tests/vm/dx-localop
RECALL_MS=2000
MARGIN_MS=300 # the deadline fires within 50 ms of its time (loopbound.sh); the rest is the guest's process start-up
F=/mnt/pmem/export
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
DX_RECALL_MS=$RECALL_MS
check "daxrdmad up" daemon_up

# local_op_recall OP: a cooperating holder, then OP from another process.
local_op_recall() {
	local op=$1 file=$F/$1.dat
	rm -f /tmp/op.done /tmp/op.out
	$DXC $GUEST_IP pmem $1.dat write 0 65536 11 > /dev/null
	DX_STALE_AFTER=/tmp/op.done $DXC $GUEST_IP pmem $1.dat hold 0 65536 11 cooperate > /tmp/hold.out 2>&1 &
	local hpid=$!
	check "$op: holder has its layout" wait_line /tmp/hold.out READY
	check "$op: daxrdmactl layouts shows it" json "len(d['layouts']) == 1 and d['layouts'][0]['state'] == 'granted'" layouts $file
	sleep 1 # idle, asleep in poll()
	( $LOP $op $file > /tmp/op.out; touch /tmp/op.done ) &
	check "$op: the client sees LAYOUT_RECALL (local use)" wait_line /tmp/hold.out 'RECALLED reason=1'
	check "$op: the client returns the layout" wait_line /tmp/hold.out RETURNED
	check "$op: ... woken by the recall, having slept in poll() (at most 3 wake-ups)" \
		python3 -c "import re,sys; m=re.search(r'^IDLE_WAKEUPS (\d+)$', open('/tmp/hold.out').read(), re.M); sys.exit(0 if m and 1 <= int(m[1]) <= 3 else 1)"
	check "$op: not fenced" json "d['clients_fenced'] == 0" status
	check "$op: the local operation completes" wait_line /tmp/op.out "$op rc=0"
	local ms=$(sed -n 's/.*ms=\([0-9]*\).*/\1/p' /tmp/op.out)
	echo "   $op took ${ms} ms"
	check "$op: before the recall deadline (${RECALL_MS} ms): the holder returned it" test "${ms:-99999}" -lt $RECALL_MS
	wait_line /tmp/hold.out HOLD_DONE
	check "$op: RDMA WRITE with the old rkey fails with remote access error" \
		grep -q 'STALE_WRITE status=remote access error' /tmp/hold.out
	wait $hpid
	cat /tmp/hold.out
}
# After each stale write the file must be exactly what the local operation
# left. (On 6.1 pmem is bounce: a layout addresses a staging buffer, so its
# stale write could not reach the file anyway. rkeys.sh checks the bytes of
# every kind of recall on shm too, where layouts are the file's pages.)
local_op_recall truncate
check "truncate: after the stale write the file is still empty" test "$(stat -c %s $F/truncate.dat)" = 0
local_op_recall punch
check "punch: after the stale write the range still reads as zeros" cmp <(head -c 65536 /dev/zero) $F/punch.dat
local_op_recall open_wr
check "open_wr: after the stale write the file holds the committed data, byte for byte" \
	cmp <(pattern 0 65536 11) $F/open_wr.dat
check "lease breaks are counted" json "d['lease_breaks'] == 3 and d['layouts'] == 0" status

# A client that ignores the recall is fenced at the deadline; the local
# operation completes anyway, and never with EBUSY.
$DXC $GUEST_IP pmem ign.dat write 0 65536 12 > /dev/null
DX_STALE_AFTER=/tmp/op.done $DXC $GUEST_IP pmem ign.dat hold 0 65536 12 ignore > /tmp/hold.out 2>&1 &
hpid=$!
rm -f /tmp/op.done
check "ignore: holder has its layout" wait_line /tmp/hold.out READY
( $LOP truncate $F/ign.dat > /tmp/op.out; touch /tmp/op.done ) &
check "ignore: the local truncate completes (rc=0, no EBUSY)" wait_line /tmp/op.out 'truncate rc=0'
ms=$(sed -n 's/.*ms=\([0-9]*\).*/\1/p' /tmp/op.out)
echo "   truncate under an unresponsive client took ${ms} ms"
check "ignore: it waited for the recall deadline ($RECALL_MS ms)" test "${ms:-0}" -ge $((RECALL_MS - 100))
check "ignore: and not much longer" test "${ms:-99999}" -lt $((RECALL_MS + MARGIN_MS))
check "ignore: the client finds itself fenced" wait_line /tmp/hold.out FENCED
wait_line /tmp/hold.out HOLD_DONE
check "ignore: its old rkey is dead (the QP is in error)" grep -q 'STALE_WRITE status=Work Request Flushed Error' /tmp/hold.out
check "ignore: the stale write changed nothing (the file is empty)" test "$(stat -c %s $F/ign.dat)" = 0
wait $hpid
check "ignore: the fence is counted" json "d['clients_fenced'] == 1 and d['clients'] == 0" status
check "ignore: the daemon logs the fence" grep -q "fencing client .* not returned within recall_timeout_ms" /tmp/daemon.log
cat /tmp/hold.out

# daxrdmactl recall --wait, and evict.
$DXC $GUEST_IP pmem adm.dat write 0 65536 13 > /dev/null
$DXC $GUEST_IP pmem adm.dat hold 0 65536 13 cooperate > /tmp/hold.out 2>&1 &
hpid=$!
check "admin: holder has its layout" wait_line /tmp/hold.out READY
check "admin: daxrdmactl recall FILE --wait succeeds" $CTL recall $F/adm.dat --wait
check "admin: the client heard reason 2 (daxrdmactl)" grep -q 'RECALLED reason=2' /tmp/hold.out
check "admin: no layout left" json "d['layouts'] == []" layouts
wait $hpid
$DXC $GUEST_IP pmem adm.dat hold 0 65536 13 ignore > /tmp/hold.out 2>&1 &
hpid=$!
check "evict: holder has its layout" wait_line /tmp/hold.out READY
cid=$($CTL clients --json | python3 -c "import json,sys; print(json.load(sys.stdin)['clients'][0]['id'])")
check "evict: daxrdmactl evict $cid" $CTL evict "$cid"
check "evict: the client is disconnected" wait_line /tmp/hold.out FENCED
check "evict: its layout is gone" json "d['layouts'] == []" layouts
check "evict: an unknown client is an error" bash -c "! $CTL evict 9999"
wait $hpid

# A recall already waiting when the application next calls the library: the
# library answers it while that call (an OPEN here) has its reply in hand,
# and the reply must survive the answer (it was overwritten by the
# RECALL_RETURN's reply, and the file opened was handle 0: seen in the soak).
rm -f /tmp/go
fenced0=$(status_of clients_fenced)
DX_GO=/tmp/go $DXC $GUEST_IP pmem late1.dat late 0 65536 21 late2.dat > /tmp/late.out 2>&1 &
lpid=$!
check "late: the client has its first layout" wait_line /tmp/late.out READY
$CTL recall $F/late1.dat > /dev/null
sleep 0.3
touch /tmp/go
wait $lpid
cat /tmp/late.out
check "late: the next OPEN, layout and write succeed" grep -qx OK /tmp/late.out
check "late: the data is in the second file" cmp <(pattern 0 65536 21) $F/late2.dat
check "late: the first layout was returned on the way" grep -qx "FIRST recalled" /tmp/late.out
check "late: not fenced, no layout left" json "d['clients_fenced'] == $fenced0 and d['layouts'] == 0" status

# A client killed mid-write: its layouts and MRs go, the next client is served.
$DXC $GUEST_IP pmem kill.dat write 0 1048576 14 > /dev/null
$DXC $GUEST_IP pmem kill.dat hold 0 1048576 14 loop > /tmp/hold.out 2>&1 &
hpid=$!
check "killed: writer is writing" wait_line /tmp/hold.out READY
sleep 0.3
kill -9 $hpid
wait $hpid 2>/dev/null
gone() { eventually json "d['clients'] == 0 and d['layouts'] == 0" status; }
check "killed: its connection and layouts are released" gone
check "killed: the next client writes and commits" bash -c "$DXC $GUEST_IP pmem kill.dat write 0 65536 15 | grep -q OK"
check "killed: its data is in the file" cmp <(pattern 0 65536 15) <(head -c 65536 $F/kill.dat)
# (A lease left behind would hold the truncate for lease-break-time.)
$LOP truncate $F/kill.dat > /tmp/op.out
check "killed: a local truncate does not wait (no lease left): $(sed -n 's/.*ms=\([0-9]*\).*/\1/p' /tmp/op.out) ms" \
	bash -c "grep -q 'rc=0' /tmp/op.out && [ \"\$(sed -n 's/.*ms=\([0-9]*\).*/\1/p' /tmp/op.out)\" -lt 500 ]"

odp_zero_copy

# The daemon killed with SIGKILL: the lease dies with it, a blocked local
# truncate proceeds at once, the client's connection fails.
$DXC $GUEST_IP pmem dead.dat write 0 65536 16 > /dev/null
$DXC $GUEST_IP pmem dead.dat hold 0 65536 16 ignore > /tmp/hold.out 2>&1 &
hpid=$!
check "sigkill: holder has its layout" wait_line /tmp/hold.out READY
rm -f /tmp/op.done
( $LOP truncate $F/dead.dat > /tmp/op.out; touch /tmp/op.done ) &
sleep 0.5
check "sigkill: the truncate is blocked by the lease" test ! -e /tmp/op.done
check "... whose break the daemon saw: the holder was recalled" wait_line /tmp/hold.out 'RECALLED reason=1'
t0=$(now_ms)
kill -9 $DPID
check "sigkill: the truncate completes" wait_line /tmp/op.out 'truncate rc=0'
el=$(( $(now_ms) - t0 ))
echo "   truncate completed ${el} ms after SIGKILL"
check "sigkill: at once, not at the recall deadline" test $el -lt 1000
check "sigkill: the client sees its connection fail" wait_line /tmp/hold.out FENCED
wait_line /tmp/hold.out HOLD_DONE
check "sigkill: its QP is in error" grep -q 'STALE_WRITE status=Work Request Flushed Error' /tmp/hold.out
wait $hpid
cat /tmp/hold.out
grep -E "warning|error" /tmp/daemon.log | head -20
summary
