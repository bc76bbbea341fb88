#!/bin/bash
# systemctl start daxrdmad for real (issue 8 §4): systemd is PID 1 in this
# guest (run-vm.sh DXVM_INIT=systemd), the project is installed with
# "meson install" into the guest's overlay, and the shipped unit runs as it
# is: Type=notify start, daxrdmactl, a put/get round trip with the daxrdma
# tool, a recall by a local truncate, systemctl reload, the watchdog,
# systemctl stop. It also shows that the sandbox RestrictSUIDSGID= would set
# up stops the start with the reason (it refuses openat2).
. "$DXVM_GUEST/lib.sh"
export PATH=/usr/local/sbin:/usr/local/bin:$PATH
LOP=$DX_BUILD/tests/vm/dx-localop
CONF=/usr/local/etc/daxrdma/daxrdmad.conf
check "systemd is PID 1" test "$(cat /proc/1/comm)" = systemd
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
check "meson install into the guest" bash -c "meson install -C $DX_BUILD --no-rebuild --destdir / > /tmp/install.log 2>&1 && ldconfig"
check "the unit is installed" test -f /lib/systemd/system/daxrdmad.service
check "the installed unit is the shipped one" \
	bash -c "sed -e 's|@SBINDIR@|/usr/local/sbin|; s|@SYSCONFDIR@|/usr/local/etc|' $DX_SRC/systemd/daxrdmad.service | cmp - /lib/systemd/system/daxrdmad.service"
groupadd -f daxrdma
mkdir -p /mnt/pmem/export
cat > $CONF <<CONF
listen = { address = "$GUEST_IP"; port = 20049; };
recall_timeout_ms = 2000;
exports = ( { name = "pmem"; path = "/mnt/pmem/export"; acl = [ "192.168.100.0/24" ]; } );
CONF
systemctl daemon-reload

t0=$(now_ms)
check "systemctl start daxrdmad" systemctl start daxrdmad
echo "   start took $(($(now_ms) - t0)) ms"
check "it is active (Type=notify: READY=1 came)" test "$(systemctl is-active daxrdmad)" = active
systemctl status daxrdmad --no-pager | head -12
check "its STATUS= line is shown" bash -c "systemctl show daxrdmad -p StatusText | grep -q 'listening on $GUEST_IP:20049'"
check "daxrdmactl status answers" daxrdmactl status
check "... the export is served" json "d['exports'][0]['name'] == 'pmem'" status

head -c 3000000 /dev/urandom > /tmp/src.bin
check "daxrdma put" daxrdma put /tmp/src.bin $GUEST_IP:pmem/round.bin
check "daxrdma get" daxrdma get $GUEST_IP:pmem/round.bin /tmp/back.bin
check "the round trip is byte for byte" cmp /tmp/src.bin /tmp/back.bin
check "... and so is the file" cmp /tmp/src.bin /mnt/pmem/export/round.bin

$DXC $GUEST_IP pmem held write 0 8192 4 > /dev/null
$DXC $GUEST_IP pmem held hold 0 8192 4 cooperate > /tmp/h.out 2>&1 &
h=$!
check "a client holds a layout" wait_line /tmp/h.out READY
$LOP truncate /mnt/pmem/export/held > /tmp/trunc.out
cat /tmp/trunc.out
check "a local truncate recalls it and completes" grep -q '^truncate rc=0 ' /tmp/trunc.out
check "the client was recalled (local use) and returned it" \
	bash -c "grep -q 'RECALLED reason=1' /tmp/h.out && grep -q RETURNED /tmp/h.out"
wait $h

mkdir -p /mnt/pmem/second
sed -i 's|^exports = ( |exports = ( { name = "second"; path = "/mnt/pmem/second"; acl = [ "192.168.100.0/24" ]; }, |' $CONF
check "systemctl reload daxrdmad" systemctl reload daxrdmad
check "the reload is applied: two exports" eventually json "len(d['exports']) == 2" status
check "still active" test "$(systemctl is-active daxrdmad)" = active

# WatchdogSec=30s: daxrdmad pings every 15 s; systemd notes each ping.
w0=$(systemctl show daxrdmad -p WatchdogTimestampMonotonic --value)
sleep 17
w1=$(systemctl show daxrdmad -p WatchdogTimestampMonotonic --value)
echo "   watchdog pings at $w0 and $w1 us"
check "the watchdog is pinged" test "${w1:-0}" -gt "${w0:-0}"
check "... and holds: still active" test "$(systemctl is-active daxrdmad)" = active

systemd-analyze security daxrdmad --no-pager > /tmp/security.txt 2>&1
tail -1 /tmp/security.txt
check "systemd-analyze security gives an exposure score" grep -q 'Overall exposure level for daxrdmad.service' /tmp/security.txt
[ -n "${DXVM_SHARE:-}" ] && cp /tmp/security.txt "$DXVM_SHARE/security.txt"

check "systemctl stop daxrdmad" systemctl stop daxrdmad
check "it stopped cleanly (exit 0)" \
	bash -c "[ \"\$(systemctl show daxrdmad -p Result --value)\" = success ] && [ \"\$(systemctl show daxrdmad -p ExecMainStatus --value)\" = 0 ]"
check "its socket is gone" test ! -e /run/daxrdmad/ctl.sock

# What RestrictSUIDSGID= would do: openat2 refused, the start stops, the
# journal says why.
systemd-run --unit=dx-restricted -p RestrictSUIDSGID=yes -p Type=notify -p NotifyAccess=main \
	/usr/local/sbin/daxrdmad -c $CONF > /tmp/run.out 2>&1
sleep 1
journalctl -u dx-restricted --no-pager > /tmp/restricted.log 2>&1
tail -3 /tmp/restricted.log
check "under RestrictSUIDSGID=yes the start fails" bash -c "systemctl is-failed dx-restricted || grep -q 'failed' /tmp/run.out"
check "... saying that openat2 is refused" grep -q 'openat2(RESOLVE_BENEATH) is refused' /tmp/restricted.log
journalctl -u daxrdmad --no-pager > /tmp/daemon.log 2>&1
summary
