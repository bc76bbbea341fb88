# Sourced by guest tests. check DESCRIPTION COMMAND...: one assertion.
DX_PASS=0
DX_FAIL=0
check() {
	local what=$1
	shift
	if "$@"; then
		DX_PASS=$((DX_PASS + 1))
		echo "PASS: $what"
	else
		DX_FAIL=$((DX_FAIL + 1))
		echo "FAIL: $what"
	fi
}
summary() {
	# The whole log stays beside console.log on the host.
	[ -f /tmp/daemon.log ] && [ -n "${DXVM_SHARE:-}" ] && cp /tmp/daemon.log "$DXVM_SHARE/daemon.log"
	if [ $DX_FAIL -ne 0 ] && [ -f /tmp/daemon.log ]; then
		echo "--- the last daemon's log (tail) ---"
		tail -40 /tmp/daemon.log
	fi
	echo "$DX_PASS passed, $DX_FAIL failed"
	[ $DX_FAIL -eq 0 ] && [ $DX_PASS -gt 0 ]
}
# Soft-RoCE on the guest's NIC (eth0; under systemd udev may name it ens5):
# rdma_cm does not work with rxe on lo.
GUEST_IP=192.168.100.1
rxe_up() {
	modprobe -a virtio_net rdma_rxe rdma_ucm ib_uverbs || return 1
	NETDEV=
	for _ in $(seq 50); do
		NETDEV=$(ls /sys/class/net | grep -vx lo | head -1)
		[ -n "$NETDEV" ] && break
		sleep 0.1
	done
	ip link set "$NETDEV" mtu 9000 && ip link set "$NETDEV" up &&
		ip addr add $GUEST_IP/24 dev "$NETDEV" &&
		rdma link add rxe0 type rxe netdev "$NETDEV"
}
rxe_active() {
	for _ in $(seq 50); do
		ibv_devinfo -d rxe0 2>/dev/null | grep -q 'state:.*PORT_ACTIVE' && return 0
		sleep 0.1
	done
	return 1
}
# /dev/pmem0 from memmap=, XFS on it mounted -o dax at /mnt/pmem.
pmem_up() {
	modprobe -a nd_e820 nd_pmem xfs || return 1
	for _ in $(seq 50); do [ -b /dev/pmem0 ] && break; sleep 0.1; done
	mkfs.xfs -q -f -m reflink=0 /dev/pmem0 && mkdir -p /mnt/pmem &&
		mount -o dax /dev/pmem0 /mnt/pmem
}

# A second RDMA device, rxe1 on a dummy netdev: librdmacm (rdma-core 44)
# lets a removed device go only while another one is left.
rxe1_up() {
	modprobe dummy && ip link add dummy0 type dummy && ip link set dummy0 up &&
		rdma link add rxe1 type rxe netdev dummy0
}

# The checks of a dx-client "survive" run, started as
#   DX_GO=/tmp/go $DXC $GUEST_IP pmem NAME survive LEN SEED > OUT &
# once /tmp/go exists and it ended: it lost its connection, reconnected and
# committed the pattern of SEED + 1 through the same handles into FILE.
survived() { # WHAT OUT FILE LEN SEED
	local what=$1 out=$2 file=$3 len=$4 seed=$5
	cat "$out"
	check "$what: the client saw its connection gone" grep -q '^LOST ENOTCONN' "$out"
	check "$what: daxrdma_reconnect() connected again" grep -qx RECONNECTED "$out"
	check "$what: the same handles wrote and committed again" grep -qx WORKS "$out"
	check "$what: the file holds the new data" cmp <(pattern 0 "$len" $((seed + 1))) "$file"
}

