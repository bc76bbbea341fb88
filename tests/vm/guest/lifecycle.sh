#!/bin/bash
# The daemon's limits and lifecycle with clients attached: max_clients and
# max_layouts refuse with their codes and free up when clients leave; a
# reload that drops an export recalls its layouts and closes it to new
# opens; a reload that changes an export's acl or read_only applies to live
# clients; SIGTERM recalls every layout, fences a client that does not answer,
# and only then exits 0, leaving no lease behind.
. "$DXVM_GUEST/lib.sh"
HOSTILE=$DX_BUILD/tests/vm/dx-hostile
LOP=$DX_BUILD/tests/vm/dx-localop
F=/mnt/pmem/export
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
DX_LIMITS="max_clients = 3; max_layouts = 2;"
check "daxrdmad up (max_clients 3, max_layouts 2)" daemon_up

# Limits: two holders use both layouts; a third client is refused a layout;
# with a third connection open, a fourth client is refused the connection.
$DXC $GUEST_IP pmem data write 0 65536 1 > /dev/null
$DXC $GUEST_IP pmem data hold 0 4096 1 cooperate read > /tmp/h1.out 2>&1 &
h1=$!
$DXC $GUEST_IP pmem data hold 8192 4096 1 cooperate read > /tmp/h2.out 2>&1 &
h2=$!
check "holder 1 has a layout" wait_line /tmp/h1.out READY
check "holder 2 has a layout" wait_line /tmp/h2.out READY
check "a third layout: EDQUOT (LIMIT, limits.max_layouts = 2)" \
	answers "ERR layout_get EDQUOT" $GUEST_IP pmem data try ro 16384 4096 read
check "the daemon says which limit" grep -q 'limits.max_layouts (2) reached' /tmp/daemon.log
$HOSTILE $GUEST_IP - - silent > /tmp/silent.out 2>&1 &
check "a third connection (it never says HELLO)" wait_line /tmp/silent.out CONNECTED
check "a fourth client: ECONNREFUSED (limits.max_clients = 3)" \
	answers "ERR connect ECONNREFUSED" $GUEST_IP pmem data try ro 16384 4096 read
check "the daemon says why it rejected" grep -q 'limits.max_clients reached' /tmp/daemon.log
check "the silent connection is dropped at the HELLO deadline" wait_line /tmp/silent.out DISCONNECTED
kill -KILL $h1
wait $h1 2>/dev/null
check "holder 1 killed: its layout is released" eventually json "d['layouts'] == 1 and d['clients'] == 1" status
check "... and a new client gets one" answers OK $GUEST_IP pmem data try ro 16384 4096 read
kill -KILL $h2
wait $h2 2>/dev/null
check "no recall was needed for any of it" bash -c "! grep -q RECALLED /tmp/h1.out /tmp/h2.out"

# A reload that drops an export recalls its layouts (reason 4, EXPORT).
$DXC $GUEST_IP shm f write 0 8192 3 > /dev/null
$DXC $GUEST_IP shm f hold 0 8192 3 cooperate > /tmp/s1.out 2>&1 &
s1=$!
check "a holder on the shm export" wait_line /tmp/s1.out READY
sed -i '/name = "shm"/d' /tmp/dx.conf
check "reload without the shm export" $CTL reload
check "its layout is recalled with reason EXPORT (4)" wait_line /tmp/s1.out 'RECALLED reason=4'
check "the holder returns it" wait_line /tmp/s1.out RETURNED
check "its old rkey is dead" wait_line /tmp/s1.out 'STALE_WRITE status=remote access error'
wait $s1
check "the dropped export refuses new opens: ENOENT" answers "ERR open ENOENT" $GUEST_IP shm f try ro 0 4096 read
check "the committed bytes stay in the file" cmp <(pattern 0 8192 3) /dev/shm/export/f
check "no layout left" eventually json "d['layouts'] == 0 and len(d['exports']) == 3" status

