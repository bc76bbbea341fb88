#!/bin/bash
# Benchmarks, all in one guest boot (under TCG only ratios within one boot
# mean anything): each daxrdma figure next to its baseline, measured the same
# way in the same boot (perftest for the wire, pmem2_memcpy for the copy, the
# no-layout truncate for recall), several times. Writes the samples to
# $DXVM_SHARE/samples.tsv; bench/report.py turns them into the table, the
# JSON and the plot. Run by scripts/bench. DXBENCH_REPS (default 3) sets the
# repetitions of the data-path rows.
. "$DXVM_GUEST/lib.sh"
. "$DX_SRC/bench/bench-lib.sh"
PMEMCPY=$DX_BUILD/bench/dx-pmemcpy
ENGINE=$DX_BUILD/src/fio/daxrdma-fio.so
LOP=$DX_BUILD/tests/vm/dx-localop
TRUNC_REPS=5       # truncate waits: 5 each...
SCALE_RUNS=20      # ...and 20 at 32 x 16, counting the cooperating clients fenced
HELD=10000         # layouts held while a grant is timed

DX_LIMITS="max_clients = 64; max_connections_per_address = 64; max_layouts = 16384; max_layouts_per_client = 16384;"
rxe_up && rxe_active && pmem_up && daemon_up || { echo "bench: setup failed"; exit 1; }
: > $OUT

sample ib_write_bw "ib_write_bw, 1 MiB messages" MB/s hi - - $(reps $REPS perftest_bw ib_write_bw)
sample ib_read_bw "ib_read_bw, 1 MiB messages" MB/s hi - - $(reps $REPS perftest_bw ib_read_bw)
# A small persistent write is an RDMA WRITE and a request/reply: perftest's
# ib_write_lat 4 KiB + ib_send_lat 64 B, polling; sleeping, ib_send_lat -e
# (ib_write_lat has no -e).
poll_sums=() ev_sums=()
for _ in $(seq $REPS); do
	w=$(perftest_lat ib_write_lat 4096)
	s=$(perftest_lat ib_send_lat 64)
	e=$(perftest_lat ib_send_lat 64 -e)
	poll_sums+=("$(awk -v a="$w" -v b="$s" 'BEGIN {printf "%.2f", a + b}')")
	ev_sums+=("$(awk -v a="$w" -v b="$e" 'BEGIN {printf "%.2f", a + b}')")
	send_lat=$s
done
sample pt_lat_poll "ib_write_lat 4 KiB + ib_send_lat 64 B, polling" µs lo - - "${poll_sums[@]}"
sample pt_lat_event "ib_write_lat 4 KiB + ib_send_lat -e 64 B, sleeping" µs lo - - "${ev_sums[@]}"

# ---- small persistent writes: 4 KiB RDMA WRITE + COMMIT ----
lat_run() { # CLIENT_POLL_US: the median µs of 1000 writes + COMMITs
	field median_us "$(DX_BUSY_POLL_US=$1 $BENCH $GUEST_IP pmem lat.dat lat 4096 1000)"
}
daemon_poll 0
sample lat_event "daxrdma 4 KiB RDMA WRITE + COMMIT, sleeping (median of 1000)" µs lo pt_lat_event "<= 1.3" \
	$(reps $LAT_REPS lat_run 0)
daemon_poll 200
sample lat_poll "daxrdma 4 KiB RDMA WRITE + COMMIT, polling (client 1000 µs, daemon 200 µs)" µs lo pt_lat_poll "<= 1.3" \
	$(reps $LAT_REPS lat_run 1000)
daemon_poll 0

# ---- the data path: one 64 MiB layout, 1 MiB RDMA ops, one COMMIT ----
for ex in shm pmem; do
	mode=$([ $ex = shm ] && echo "tmpfs, pinned" || echo "FS-DAX, bounce")
	w=() r=() c=() g=() t=()
	for _ in $(seq $REPS); do
		wl=$($BENCH $GUEST_IP $ex bench.dat write $SIZE $CHUNK)
		rl=$($BENCH $GUEST_IP $ex bench.dat read $SIZE $CHUNK)
		w+=("$(field write_MBps "$wl")") r+=("$(field read_MBps "$rl")") c+=("$(field commit_MBps "$wl")")
		g+=("$(field get_ms "$wl")") t+=("$(field return_ms "$wl")")
	done
	sample write_$ex "daxrdma RDMA WRITE in a layout ($mode)" MB/s hi ib_write_bw ">= 0.95" "${w[@]}"
	sample read_$ex "daxrdma RDMA READ in a layout ($mode)" MB/s hi ib_read_bw ">= 0.95" "${r[@]}"
	[ $ex = pmem ] && sample commit_$ex "daxrdma COMMIT of 64 MiB ($mode)" MB/s hi pmemcpy_warm ">= 0.9" "${c[@]}"
	[ $ex = shm ] && sample commit_$ex "daxrdma COMMIT of 64 MiB ($mode)" MB/s hi - - "${c[@]}"
	sample get_$ex "daxrdma LAYOUT_GET RW of 64 MiB ($mode)" ms lo \
		"$([ $ex = pmem ] && echo get_shm || echo -)" - "${g[@]}"
	sample return_$ex "daxrdma LAYOUT_RETURN of 64 MiB RW after its COMMIT ($mode)" ms lo \
		"$([ $ex = pmem ] && echo return_shm || echo -)" "$([ $ex = pmem ] && echo "<= 1.5" || echo -)" "${t[@]}"
