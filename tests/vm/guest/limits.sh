#!/bin/bash
# Resource limits that a client cannot exceed (issue 8 §3): open files do
# not run the daemon out of fds; a daxrdmactl that hangs up does not kill
# it; slow control clients cannot hold every control slot, nor lock root out.
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
daemon_down
summary
