#!/bin/bash
# Power cuts (issue 20 §1), one boot per round, driven by tests/vm/run-powercut.sh
# on the host. The FS-DAX file system and the device-DAX device are
# file-backed emulated NVDIMMs: what the guest stored there survives QEMU
# being killed; its DRAM (the page cache, XFS's in-memory log) does not.
# Round R (DXT_PC_ROUND) first checks the cut that ended round R-1:
#   - XFS mounts (log replay), then xfs_repair -n finds nothing;
#   - every byte a client was told is persistent (an acknowledged COMMIT, or
#     a one-sided persist) is there, and every file is as long as they reach
#     (dx-powercut check, against the logs the clients wrote to the host);
#   - the control: a local process's unsynced appends, on an XFS of their own
#     where nothing else forces the log: a cut must take them, or the rig
#     could not show a loss. (The same appends beside the served files are
#     reported: the daemon's syncs force the shared log, so they survive
#     more often.)
# Then, unless it is the last round (DXT_PC_FINAL), it makes a fresh file
# system, starts daxrdmad and the load (clients that write, extend, punch
# and rewrite and commit, with COMMIT and one-sided where the export offers
# it, on FS-DAX and device-DAX), marks the load running (the host kills QEMU
# a random moment later) and waits for the cut. The last round prints the
# totals over all cuts.
. "$DXVM_GUEST/lib.sh"
PC=$DX_BUILD/tests/vm/dx-powercut
ROUND=${DXT_PC_ROUND:?}
RESULTS=$DXVM_SHARE/results
[ "$ROUND" = 1 ] && rm -f "$RESULTS" "$DXVM_SHARE"/r[0-9]*-*.log

