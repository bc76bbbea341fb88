#!/bin/bash
# RDMA FLUSH against the other ways to persist a small write (issue 20 §3),
# in one boot of the 7.3 guest kernel (its rxe serves FLUSH) with daxrdma
# built against rdma-core 56 (build-flush), on a device-DAX namespace of a
# file-backed NVDIMM (rxe takes FLUSH to persistence on NVDIMM pages, not on
# memmap= ones). A 4 KiB RDMA WRITE then, polling: COMMIT (a message, the
# daemon persists), one-sided by an RDMA READ after the write, and one-sided
# by an RDMA FLUSH, against perftest's ib_write_lat 4 KiB + ib_send_lat 64 B.
# Appends to $DXVM_SHARE/samples.tsv (keys fl_*); run by scripts/bench.
. "$DXVM_GUEST/lib.sh"
. "$DX_SRC/bench/bench-lib.sh"
rxe_up && rxe_active || { echo "bench-flush: rxe0 failed"; exit 1; }
have_rdma_flush || { echo "bench-flush: no RDMA FLUSH here (build-config.h, kernel)"; exit 1; }
nvdimm_devdax_up || { echo "bench-flush: no device-DAX on the NVDIMM"; exit 1; }
DX_MORE_EXPORTS="{ name = \"dax\"; path = \"$DAXDEV\"; persistence = \"remote-flush\"; acl = [ \"192.168.100.0/24\" ]; },"
DX_TOP='nic_writes = "memory";'
daemon_up || { echo "bench-flush: daxrdmad did not start"; exit 1; }
json "[x for x in d['exports'] if x['name'] == 'dax'][0]['rdma_flush']" exports ||
	{ echo "bench-flush: the export takes no RDMA FLUSH"; $CTL exports; exit 1; }
: > $OUT

sample fl_pt_lat_poll "ib_write_lat 4 KiB + ib_send_lat 64 B, polling (7.3, NVDIMM)" µs lo - - $(pt_lat_poll_sums)
daemon_poll 200
lat() { # [ENV=VALUE...]: the median µs of 1000 4 KiB writes + persists
	local l
	l=$(env DX_BUSY_POLL_US=1000 "$@" $BENCH $GUEST_IP dax device lat 4096 1000)
	echo "bench-flush: $* $l" >&2
	field median_us "$l"
}
method() { sed -n 's/.* persist=\([a-z-]*\).*/\1/p' <<< "$(env "$@" $BENCH $GUEST_IP dax device lat 4096 10)"; }
[ "$(method DX_COMMIT_MESSAGE=1)" = commit ] && [ "$(method DX_NO_RDMA_FLUSH=1)" = read-after-write ] &&
	[ "$(method)" = rdma-flush ] || { echo "bench-flush: the methods are not what the rows say"; exit 1; }
sample fl_lat_commit "4 KiB RDMA WRITE + COMMIT, polling (device-DAX on NVDIMM)" µs lo fl_pt_lat_poll - \
	$(reps $LAT_REPS lat DX_COMMIT_MESSAGE=1)
sample fl_lat_read "4 KiB RDMA WRITE + one-sided persist by RDMA READ, polling (device-DAX on NVDIMM)" µs lo \
	fl_pt_lat_poll - $(reps $LAT_REPS lat DX_NO_RDMA_FLUSH=1)
sample fl_lat_flush "4 KiB RDMA WRITE + one-sided persist by RDMA FLUSH, polling (device-DAX on NVDIMM)" µs lo \
	fl_pt_lat_poll - $(reps $LAT_REPS lat)
daemon_poll 0
daemon_down
echo "bench-flush: samples in $OUT"
