#!/bin/bash
# The central invariant (docs/design.md, "Old rkeys"), one case per kind of
# recall: after the recall, an RDMA WRITE with the layout's old rkey, sent on
# the holder's own connection while that connection still holds another
# layout (DX_KEEP) and still works (an RDMA READ through the other layout
# succeeds just before), completes with a remote access error; the kernel's
# MR table (rdma resource) no longer has the rkey, which it had before; and
# the file's bytes are what the trigger left. Where the trigger ends the
# connection itself (a fence, an eviction), no live QP of that client is
# left to carry the write: its write is flushed, and the MR table and the
# bytes show the rkey dead.
. "$DXVM_GUEST/lib.sh"
LOP=$DX_BUILD/tests/vm/dx-localop
F=/mnt/pmem/export
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
check "daxrdmad up" daemon_up
cp /tmp/dx.conf /tmp/dx.conf.all

# Whether the kernel has an MR with rkey RKEY (0x...): rdma resource's text
# lines say "rkey 0x..." (its JSON gives the hex digits alone, as a string).
mr_has() {
	rdma -d resource show mr | python3 -c '
import re, sys
want = int(sys.argv[1], 0)
sys.exit(0 if any(int(k, 16) == want for k in re.findall(r"\brkey 0x([0-9a-f]+)", sys.stdin.read())) else 1)' "$1"
}
mr_gone() { ! mr_has "$1"; }

# holder CASE EXPORT FILE SEED MODE: FILE written with SEED, then held by a
# client in MODE (cooperate, ignore) that keeps another layout on KEEP_EXPORT
# (pmem); its old rkey in RKEY. The stale write waits for /tmp/op.done.
holder() {
	local case=$1 ex=$2 file=$3 seed=$4 mode=$5
	rm -f /tmp/op.done /tmp/hold.out
	$DXC $GUEST_IP "$ex" "$file" write 0 65536 "$seed" > /dev/null
	DX_STALE_AFTER=/tmp/op.done DX_KEEP=${KEEP_EXPORT:-pmem}/keep-$file \
		$DXC $GUEST_IP "$ex" "$file" hold 0 65536 "$seed" "$mode" > /tmp/hold.out 2>&1 &
	HPID=$!
	check "$case: the holder has its layout" wait_line /tmp/hold.out READY
	check "$case: ... and keeps another" grep -q '^KEEP rkey=' /tmp/hold.out
	RKEY=$(sed -n 's/^READY .*rkey=\(0x[0-9a-f]*\).*/\1/p' /tmp/hold.out)
	check "$case: the kernel's MR table has its rkey ($RKEY)" mr_has "${RKEY:-0xffffffff}"
}

# stale CASE STATUS: once the trigger is over (the caller waited for it),
# the holder's stale write; STATUS is what it must complete with.
stale() {
	local case=$1 status=$2
	touch /tmp/op.done
	check "$case: the stale write was made" wait_line /tmp/hold.out HOLD_DONE
	if [ "$status" = "remote access error" ]; then
		check "$case: on a connection that worked just before (its other layout)" grep -qx 'KEEPER works' /tmp/hold.out
	fi
	check "$case: RDMA WRITE with the old rkey: $status" grep -q "STALE_WRITE status=$status" /tmp/hold.out
	check "$case: the kernel's MR table no longer has the rkey" mr_gone "${RKEY:-0x0}"
	wait $HPID
	cat /tmp/hold.out
}

