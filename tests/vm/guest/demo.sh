#!/bin/bash
# The README's demo, run in the guest: daxrdmad on rxe0 with an FS-DAX export.
. "$DXVM_GUEST/lib.sh"
D=$DX_BUILD/src/daemon/daxrdmad
CTL=$DX_BUILD/src/ctl/daxrdmactl
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { echo "\$ $*"; "$@"; }

say "Soft-RoCE on eth0, XFS mounted -o dax on emulated pmem"
rxe_up && rxe_active && pmem_up || { echo "rig setup failed"; exit 1; }
show ibv_devices
show grep pmem0 /proc/mounts
mkdir -p /mnt/pmem/export
cat > /tmp/daxrdmad.conf <<CONF
listen = { address = "$GUEST_IP"; port = 20049; };
exports = (
	{ name = "pmem"; path = "/mnt/pmem/export"; acl = [ "192.168.100.0/24" ]; }
);
CONF
show cat /tmp/daxrdmad.conf

say "daxrdmad starts"
$D -c /tmp/daxrdmad.conf &
dpid=$!
for _ in $(seq 100); do [ -S /run/daxrdmad/ctl.sock ] && break; sleep 0.1; done

say "daxrdmactl asks it"
show $CTL status
show $CTL exports
show $CTL status --json

say "SIGTERM stops it"
kill -TERM $dpid
wait $dpid
echo "daxrdmad exited with status $?"
