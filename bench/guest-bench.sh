#!/bin/bash
# Benchmarks, all in one guest boot (under TCG only ratios within one boot
# mean anything): raw verbs (perftest) against the daxrdma data path on tmpfs
# (pinned MRs) and FS-DAX (bounce), the cost of a layout grant, and how long
# a local truncate waits for a recall. Writes a markdown table to
# $DXVM_SHARE/results.md. Run by scripts/bench.
. "$DXVM_GUEST/lib.sh"
BENCH=$DX_BUILD/bench/dx-bench
TOOL=$DX_BUILD/src/tool/daxrdma
LOP=$DX_BUILD/tests/vm/dx-localop
OUT=$DXVM_SHARE/results.md
SIZE=$((64 << 20)) # data path runs move 64 MiB
CHUNK=$((1 << 20))
REPS=5             # recall timings: the median of 5

DX_LIMITS="max_clients = 64; max_connections_per_address = 64; max_layouts = 8192; max_layouts_per_client = 4096;"
rxe_up && rxe_active && pmem_up && daemon_up || { echo "bench: setup failed"; exit 1; }
rows=()
row() { # WHAT VALUE UNIT: one table row
	rows+=("| $1 | $2 | $3 |")
	echo "bench: $1: $2 $3"
}
field() { # KEY LINE: the value of KEY=value in LINE
	sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<< " $2"
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# perftest: the same 1 MiB messages as daxrdma's RDMA chunks.
perftest() { # PROGRAM: BW average [MB/s], client and server on rxe0
	timeout 120 "$1" -R -d rxe0 -s $CHUNK -n 200 > /tmp/pt-server.log 2>&1 &
	local s=$!
	sleep 2
	timeout 120 "$1" -R -d rxe0 -s $CHUNK -n 200 $GUEST_IP > /tmp/pt-client.log 2>&1
	wait $s
	awk -v s=$CHUNK '$1 == s { print $4 }' /tmp/pt-client.log
}
row "ib_write_bw, raw verbs, 1 MiB messages" "$(perftest ib_write_bw)" MB/s
row "ib_read_bw, raw verbs, 1 MiB messages" "$(perftest ib_read_bw)" MB/s

# Small persistent writes: a 4 KiB RDMA WRITE and its COMMIT (a request and
# its reply) against perftest's latency of the same two steps, busy-polling
# and sleeping on events (-e), in the same boot.
lat() { # PROGRAM SIZE [-e]: perftest's typical latency in µs
	timeout 120 "$1" -d rxe0 -s $2 -n 1000 $3 > /tmp/pt-server.log 2>&1 &
	local s=$!
	sleep 2
	timeout 120 "$1" -d rxe0 -s $2 -n 1000 $3 $GUEST_IP > /tmp/pt-client.log 2>&1
	wait $s
	awk -v s=$2 '$1 == s { print $5 }' /tmp/pt-client.log
}
wl=$(lat ib_write_lat 4096)
sl=$(lat ib_send_lat 64)
sle=$(lat ib_send_lat 64 -e)
row "ib_write_lat 4 KiB + ib_send_lat 64 B, raw verbs, polling (typical)" "$wl + $sl" µs
row "ib_send_lat 64 B, raw verbs, sleeping on events (-e; ib_write_lat has no -e)" "${sle:-n/a}" µs
daemon_poll() { # US: the daemon's busy_poll_us, by reload
	sed -i '/^busy_poll_us/d' /tmp/dx.conf
	echo "busy_poll_us = $1;" >> /tmp/dx.conf
	$CTL reload > /dev/null || echo "bench: reload failed"
}
for poll in 0 1000; do
	daemon_poll $((poll / 5))
	r=$(DX_BUSY_POLL_US=$poll $BENCH $GUEST_IP pmem lat.dat lat 4096 1000)
	echo "bench: $r"
	base=$([ $poll = 0 ] && echo "$wl $sle" || echo "$wl $sl")
	what=$([ $poll = 0 ] && echo "sleeping, against perftest's write + send -e" ||
		echo "polling (client 1000 µs, daemon 200 µs), against perftest's write + send")
	row "daxrdma 4 KiB RDMA WRITE + COMMIT, $what (median, p99; x perftest)" \
		"$(field median_us "$r"), $(field p99_us "$r") (x$(awk -v m="$(field median_us "$r")" -v a="${base% *}" -v b="${base#* }" 'BEGIN {printf "%.2f", m / (a + b)}'))" µs
done
daemon_poll 0

# The data path: one 64 MiB layout, 1 MiB RDMA ops, one COMMIT.
for ex in shm pmem; do
	mode=$([ $ex = shm ] && echo "tmpfs, pinned" || echo "FS-DAX, bounce")
	w=$($BENCH $GUEST_IP $ex bench.dat write $SIZE $CHUNK)
	r=$($BENCH $GUEST_IP $ex bench.dat read $SIZE $CHUNK)
	echo "bench: $w"
	echo "bench: $r"
	row "daxrdma RDMA WRITE in a layout ($mode)" "$(field write_MBps "$w")" MB/s
	row "daxrdma RDMA READ in a layout ($mode)" "$(field read_MBps "$r")" MB/s
	row "daxrdma COMMIT of 64 MiB ($mode)" "$(field commit_MBps "$w")" MB/s
	row "daxrdma LAYOUT_GET RW of 64 MiB ($mode)" "$(field get_ms "$w")" ms
	row "daxrdma LAYOUT_RETURN of 64 MiB RW, after its COMMIT ($mode)" "$(field return_ms "$w")" ms
done

# The user tool end to end: connect, allocate, 16 MiB layouts, commit.
head -c $SIZE /dev/urandom > /tmp/bench.src
for ex in shm pmem; do
	mode=$([ $ex = shm ] && echo "tmpfs, pinned" || echo "FS-DAX, bounce")
	t0=$(now_ms)
	$TOOL -q put /tmp/bench.src $GUEST_IP:$ex/put.dat || echo "bench: put failed"
	t1=$(now_ms)
	$TOOL -q get $GUEST_IP:$ex/put.dat /tmp/bench.back || echo "bench: get failed"
	t2=$(now_ms)
	cmp -s /tmp/bench.src /tmp/bench.back || echo "bench: get returned other bytes"
	row "daxrdma put, 64 MiB file ($mode)" "$(awk -v b=$SIZE -v ms=$((t1 - t0)) 'BEGIN {printf "%.1f", b / ms / 1e3}')" MB/s
	row "daxrdma get, 64 MiB file ($mode)" "$(awk -v b=$SIZE -v ms=$((t2 - t1)) 'BEGIN {printf "%.1f", b / ms / 1e3}')" MB/s
done

# A layout's grant and return: sealing, MR registration, staging copies.
for ex in shm pmem; do
	mode=$([ $ex = shm ] && echo "pinned" || echo "bounce")
	for spec in "4096 200" "$CHUNK 50" "$((16 << 20)) 10"; do
		set -- $spec
		c=$($BENCH $GUEST_IP $ex cycle.dat cycle $1 $2)
		row "LAYOUT_GET + LAYOUT_RETURN, $(($1 >> 10)) KiB RW ($mode)" "$(field us_per_cycle "$c")" µs
	done
done

# What a local truncate waits: no layout (lease only), a holder that returns
# its layout when recalled, and one that never answers (fenced at the timeout).
truncate_us() { # HOLD_MODE (none|cooperate|ignore): one truncate's wait in µs
	local f=/mnt/pmem/export/trunc.dat
	rm -f $f
	$DXC $GUEST_IP pmem trunc.dat write 0 65536 1 > /dev/null
	if [ "$1" != none ]; then
		$DXC $GUEST_IP pmem trunc.dat hold 0 65536 1 $1 > /tmp/hold.out 2>&1 &
		wait_line /tmp/hold.out READY || echo "bench: holder not ready" >&2
	fi
	$LOP truncate $f | sed -n 's/.* us=\([0-9]*\).*/\1/p'
	wait
}
for mode in none cooperate ignore; do
	us=$(for _ in $(seq $REPS); do truncate_us $mode; done | median)
	case $mode in
	none) what="no layout" ;;
	cooperate) what="a holder that returns its layout" ;;
	ignore) what="a holder that never answers (fenced at recall_timeout 2 s)" ;;
	esac
	row "local truncate(2) wait, $what (median of $REPS)" "$(awk -v u=$us 'BEGIN {printf "%.1f", u / 1e3}')" ms
