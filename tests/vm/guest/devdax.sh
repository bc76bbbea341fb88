#!/bin/bash
# Device-DAX exports (issue 10 §3): the second emulated pmem region made
# device-DAX by ndctl, served as one fixed-size file ("pool") of pinned
# layouts. libdaxctl's facts in daxrdmactl exports; data written over RDMA is
# in the device, read back by RDMA and by a local reader of the device
# mapping, with no byte copied by the daemon. Nothing local can truncate a
# device, so recalls come from daxrdmactl recall, a reload and shutdown: each
# is tested with a holder whose old rkey must fail afterwards, leaving the
# committed bytes unchanged. A character device that is not device-DAX stops
# the start with a clear error.
. "$DXVM_GUEST/lib.sh"
DDX=$DX_BUILD/tests/vm/dx-devdax
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
check "/dev/pmem1 made device-DAX (ndctl create-namespace -m devdax -a 2M)" devdax_up
echo "   $DAXDEV"
daxctl list -u
read -r size align region <<< "$(daxctl list -R -D | python3 -c "
import json, sys
r = json.load(sys.stdin)
r = r if isinstance(r, list) else [r]
for reg in r:
    for dev in reg.get('devices', []):
        if '/dev/' + dev['chardev'] == '$DAXDEV':
            print(dev['size'], dev.get('align', reg['align']), reg['id'])")"
echo "   daxctl: size $size, align $align, region $region"
DX_MORE_EXPORTS="{ name = \"dax\"; path = \"$DAXDEV\"; device_file = \"pool\"; acl = [ \"192.168.100.0/24\" ]; },"
check "daxrdmad up with the device-DAX export" daemon_up
$CTL exports
X="[x for x in d['exports'] if x['name'] == 'dax'][0]"
check "exports: kind devdax, MR mode pinned" json "$X['kind'] == 'devdax' and $X['mr_mode'] == 'pinned'" exports
check "exports: libdaxctl's size, alignment, region and NUMA node, and the file's name" \
	json "$X['device_size'] == $size and $X['device_align'] == $align and $X['device_region'] == $region and isinstance($X['device_numa_node'], int) and $X['device_file'] == 'pool'" exports

# Data, byte for byte, through the device.
check "a write of 4 MiB at 0, committed" answers OK $GUEST_IP dax pool write 0 4194304 3
check "... read back over RDMA" cmp <(pattern 0 4194304 3) <($DXC $GUEST_IP dax pool read 0 4194304)
check "... and by a local reader through the device mapping" cmp <(pattern 0 4194304 3) <($DDX $DAXDEV 0 4194304)
at=$((align - 77))
check "a write of 1 MiB + 123 B at alignment - 77, across the alignment boundary" \
	answers OK $GUEST_IP dax pool write $at 1048699 4
check "... is in the device where it was aimed" cmp <(pattern $at 1048699 4) <($DDX $DAXDEV $at 1048699)
check "the device's last page" answers OK $GUEST_IP dax pool write $((size - 4096)) 4096 5
check "... is in the device" cmp <(pattern $((size - 4096)) 4096 5) <($DDX $DAXDEV $((size - 4096)) 4096)
check "zero copy: bytes_copied 0" json "d['bytes_copied'] == 0 and d['bytes_committed'] >= 4194304" status

# One fixed-size file.
check "a layout past the device's end: ERANGE" answers "ERR layout_get ERANGE" $GUEST_IP dax pool try rw $size 4096 rw
check "ALLOCATE past the end: ERANGE" answers "ERR allocate ERANGE" $GUEST_IP dax pool write $((size - 4096)) 8192 6
check "another name: ENOENT" answers "ERR open ENOENT" $GUEST_IP dax other try rw 0 4096 rw
check "... also with CREATE" answers "ERR open ENOENT" $GUEST_IP dax other try create 0 4096 rw
check "OPEN with TRUNC: EOPNOTSUPP" answers "ERR open EOPNOTSUPP" $GUEST_IP dax pool try trunc 0 4096 rw
check "... and the data is still there" cmp <(pattern 0 $at 3) <($DDX $DAXDEV 0 $at)

# hold NAME SEED MODE: a holder of [1 MiB, +64 KiB) that wrote and committed
# pattern SEED there; its stale write (4 KiB of 0xEE through the old rkey)
# goes once /tmp/$NAME.go exists.
R0=1048576
hold() {
	rm -f /tmp/$1.go
	DX_STALE_AFTER=/tmp/$1.go $DXC $GUEST_IP dax pool hold $R0 65536 $2 $3 > /tmp/$1.out 2>&1 &
}
intact() { cmp <(pattern $R0 65536 $1) <($DDX $DAXDEV $R0 65536); }