done
# The copy a bounce COMMIT does, alone: pmem2_memcpy into the same FS-DAX.
cold=() warm=() pop=()
for _ in $(seq $REPS); do
	p=$($PMEMCPY /mnt/pmem/pmemcpy.dat $SIZE)
	cold+=("$(field cold_MBps "$p")") warm+=("$(field warm_MBps "$p")") pop+=("$(field populated_MBps "$p")")
	rm -f /mnt/pmem/pmemcpy.dat
done
sample pmemcpy_warm "pmem2_memcpy of 64 MiB into FS-DAX, already faulted (warm)" MB/s hi - - "${warm[@]}"
sample pmemcpy_cold "pmem2_memcpy of 64 MiB into FS-DAX, first touch (cold)" MB/s hi - - "${cold[@]}"
sample pmemcpy_pop "pmem2_memcpy of 64 MiB into FS-DAX populated by MADV_POPULATE_WRITE (as a grant does)" MB/s hi \
	pmemcpy_warm - "${pop[@]}"

# ---- the user tool end to end: connect, allocate, 16 MiB layouts, commit ----
head -c $SIZE /dev/urandom > /tmp/bench.src
TOOL=$DX_BUILD/src/tool/daxrdma
tool_MBps() { # put|get EXPORT
	local t0 t1
	t0=$(now_ms)
	if [ $1 = put ]; then
		$TOOL -q put /tmp/bench.src $GUEST_IP:$2/put.dat || echo "bench: put failed" >&2
	else
		$TOOL -q get $GUEST_IP:$2/put.dat /tmp/bench.back || echo "bench: get failed" >&2
		cmp -s /tmp/bench.src /tmp/bench.back || echo "bench: get returned other bytes" >&2
	fi
	t1=$(now_ms)
	awk -v b=$SIZE -v ms=$((t1 - t0)) 'BEGIN {printf "%.1f\n", b / ms / 1e3}'
}
for ex in shm pmem; do
	mode=$([ $ex = shm ] && echo "tmpfs, pinned" || echo "FS-DAX, bounce")
	put=() get=()
	for _ in $(seq $REPS); do
		put+=("$(tool_MBps put $ex)") get+=("$(tool_MBps get $ex)")
	done
	sample tool_put_$ex "daxrdma put, 64 MiB file ($mode)" MB/s hi ib_write_bw - "${put[@]}"
	sample tool_get_$ex "daxrdma get, 64 MiB file ($mode)" MB/s hi ib_read_bw - "${get[@]}"
done

# ---- grants: sealing, MR registration, staging copies; among many layouts ----
cycle_us() { # EXPORT SIZE COUNT [HELD]
	field us_per_cycle "$(DX_HOLD=${4:-0} $BENCH $GUEST_IP $1 cycle.dat cycle $2 $3)"
}
for ex in shm pmem; do
	mode=$([ $ex = shm ] && echo "pinned" || echo "bounce")
	for spec in "4096 200" "$CHUNK 50" "$((16 << 20)) 10"; do
		set -- $spec
		sample cycle_${ex}_$1 "LAYOUT_GET + LAYOUT_RETURN, $(($1 >> 10)) KiB RW ($mode)" µs lo - - \
			$(reps $REPS cycle_us $ex $1 $2)
	done
	sample cycle_${ex}_held "LAYOUT_GET + LAYOUT_RETURN, 4 KiB RW ($mode), $HELD layouts held" µs lo \
		cycle_${ex}_4096 "<= 1.2" $(reps $REPS cycle_us $ex 4096 200 $HELD)
done

