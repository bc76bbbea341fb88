#!/bin/bash
# No client can stall the daemon's loop (issue 8 §2). One client keeps it
# busy with 64 MiB bounce grants and COMMITs, one after the other; a hostile
# one keeps 16 COMMITs of 64 MiB in flight (and tries 18). Meanwhile a local
# truncate of another file, which a silent client holds, must complete
# within recall_timeout_ms + 200 ms, and daxrdmactl status must answer
# within 1 s.
. "$DXVM_GUEST/lib.sh"
LOP=$DX_BUILD/tests/vm/dx-localop
HOSTILE=$DX_BUILD/tests/vm/dx-hostile
F=/mnt/pmem/export
RECALL_MS=2000
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
DX_RECALL_MS=$RECALL_MS
check "daxrdmad up" daemon_up

$DXC $GUEST_IP pmem busy busy 67108864 30 > /tmp/busy.out 2>&1 &
busy=$!
check "a busy client: 64 MiB bounce layouts, granted and committed in a loop" wait_line /tmp/busy.out BUSY
: > $F/flood
DX_FLOOD_S=30 $HOSTILE $GUEST_IP pmem flood flood > /tmp/flood.out 2>&1 &
flood=$!
check "a flooding client: 18 COMMITs of 64 MiB at once" wait_line /tmp/flood.out BURST
cat /tmp/flood.out
if [ "${DXT_MR_MODE:-}" = odp ]; then
	# ODP: a COMMIT only flushes, so one can be answered before the burst
	# ends and free its credit for a 17th: credits bound what is in flight.
	check "... at least 16 (its credits) are answered OK, the rest refused" \
		python3 -c "import re,sys; m=re.search(r'BURST ok=(\d+) refused=(\d+)$', open('/tmp/flood.out').read(), re.M); sys.exit(0 if m and int(m[1]) >= 16 and int(m[1]) + int(m[2]) == 18 else 1)"
else
	check "... 16 (its credits) are answered OK, 2 are refused" grep -q 'BURST ok=16 refused=2$' /tmp/flood.out
fi
check "... and the daemon says why" grep -q 'more than 16 requests in flight' /tmp/daemon.log

# requests_of ID: how many requests client ID has sent (daxrdmactl clients).
requests_of() {
	$CTL clients --json | python3 -c "import json,sys; print(next(c['requests'] for c in json.load(sys.stdin)['clients'] if c['id'] == int(sys.argv[1])))" "$1"
}
read -r busy_id flood_id < <($CTL clients --json | python3 -c "import json,sys; print(*[c['id'] for c in json.load(sys.stdin)['clients']][:2])")
busy0=$(requests_of "$busy_id")
flood0=$(requests_of "$flood_id")
worst_status=0
worst_trunc=0
least_trunc=999999
samples=0
status_failed=0
for i in 1 2 3; do
	$DXC $GUEST_IP pmem victim$i write 0 8192 $i > /dev/null
	$DXC $GUEST_IP pmem victim$i hold 0 8192 $i ignore > /tmp/v$i.out 2>&1 &
	v=$!
	check "victim $i holds a layout it will not return" wait_line /tmp/v$i.out READY
	$LOP truncate $F/victim$i > /tmp/trunc$i.out &
	lop=$!
	# daxrdmactl status, every 200 ms while the truncate waits
	while kill -0 $lop 2>/dev/null; do
		t0=$(now_ms)
		timeout 10 $CTL status > /dev/null || status_failed=$((status_failed + 1))
		dt=$(($(now_ms) - t0))
		[ $dt -gt $worst_status ] && worst_status=$dt
		samples=$((samples + 1))
		sleep 0.2
	done
	wait $lop
	ms=$(sed -n 's/^truncate rc=0 ms=\([0-9]*\) .*/\1/p' /tmp/trunc$i.out)
	echo "   truncate $i: ${ms:-failed} ms (recall_timeout_ms $RECALL_MS)"
	[ -n "$ms" ] && [ "$ms" -gt $worst_trunc ] && worst_trunc=$ms
	[ -n "$ms" ] && [ "$ms" -lt $least_trunc ] && least_trunc=$ms
	[ -z "$ms" ] && worst_trunc=999999
	kill $v 2>/dev/null
	wait $v 2>/dev/null
done
echo "   truncates: $least_trunc-$worst_trunc ms; daxrdmactl status: $samples answers, worst $worst_status ms"
check "every truncate waited for its silent holder's deadline" test $least_trunc -ge $((RECALL_MS - 100))
check "... and completed within recall_timeout_ms + 200 ms" test $worst_trunc -le $((RECALL_MS + 200))
check "daxrdmactl status answered while the truncates waited ($samples times)" test $samples -ge 9
check "... every time" test $status_failed -eq 0
check "... within 1 s" test $worst_status -le 1000
check "the busy client was served meanwhile ($(($(requests_of "$busy_id") - busy0)) requests)" \
	test "$(requests_of "$busy_id")" -gt "$busy0"
check "the flooding client was served meanwhile ($(($(requests_of "$flood_id") - flood0)) requests)" \
	test "$(requests_of "$flood_id")" -gt "$flood0"
check "the load lasted through the truncates" kill -0 $busy $flood
wait $busy $flood
check "the busy client had worked all along" grep -q '^OPS [1-9]' /tmp/busy.out
check "the flood went on, unbroken" bash -c "grep -q '^FLOOD rounds=[1-9]' /tmp/flood.out && ! grep -q broken /tmp/flood.out"
check "the daemon is alive" kill -0 $DPID
daemon_down
summary
