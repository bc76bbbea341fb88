#!/bin/bash
# A hostile peer on a real connection: forged handles and stateids, ranges
# that wrap around 2^64 and messages that lie about themselves each get an
# ERROR with their code and the request's tag; the third malformed message,
# or one larger than a receive buffer, ends the connection; the daemon
# survives every one, counts them and serves the next client. A peer that
# vanishes without a word is found by the keepalive.
. "$DXVM_GUEST/lib.sh"
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
DX_TOP="keepalive_ms = 1000;"
check "daxrdmad up (keepalive_ms 1000)" daemon_up
HOSTILE=$DX_BUILD/tests/vm/dx-hostile
truncate -s 65536 /mnt/pmem/export/target
head -c 65536 /dev/urandom > /tmp/target.orig
cp /tmp/target.orig /mnt/pmem/export/target
answered() { # OUT NAME ANSWER: the line "NAME -> ANSWER" is in OUT
	grep -qx -- "$2 -> $3" "$1"
}

$HOSTILE $GUEST_IP pmem target requests > /tmp/requests.out 2>&1
cat /tmp/requests.out
R=/tmp/requests.out
check "LAYOUT_GET on a forged file handle: BADHANDLE" answered $R forged-handle "ERROR BADHANDLE tag=1"
check "a range wrapping around 2^64: RANGE" answered $R range-wraps-around "ERROR RANGE tag=2"
check "an unaligned offset: RANGE" answered $R unaligned-offset "ERROR RANGE tag=3"
check "a page at 2^64 - 4096: RANGE" answered $R offset-at-2^64 "ERROR RANGE tag=4"
check "LAYOUT_RETURN of a forged stateid: STALE_STATEID" answered $R forged-stateid-return "ERROR STALE_STATEID tag=5"
check "COMMIT of a forged stateid: STALE_STATEID" answered $R forged-stateid-commit "ERROR STALE_STATEID tag=6"
check "a second HELLO: PROTO" answered $R second-hello "ERROR PROTO tag=7"
check "LAYOUT_RECALL sent to the daemon: an error, not obeyed" \
	bash -c "grep -q '^server-only-op -> ERROR [A-Z_]* tag=8$' $R"
check "ALLOCATE past 2^64: RANGE" answered $R allocate-wraps-around "ERROR RANGE tag=9"
check "an RW layout on a read-only handle: ROFS" answered $R rw-on-read-only-handle "ERROR ROFS tag=10"
check "ALLOCATE on a read-only handle: ROFS" answered $R allocate-on-read-only-handle "ERROR ROFS tag=12"
check "an iomode that does not exist: MALFORMED" answered $R bad-iomode "ERROR MALFORMED tag=11"
check "nothing was granted" bash -c "! grep -q REPLY $R"

$HOSTILE $GUEST_IP pmem target malformed > /tmp/malformed.out 2>&1
cat /tmp/malformed.out
M=/tmp/malformed.out
check "5 bytes: MALFORMED (tag 0: there is no header to echo)" answered $M shorter-than-header "ERROR MALFORMED tag=0"
check "a header length that lies: MALFORMED, tag echoed" answered $M length-field-lies "ERROR MALFORMED tag=2"
check "an unknown opcode: MALFORMED" answered $M unknown-opcode "ERROR MALFORMED tag=3"
check "after the third malformed message the daemon hangs up" answered $M after-third DISCONNECTED
check "the daemon logged why" grep -q 'too many malformed messages' /tmp/daemon.log

$HOSTILE $GUEST_IP pmem target oversize > /tmp/oversize.out 2>&1
cat /tmp/oversize.out
O=/tmp/oversize.out
check "a reserved field set: MALFORMED" answered $O reserved-field-set "ERROR MALFORMED tag=1"
check "a NUL byte inside a path: MALFORMED" answered $O nul-in-path "ERROR MALFORMED tag=2"
check "a SEND larger than a receive buffer: disconnected" answered $O larger-than-a-receive-buffer DISCONNECTED

