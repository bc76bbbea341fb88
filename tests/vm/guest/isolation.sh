#!/bin/bash
# Clients are isolated from each other (issue 8 §1): every connection has its
# own protection domain, so an rkey works only on the QP of the client it was
# granted to; files are never created setuid or setgid.
. "$DXVM_GUEST/lib.sh"
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
check "daxrdmad up" daemon_up

# Client A holds an RW layout; client B, on its own connection, RDMA WRITEs
# and READs with A's raddr and rkey (one connection each: the first error
# kills B's QP). Both must fail, A's bytes stay, and A keeps working. Nothing
# local may open the file meanwhile: that would recall A's layout. A checks
# its bytes itself, through its layout (the file itself when pinned).
steal() { # EXPORT PATH (pinned: shm, bounce: pmem)
	local x=$1 p=$2 dir
	dir=$([ "$x" = shm ] && echo /dev/shm/export || echo /mnt/pmem/export)
	rm -f /tmp/go
	$DXC $GUEST_IP "$x" "$p" write 0 65536 11 > /dev/null
	DX_GO=/tmp/go $DXC $GUEST_IP "$x" "$p" hold 0 65536 11 serve > /tmp/a.out 2>&1 &
	local a=$!
	check "$x: client A holds an RW layout" wait_line /tmp/a.out READY
	local raddr rkey
	raddr=$(sed -n 's/^READY raddr=\([^ ]*\) .*/\1/p' /tmp/a.out)
	rkey=$(sed -n 's/^READY .* rkey=\(.*\)/\1/p' /tmp/a.out)
	echo "   A: raddr=$raddr rkey=$rkey"
	check "$x: B has A's raddr and rkey to try" bash -c "[[ '$raddr' == 0x* && '$rkey' == 0x* ]]"
	$DXC $GUEST_IP "$x" other steal write "$raddr" "$rkey" 4096 > /tmp/bw.out 2>&1
	cat /tmp/bw.out
	check "$x: B's RDMA WRITE with A's rkey: remote access error" \
		grep -q 'STEAL_WRITE status=remote access error' /tmp/bw.out
	$DXC $GUEST_IP "$x" other steal read "$raddr" "$rkey" 4096 > /tmp/br.out 2>&1
	cat /tmp/br.out
	check "$x: B's RDMA READ with A's rkey: remote access error" \
		grep -q 'STEAL_READ status=remote access error' /tmp/br.out
	touch /tmp/go
	wait $a
	cat /tmp/a.out
	check "$x: A reads back its own bytes: B wrote nothing into its layout" grep -q '^INTACT' /tmp/a.out
	check "$x: A keeps working: writes, commits and returns" grep -q '^WORKS' /tmp/a.out
	check "$x: A's new bytes are in the file" cmp <(pattern 0 65536 12) $dir/$p
}
: > /dev/shm/export/other
: > /mnt/pmem/export/other
steal shm s1
steal pmem p1
check "the daemon is alive" kill -0 $DPID
check "no layout left" eventually json "d['layouts'] == 0" status

# OPEN CREATE never makes setuid/setgid files: the mode is masked with
# create_mode_mask (default 0777) and the daemon's umask (022 here).
check "OPEN CREATE with mode 06755" answers OK $GUEST_IP pmem suid create 6755
mode=$(stat -c %a /mnt/pmem/export/suid)
echo "   created with mode $mode"
check "no setuid or setgid bit: 755" test "$mode" = 755
check "OPEN CREATE with mode 0666 under umask 022: 644" answers OK $GUEST_IP pmem m666 create 0666
check "... the file is 644" test "$(stat -c %a /mnt/pmem/export/m666)" = 644
daemon_down
DX_PMEM_OPTS='create_mode_mask = "0640";'
check "daxrdmad up with create_mode_mask = 0640 on pmem" daemon_up
check "OPEN CREATE with 06777 on that export" answers OK $GUEST_IP pmem m640 create 6777
mode=$(stat -c %a /mnt/pmem/export/m640)
echo "   created with mode $mode"
check "... the file is 640" test "$mode" = 640
daemon_down
summary