# /dev/pmem1 (the second memmap= region) as device-DAX with 2 MiB alignment
# (ndctl create-namespace -m devdax): DAXDEV is its character device.
DAXDEV=
devdax_up() {
	modprobe -a nd_e820 nd_pmem dax_pmem device_dax || return 1
	for _ in $(seq 50); do [ -b /dev/pmem1 ] && break; sleep 0.1; done
	local ns
	ns=$(ndctl list -N | python3 -c "import json,sys; print([n['dev'] for n in json.load(sys.stdin) if n.get('blockdev') == 'pmem1'][0])") ||
		return 1
	ndctl create-namespace -f -e "$ns" -m devdax -a 2M > /tmp/ndctl.json || return 1
	DAXDEV=/dev/$(python3 -c "import json; print(json.load(open('/tmp/ndctl.json'))['daxregion']['devices'][0]['chardev'])")
	for _ in $(seq 50); do [ -c "$DAXDEV" ] && return 0; sleep 0.1; done
	return 1
}

# The one file-backed NVDIMM of a boot with DXVM_NVDIMM=FILE, made device-DAX
# (2 MiB alignment): DAXDEV.
nvdimm_devdax_up() {
	modprobe -a nfit nd_pmem dax_pmem device_dax || return 1
	local ns
	for _ in $(seq 100); do
		ns=$(ndctl list -N | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['dev'])" 2>/dev/null) && break
		sleep 0.1
	done
	[ -n "$ns" ] && ndctl create-namespace -f -e "$ns" -m devdax -a 2M > /tmp/ndctl.json || return 1
	DAXDEV=/dev/$(python3 -c "import json; print(json.load(open('/tmp/ndctl.json'))['daxregion']['devices'][0]['chardev'])")
	for _ in $(seq 50); do [ -c "$DAXDEV" ] && return 0; sleep 0.1; done
	return 1
}

# DXT_MR_MODE=odp (vm-odp's "+odp" runs of the recall tests): the FS-DAX
# exports are served in ODP mode, past the self-test (odp_self_test = false).
# rxe's ODP data path ignores the offset inside a page (upstream
# drivers/infiniband/sw/rxe/rxe_odp.c, __rxe_odp_mr_copy; odp.sh shows it), so
# it is correct only where every packet starts at a page boundary: I/O at
# page-aligned offsets, at path MTU 4096 (rxe_up sets MTU 9000; daemon_up
# checks active_mtu). The recall tests' I/O is page-aligned.
DX_FSDAX_OPTS=
[ "${DXT_MR_MODE:-}" = odp ] && DX_FSDAX_OPTS='mr_mode = "odp"; odp_self_test = false;'
odp_mode_ok() {
	ibv_devinfo -d rxe0 | grep -q 'active_mtu:.*4096' &&
		json "all(x['mr_mode'] == 'odp' for x in d['exports'] if x['name'] in ('pmem', 'ro', 'denied'))" exports
}