# A reload that takes a client's access away applies to live clients: the
# acl no longer admits it (its handles are revoked, its layouts recalled,
# reason 4), or the export became read_only (RW layouts recalled). COMMIT
# is checked again, and uncommitted bounce data is not copied back.
$DXC $GUEST_IP pmem acl1 write 0 8192 21 > /dev/null
DX_DIRTY=1 DX_AGAIN=1 $DXC $GUEST_IP pmem acl1 hold 0 8192 21 cooperate > /tmp/a1.out 2>&1 &
a1=$!
check "acl: a holder with uncommitted data" wait_line /tmp/a1.out READY
sed -i '/name = "pmem"/s|acl = \[ "192.168.100.0/24" \]|acl = [ "10.9.9.0/24" ]|' /tmp/dx.conf
check "acl: reload, the pmem acl no longer admits the client" $CTL reload
check "acl: its layout is recalled (4)" wait_line /tmp/a1.out 'RECALLED reason=4'
wait $a1
cat /tmp/a1.out
check "acl: its COMMIT is refused: EACCES" grep -q 'RECALL_COMMIT ERR EACCES' /tmp/a1.out
check "acl: it returns the layout, told that its writes were not persisted (EACCES)" grep -q 'RETURNED ERR EACCES' /tmp/a1.out
check "acl: its old rkey is dead" grep -q 'STALE_WRITE status=remote access error' /tmp/a1.out
check "acl: its handle is revoked: a new layout gets EACCES" grep -q 'AGAIN ERR EACCES' /tmp/a1.out
check "acl: the daemon says so" grep -q 'no longer admits it: file handle' /tmp/daemon.log
check "acl: the uncommitted bytes were not copied into the file" cmp <(pattern 0 8192 21) $F/acl1
check "acl: new opens are refused: EACCES" answers "ERR open EACCES" $GUEST_IP pmem acl1 try ro 0 4096 read
sed -i '/name = "pmem"/s|acl = \[ "10.9.9.0/24" \]|acl = [ "192.168.100.0/24" ]|' /tmp/dx.conf
check "reload, the acl admits the client again" $CTL reload
$DXC $GUEST_IP pmem ro1 write 0 8192 31 > /dev/null
$DXC $GUEST_IP pmem ro2 write 0 8192 32 > /dev/null
DX_DIRTY=1 $DXC $GUEST_IP pmem ro1 hold 0 8192 31 cooperate > /tmp/r1.out 2>&1 &
r1=$!
$DXC $GUEST_IP pmem ro2 hold 0 8192 32 cooperate read > /tmp/r2.out 2>&1 &
r2=$!
check "read_only: an RW holder with uncommitted data" wait_line /tmp/r1.out READY
check "read_only: a READ holder" wait_line /tmp/r2.out READY
sed -i '/name = "pmem"/s|acl = \[ "192.168.100.0/24" \]|&; read_only = true|' /tmp/dx.conf
check "read_only: reload, pmem becomes read_only" $CTL reload
check "read_only: the RW layout is recalled (4)" wait_line /tmp/r1.out 'RECALLED reason=4'
wait $r1
cat /tmp/r1.out
check "read_only: its COMMIT is refused: EROFS" grep -q 'RECALL_COMMIT ERR EROFS' /tmp/r1.out
check "read_only: it returns the layout, told that its writes were not persisted (EROFS)" grep -q 'RETURNED ERR EROFS' /tmp/r1.out
check "read_only: its old rkey is dead" grep -q 'STALE_WRITE status=remote access error' /tmp/r1.out
check "read_only: the READ layout stays" json "d['layouts'] == 1" status
check "read_only: ... its holder was not recalled" bash -c "! grep -q RECALLED /tmp/r2.out"
check "read_only: new RW opens are refused: EROFS" answers "ERR open EROFS" $GUEST_IP pmem ro1 try rw 0 4096 rw
kill -KILL $r2
wait $r2 2>/dev/null
check "read_only: the uncommitted bytes were not copied into the file" cmp <(pattern 0 8192 31) $F/ro1
sed -i '/name = "pmem"/s|; read_only = true||' /tmp/dx.conf
check "reload, pmem writable again" $CTL reload