# ---- fio with the daxrdma engine, next to perftest ----
fio_run() { # KEY fio-ARGS...: fio's JSON job 0 field KEY (write bw in KiB/s or clat median in ns)
	local key=$1
	shift
	fio --ioengine=external:$ENGINE --hostname=$GUEST_IP --export=pmem --output-format=json \
		--output=/tmp/fio.json --name=bench --filename=fio.dat "$@" > /dev/null 2>&1 || echo "bench: fio failed" >&2
	python3 -c "import json; w=json.load(open('/tmp/fio.json'))['jobs'][0]['write']
print({'bw': lambda: round(w['bw_bytes'] / 1e6, 1), 'clat': lambda: round(w['clat_ns']['percentile']['50.000000'] / 1e3, 1)}['$key']())"
}
# Steady state: the first 2 s (the 64 MiB layout's grant) are fio's ramp.
FIO_TIME="--time_based --ramp_time=2 --runtime=6"
sample fio_seq "fio, daxrdma engine: sequential 1 MiB writes, commit=batch, fsync=64 (FS-DAX, bounce)" MB/s hi \
	ib_write_bw ">= 0.9" $(reps $REPS fio_run bw --size=64m --bs=1m --rw=write --commit=batch --fsync=64 $FIO_TIME)
sample fio_rand "fio, daxrdma engine: random 4 KiB writes, commit=sync, clat median (FS-DAX, bounce)" µs lo \
	pt_lat_event "<= 1.3" $(reps $REPS fio_run clat --size=64m --bs=4k --rw=randwrite --commit=sync $FIO_TIME)

# ---- what a local truncate waits ----
truncate_us() { # HOLD_MODE (none|cooperate|ignore): one truncate's wait in µs
	local f=/mnt/pmem/export/trunc.dat
	rm -f $f
	$DXC $GUEST_IP pmem trunc.dat write 0 65536 1 > /dev/null
	if [ "$1" != none ]; then
		$DXC $GUEST_IP pmem trunc.dat hold 0 65536 1 $1 > /tmp/hold.out 2>&1 &
		wait_line /tmp/hold.out READY || echo "bench: holder not ready" >&2
	fi
	$LOP truncate $f | sed -n 's/.* us=\([0-9]*\).*/\1/p' | awk '{printf "%.2f\n", $1 / 1e3}'
	wait
}
sample trunc_none "local truncate(2) wait, no layout" ms lo - - $(reps $TRUNC_REPS truncate_us none)
sample trunc_coop "local truncate(2) wait, a holder that returns its layout" ms lo trunc_none - \
	$(reps $TRUNC_REPS truncate_us cooperate)
sample trunc_ignore "local truncate(2) wait, a holder that never answers (fenced at recall_timeout 2 s)" ms lo - - \
	$(reps 3 truncate_us ignore)

# Recall at scale: C clients hold K READ layouts each on one file, asleep in
# poll() as libdaxrdma-client(3) says; a local truncate recalls them all.
scale_ms() { # C K: one truncate's wait in ms
	local f=/mnt/pmem/export/scale.dat outs=() pids=()
	rm -f $f
	truncate -s $(($2 * 4096)) $f
	for i in $(seq $1); do
		$DXC $GUEST_IP pmem scale.dat many $2 4096 > /tmp/scale$i.out 2>&1 &
		pids+=($!)
		outs+=(/tmp/scale$i.out)
	done
	wait_all 60 '^GOT' "${outs[@]}" || echo "bench: not every client got its layouts" >&2
	$LOP truncate $f | sed -n 's/.* us=\([0-9]*\).*/\1/p' | awk '{printf "%.2f\n", $1 / 1e3}'
	wait_all 30 'RETURNED_ALL\|FENCED' "${outs[@]}" || echo "bench: not every client answered" >&2
	kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
}
for spec in "1 1" "8 4" "16 16" "32 16" "1 2048"; do
	set -- $spec
	runs=$([ "$1 $2" = "32 16" ] && echo $SCALE_RUNS || echo $TRUNC_REPS)
	f0=$(status_of clients_fenced)
	ms=$(reps $runs scale_ms $1 $2)
	goal=$([ "$1 $2" = "32 16" ] && echo "< 20 ms" || echo -)
	sample scale_$1x$2 "local truncate(2) wait, $1 client(s) x $2 layouts, all returned" ms lo trunc_none "$goal" $ms
	sample fenced_$1x$2 "cooperating clients fenced in those $runs truncates, $1 x $2" clients lo - "0" \
		$(($(status_of clients_fenced) - f0))
done
# The moonshot's yardstick: 5 round trips (2 x ib_send_lat, polling) + 1 ms.
sample rtt "one round trip, 2 x ib_send_lat 64 B polling" µs lo - - "$(awk -v s="$send_lat" 'BEGIN {printf "%.1f", 2 * s}')"
daemon_down
echo "bench: samples in $OUT"