done

# Recall at scale: C clients hold K READ layouts each on one file, asleep in
# poll() as libdaxrdma-client(3) says; a local truncate recalls them all.
# The wait against the no-layout one above, and how many clients (all of
# them cooperating) were fenced.
scale_us() { # C K: one truncate's wait in µs
	local f=/mnt/pmem/export/scale.dat outs=() pids=()
	rm -f $f
	truncate -s $(($2 * 4096)) $f
	for i in $(seq $1); do
		$DXC $GUEST_IP pmem scale.dat many $2 4096 > /tmp/scale$i.out 2>&1 &
		pids+=($!)
		outs+=(/tmp/scale$i.out)
	done
	wait_all 60 '^GOT' "${outs[@]}" || echo "bench: not every client got its layouts" >&2
	$LOP truncate $f | sed -n 's/.* us=\([0-9]*\).*/\1/p'
	wait_all 30 'RETURNED_ALL\|FENCED' "${outs[@]}" || echo "bench: not every client answered" >&2
	kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
}
none_us=$(for _ in $(seq $REPS); do truncate_us none; done | median)
for spec in "1 1" "8 4" "16 16" "32 16" "1 2048"; do
	set -- $spec
	f0=$(status_of clients_fenced)
	us=$(for _ in $(seq $REPS); do scale_us $1 $2; done | median)
	row "local truncate(2) wait, $1 client(s) x $2 layouts, all returned (median of $REPS; x the no-layout wait; clients fenced)" \
		"$(awk -v u=$us -v n=$none_us 'BEGIN {printf "%.1f (x%.0f)", u / 1e3, u / n}'); $(($(status_of clients_fenced) - f0)) fenced" ms
done
daemon_down

{
	echo "| what (one guest boot, QEMU/TCG, Soft-RoCE rxe0, MTU 4096) | result | unit |"
	echo "|---|---:|---|"
	printf '%s\n' "${rows[@]}"
} > $OUT
cat $OUT
