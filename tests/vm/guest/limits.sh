#!/bin/bash
# Resource limits that a client cannot exceed (issue 8 §3): open files do
# not run the daemon out of fds; huge sparse files do not run it out of
# address space; a daxrdmactl that hangs up does not kill it; slow control
# clients cannot hold every control slot, nor lock root out; per-client
# limits on layouts, layout bytes, open files and connections per address,
# and a global budget of bounce staging memory, each refused with LIMIT.
. "$DXVM_GUEST/lib.sh"
POKE="python3 $DXVM_GUEST/ctlpoke.py"
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
echo "   guest RLIMIT_NOFILE: soft $(ulimit -Sn), hard $(ulimit -Hn)"
check "daxrdmad up" daemon_up

# 2 clients x 600 open files: more fds than the usual soft limit of 1024.
mkdir -p /mnt/pmem/export/many
rm -f /tmp/go
DX_GO=/tmp/go $DXC $GUEST_IP pmem many/a openmany 600 > /tmp/m1.out 2>&1 &
m1=$!
check "client 1 opens 600 files" wait_line /tmp/m1.out 'OPENED 600'
DX_GO=/tmp/go $DXC $GUEST_IP pmem many/b openmany 600 > /tmp/m2.out 2>&1 &
m2=$!
check "client 2 opens 600 more (1200 served files)" wait_line /tmp/m2.out 'OPENED 600'
cat /tmp/m1.out /tmp/m2.out | grep ERR
check "with 1200 files open, daxrdmactl status answers" timeout 5 $CTL status
check "... and a new client writes a file" answers OK $GUEST_IP pmem many-new write 0 4096 5
touch /tmp/go
wait $m1 $m2
check "their files are closed when they go" eventually json "d['clients'] == 0" status

# A daxrdmactl that closes before its reply: EPIPE, not SIGPIPE.
$POKE hangup 20
check "20 requests hung up before their replies: the daemon lives" kill -0 $DPID
check "... and answers" timeout 5 $CTL status

# 16 slow control clients (not root), one byte a second: 12 slots at most
# go to them and each is dropped 5 s after it connected, whatever trickles in.
gid=$(getent group daxrdma | cut -d: -f3)
setpriv --reuid=65534 --regid="$gid" --clear-groups $POKE trickle 16 > /tmp/trickle.out 2>&1 &
tp=$!
check "16 trickling control clients connect" wait_line /tmp/trickle.out OPEN
sleep 1
t0=$(now_ms)
check "root's daxrdmactl status still answers" timeout 3 $CTL status
echo "   root's status took $(($(now_ms) - t0)) ms"
wait $tp
cat /tmp/trickle.out
check "every trickling client is dropped within 7 s" \
	python3 -c "import sys; w=open('/tmp/trickle.out').read().split(); sys.exit(0 if w[-4:-2]==['CLOSED','16'] and float(w[-1]) <= 7 else 1)"
check "the daemon says why" grep -q 'sent no complete request within 5 s' /tmp/daemon.log
check "the daemon is alive" kill -0 $DPID

# "layouts FILE" for a caller who is not root looks nothing up as root: what
# lies in a directory it may not read stays hidden (a stat as root would
# answer "Not a directory" below an existing file, and nothing below a
# missing one).
mkdir -p /root/private && echo secret > /root/private/f && chmod 700 /root/private
setpriv --reuid=65534 --regid="$gid" --clear-groups $CTL layouts /root/private/f/x > /tmp/l1.out 2>&1
setpriv --reuid=65534 --regid="$gid" --clear-groups $CTL layouts /root/private/nothing/x > /tmp/l2.out 2>&1
cat /tmp/l1.out /tmp/l2.out
check "layouts FILE (not root): a hidden file and a missing one look alike" \
	bash -c "[ \"\$(sed 's|/root/private/[a-z]*/x||' /tmp/l1.out)\" = \"\$(sed 's|/root/private/[a-z]*/x||' /tmp/l2.out)\" ]"