# A local truncate, hole punch and open for writing (a lease break), on
# pmem and on shm: where layouts address the file itself (shm: pinned; pmem
# in ODP mode) the bytes show what a stale write that worked would change.
for ex in pmem shm; do
	dir=$([ $ex = pmem ] && echo $F || echo /dev/shm/export)
	for op in truncate punch open_wr; do
		holder "$ex $op" $ex $op.dat 41 cooperate
		$LOP $op $dir/$op.dat > /tmp/op.out
		check "$ex $op: returned" wait_line /tmp/hold.out RETURNED
		check "$ex $op: recalled for a local use (1)" grep -q 'RECALLED reason=1' /tmp/hold.out
		stale "$ex $op" "remote access error"
	done
	check "$ex truncate: the file stays empty" test "$(stat -c %s $dir/truncate.dat)" = 0
	check "$ex punch: the range stays zeros" cmp <(head -c 65536 /dev/zero) $dir/punch.dat
	check "$ex open_wr: the file keeps its committed bytes" cmp <(pattern 0 65536 41) $dir/open_wr.dat
done

# daxrdmactl recall.
holder admin pmem admin.dat 42 cooperate
check "admin: daxrdmactl recall --wait" $CTL recall $F/admin.dat --wait
check "admin: recalled by daxrdmactl (2)" grep -q 'RECALLED reason=2' /tmp/hold.out
stale admin "remote access error"
check "admin: the file keeps its bytes" cmp <(pattern 0 65536 42) $F/admin.dat

# Another client wants the range for writing (a conflict): it writes once
# the holder has given its layout back.
holder conflict pmem conflict.dat 43 cooperate
check "conflict: another client writes the range" bash -c "$DXC $GUEST_IP pmem conflict.dat write 0 65536 53 | grep -q OK"
check "conflict: recalled for a conflict (3)" grep -q 'RECALLED reason=3' /tmp/hold.out
stale conflict "remote access error"
check "conflict: the file has the other client's bytes" cmp <(pattern 0 65536 53) $F/conflict.dat

# A reload drops the export (the kept layout is on another one).
KEEP_EXPORT=pmem holder reload shm reload.dat 44 cooperate
sed -i '/name = "shm"/d' /tmp/dx.conf
check "reload: without the shm export" $CTL reload
check "reload: returned" wait_line /tmp/hold.out RETURNED
check "reload: reason 4" grep -q 'RECALLED reason=4' /tmp/hold.out
stale reload "remote access error"
check "reload: the file keeps its bytes" cmp <(pattern 0 65536 44) /dev/shm/export/reload.dat
cp /tmp/dx.conf.all /tmp/dx.conf
check "reload: the shm export back" $CTL reload

# daxrdmactl evict: the connection goes with its QP.
holder evict pmem evict.dat 45 ignore
cid=$($CTL clients --json | python3 -c "import json,sys; print(json.load(sys.stdin)['clients'][-1]['id'])")
check "evict: daxrdmactl evict $cid" $CTL evict "$cid"
check "evict: the client is cut off" wait_line /tmp/hold.out FENCED
stale evict "Work Request Flushed Error"
check "evict: the file keeps its bytes" cmp <(pattern 0 65536 45) $F/evict.dat

# A holder that does not answer is fenced at the deadline; the truncate goes on.
holder fence pmem fence.dat 46 ignore
$LOP truncate $F/fence.dat > /tmp/op.out
check "fence: the local truncate completed" grep -q 'truncate rc=0' /tmp/op.out
check "fence: the client was fenced" wait_line /tmp/hold.out FENCED
stale fence "Work Request Flushed Error"
check "fence: the file stays empty" test "$(stat -c %s $F/fence.dat)" = 0

odp_zero_copy

# Shutdown: the layouts are recalled (5). The holder returns the main one and
# keeps the other (deferred), so the daemon waits for it and the
# connection lives while the stale write is made.
holder shutdown pmem shutdown.dat 47 cooperate
kill -TERM $DPID
check "shutdown: returned" wait_line /tmp/hold.out RETURNED
check "shutdown: reason 5" grep -q 'RECALLED reason=5' /tmp/hold.out
check "shutdown: the kept layout is recalled too, and kept" grep -q 'KEEPER_RECALLED reason=5' /tmp/hold.out
stale shutdown "remote access error"
wait $DPID
check "shutdown: the file keeps its bytes" cmp <(pattern 0 65536 47) $F/shutdown.dat
summary
