#!/bin/bash
# daxrdmad starts on rxe0 with an FS-DAX export and answers daxrdmactl;
# tells systemd READY/STATUS/RELOADING/STOPPING; reloads (bad file: keeps the
# old one); refuses a mode that cannot work; SIGTERM stops it cleanly.
. "$DXVM_GUEST/lib.sh"
D=$DX_BUILD/src/daemon/daxrdmad
CTL=$DX_BUILD/src/ctl/daxrdmactl
SOCK=/run/daxrdmad/ctl.sock
NOTIFY=/run/notify.sock
NLOG=/tmp/notify.log

check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
mkdir -p /mnt/pmem/export /dev/shm/scratch
groupadd -f daxrdma

write_conf() { # FILE PORT [EXTRA-EXPORT-TEXT] [MR_MODE]
	cat > "$1" <<CONF
listen = { address = "$GUEST_IP"; port = $2; };
recall_timeout_ms = 2000;
exports = (
	{
		name = "pmem";
		path = "/mnt/pmem/export";
		acl = [ "192.168.100.0/24" ];
		mr_mode = "${4:-auto}";
	}$3
);
CONF
}
write_conf /tmp/d.conf 20049

python3 "$DXVM_GUEST/notify-listener.py" $NOTIFY $NLOG &
for _ in $(seq 50); do [ -S $NOTIFY ] && break; sleep 0.1; done
wait_notify() { # PATTERN: deadline 20 s
	for _ in $(seq 200); do grep -q "$1" $NLOG 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

NOTIFY_SOCKET=$NOTIFY $D -c /tmp/d.conf > /tmp/daemon.log 2>&1 &
dpid=$!
check "daxrdmad tells systemd READY=1" wait_notify '^READY=1'
check "STATUS= names the listener and device" grep -q "^STATUS=listening on $GUEST_IP:20049 (rxe0), 1 export" $NLOG

$CTL status --json > /tmp/status.json
check "daxrdmactl status --json answers" test -s /tmp/status.json
cat /tmp/status.json
jq() { python3 -c "import json,sys; d=json.load(open('/tmp/status.json')); sys.exit(0 if ($1) else 1)"; }
check "status: device rxe0" jq "d['device'] == 'rxe0'"
check "status: listening on $GUEST_IP:20049" jq "d['listen'] == '$GUEST_IP:20049'"
check "status: pid is the daemon's" jq "d['pid'] == $dpid"
check "status: the export is FS-DAX" jq "d['exports'][0]['kind'] == 'fsdax'"
check "status: FS-DAX on 6.1 rxe gets mr_mode bounce" jq "d['exports'][0]['mr_mode'] == 'bounce'"
$CTL status
check "daxrdmactl status (text) shows the device" bash -c "$CTL status | grep -q '^device: *rxe0'"
$CTL exports
$CTL exports --json > /tmp/status.json
check "exports --json: why bounce (ibv_reg_mr EOPNOTSUPP)" \
	jq "'Operation not supported' in d['exports'][0]['mr_mode_reason'] and d['exports'][0]['dax']"
check "control socket mode 0660, group daxrdma" test "$(stat -c '%a %G' $SOCK)" = "660 daxrdma"

gid=$(getent group daxrdma | cut -d: -f3)
check "a daxrdma group member may read status" \
	setpriv --reuid=65534 --regid="$gid" --clear-groups $CTL status
setpriv --reuid=65534 --regid="$gid" --clear-groups $CTL reload > /tmp/member-reload.out 2>&1
check "a daxrdma group member may not reload (needs root)" \
	bash -c "test $? -eq 1 && grep -q 'needs root' /tmp/member-reload.out"
check "others cannot use the socket" bash -c "! setpriv --reuid=65534 --regid=65534 --clear-groups $CTL status"

# A bad file on reload: every error reported, the old configuration stays.
write_conf /tmp/d.conf 70000
$CTL reload > /tmp/reload.out 2>&1
rc=$?
cat /tmp/reload.out
check "reload of a bad file fails" test $rc -ne 0
check "reload reports file:line" grep -q '^/tmp/d.conf:1: listen.port: 70000 is out of range' /tmp/reload.out
$CTL status --json > /tmp/status.json
check "after a failed reload the old config serves on" jq "d['listen'] == '$GUEST_IP:20049' and d['reloads_failed'] == 1"

# A good file on SIGHUP: a second export on tmpfs, where pinned MRs work.
write_conf /tmp/d.conf 20050 ', { name = "scratch"; path = "/dev/shm/scratch"; acl = [ "0.0.0.0/0" ]; }'
: > $NLOG
kill -HUP $dpid
check "SIGHUP: READY=1 again after the reload" wait_notify '^READY=1'
check "SIGHUP: RELOADING=1 sent" grep -q '^RELOADING=1' $NLOG
sleep 0.2
$CTL status --json > /tmp/status.json
cat /tmp/status.json
check "after SIGHUP: 2 exports and the new port" jq "len(d['exports']) == 2 and d['listen'] == '$GUEST_IP:20050' and d['reloads'] == 1"
check "tmpfs export gets mr_mode pinned" jq "d['exports'][1]['kind'] == 'fs' and d['exports'][1]['mr_mode'] == 'pinned'"

# A second daemon on the same socket must not steal it.
write_conf /tmp/d2.conf 20051
timeout 20 $D -c /tmp/d2.conf > /tmp/second.log 2>&1
rc=$?
check "a second daxrdmad refuses the busy control socket, at once (no hang: $rc)" \
	bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'another daxrdmad is running' /tmp/second.log"
cat /tmp/second.log
check "the first daemon still answers" $CTL status

: > $NLOG
kill -TERM $dpid
stopped=1
for _ in $(seq 100); do kill -0 $dpid 2>/dev/null || { stopped=0; break; }; sleep 0.1; done
check "SIGTERM stops daxrdmad within 10 s" test $stopped -eq 0
wait $dpid
check "daxrdmad exits 0 on SIGTERM" test $? -eq 0
check "STOPPING=1 sent" grep -q '^STOPPING=1' $NLOG
check "the control socket is removed" test ! -e $SOCK
$CTL status > /tmp/ctl-down.out 2>&1
check "daxrdmactl without a daemon fails clearly" bash -c "test $? -eq 1 && grep -q 'is daxrdmad running' /tmp/ctl-down.out"

# A configured MR mode that cannot work on the export stops the start.
write_conf /tmp/pinned.conf 20049 '' pinned
timeout 20 $D -c /tmp/pinned.conf > /tmp/pinned.log 2>&1
rc=$?
cat /tmp/pinned.log
check "mr_mode pinned on FS-DAX: exit 1 with file:line and the reason" \
	bash -c "test $rc -eq 1 && grep -q '^/tmp/pinned.conf:4: export \"pmem\" (/mnt/pmem/export): ibv_reg_mr on a mapping of the export fails: Operation not supported' /tmp/pinned.log"
echo "--- daemon log"
cat /tmp/daemon.log
summary