# 10 sparse files of 16 TiB each, a layout on each: only a window around
# each layout is mapped, not 160 TiB (more than a process's address space).
rm -f /tmp/go
pids=
for i in $(seq 10); do
	truncate -s 16T /mnt/pmem/export/huge$i
	DX_GO=/tmp/go $DXC $GUEST_IP pmem huge$i layouts 1 4096 > /tmp/huge$i.out 2>&1 &
	pids="$pids $!"
done
for i in $(seq 10); do wait_line /tmp/huge$i.out GOT; done
check "a layout on each of 10 sparse 16 TiB files" \
	bash -c "[ \$(cat /tmp/huge*.out | grep -c '^GOT 1\$') -eq 10 ]"
grep -h ERR /tmp/huge*.out | head -3
vm_kib=$(awk '/VmSize/ {print $2}' /proc/$DPID/status)
check "... with a window of each mapped: the daemon's address space is $((vm_kib >> 20)) GiB, under 1 TiB" \
	test "$vm_kib" -lt $((1 << 30))
touch /tmp/go
wait $pids
daemon_down

# Per-client limits and the staging budget (every pmem layout is bounce here).
DX_LIMITS="max_layouts_per_client = 2; max_layout_bytes_per_client = 1048576; staging_bytes = 2097152;
	max_files_per_client = 4; max_connections_per_address = 3;"
check "daxrdmad up with small per-client limits" daemon_up
$DXC $GUEST_IP pmem lim write 0 2097152 3 > /dev/null
rm -f /tmp/go; touch /tmp/now
DX_GO=/tmp/go $DXC $GUEST_IP pmem lim layouts 3 4096 > /tmp/la.out 2>&1 &
pids=$!
check "max_layouts_per_client 2: a third layout gets EDQUOT" wait_line /tmp/la.out 'ERR layout_get EDQUOT at=2'
DX_GO=/tmp/go $DXC $GUEST_IP pmem lim layouts 2 1048576 > /tmp/lb.out 2>&1 &
pids="$pids $!"
check "max_layout_bytes_per_client 1 MiB: a second 1 MiB layout gets EDQUOT" \
	wait_line /tmp/lb.out 'ERR layout_get EDQUOT at=1'
DX_GO=/tmp/now $DXC $GUEST_IP pmem lim layouts 1 1048576 > /tmp/lc.out 2>&1
check "staging_bytes 2 MiB (1 MiB + 8 KiB staged): another 1 MiB gets EDQUOT" \
	grep -q 'ERR layout_get EDQUOT at=0' /tmp/lc.out
check "the daemon says which limits" bash -c "grep -q 'limits.max_layouts_per_client (2) reached' /tmp/daemon.log &&
	grep -q 'limits.max_layout_bytes_per_client (1048576) would be passed' /tmp/daemon.log &&
	grep -q 'limits.staging_bytes (2097152) would be passed' /tmp/daemon.log"
DX_GO=/tmp/now $DXC $GUEST_IP pmem many/c openmany 5 > /tmp/ld.out 2>&1
check "max_files_per_client 4: a fifth OPEN gets EDQUOT" grep -q 'ERR open EDQUOT at=4' /tmp/ld.out
$DX_BUILD/tests/vm/dx-hostile $GUEST_IP - - silent > /tmp/silent.out 2>&1 &
pids="$pids $!"
check "a third connection from this address" wait_line /tmp/silent.out CONNECTED
check "max_connections_per_address 3: a fourth is refused" \
	answers "ERR connect ECONNREFUSED" $GUEST_IP pmem lim try ro 0 4096 read
check "the daemon says why" grep -q 'limits.max_connections_per_address reached' /tmp/daemon.log
touch /tmp/go
wait $pids
check "with the clients gone, nothing is held" eventually json "d['clients'] == 0 and d['layouts'] == 0" status
daemon_down
summary
