#!/bin/bash
# Recall at scale (issue 9): clients that cooperate, asleep in poll() as
# libdaxrdma-client(3) says, are never fenced, however many layouts they
# hold on the file: one client with 2048 (recall_timeout_ms 500, and only
# 16 recalls at a time: each layout's deadline runs from its own recall),
# then 32 clients with 16 each (DX_SCALE_CLIENTS sets how many), all
# connecting at once.
. "$DXVM_GUEST/lib.sh"
LOP=$DX_BUILD/tests/vm/dx-localop
F=/mnt/pmem/export
RECALL_MS=500
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
DX_RECALL_MS=$RECALL_MS
DX_LIMITS="max_clients = 64; max_connections_per_address = 64; max_layouts = 8192; max_layouts_per_client = 4096;"
check "daxrdmad up (recall_timeout_ms $RECALL_MS)" daemon_up


N=2048
truncate -s $((N * 4096)) $F/many
$DXC $GUEST_IP pmem many many $N 4096 > /tmp/many.out 2>&1 &
m=$!
check "one client holds $N layouts on a file" wait_all 120 "GOT $N" /tmp/many.out
echo "   $(date +%T) truncating"
$LOP truncate $F/many > /tmp/trunc.out
cat /tmp/trunc.out
wait $m
cat /tmp/many.out
check "... a truncate recalls them all and the client returns them all" grep -q "RETURNED_ALL $N" /tmp/many.out
check "... and it is not fenced" eventually json "d['clients_fenced'] == 0 and d['layouts'] == 0" status

C=${DX_SCALE_CLIENTS:-32}
K=16
fenced0=$(status_of clients_fenced)
truncate -s $((K * 4096)) $F/shared
outs=()
pids=()
for i in $(seq $C); do
	$DXC $GUEST_IP pmem shared many $K 4096 > /tmp/shared$i.out 2>&1 &
	pids+=($!)
	outs+=(/tmp/shared$i.out)
done
check "$C clients hold $K READ layouts each on one file" wait_all 120 "GOT $K" "${outs[@]}"
echo "   $(date +%T) truncating"
grep -h "ERR\|dx-client" "${outs[@]}" | sort | uniq -c
$LOP truncate $F/shared > /tmp/trunc.out
cat /tmp/trunc.out
wait_all 120 "RETURNED_ALL\|FENCED" "${outs[@]}"
kill "${pids[@]}" 2>/dev/null
wait "${pids[@]}"
check "... a truncate recalls all $((C * K)) and every client returns its own" \
	test "$(grep -l "RETURNED_ALL $K" "${outs[@]}" | wc -l)" = $C
check "... and none is fenced" eventually json "d['clients_fenced'] == ${fenced0:-0} and d['layouts'] == 0" status
grep -h FENCED "${outs[@]}"
daemon_down
check "SIGTERM: clean exit" test $? -eq 0
summary