$HOSTILE $GUEST_IP - - silent > /tmp/silent.out 2>&1
cat /tmp/silent.out
check "a peer that never says HELLO is dropped at the deadline (5 s), not before, not much after" \
	python3 -c "import re,sys; m=re.search(r'^DISCONNECTED ms=(\d+)$', open('/tmp/silent.out').read(), re.M); sys.exit(0 if m and 4500 <= int(m[1]) <= 5500 else 1)"

# A host that loses power sends no DREQ and acknowledges nothing. Without a
# keepalive its connection and layout would stay until the next recall.
$HOSTILE $GUEST_IP pmem target vanish > /tmp/vanish.out 2>&1 &
v=$!
check "a client takes a layout, then vanishes" wait_line /tmp/vanish.out VANISHED
wait $v
cat /tmp/vanish.out
# design.md: closed within 2-3 x keepalive_ms (1000 here) of its last word.
check "the keepalive finds it: the daemon hangs up within 2-3 s (+ 300 ms)" \
	python3 -c "import re,sys; m=re.search(r'^DISCONNECTED ms=(\d+)$', open('/tmp/vanish.out').read(), re.M); sys.exit(0 if m and 1900 <= int(m[1]) <= 3300 else 1)"
check "... and logs why" grep -q 'not responding: a keepalive unacknowledged' /tmp/daemon.log
check "status: keepalives sent, one peer lost" json "d['keepalives_sent'] >= 1 and d['peers_lost'] == 1" status
check "its layout is gone" eventually json "d['layouts'] == 0" status

check "the daemon is alive" kill -0 $DPID
check "status counts 6 malformed messages" json "d['malformed_messages'] == 6" status
check "no client, no layout left behind" eventually json "d['clients'] == 0 and d['layouts'] == 0" status
check "the file is untouched" cmp /tmp/target.orig /mnt/pmem/export/target
check "the next client is served" bash -c "$DXC $GUEST_IP pmem target write 0 4096 5 | grep -qx OK"
check "... and its bytes land" cmp <(pattern 0 4096 5) <(head -c 4096 /mnt/pmem/export/target)

# A name made to forge a log line (journald reads "<0>" at a line's start as
# an emergency), to move a terminal's cursor, and not UTF-8 at all.
EVIL=$'evil\n<0>forged \e[2J \xff'
check "a client writes a file with a hostile name" answers OK $GUEST_IP pmem "$EVIL" write 0 4096 1
$DXC $GUEST_IP pmem "$EVIL" hold 0 4096 1 cooperate read > /tmp/evil.out 2>&1 &
evil=$!
check "... and holds a layout on it" wait_line /tmp/evil.out READY
ka0=$(status_of keepalives_sent)
sleep 3
check "a live client silent for 3 s answers its keepalives and stays" \
	json "d['clients'] == 1 and d['layouts'] == 1 and d['peers_lost'] == 1 and d['keepalives_sent'] >= ${ka0:-0} + 1" status
check "no log line starts with the forged text" bash -c "! grep -q '^<0>forged' /tmp/daemon.log"
check "the log shows the name escaped, on one line" grep -qF 'evil\n<0>forged \x1b[2J \xff' /tmp/daemon.log
$CTL layouts > /tmp/evil-layouts.txt
check "daxrdmactl layouts: no raw control character, the name escaped" \
	bash -c "! grep -q \$'\e' /tmp/evil-layouts.txt && ! grep -q '^<0>' /tmp/evil-layouts.txt && grep -qF 'evil\n<0>forged' /tmp/evil-layouts.txt"
check "daxrdmactl layouts --json: valid UTF-8 JSON, the bad byte shown" \
	json "[l['path'] for l in d['layouts']] == ['evil\\n<0>forged \\x1b[2J \\\\xff']" layouts
kill $evil
wait $evil 2>/dev/null
daemon_down
check "SIGTERM: clean exit" test $? -eq 0
summary