# daxrdmactl recall, a cooperating holder.
hold adm 11 cooperate
check "recall: holder has its layout" wait_line /tmp/adm.out READY
check "recall: daxrdmactl layouts shows it, pinned" json "len(d['layouts']) == 1 and d['layouts'][0]['mr'] == 'pinned'" layouts
check "recall: daxrdmactl recall $DAXDEV --wait" $CTL recall $DAXDEV --wait
check "recall: the client heard reason 2 (daxrdmactl)" wait_line /tmp/adm.out 'RECALLED reason=2'
check "recall: it returned the layout" wait_line /tmp/adm.out "^RETURNED$"
touch /tmp/adm.go
check "recall: its old rkey is dead" wait_line /tmp/adm.out 'STALE_WRITE status=remote access error'
check "recall: the committed bytes are unchanged" intact 11

# daxrdmactl recall, a holder that ignores it: fenced at the deadline.
hold ign 12 ignore
check "fence: holder has its layout" wait_line /tmp/ign.out READY
t0=$(now_ms)
check "fence: daxrdmactl recall --wait returns once it is fenced" $CTL recall $DAXDEV --wait
el=$(( $(now_ms) - t0 ))
echo "   recall --wait took $el ms"
check "fence: at the recall deadline" test $el -ge 1900
check "fence: the client finds itself fenced" wait_line /tmp/ign.out FENCED
touch /tmp/ign.go
check "fence: its old rkey is dead (its QP is in error)" wait_line /tmp/ign.out 'STALE_WRITE status=Work Request Flushed Error'
check "fence: the committed bytes are unchanged" intact 12
check "fence: counted" json "d['clients_fenced'] == 1" status

# A reload that drops the export.
cp /tmp/dx.conf /tmp/dx.conf.full
hold rel 13 cooperate
check "reload: holder has its layout" wait_line /tmp/rel.out READY
sed -i '/name = "dax"/d' /tmp/dx.conf
check "reload: without the device-DAX export" $CTL reload
check "reload: the client heard reason 4 (export gone)" wait_line /tmp/rel.out 'RECALLED reason=4'
check "reload: it returned the layout" wait_line /tmp/rel.out "^RETURNED$"
touch /tmp/rel.go
check "reload: its old rkey is dead" wait_line /tmp/rel.out 'STALE_WRITE status=remote access error'
check "reload: the committed bytes are unchanged" intact 13
check "reload: new opens get ENOENT" answers "ERR open ENOENT" $GUEST_IP dax pool try rw 0 4096 rw
cp /tmp/dx.conf.full /tmp/dx.conf
check "reload: the export back" $CTL reload
check "reload: ... and served again" answers OK $GUEST_IP dax pool write $R0 65536 14

# Shutdown with a live layout. The holder keeps another one (on shm),
# recalled too and not returned, so the daemon waits for it (its deadline)
# and the connection lives while the old rkey is tried: a failure can only
# be the rkey's.
DX_KEEP=shm/keep-term hold term 15 cooperate
check "shutdown: holder has its layout, and another" wait_line /tmp/term.out READY
odp_zero_copy
kill -TERM $DPID
check "shutdown: the client heard reason 5" wait_line /tmp/term.out 'RECALLED reason=5'
check "shutdown: it returned the layout" wait_line /tmp/term.out "^RETURNED$" # answered before the exit
touch /tmp/term.go
check "shutdown: its old rkey is dead" wait_line /tmp/term.out 'STALE_WRITE status=remote access error'
check "... on a connection that still worked just before" grep -qx 'KEEPER works' /tmp/term.out
grep -E 'STALE_WRITE|KEEPER' /tmp/term.out
wait $DPID
check "shutdown: exit 0" test $? -eq 0
check "shutdown: the committed bytes are unchanged" intact 15

# A character device that is not device-DAX.
DX_MORE_EXPORTS='{ name = "null"; path = "/dev/null"; acl = [ "192.168.100.0/24" ]; },'
check "a character device that is not device-DAX stops the start" daemon_refuses
check "... with a clear error" grep -q 'export "null" (/dev/null): a character device that libdaxctl does not know as a device-DAX instance' /tmp/daemon.log
summary
