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

TEST=
for arg in $(cat /proc/cmdline); do
	case "$arg" in dxvm.test=*) TEST=${arg#dxvm.test=} ;; esac
done
SHARE=/dxvm/share
mkdir -p $SHARE
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none share $SHARE ||
	echo "stage2: cannot mount the share"
export DXVM_SHARE=$SHARE
[ -f $SHARE/env ] && . $SHARE/env

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
