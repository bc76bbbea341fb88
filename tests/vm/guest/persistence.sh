#!/bin/bash
# Persistence (issue 10 §4).
# - What a client was told is persistent survives a crash: the file system is
#   shut down without flushing its log (xfs_io shutdown, a power cut for
#   XFS's metadata), mounted again, and the bytes are read back. A control
#   shows the harness is real: bytes written locally and not synced are lost.
# - One-sided persistence on an export declared persistence = "remote-flush"
#   whose layouts address the data itself (here device-DAX, pinned): the
#   client persists with an RDMA READ after its writes (Debian 12's
#   rdma-core has no ibv_wr_flush; built with trixie's, the rig's memmap=
#   pages take no FLUSH: powercut.sh's NVDIMMs do), sends no COMMIT, and the daemon's commit
#   counters do not move; the bytes are in the device. A client that asks
#   for COMMIT (DAXRDMA_COMMIT_MESSAGE) still gets it. A bounce export
#   declared remote-flush offers COMMIT only and says why; a file system
#   without DAX declared remote-flush stops the start.
# - remote-flush holds only where the platform makes a placed NIC write
#   durable: on ADR memory (libpmem2's granularity cache line, as the rig's
#   memmap= pmem is) the admin must declare nic_writes, or the start stops.
# - A reload that changes an export's persistence recalls its layouts and
#   makes its handles stale: a client told at OPEN that it may persist
#   one-sided is not left doing so.
# - DAX is a file's: on a dax=inode mount, a file with the DAX attribute off
#   below an FS-DAX export is page cache, and is served as such.
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
check "remote-flush on the rig's ADR pmem without nic_writes stops the start" daemon_refuses
check "... with a clear error" grep -q 'export "rf" .*granularity cache line) while nic_writes = "cache"' /tmp/daemon.log
DX_TOP='nic_writes = "memory";'
check "daxrdmad up with two exports declared remote-flush (nic_writes memory)" daemon_up
$CTL exports | grep -E "name|mr_mode:|persistence"
X() { echo "[x for x in d['exports'] if x['name'] == '$1'][0]"; }
check "rf (device-DAX, pinned) offers commit and remote-flush" \
	json "$(X rf)['persistence_methods'] == ['commit', 'remote-flush']" exports
if have_rdma_flush; then
	# rxe takes FLUSH to persistence on NVDIMM pages only (the power-cut
	# test's rig): on memmap= ones the READ after the writes persists them.
	check "rf: the NIC refuses RDMA FLUSH on memmap= pages, and it says so" \
		json "not $(X rf)['rdma_flush'] and 'fails: Invalid argument' in $(X rf)['rdma_flush_reason']" exports
fi
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
out=$(DX_SHOW_PERSIST=1 $DXC $GUEST_IP shm f.dat write 0 65536 29)
check "shm (pinned, persistence not set): persisted by COMMIT" grep -qx 'PERSIST commit' <<< "$out"

# A reload declares rf commit: a client that was told at OPEN it may persist
# one-sided has its layout recalled (the export changed: 4) and its handle
# goes stale (asking for the layout again fails); a new OPEN is told COMMIT.
DX_AGAIN=1 $DXC $GUEST_IP rf device hold 0 65536 24 cooperate > /tmp/hold.out 2>&1 &
hp=$!
check "reload: a holder of rf" wait_line /tmp/hold.out READY
sed -i 's/persistence = "remote-flush"/persistence = "commit"/' /tmp/dx.conf
check "reload: rf and rfb declared commit" $CTL reload
check "reload: the holder was recalled, the export changed (4)" wait_line /tmp/hold.out 'RECALLED reason=4'
check "reload: its handle is stale" wait_line /tmp/hold.out 'AGAIN ERR'
kill $hp 2>/dev/null # (never recalled, it would hold on)
wait $hp 2>/dev/null
cat /tmp/hold.out
check "reload: the daemon says why" \
	grep -q 'export "rf" is served as pinned, COMMIT now (it was pinned, remote-flush)' /tmp/daemon.log
check "reload: rf offers commit only" json "$(X rf)['persistence_methods'] == ['commit']" exports
out=$(DX_SHOW_PERSIST=1 $DXC $GUEST_IP rf device write 0 65536 25)
check "reload: a new OPEN persists by COMMIT" grep -qx 'PERSIST commit' <<< "$out"

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

