#!/bin/bash
# daxrdmad under valgrind's memcheck (a newer valgrind than Debian 12's, see
# scripts/fetch-valgrind; DXT_VALGRIND is its directory), through the paths
# that allocate and free the most: layouts granted in bounce and pinned mode,
# a cooperating recall by a local truncate, a fence at the deadline, a
# daxrdmactl recall and evict, a client killed mid-write, a reload and SIGTERM
# with a layout still held. memcheck must report no invalid access, no use of
# uninitialised memory and no leak (definite or indirect), and the daemon
# must exit 0.
. "$DXVM_GUEST/lib.sh"
LOP=$DX_BUILD/tests/vm/dx-localop
F=/mnt/pmem/export
VG=${DXT_VALGRIND:?the valgrind directory (scripts/fetch-valgrind)}
VGLOG=/tmp/valgrind.log
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
export VALGRIND_LIB=$VG/usr/libexec/valgrind
# Generous: memcheck runs the daemon some 30 times slower under TCG, and this
# test looks for memory errors, not for deadlines.
DX_RECALL_MS=6000
DX_UP_S=120
DX_WRAP="$VG/usr/bin/valgrind.bin --log-file=$VGLOG --error-exitcode=99 --leak-check=full
	--show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect
	--track-origins=yes --num-callers=30"
check "daxrdmad up under memcheck" daemon_up

# A cooperating holder, recalled by a local truncate (bounce mode on FS-DAX).
$DXC $GUEST_IP pmem coop.dat write 0 262144 1 > /dev/null
$DXC $GUEST_IP pmem coop.dat hold 0 262144 1 cooperate > /tmp/hold.out 2>&1 &
hpid=$!
check "cooperate: holder has its layout" wait_line /tmp/hold.out READY
check "cooperate: the local truncate completes" bash -c "$LOP truncate $F/coop.dat | grep -q 'rc=0'"
check "cooperate: the client returned the layout" wait_line /tmp/hold.out RETURNED
wait $hpid

# Pinned mode (tmpfs): written, committed, read back.
check "pinned: write and commit" bash -c "$DXC $GUEST_IP shm pin.dat write 0 1048576 2 | grep -q OK"
check "pinned: the bytes read back over RDMA" cmp <(pattern 0 1048576 2) <($DXC $GUEST_IP shm pin.dat read 0 1048576)

# An ignoring holder is fenced at the deadline.
$DXC $GUEST_IP pmem ign.dat write 0 65536 3 > /dev/null
$DXC $GUEST_IP pmem ign.dat hold 0 65536 3 ignore > /tmp/hold.out 2>&1 &
hpid=$!
check "ignore: holder has its layout" wait_line /tmp/hold.out READY
check "ignore: the local truncate completes" bash -c "$LOP truncate $F/ign.dat | grep -q 'rc=0'"
check "ignore: the client is fenced" wait_line /tmp/hold.out FENCED
wait $hpid

# daxrdmactl recall, then evict.
$DXC $GUEST_IP pmem adm.dat write 0 65536 4 > /dev/null
$DXC $GUEST_IP pmem adm.dat hold 0 65536 4 cooperate > /tmp/hold.out 2>&1 &
hpid=$!
check "admin: holder has its layout" wait_line /tmp/hold.out READY
check "admin: daxrdmactl recall --wait" $CTL recall $F/adm.dat --wait
wait $hpid
$DXC $GUEST_IP pmem adm.dat hold 0 65536 4 ignore > /tmp/hold.out 2>&1 &
hpid=$!
check "evict: holder has its layout" wait_line /tmp/hold.out READY
cid=$($CTL clients --json | python3 -c "import json,sys; print(json.load(sys.stdin)['clients'][0]['id'])")
check "evict: daxrdmactl evict" $CTL evict "$cid"
check "evict: the client is disconnected" wait_line /tmp/hold.out FENCED
wait $hpid

# A client killed while writing.
$DXC $GUEST_IP pmem kill.dat write 0 1048576 5 > /dev/null
$DXC $GUEST_IP pmem kill.dat hold 0 1048576 5 loop > /tmp/hold.out 2>&1 &
hpid=$!
check "killed: writer is writing" wait_line /tmp/hold.out READY
sleep 1
kill -9 $hpid
wait $hpid 2>/dev/null
released() {
	for _ in $(seq 300); do
		json "d['clients'] == 0 and d['layouts'] == 0" status && return 0
		sleep 0.1
	done
	return 1
}
check "killed: its connection and layouts are released" released

# A reload, then SIGTERM with a layout held: shutdown recalls it.
check "reload: SIGHUP is applied" bash -c "kill -HUP $DPID && for i in \$(seq 300); do grep -q 'reloaded /tmp/dx.conf' /tmp/daemon.log && exit 0; sleep 0.1; done; exit 1"
$DXC $GUEST_IP pmem last.dat write 0 65536 6 > /dev/null
$DXC $GUEST_IP pmem last.dat hold 0 65536 6 cooperate > /tmp/hold.out 2>&1 &
hpid=$!
check "shutdown: holder has its layout" wait_line /tmp/hold.out READY
kill -TERM $DPID
wait $DPID
rc=$?
echo "   daxrdmad under memcheck exited with $rc"
check "shutdown: the daemon exits 0 (memcheck found no error: it would exit 99)" test $rc -eq 0
wait $hpid
check "memcheck: ERROR SUMMARY: 0 errors" grep -q 'ERROR SUMMARY: 0 errors' $VGLOG
check "memcheck: no bytes definitely or indirectly lost" \
	bash -c "! grep -E '(definitely|indirectly) lost: [1-9]' $VGLOG"
check "memcheck: it really ran (its leak summary is there)" grep -q 'LEAK SUMMARY\|All heap blocks were freed' $VGLOG
cp $VGLOG "${DXVM_SHARE:-/tmp}/valgrind.log" 2>/dev/null
sed -n '/HEAP SUMMARY/,$p' $VGLOG
grep -E '^==[0-9]+== (Invalid|Conditional|Syscall param|Use of|Mismatched|Source and)' $VGLOG | sort | uniq -c | head -20
summary