# A reload that moves the listen address: the clients on the old one get
# their layouts recalled (reason 4) with the usual deadline, not cut off;
# the old address takes no new client; the new one serves.
$DXC $GUEST_IP pmem mv1 write 0 8192 41 > /dev/null
$DXC $GUEST_IP pmem mv2 write 0 8192 42 > /dev/null
$DXC $GUEST_IP pmem mv1 hold 0 8192 41 cooperate > /tmp/mv1.out 2>&1 &
mv1=$!
$DXC $GUEST_IP pmem mv2 hold 0 8192 42 ignore > /tmp/mv2.out 2>&1 &
mv2=$!
check "move: a cooperating holder" wait_line /tmp/mv1.out READY
check "move: an ignoring holder" wait_line /tmp/mv2.out READY
sed -i 's/port = 20049;/port = 20050;/' /tmp/dx.conf
check "move: reload to port 20050" $CTL reload
check "move: the cooperating holder is recalled (4)" wait_line /tmp/mv1.out 'RECALLED reason=4'
check "move: ... returns its layout" wait_line /tmp/mv1.out RETURNED
stale_write_failed() { wait_line "$1" STALE_WRITE && ! grep -q 'STALE_WRITE status=success' "$1"; }
check "move: ... and its old rkey fails (or its connection, closed once it held nothing)" \
	stale_write_failed /tmp/mv1.out
check "move: the ignoring holder is recalled (4)" wait_line /tmp/mv2.out 'RECALLED reason=4'
check "move: ... and fenced at the deadline" wait_line /tmp/mv2.out FENCED
wait $mv1 $mv2
check "move: the old listener closes with its last client" wait_line /tmp/daemon.log 'the listener on .*:20049 is closed'
check "move: the old port takes no new client" answers "ERR connect ECONNREFUSED" $GUEST_IP pmem mv1 try ro 0 4096 read
check "move: the new port serves" bash -c "DX_PORT=20050 $DXC $GUEST_IP pmem mv3 write 0 4096 43 | grep -qx OK"
check "move: status says where it listens" json "d['listen'] == '$GUEST_IP:20050'" status
check "move: the returned bytes are in the file" cmp <(pattern 0 8192 41) $F/mv1
sed -i 's/port = 20050;/port = 20049;/' /tmp/dx.conf
check "move: back to port 20049" $CTL reload
check "move: ... and served there" eventually bash -c "$DXC $GUEST_IP pmem mv3 write 0 4096 44 | grep -qx OK"

# SIGTERM with live layouts: one holder returns, one ignores and is fenced.
$DXC $GUEST_IP pmem t1 write 0 8192 7 > /dev/null
$DXC $GUEST_IP pmem t2 write 0 8192 8 > /dev/null
DX_AGAIN=1 $DXC $GUEST_IP pmem t1 hold 0 8192 7 cooperate > /tmp/t1.out 2>&1 &
t1=$!
$DXC $GUEST_IP pmem t2 hold 0 8192 8 ignore > /tmp/t2.out 2>&1 &
t2=$!
check "a cooperating holder" wait_line /tmp/t1.out READY
check "an ignoring holder" wait_line /tmp/t2.out READY
t0=$(now_ms)
kill -TERM $DPID
wait $DPID
rc=$?
took=$(($(now_ms) - t0))
echo "   SIGTERM to exit: $took ms"
check "SIGTERM with live layouts: exit 0" test $rc -eq 0
check "it waited for the recall (>= recall_timeout, the ignoring holder)" test $took -ge 1900
check "the cooperating holder was recalled for shutdown (5)" grep -q 'RECALLED reason=5' /tmp/t1.out
check "... and returned its layout" wait_line /tmp/t1.out "^RETURNED$" # answered: not RETURNED ERR
check "... and a new layout while stopping is refused: EIO" grep -q 'AGAIN ERR EIO' /tmp/t1.out
check "the ignoring holder was recalled" grep -q 'RECALLED reason=5' /tmp/t2.out
check "... and fenced" wait_line /tmp/t2.out FENCED
check "the daemon logged the fence, of t2's holder" grep -q 'fencing client .*of pmem/t2 .*not returned within recall_timeout_ms' /tmp/daemon.log
wait $t1 $t2
check "committed bytes survive shutdown (returned)" cmp <(pattern 0 8192 7) $F/t1
check "committed bytes survive shutdown (fenced)" cmp <(pattern 0 8192 8) $F/t2
$LOP truncate $F/t2 > /tmp/trunc.out
cat /tmp/trunc.out
check "no lease outlives the daemon: a truncate completes" grep -q '^truncate rc=0 ' /tmp/trunc.out
summary