# DAX is a file's. On a dax=inode mount, the export's directory has the DAX
# attribute (its files inherit it); a file made elsewhere and moved in has
# it off: page cache, which the daemon must not serve as DAX (pinned, or
# persisted one-sided), whatever the export is.
TOOL=$DX_BUILD/src/tool/daxrdma
umount /mnt/pmem && mount -o dax=inode /dev/pmem0 /mnt/pmem
mkdir -p /mnt/pmem/perfile /mnt/pmem/plain
xfs_io -c 'chattr +x' /mnt/pmem/perfile
head -c 65536 /dev/urandom > /mnt/pmem/plain/nodax.dat && mv /mnt/pmem/plain/nodax.dat /mnt/pmem/perfile/
head -c 65536 /dev/urandom > /mnt/pmem/perfile/dax.dat
xfs_io -c lsattr /mnt/pmem/perfile/*.dat
DX_MORE_EXPORTS='{ name = "pf"; path = "/mnt/pmem/perfile"; persistence = "remote-flush"; acl = [ "192.168.100.0/24" ]; },'
check "daxrdmad up with an export on a dax=inode mount" daemon_up
$CTL exports | grep -E "name|mr_mode:|persistence"
check "pf is FS-DAX (its directory has the attribute)" json "$(X pf)['kind'] == 'fsdax'" exports
check "control: a file with the attribute is DAX to a client" \
	bash -c "$TOOL stat $GUEST_IP:pf/dax.dat | grep -qx 'dax: *yes'"
check "a file without it is not" bash -c "$TOOL stat $GUEST_IP:pf/nodax.dat | grep -qx 'dax: *no'"
out=$(DX_SHOW_PERSIST=1 $DXC $GUEST_IP pf nodax.dat write 0 65536 26)
check "... it is persisted by COMMIT" grep -qx 'PERSIST commit' <<< "$out"
check "... served bounce" grep -q 'layout [0-9]* on pf/nodax.dat \[0, +65536) RW, bounce' /tmp/daemon.log
check "... and its bytes are there" cmp <(pattern 0 65536 26) /mnt/pmem/perfile/nodax.dat
if json "'remote-flush' in $(X pf)['persistence_methods']" exports; then # ODP: one-sided for DAX files
	out=$(DX_SHOW_PERSIST=1 $DXC $GUEST_IP pf dax.dat write 0 65536 27)
	check "control: the DAX file is persisted one-sided" grep -qx 'PERSIST read-after-write' <<< "$out"
fi
# A path never crosses a mount below an export: what is mounted there (here
# tmpfs) is not what the export's mode was decided for.
mkdir -p /mnt/pmem/perfile/sub /mnt/pmem/perfile/mnt
mount -t tmpfs none /mnt/pmem/perfile/mnt
echo below > /mnt/pmem/perfile/mnt/f
echo beside > /mnt/pmem/perfile/sub/f
check "control: a file in a directory of the export is served" bash -c "$TOOL cat $GUEST_IP:pf/sub/f | grep -qx beside"
check "a file across a mount below the export is refused" \
	bash -c "! $TOOL -v cat $GUEST_IP:pf/mnt/f > /tmp/xdev.out 2>&1"
cat /tmp/xdev.out
check "... as no such file" grep -q 'No such file' /tmp/xdev.out
check "... and the daemon says why" grep -q 'NOENT: "mnt/f" resolves outside export "pf" (or across a mount)' /tmp/xdev.out
umount /mnt/pmem/perfile/mnt
daemon_down
umount /mnt/pmem && mount -o dax /dev/pmem0 /mnt/pmem

# A file system without DAX (ext4 on a RAM disk): its page cache is never
# pinned (writeback would not see NIC writes), whatever the kernel allows;
# asked for, pinned stops the start.
check "ext4 on /dev/ram0" bash -c "modprobe brd rd_nr=1 rd_size=65536 && mkfs.ext4 -q -F /dev/ram0 &&
	mkdir -p /mnt/ext4 && mount /dev/ram0 /mnt/ext4 && mkdir -p /mnt/ext4/export"
DX_MORE_EXPORTS='{ name = "e4"; path = "/mnt/ext4/export"; acl = [ "192.168.100.0/24" ]; },'
check "daxrdmad up with an ext4 export" daemon_up
$CTL exports | grep -E "name|kind|mr_mode"
check "e4 is served from the page cache, and not pinned" \
	json "$(X e4)['kind'] == 'fs' and $(X e4)['mr_mode'] in ('bounce', 'odp')" exports
check "... and says why" json "'page cache' in $(X e4)['mr_mode_reason']" exports
check "e4: 1 MiB written over RDMA and committed" answers OK $GUEST_IP e4 a.dat write 0 1048576 28
check "e4: the bytes are in the file" cmp <(pattern 0 1048576 28) /mnt/ext4/export/a.dat
daemon_down
DX_MORE_EXPORTS='{ name = "e4"; path = "/mnt/ext4/export"; mr_mode = "pinned"; acl = [ "192.168.100.0/24" ]; },'
check "mr_mode pinned on ext4 stops the start" daemon_refuses
check "... with a clear error" grep -q 'export "e4" (/mnt/ext4/export): mr_mode pinned on a file system without DAX' /tmp/daemon.log
umount /mnt/ext4

# remote-flush on a file system without DAX is a configuration error.
mkdir -p /dev/shm/rfs
DX_MORE_EXPORTS='{ name = "rfs"; path = "/dev/shm/rfs"; persistence = "remote-flush"; acl = [ "192.168.100.0/24" ]; },'
check "remote-flush on a non-DAX file system stops the start" daemon_refuses
check "... with a clear error" grep -q 'export "rfs" (/dev/shm/rfs): persistence = "remote-flush" on a file system without DAX' /tmp/daemon.log
summary
