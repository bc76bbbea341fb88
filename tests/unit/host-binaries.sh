#!/bin/bash
# The installed programs on a host without RDMA: clear errors, right exit codes.
# usage: host-binaries.sh BUILD_DIR SOURCE_DIR
B=$1 S=$2
D=$B/src/daemon/daxrdmad CTL=$B/src/ctl/daxrdmactl
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() {
	local what=$1
	shift
	if "$@"; then pass=$((pass + 1)); echo "PASS: $what"; else fail=$((fail + 1)); echo "FAIL: $what"; fi
}
mkdir "$T/export"
sed "s|/mnt/pmem|$T/export|" "$S/conf/daxrdmad.conf" > "$T/good.conf"

check "the shipped config checks OK (export path adjusted)" \
	bash -c "'$D' --check-config -c '$T/good.conf' | grep -qx '$T/good.conf: OK'"
check "--dump-config prints every setting" \
	bash -c "'$D' --dump-config -c '$T/good.conf' | grep -q 'max_layout_size = 1073741824;'"
printf 'listen = { port = 0; };\nbogus = 1;\n' > "$T/bad.conf"
"$D" -c "$T/bad.conf" > "$T/out" 2>&1
rc=$?
check "a bad config: exit 1" test $rc -eq 1
check "a bad config: both errors, each with file:line" \
	bash -c "grep -q '^$T/bad.conf:1: listen.port: 0 is out of range' '$T/out' && grep -q '^$T/bad.conf:2: unknown setting .bogus.' '$T/out'"
# No RDMA device: where the host has one, it is hidden from the daemon in a
# mount namespace of its own (as root), so the case runs on every host.
sed -i "s|socket = .*|socket = \"$T/ctl.sock\";|" "$T/good.conf"
hide=()
if [ -e /dev/infiniband ] || [ -n "$(ls /sys/class/infiniband 2>/dev/null)" ]; then
	hide=(unshare -m sh -c 'for d in /dev/infiniband /sys/class/infiniband /sys/class/infiniband_verbs; do
		[ -e "$d" ] && mount -t tmpfs none "$d"; done; exec "$@"' hide)
fi
timeout 20 "${hide[@]}" "$D" -c "$T/good.conf" > "$T/out" 2>&1
rc=$?
check "no RDMA device${hide:+ (hidden in a mount namespace)}: exit 1 with a clear error" \
	bash -c "test $rc -eq 1 && grep -q 'no RDMA device found' '$T/out'"
"$CTL" -s "$T/none.sock" status > "$T/out" 2>&1
rc=$?
check "daxrdmactl with no daemon: exit 1, says so" bash -c "test $rc -eq 1 && grep -q 'is daxrdmad running' '$T/out'"
"$CTL" frobnicate > /dev/null 2>&1
check "daxrdmactl: an unknown command is a usage error (2)" test $? -eq 2
check "daxrdmactl --help lists status and exports" bash -c "'$CTL' --help | grep -q '^  exports'"
"$CTL" reload --json > /dev/null 2>&1
check "daxrdmactl: --json on a command without it is a usage error" test $? -eq 2
"$CTL" -s "$T/none.sock" recall /x --offset ' -4096' > "$T/out" 2>&1
check "daxrdmactl: --offset ' -4096' is a usage error, before any connect" \
	bash -c "test $? -eq 2 && grep -q 'byte count' '$T/out'"
"$CTL" -s "$T/none.sock" -t 5x status > /dev/null 2>&1
check "daxrdmactl: -t 5x is a usage error" test $? -eq 2
"$B/src/tool/daxrdma" -t 5x get 192.0.2.1:x/a "$T/a" > /dev/null 2>&1
check "daxrdma: -t 5x is a usage error" test $? -eq 2
echo keep > "$T/keep"
"$B/src/tool/daxrdma" -t 1 get 192.0.2.1:x/a "$T/keep" > "$T/out" 2>&1
check "daxrdma get that cannot connect leaves the local file as it was, and no temporary" \
	bash -c "test $? -eq 1 && test \"\$(cat '$T/keep')\" = keep && ! ls '$T'/keep.daxrdma-* 2>/dev/null"
(cd "$T" && "$B/src/tool/daxrdma" -t 1 cp ./no:such/file 192.0.2.1:x/a) > "$T/out" 2>&1
check "daxrdma cp: ./a:b/c is a local path" grep -q 'cannot read ./no:such/file' "$T/out"
check "systemd-analyze verify accepts daxrdmad.service" \
	bash -c "cp '$B/systemd/daxrdmad.service' '$T/' && sed -i 's|ExecStart=[^ ]*|ExecStart=$D|' '$T/daxrdmad.service' && systemd-analyze verify --man=no '$T/daxrdmad.service'"
check "the unit is Type=notify with LimitMEMLOCK=infinity" \
	bash -c "grep -qx 'Type=notify' '$B/systemd/daxrdmad.service' && grep -qx 'LimitMEMLOCK=infinity' '$B/systemd/daxrdmad.service'"
check "man pages built" test -s "$B/man/daxrdmad.8" -a -s "$B/man/daxrdmactl.8" -a -s "$B/man/daxrdmad.conf.5"
check "daxrdmad.conf(5) lists the schema's settings" grep -q 'recall_timeout_ms' "$B/man/daxrdmad.conf.5"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
