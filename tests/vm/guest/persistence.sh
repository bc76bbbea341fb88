#!/bin/bash
# Persistence (issue 10 §4).
# - What a client was told is persistent survives a crash: the file system is
#   shut down without flushing its log (xfs_io shutdown, a power cut for
#   XFS's metadata), mounted again, and the bytes are read back. A control
#   shows the harness is real: bytes written locally and not synced are lost.
# - One-sided persistence on an export declared persistence = "remote-flush"
#   whose layouts address the data itself (here device-DAX, pinned): the
#   client persists with an RDMA READ after its writes (Debian 12's
#   rdma-core has no ibv_wr_flush), sends no COMMIT, and the daemon's commit
#   counters do not move; the bytes are in the device. A client that asks
#   for COMMIT (DAXRDMA_COMMIT_MESSAGE) still gets it. A bounce export
#   declared remote-flush offers COMMIT only and says why; a file system
#   without DAX declared remote-flush stops the start.
. "$DXVM_GUEST/lib.sh"
F=/mnt/pmem/export
DDX=$DX_BUILD/tests/vm/dx-devdax
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
check "/dev/pmem1 made device-DAX" devdax_up
mkdir -p /mnt/pmem/rfb
DX_MORE_EXPORTS="{ name = \"rf\"; path = \"$DAXDEV\"; persistence = \"remote-flush\"; acl = [ \"192.168.100.0/24\" ]; },
	{ name = \"rfb\"; path = \"/mnt/pmem/rfb\"; persistence = \"remote-flush\"; acl = [ \"192.168.100.0/24\" ]; },"
check "daxrdmad up with two exports declared remote-flush" daemon_up
$CTL exports | grep -E "name|mr_mode:|persistence"
X() { echo "[x for x in d['exports'] if x['name'] == '$1'][0]"; }
check "rf (device-DAX, pinned) offers commit and remote-flush" \
	json "$(X rf)['persistence_methods'] == ['commit', 'remote-flush']" exports
check "rfb (FS-DAX, bounce) offers commit only, and says why" \
	json "$(X rfb)['persistence_methods'] == ['commit'] and 'bounce' in $(X rfb)['persistence_reason']" exports
check "the daemon warns about rfb" grep -q 'export "rfb": remote-flush declared, but layouts are bounce' /tmp/daemon.log
check "pmem (persistence not set) offers commit only" json "$(X pmem)['persistence_methods'] == ['commit']" exports

commits() { status_of commits; }
committed() { status_of bytes_committed; }
c0=$(commits) b0=$(committed)
out=$(DX_SHOW_PERSIST=1 $DXC $GUEST_IP rf device write 0 4194304 21)
echo "$out"
check "rf: 4 MiB written and persisted" test "$(tail -1 <<< "$out")" = OK
check "rf: the library persisted one-sided (read-after-write)" grep -qx 'PERSIST read-after-write' <<< "$out"
check "rf: no COMMIT reached the daemon (commits $c0 -> $(commits))" test "$(commits)" -eq "$c0"
check "rf: bytes_committed did not move" test "$(committed)" -eq "$b0"
check "rf: the bytes are in the device" cmp <(pattern 0 4194304 21) <($DDX $DAXDEV 0 4194304)
check "rf: and read back over RDMA" cmp <(pattern 0 4194304 21) <($DXC $GUEST_IP rf device read 0 4194304)
out=$(DX_SHOW_PERSIST=1 DX_COMMIT_MESSAGE=1 $DXC $GUEST_IP rf device write 4194304 65536 22)
check "rf with DAXRDMA_COMMIT_MESSAGE: persisted by COMMIT" grep -qx 'PERSIST commit' <<< "$out"
check "... which the daemon counted" test "$(commits)" -eq $((c0 + 1))
check "... and the bytes are in the device" cmp <(pattern 4194304 65536 22) <($DDX $DAXDEV 4194304 65536)
out=$(DX_SHOW_PERSIST=1 $DXC $GUEST_IP rfb f.dat write 0 65536 23)
check "rfb: persisted by COMMIT (bounce)" grep -qx 'PERSIST commit' <<< "$out"
check "... counted" test "$(commits)" -eq $((c0 + 2))

# crash: shut the file system down as a power cut would (no log flush) and
# mount it again (log recovery).
crash() {
	daemon_down
	xfs_io -x -c shutdown /mnt/pmem &&
		umount /mnt/pmem && mount -o dax /dev/pmem0 /mnt/pmem
}
check "a new file: 1 MiB written over RDMA and committed" answers OK $GUEST_IP pmem c.dat write 0 1048576 3
check "control: a new local file written with pwrite(2) and not synced" \
	xfs_io -f -c "pwrite -q -S 0x5a 0 1048576" /mnt/pmem/control.dat
check "crash (xfs_io shutdown without log flush) and remount" crash
ls -l $F /mnt/pmem/control.dat
check "control: the unsynced local bytes are gone (the crash is real)" \
	bash -c "! cmp -s <(head -c 1048576 /dev/zero | tr '\0' 'Z') /mnt/pmem/control.dat"
check "the committed bytes survived" cmp <(pattern 0 1048576 3) $F/c.dat

# remote-flush on a file system without DAX is a configuration error.
mkdir -p /dev/shm/rfs
DX_MORE_EXPORTS='{ name = "rfs"; path = "/dev/shm/rfs"; persistence = "remote-flush"; acl = [ "192.168.100.0/24" ]; },'
check "remote-flush on a non-DAX file system stops the start" daemon_refuses
check "... with a clear error" grep -q 'export "rfs" (/dev/shm/rfs): persistence = "remote-flush" on a file system without DAX' /tmp/daemon.log
summary
