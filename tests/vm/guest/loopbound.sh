#!/bin/bash
# Nothing unbounded in the loop (issue 19 §3). While each of these runs,
# one after the other for a while,
#  - ALLOCATEs of 1 GiB on a page-cache export (tmpfs zeroes every page it
#    allocates: the slowest ALLOCATE there is),
#  - reloads of a configuration of 28 exports (each probed: a probe file,
#    its mapping, MR registrations),
#  - daxrdmactl layouts with 4,000 layouts held,
# a recall deadline fires within 50 ms of its time and daxrdmactl status
# answers within 100 ms. The deadline: a client holds a layout on a victim
# file and ignores the recall, a local truncate breaks the lease, and the
# daemon says when, after the kernel's signal, the fence let the lease go
# ("N ms after the break": recall_timeout_ms plus the fence). A status
# request is sent every 20 ms meanwhile, each timed from its connect to its
# reply's last byte (ctlpoke.py watch: no process start in the time).
. "$DXVM_GUEST/lib.sh"
LOP=$DX_BUILD/tests/vm/dx-localop
F=/mnt/pmem/export
RECALL_MS=1000
LATE_MS=50
STATUS_MS=100
NX=24
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
DX_MORE_EXPORTS=""
for i in $(seq $NX); do
	mkdir -p /mnt/pmem/x$i
	DX_MORE_EXPORTS+="{ name = \"x$i\"; ${DX_FSDAX_OPTS:-} path = \"/mnt/pmem/x$i\"; acl = [ \"192.168.100.0/24\" ]; },"
done
DX_RECALL_MS=$RECALL_MS
DX_LIMITS="max_layouts = 8192; max_layouts_per_client = 4096;"
check "daxrdmad up with $((NX + 4)) exports (recall_timeout_ms $RECALL_MS)" daemon_up

round=0
fails=0
# measure WHAT: the victim's deadline and the worst status while WHAT runs.
measure() {
	local what=$1 worst late holder watcher v
	round=$((round + 1))
	v=victim$round
	$DXC $GUEST_IP pmem $v write 0 8192 1 > /dev/null
	$DXC $GUEST_IP pmem $v hold 0 8192 1 ignore > /tmp/$v.out 2>&1 &
	holder=$!
	wait_line /tmp/$v.out READY || echo "   $v: the holder got no layout"
	rm -f /tmp/vstop
	python3 "$DXVM_GUEST/ctlpoke.py" watch /tmp/vstop > /tmp/watch.out &
	watcher=$!
	$LOP truncate $F/$v > /tmp/$v.trunc
	touch /tmp/vstop
	wait $watcher
	worst=$(sed -n 's/^WORST ms=\([0-9]*\) .*/\1/p' /tmp/watch.out)
	worst=${worst:-999999}
	kill $holder 2>/dev/null
	wait $holder 2>/dev/null
	late=$(sed -n "s|.*pmem/$v: all layouts are back.*(\([0-9]*\) ms after the break)|\1|p" /tmp/daemon.log)
	late=$((${late:-999999} - RECALL_MS))
	echo "   $what: the deadline fired ${late} ms late; daxrdmactl status took ${worst} ms at worst"
	check "$what: the recall deadline fires within $LATE_MS ms of its time" test $late -le $LATE_MS
	check "$what: daxrdmactl status answers within $STATUS_MS ms" test $worst -le $STATUS_MS
}

# busy WHAT CMD...: run CMD again and again in the background until stop.
busy() {
	rm -f /tmp/stop
	( while [ ! -e /tmp/stop ]; do "$@" || { echo "FAILED: $*"; sleep 1; }; done ) > /tmp/busy.out 2>&1 &
	bg=$!
	sleep 1.5 # one round at least is under way
}
unbusy() {
	touch /tmp/stop
	wait $bg
	cat /tmp/busy.out | sort | uniq -c | sort -rn | head -3
}

measure "nothing else"

n=0
alloc() {
	n=$((n + 1))
	$DXC $GUEST_IP shm big$n allocate 0 1073741824 && rm -f /dev/shm/export/big$n
}
busy alloc
measure "ALLOCATEs of 1 GiB"
unbusy
check "... each ALLOCATE was answered OK" bash -c "! grep -q FAILED /tmp/busy.out && grep -q ALLOCATED /tmp/busy.out"

busy $CTL reload
measure "reloads of $((NX + 4)) exports"
unbusy
check "... each reload was answered OK" bash -c "! grep -q FAILED /tmp/busy.out && grep -q reloaded /tmp/daemon.log"

truncate -s $((4000 * 4096)) $F/many
$DXC $GUEST_IP pmem many many 4000 4096 > /tmp/many.out 2>&1 &
m=$!
check "a client holds 4000 layouts" wait_all 300 "GOT 4000" /tmp/many.out
busy bash -c "$CTL layouts > /tmp/layouts.txt"
measure "daxrdmactl layouts (4000 rows)"
unbusy
check "... and it lists them all" test "$($CTL --json layouts | grep -o '"id":' | wc -l)" -eq 4000
kill $m 2>/dev/null
wait $m 2>/dev/null

check "the daemon is alive" kill -0 $DPID
daemon_down
summary
