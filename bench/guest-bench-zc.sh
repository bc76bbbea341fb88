#!/bin/bash
# The zero-copy benchmarks (issue 10), in one boot of the 7.3 guest kernel,
# whose rxe has ODP: the same file system served three ways, side by side.
#   pmemb  FS-DAX, bounce (mr_mode "bounce": staging buffers, copies)
#   pmem   FS-DAX, odp (forced past the self-test: the I/O here is
#          page-aligned at MTU 4096, where rxe's ODP is correct; lib.sh)
#   dax    device-DAX, pinned, persistence = "remote-flush"
# For each: a 64 MiB RW grant, RDMA WRITE, COMMIT and the bytes the daemon
# copied; grant + return cycles; then a 4 KiB persistent write on device-DAX
# by COMMIT and one-sided (read-after-write), against perftest; and the rkey
# itself, an MR per layout against a memory window (dx-mwbench). Appends
# to $DXVM_SHARE/samples.tsv (keys zc_*); run by scripts/bench with
# DXT_MR_MODE=odp.
. "$DXVM_GUEST/lib.sh"
. "$DX_SRC/bench/bench-lib.sh"
rxe_up && rxe_active && pmem_up && devdax_up || { echo "bench-zc: setup failed"; exit 1; }
mkdir -p /mnt/pmem/pmemb
DX_MORE_EXPORTS="{ name = \"pmemb\"; path = \"/mnt/pmem/pmemb\"; mr_mode = \"bounce\"; acl = [ \"192.168.100.0/24\" ]; },
	{ name = \"dax\"; path = \"$DAXDEV\"; persistence = \"remote-flush\"; acl = [ \"192.168.100.0/24\" ]; },"
# The rig's pmem is ADR as libpmem2 sees it (granularity cache line): the
# declaration one-sided persistence needs there (daxrdmad.conf(5)).
DX_TOP='nic_writes = "memory";'
daemon_up || { echo "bench-zc: daxrdmad did not start"; exit 1; }
: > $OUT

sample zc_ib_write_bw "ib_write_bw, 1 MiB messages (7.3)" MB/s hi - - $(reps $REPS perftest_bw ib_write_bw)

label() {
	case $1 in
	pmemb) echo "FS-DAX, bounce" ;; pmem) echo "FS-DAX, odp" ;; dax) echo "device-DAX, pinned" ;;
	esac
}
path() { [ $1 = dax ] && echo device || echo bench.dat; }
for ex in pmemb pmem dax; do
	w=() c=() g=() k=()
	for _ in $(seq $REPS); do
		b0=$(status_of bytes_copied)
		wl=$($BENCH $GUEST_IP $ex $(path $ex) write $SIZE $CHUNK)
		k+=("$(( ($(status_of bytes_copied) - b0) >> 20 ))")
		w+=("$(field write_MBps "$wl")") c+=("$(field commit_MBps "$wl")") g+=("$(field get_ms "$wl")")
	done
	base() { [ $ex = pmemb ] && echo - || echo zc_$1_pmemb; }
	sample zc_get_$ex "LAYOUT_GET RW of 64 MiB ($(label $ex))" ms lo "$(base get)" - "${g[@]}"
	sample zc_write_$ex "RDMA WRITE in a layout ($(label $ex))" MB/s hi zc_ib_write_bw - "${w[@]}"
	sample zc_commit_$ex "COMMIT of 64 MiB ($(label $ex))" MB/s hi "$(base commit)" - "${c[@]}"
	sample zc_copied_$ex "MiB the daemon copied per 64 MiB written and committed ($(label $ex))" MiB lo - - "${k[@]}"
	for spec in "4096 200" "$CHUNK 50"; do
		set -- $spec
		sample zc_cycle_${ex}_$1 "LAYOUT_GET + LAYOUT_RETURN, $(($1 >> 10)) KiB RW ($(label $ex))" µs lo \
			"$([ $ex = pmemb ] && echo - || echo zc_cycle_pmemb_$1)" - \
			$(for _ in $(seq $REPS); do field us_per_cycle "$($BENCH $GUEST_IP $ex $(path $ex) cycle $1 $2)"; done)
	done
done

# A 4 KiB persistent write, polling, on device-DAX: COMMIT against one-sided.
sample zc_pt_lat_poll "ib_write_lat 4 KiB + ib_send_lat 64 B, polling (7.3)" µs lo - - $(pt_lat_poll_sums)
daemon_poll 200
lat() { # EXTRA-ENV...: the median µs of 1000 4 KiB writes + persists on dax
	field median_us "$(env DX_BUSY_POLL_US=1000 "$@" $BENCH $GUEST_IP dax device lat 4096 1000)"
}
sample zc_lat_commit "4 KiB RDMA WRITE + COMMIT, polling (device-DAX)" µs lo zc_pt_lat_poll "<= 1.3" \
	$(reps $LAT_REPS lat DX_COMMIT_MESSAGE=1)
sample zc_lat_raw "4 KiB RDMA WRITE + one-sided persist (read-after-write), polling (device-DAX)" µs lo \
	zc_pt_lat_poll "<= 1.3" $(reps $LAT_REPS lat)
daemon_poll 0
DXT_MR_MODE= # pmemb copies by design: no zero-copy check at the end
daemon_down

# The rkey: an MR per layout against a type-2 memory window over one MR.
mwb=$($DX_BUILD/bench/dx-mwbench rxe0 $GUEST_IP 50) || echo "bench-zc: dx-mwbench failed"
echo "$mwb"
mw() { # ROW MODE KEY
	sed -n "s/^row=$1 mode=$2 .*$3_us=\([0-9.]*\).*/\1/p" <<< "$mwb"
}
for row in 4096 1048576 67108864 16x65536; do
	what=$([ $row = 16x65536 ] && echo "16 layouts of 64 KiB at once" || echo "$(($row >> 10)) KiB")
	sample zc_mr_grant_$row "rkey at grant, an MR per layout ($what): ibv_reg_mr" µs lo - - "$(mw $row mr grant)"
	sample zc_mw_grant_$row "rkey at grant, a memory window ($what): BIND_MW" µs lo zc_mr_grant_$row - "$(mw $row mw grant)"
	sample zc_mr_recall_$row "rkey at recall, an MR per layout ($what): ibv_dereg_mr" µs lo - - "$(mw $row mr recall)"
	sample zc_mw_recall_$row "rkey at recall, a memory window ($what): LOCAL_INV" µs lo zc_mr_recall_$row - \
		"$(mw $row mw recall)"
done
echo "bench-zc: samples in $OUT"
