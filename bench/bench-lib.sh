# Shared by bench/guest-bench.sh and bench/guest-bench-zc.sh (sourced in the
# guest after tests/vm/guest/lib.sh): how samples are written, perftest
# runs, and the daemon's busy polling.
BENCH=$DX_BUILD/bench/dx-bench
OUT=$DXVM_SHARE/samples.tsv
SIZE=$((64 << 20)) # data path runs move 64 MiB
CHUNK=$((1 << 20))
REPS=${DXBENCH_REPS:-3}
LAT_REPS=5         # the small-write latencies are bimodal on two vCPUs

# sample KEY WHAT UNIT BETTER BASE GOAL VALUE...: one row's samples. BETTER is
# hi or lo; BASE the key of the row it is compared with (- for none); GOAL
# the issue's goal for the ratio, or -.
sample() {
	local IFS=$'\t'
	echo "$1	$2	$3	$4	$5	$6	${*:7}" | tr -s ' ' >> $OUT
	echo "bench: $2: ${*:7} $3"
}
field() { # KEY LINE: the value of KEY=value in LINE
	sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<< " $2"
}
reps() { # N COMMAND...: COMMAND's output, N times
	local n=$1
	shift
	for _ in $(seq $n); do "$@"; done
}

# ---- the wire: perftest, the same sizes as daxrdma's ----
perftest_bw() { # PROGRAM: BW average [MB/s] of 1 MiB messages
	timeout 120 "$1" -R -d rxe0 -s $CHUNK -n 200 > /tmp/pt-server.log 2>&1 &
	local s=$!
	sleep 2
	timeout 120 "$1" -R -d rxe0 -s $CHUNK -n 200 $GUEST_IP > /tmp/pt-client.log 2>&1
	wait $s
	awk -v s=$CHUNK '$1 == s { print $4 }' /tmp/pt-client.log
}
perftest_lat() { # PROGRAM SIZE [-e]: typical latency in µs
	timeout 120 "$1" -d rxe0 -s $2 -n 1000 $3 > /tmp/pt-server.log 2>&1 &
	local s=$!
	sleep 2
	timeout 120 "$1" -d rxe0 -s $2 -n 1000 $3 $GUEST_IP > /tmp/pt-client.log 2>&1
	wait $s
	awk -v s=$2 '$1 == s { print $5 }' /tmp/pt-client.log
}
daemon_poll() { # US: the daemon's busy_poll_us, by reload
	sed -i '/^busy_poll_us/d' /tmp/dx.conf
	echo "busy_poll_us = $1;" >> /tmp/dx.conf
	$CTL reload > /dev/null || echo "bench: reload failed"
}
# perftest's small persistent write: ib_write_lat 4 KiB + ib_send_lat 64 B,
# polling, REPS times; sets send_lat to the last ib_send_lat.
pt_lat_poll_sums() {
	local w
	for _ in $(seq $REPS); do
		w=$(perftest_lat ib_write_lat 4096)
		send_lat=$(perftest_lat ib_send_lat 64)
		awk -v a="$w" -v b="$send_lat" 'BEGIN {printf "%.2f\n", a + b}'
	done
}
