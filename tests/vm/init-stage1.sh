#!/bin/sh
# PID 1 of the initramfs: mount the host's / (9p, read-only) under a tmpfs
# overlay and switch_root into it, running guest-stage2.sh from the host tree.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in /mods/*.ko; do insmod "$m" || echo "stage1: insmod $m failed" > /dev/console; done
STAGE2=
for arg in $(cat /proc/cmdline); do
	case "$arg" in dxvm.stage2=*) STAGE2=${arg#dxvm.stage2=} ;; esac
done
die() { echo "stage1: $*" > /dev/console; echo o > /proc/sysrq-trigger; sleep 10; }
# cache=loose: the host tree does not change while the guest runs a test.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro hostroot /host ||
	die "cannot mount the host root over 9p"
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot ||
	die "cannot mount the overlay"
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot /bin/bash "$STAGE2"
die "switch_root failed"
