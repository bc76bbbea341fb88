#!/bin/bash
# The fio engine (issue 9 §5): fio 3.33 loads it, writes over RDMA into a file
# on FS-DAX and verifies what it reads back; what it committed is in the file
# (a local fio verifies it with psync); a local truncate in the middle of a
# run is recalled and the engine takes its layouts again, unfenced; bad
# options and a missing export fail with clear errors.
. "$DXVM_GUEST/lib.sh"
ENGINE=$DX_BUILD/src/fio/daxrdma-fio.so
JOB=$DX_SRC/src/fio/daxrdma.fio
F=/mnt/pmem/export
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
check "daxrdmad up" daemon_up

dxfio() { # OUT fio-ARGS...: fio with the engine, on the daemon; JSON to OUT
	local out=$1
	shift
	fio --ioengine=external:$ENGINE --hostname=$GUEST_IP --export=pmem \
		--output-format=json --output="$out" "$@"
}
# jq-less: EXPR over fio's JSON (j) holds.
fiojson() { # FILE EXPR
	python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1" || {
		cat "$1"
		return 1
	}
}

# The shipped example job, as its header says to run it: random 4 KiB
# writes, a COMMIT each, then fio reads everything back and verifies it.
committed0=$(status_of bytes_committed)
check "the example job runs: randwrite, commit=sync, verify=crc32c" \
	fio --ioengine=external:$ENGINE --output-format=json --output=/tmp/ex.json $JOB
check "... wrote 64 MiB and verified it without an error" \
	fiojson /tmp/ex.json "j['jobs'][0]['error'] == 0 and j['jobs'][0]['write']['io_bytes'] == 64 << 20 and j['jobs'][0]['read']['io_bytes'] == 64 << 20"
check "... each write was committed: bytes_committed grew by 64 MiB" \
	test $(($(status_of bytes_committed) - committed0)) -eq $((64 << 20))
check "... the file is 64 MiB" test "$(stat -c %s $F/fio.dat)" = $((64 << 20))

# commit=batch over several layouts: durable at the fsync points and at close.
# A local fio then verifies the file itself, not the daemon's staging.
committed0=$(status_of bytes_committed)
check "commit=batch, fsync=32, 1 MiB layouts, sequential 64 KiB writes" \
	dxfio /tmp/b.json --name=batch --filename=batch.dat --size=12m --bs=64k --rw=write \
	--commit=batch --fsync=32 --layout_size=1m --verify=md5 --do_verify=0 --verify_state_save=0
check "... fio reports no error" fiojson /tmp/b.json "j['jobs'][0]['error'] == 0 and j['jobs'][0]['write']['io_bytes'] == 12 << 20"
check "... all 12 MiB committed, in batches" test $(($(status_of bytes_committed) - committed0)) -eq $((12 << 20))
check "... a local fio (psync) verifies every block in the file" \
	fio --name=batch --ioengine=psync --filename=$F/batch.dat --size=12m --bs=64k --rw=write \
	--verify=md5 --verify_only --verify_state_load=0 --output-format=json --output=/tmp/bl.json
check "... read 12 MiB, no verify error" fiojson /tmp/bl.json "j['jobs'][0]['error'] == 0 and j['jobs'][0]['read']['io_bytes'] == 12 << 20"
check "... and over RDMA with READ layouts (iomode=read)" \
	dxfio /tmp/br.json --name=batch --filename=batch.dat --size=12m --bs=64k --rw=write \
	--iomode=read --verify=md5 --verify_only --verify_state_load=0
check "... read 12 MiB, no verify error" fiojson /tmp/br.json "j['jobs'][0]['error'] == 0 and j['jobs'][0]['read']['io_bytes'] == 12 << 20"

# A local truncate (to the same size) in the middle of a timed run: the
# daemon recalls the layout, the engine takes it again and goes on.
fenced0=$(status_of clients_fenced)
recalls0=$(status_of recalls)
dxfio /tmp/t.json --name=trunc --filename=trunc.dat --size=4m --bs=4k --rw=randwrite \
	--time_based --runtime=6 &
f=$!
check "fio is writing" eventually test -s $F/trunc.dat
sleep 2
truncate -s $((4 << 20)) $F/trunc.dat
echo "   $(date +%T) truncated"
wait $f
check "... fio ran to the end without an error" fiojson /tmp/t.json "j['jobs'][0]['error'] == 0 and j['jobs'][0]['write']['total_ios'] > 0"
check "... the layout was recalled" test "$(status_of recalls)" -gt "$recalls0"
check "... and the engine was not fenced" test "$(status_of clients_fenced)" = "$fenced0"
check "no layout left" eventually json "d['layouts'] == 0" status

# Issue 26 §4: commit=batch across recalls. A recall between the writes and
# their COMMIT took the layout back (the library returns it dirty, and the
# daemon persists what a dirty return gives back), and the COMMIT at the
# fsync point failed with ESTALE: fio stopped with an error. Admin recalls
# in a loop through a batch run: no error, every block there.
recalls0=$(status_of recalls)
dxfio /tmp/rb.json --name=rb --filename=rb.dat --size=32m --bs=64k --rw=write --commit=batch --fsync=64 \
	--layout_size=4m --verify=md5 --do_verify=0 --verify_state_save=0 &
f=$!
while kill -0 $f 2>/dev/null; do # (paced: back to back, recalls would starve the grants)
	[ -e $F/rb.dat ] && $CTL recall $F/rb.dat >/dev/null 2>&1
	sleep 0.2
done
wait $f
check "commit=batch with recalls between writes and their COMMIT: fio reports no error" \
	fiojson /tmp/rb.json "j['jobs'][0]['error'] == 0 and j['jobs'][0]['write']['io_bytes'] == 32 << 20"
check "... its layouts were recalled ($(($(status_of recalls) - recalls0)) times)" \
	test "$(status_of recalls)" -gt "$recalls0"
check "... a local fio (psync) verifies every block" \
	fio --name=rb --ioengine=psync --filename=$F/rb.dat --size=32m --bs=64k --rw=write \
	--verify=md5 --verify_only --verify_state_load=0 --output-format=json --output=/tmp/rbl.json
check "... read 32 MiB, no verify error" fiojson /tmp/rbl.json "j['jobs'][0]['error'] == 0 and j['jobs'][0]['read']['io_bytes'] == 32 << 20"
check "... and the engine was not fenced" test "$(status_of clients_fenced)" = "$fenced0"

# Errors say what is wrong.
dxfio /tmp/e1.json --name=e --filename=x --size=1m --rw=write --export=nosuch > /tmp/e1.out 2>&1
cat /tmp/e1.out | head -5
check "an unknown export: fio fails, saying the open failed" grep -q 'daxrdma: open nosuch/x' /tmp/e1.out /tmp/e1.json
dxfio /tmp/e2.json --name=e --filename=short.dat --size=1m --rw=read > /tmp/e2.out 2>&1
: > $F/short.dat
dxfio /tmp/e2.json --name=e --filename=short.dat --size=1m --rw=read > /tmp/e2.out 2>&1
check "reading past a short file: fails, saying the file is shorter" grep -q 'the file is shorter' /tmp/e2.out /tmp/e2.json
dxfio /tmp/e3.json --name=e --filename=x --size=1m --rw=write --layout_size=1000 > /tmp/e3.out 2>&1
check "layout_size=1000: not a multiple of 4096" grep -q 'not a multiple of 4096' /tmp/e3.out /tmp/e3.json
check "the daemon is alive" kill -0 $DPID
daemon_down
summary
