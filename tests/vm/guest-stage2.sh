#!/bin/bash
# PID 1 in the guest (root: the host's / read-only under a tmpfs overlay).
# Mounts the rw share, runs the test named on the kernel command line, writes
# its exit status to the share and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
ln -sf /proc/self/fd /dev/fd
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t configfs configfs /sys/kernel/config 2>/dev/null
hostname dxguest
ip link set lo up

TEST= INIT= MODS=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	dxvm.test=*) TEST=${arg#dxvm.test=} ;;
	dxvm.init=*) INIT=${arg#dxvm.init=} ;;
	dxvm.modules=*) MODS=${arg#dxvm.modules=} ;;
	esac
done
# A kernel that is not installed on the host (scripts/fetch-guest-kernel):
# its modules, where modprobe looks for them.
if [ -n "$MODS" ] && [ ! -d /lib/modules/$(uname -r) ]; then
	mkdir -p /lib/modules/$(uname -r) && mount --bind "$MODS" /lib/modules/$(uname -r)
fi
SHARE=/dxvm/share
mkdir -p $SHARE
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none share $SHARE ||
	echo "stage2: cannot mount the share"
export DXVM_SHARE=$SHARE
[ -f $SHARE/env ] && . $SHARE/env

if [ "$INIT" = systemd ]; then
	# systemd as PID 1, on the host's units, booted into dxvm.target only:
	# the test runs as a service and powers the guest off when it ends.
	mkdir -p /etc/systemd/system /etc/tmpfiles.d
	# The host's /tmp stays visible (checkouts may live there): no cleaning
	# of it at boot, no tmpfs over it.
	ln -sf /dev/null /etc/tmpfiles.d/tmp.conf
	ln -sf /dev/null /etc/systemd/system/tmp.mount
	cat > /etc/systemd/system/dxvm.target <<UNIT
[Unit]
Description=daxrdma test rig
Requires=dxvm-test.service
After=dxvm-test.service
AllowIsolate=yes
UNIT
	cat > /etc/systemd/system/dxvm-test.service <<UNIT
[Unit]
Description=daxrdma guest test $TEST
After=basic.target
[Service]
Type=oneshot
TimeoutStartSec=infinity
ExecStart=/bin/bash -c 'echo "stage2: running $TEST" > /dev/console; export DXVM_SHARE=$SHARE; . $SHARE/env; bash $TEST > $SHARE/guest.log 2>&1; echo \$\$? > $SHARE/exit-status; cat $SHARE/guest.log > /dev/console'
ExecStopPost=/bin/bash -c 'echo "stage2: test exit status \$\$(cat $SHARE/exit-status)" > /dev/console; sync; umount $SHARE; echo o > /proc/sysrq-trigger'
UNIT
	# /run is ours already: systemd takes it over as it is.
	echo "stage2: exec systemd"
	exec /lib/systemd/systemd --unit=dxvm.target --log-target=console --log-level=notice
fi

echo "stage2: running $TEST"
bash "$TEST" > >(tee $SHARE/guest.log) 2>&1
rc=$?
sleep 0.2 # let tee drain
echo "stage2: test exit status $rc"
echo $rc > $SHARE/exit-status
sync
umount $SHARE
echo o > /proc/sysrq-trigger
sleep 30