# daxrdmad with the standard test exports (DX_RECALL_MS, default 2000; DX_LIMITS,
# more settings of the limits group; DX_PMEM_OPTS, more settings of "pmem";
# DX_TOP, more top-level settings; DX_FSDAX_OPTS, more settings of every FS-DAX
# export; DX_MORE_EXPORTS, more exports, each ending in a comma; DX_WRAP, a
# command the daemon runs under, such as valgrind; DX_UP_S, how long it may
# take to listen, default 10 s):
#   pmem  FS-DAX (bounce on 6.1 rxe)   shm  tmpfs (pinned)
#   ro    FS-DAX, read_only            denied  acl admits nobody here
D=$DX_BUILD/src/daemon/daxrdmad
CTL=$DX_BUILD/src/ctl/daxrdmactl
DXC=$DX_BUILD/tests/vm/dx-client
daemon_up() {
	mkdir -p /mnt/pmem/export /mnt/pmem/ro /mnt/pmem/denied /dev/shm/export
	groupadd -f daxrdma
	cat > /tmp/dx.conf <<CONF
listen = { address = "$GUEST_IP"; port = 20049; };
recall_timeout_ms = ${DX_RECALL_MS:-2000};
${DX_TOP:-}
limits = { max_layout_size = 67108864; ${DX_LIMITS:-} };
exports = (
	${DX_MORE_EXPORTS:-}
	{ name = "pmem"; ${DX_FSDAX_OPTS} ${DX_PMEM_OPTS:-} path = "/mnt/pmem/export"; acl = [ "192.168.100.0/24" ]; },
	{ name = "shm"; path = "/dev/shm/export"; acl = [ "192.168.100.1" ]; },
	{ name = "ro"; ${DX_FSDAX_OPTS} path = "/mnt/pmem/ro"; acl = [ "192.168.100.0/24" ]; read_only = true; },
	{ name = "denied"; ${DX_FSDAX_OPTS} path = "/mnt/pmem/denied"; acl = [ "10.9.9.0/24" ]; }
);
CONF
	DAXRDMA_LOG_TIME=1 ${DX_WRAP:-} $D -c /tmp/dx.conf > /tmp/daemon.log 2>&1 &
	DPID=$!
	for _ in $(seq $((${DX_UP_S:-10} * 10))); do
		kill -0 $DPID 2>/dev/null || break
		# A daemon killed before left its socket: ready is when it answers.
		if [ -S /run/daxrdmad/ctl.sock ] && $CTL status > /dev/null 2>&1; then
			[ "${DXT_MR_MODE:-}" != odp ] && return 0
			odp_mode_ok && return 0
			echo "DXT_MR_MODE=odp: the FS-DAX exports are not in ODP mode at MTU 4096"
			ibv_devinfo -d rxe0 | grep mtu
			cat /tmp/ctl.json
			break
		fi
		sleep 0.1
	done
	cat /tmp/daemon.log
	return 1
}
# Zero copy: in ODP mode the daemon's CPU has copied no byte of data.
odp_zero_copy() {
	[ "${DXT_MR_MODE:-}" = odp ] || return 0
	check "odp: the daemon copied no byte (bytes_copied 0)" json "d['bytes_copied'] == 0" status
}
# daemon_up fails (the configuration is refused); a daemon that started anyway is stopped.
daemon_refuses() {
	if daemon_up > /dev/null; then
		daemon_down
		return 1
	fi
	return 0
}
daemon_down() {
	odp_zero_copy
	kill -TERM $DPID 2>/dev/null
	wait $DPID
}
# RDMA FLUSH is there to be used: daxrdma built against an rdma-core that has
# it (45 and later: build-flush), on a kernel whose rxe serves it (6.2 and later).
have_rdma_flush() {
	grep -q '^#define DX_HAVE_WR_FLUSH' "$DX_BUILD/build-config.h" &&
		printf '%s\n6.2\n' "$(uname -r | cut -d- -f1)" | sort -V -C -r
}

# The pattern dx-client writes: byte at offset o is (o * 7 + SEED) & 0xff.
pattern() { # OFF LEN SEED > stdout
	python3 -c "import sys; o,n,s=map(int,sys.argv[1:]); sys.stdout.buffer.write(bytes(((o+i)*7+s)&255 for i in range(n)))" "$@"
}
# Wait (up to 20 s) until FILE has a line matching PATTERN.
wait_line() {
	for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
# wait_all SECONDS PATTERN FILES...: every FILE has a line matching PATTERN.
wait_all() {
	local tenths=$(($1 * 10)) pat=$2 f
	shift 2
	for _ in $(seq $tenths); do
		local n=0
		for f in "$@"; do grep -q "$pat" "$f" 2>/dev/null && n=$((n + 1)); done
		[ $n -eq $# ] && return 0
		sleep 0.1
	done
	return 1
}
# status_of KEY: one value of daxrdmactl status --json.
status_of() {
	$CTL status --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}
# Milliseconds since the epoch.
now_ms() { date +%s%3N; }
# Run COMMAND... until it succeeds, for up to 10 s.
eventually() {
	for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
	return 1
}
# json EXPR daxrdmactl-ARGS...: EXPR (Python, over the --json answer d) holds.
json() {
	local expr=$1
	shift
	$CTL "$@" --json > /tmp/ctl.json && python3 -c "import json,sys; d=json.load(open('/tmp/ctl.json')); sys.exit(0 if ($expr) else 1)"
}
answers() { # WORD dx-client-ARGS...: the client's last line is WORD
	local want=$1
	shift
	local got
	got=$($DXC "$@" 2>/dev/null | tail -1)
	echo "   -> $got"
	[ "$got" = "$want" ]
}