# The three NVDIMMs, told apart by size: the largest is the FS-DAX file
# system daxrdmad serves, the middle one the control's own FS-DAX file
# system, the smallest device-DAX. Round 1 gives them their modes (info
# blocks, kept in the files).
nvdimms_up() {
	modprobe -a nfit nd_pmem dax_pmem device_dax xfs || return 1
	for _ in $(seq 100); do [ "$(ndctl list -N | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 3 ] && break; sleep 0.1; done
	ndctl list -N > /tmp/ns.json
	local ns
	read -ra ns <<< "$(python3 -c "import json; print(' '.join(n['dev'] for n in sorted(json.load(open('/tmp/ns.json')), key=lambda n: n['size'])))")"
	[ ${#ns[@]} = 3 ] || return 1
	if [ "$ROUND" = 1 ]; then
		ndctl create-namespace -f -e "${ns[2]}" -m fsdax > /dev/null &&
			ndctl create-namespace -f -e "${ns[1]}" -m fsdax > /dev/null &&
			ndctl create-namespace -f -e "${ns[0]}" -m devdax -a 2M > /dev/null || return 1
	fi
	ndctl list -N > /tmp/ns.json
	ns_dev() { python3 -c "import json; print([n['$2'] for n in json.load(open('/tmp/ns.json')) if n['dev'] == '$1'][0])"; }
	PMEMDEV=/dev/$(ns_dev "${ns[2]}" blockdev) && CTLDEV=/dev/$(ns_dev "${ns[1]}" blockdev) &&
		DAXDEV=/dev/$(ns_dev "${ns[0]}" chardev) || return 1
	for _ in $(seq 50); do [ -b "$PMEMDEV" ] && [ -b "$CTLDEV" ] && [ -c "$DAXDEV" ] && return 0; sleep 0.1; done
	return 1
}
check "the NVDIMMs: two FS-DAX namespaces and a device-DAX one" nvdimms_up
echo "   $PMEMDEV (served), $CTLDEV (the control's), $DAXDEV"
ndctl list -R | grep -E '"dev"|persistence' | tr -d '\n'; echo

# The check of the last cut.
if [ "$ROUND" -gt 1 ]; then
	prev=$((ROUND - 1))
	mkdir -p /mnt/pmem
	check "cut $prev: XFS mounts (log replay)" mount -o dax "$PMEMDEV" /mnt/pmem
	umount /mnt/pmem
	xfs_repair -n "$PMEMDEV" > /tmp/repair.out 2>&1
	repair=$?
	check "cut $prev: xfs_repair -n finds nothing" test $repair -eq 0
	[ $repair -eq 0 ] || cat /tmp/repair.out
	mount -o dax "$PMEMDEV" /mnt/pmem
	ls -l /mnt/pmem/export
	$PC check "$DXVM_SHARE"/r$prev-[a-d].log > /tmp/check.out 2>&1
	rc=$?
	cat /tmp/check.out
	check "cut $prev: every acknowledged byte is there" test $rc -eq 0
	# The controls: unsynced appends, on a file system of their own (where
	# nothing else forces XFS's log) and beside the served files.
	mkdir -p /mnt/ctl
	mount -o dax "$CTLDEV" /mnt/ctl
	ls -l /mnt/ctl
	$PC check "$DXVM_SHARE"/r$prev-control.log > /tmp/control.out 2>&1
	$PC check "$DXVM_SHARE"/r$prev-samefs.log > /tmp/samefs.out 2>&1
	lost() { awk '{print $NF}' "$1" | tail -1; }
	echo "cut $prev: $(tail -1 /tmp/check.out) repair $repair control $(lost /tmp/control.out) samefs $(lost /tmp/samefs.out) cut_s $(cat "$DXVM_SHARE/cut-$prev" 2>/dev/null)" >> "$RESULTS"
	umount /mnt/pmem /mnt/ctl
fi

if [ -n "${DXT_PC_FINAL:-}" ]; then
	cat "$RESULTS"
	cuts=$(grep -c '^cut ' "$RESULTS")
	sum() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) s += $(i + 1)} END {print s + 0}' "$RESULTS"; }
	echo "POWERCUT cuts=$cuts records=$(sum records) acked=$(sum acked) one_sided=$(sum one_sided) flushes=$(sum flushes) bytes_checked=$(sum bytes_checked) bytes_wrong=$(sum bytes_wrong) control_lost=$(sum control) samefs_control_lost=$(sum samefs)"
	check "$cuts cuts checked" test "$cuts" -eq $((ROUND - 1))
	check "every cut came in the middle of acknowledged work" \
		awk '{for (i = 1; i < NF; i++) if ($i == "acked" && $(i + 1) == 0) exit 1}' "$RESULTS"
	check "one-sided persists were among them" test "$(sum one_sided)" -gt 0
	if have_rdma_flush; then
		check "RDMA FLUSH persists were among them (rdma-core with FLUSH, NVDIMM pages)" \
			test "$(sum flushes)" -gt 0
	fi
	check "no acknowledged byte was lost or wrong, in any cut" test "$(sum bytes_wrong)" -eq 0
	check "xfs_repair -n found nothing after any cut" \
		awk '{for (i = 1; i < NF; i++) if ($i == "repair" && $(i + 1) != 0) exit 1}' "$RESULTS"
	check "every cut took the control's unsynced appends (the cut is real)" \
		awk '{for (i = 1; i < NF; i++) if ($i == "control" && $(i + 1) == 0) exit 1}' "$RESULTS"
	summary
	exit
fi

# The load of this round, on a fresh file system.
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "mkfs.xfs on $PMEMDEV and $CTLDEV, mounted -o dax" bash -c \
	"mkfs.xfs -q -f -m reflink=0 $PMEMDEV && mkdir -p /mnt/pmem && mount -o dax $PMEMDEV /mnt/pmem &&
	 mkdir -p /mnt/pmem/export && mkfs.xfs -q -f -m reflink=0 $CTLDEV && mkdir -p /mnt/ctl && mount -o dax $CTLDEV /mnt/ctl"
# XFS writes its log when something forces it, or every
# fs.xfs.xfssyncd_centisecs (30 s): at the longest, nothing but a sync
# (fsync, a MAP_SYNC fault) makes metadata durable, so the test cannot pass
# on a background flush, and unsynced changes are lost at a cut.
echo 720000 > /proc/sys/fs/xfs/xfssyncd_centisecs
DX_TOP='nic_writes = "memory";'
DX_PMEM_OPTS='persistence = "remote-flush";'
DX_MORE_EXPORTS="{ name = \"dax\"; path = \"$DAXDEV\"; persistence = \"remote-flush\"; acl = [ \"192.168.100.0/24\" ]; },"
check "daxrdmad up" daemon_up
$CTL exports | grep -E "name|mr_mode:|persistence_methods|rdma_flush" -A1 | grep -v -- --
if have_rdma_flush; then
	check "both exports take RDMA FLUSH (rdma-core with it, 7.x rxe, NVDIMM pages)" \
		json "[x['rdma_flush'] for x in d['exports'] if x['name'] in ('pmem', 'dax')] == [True, True]" exports
fi
log() { echo "$DXVM_SHARE/r$ROUND-$1.log"; }
$PC control /mnt/ctl/control.dat "$(log control)" 120 &
$PC control /mnt/pmem/export/control.dat "$(log samefs)" 120 &
# Two clients per device: one persists by the layout's method (one-sided
# where offered), the other always by COMMIT; on device-DAX each has its
# own 4 MiB of the device.
DX_PC_PREFIX=a $PC load $GUEST_IP pmem /mnt/pmem/export "$(log a)" 120 > /tmp/load-a.out 2>&1 &
DX_PC_PREFIX=b DX_COMMIT_MESSAGE=1 $PC load $GUEST_IP pmem /mnt/pmem/export "$(log b)" 120 > /tmp/load-b.out 2>&1 &
DX_PC_BASE=0 $PC load $GUEST_IP dax "$DAXDEV" "$(log c)" 120 > /tmp/load-c.out 2>&1 &
DX_PC_BASE=4194304 DX_COMMIT_MESSAGE=1 $PC load $GUEST_IP dax "$DAXDEV" "$(log d)" 120 > /tmp/load-d.out 2>&1 &
acks() { awk '/^A / { n++ } END { print n + 0 }' "$(log "$1")" 2>/dev/null || echo 0; }
running() {
	for c in a b c d; do [ "$(acks $c)" -ge 10 ] || return 1; done
}
# (Its logs are read over 9p while they are written: a read can come back
# empty, so the loop's answer is kept rather than asked for again.)
started=1
for _ in $(seq 600); do running && { started=0; break; }; sleep 0.1; done
check "every client has 10 acknowledged steps" test $started -eq 0
for c in a b c d; do echo "   client $c: $(acks $c) acknowledged so far"; done
touch "$DXVM_SHARE/load-running"
# The host cuts the power within seconds; getting here means it did not.
sleep 100
cat /tmp/load-*.out
check "the power was cut" false
summary
