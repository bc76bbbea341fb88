#!/bin/bash
# build-initramfs.sh KVER OUT [MODBASE]: a tiny initramfs (busybox-static,
# the modules that mount the host root over 9p with a tmpfs overlay, and
# init-stage1.sh). Everything else the guest loads later from the host's
# /lib/modules, or from MODBASE/lib/modules (default /) for a kernel that is
# not installed (scripts/fetch-guest-kernel).
set -euo pipefail
KVER=$1 OUT=$2 MODBASE=${3:-/}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$WORK"/{bin,proc,sys,dev,host,rw,newroot,mods}
cp /bin/busybox "$WORK/bin/busybox"
for a in sh mount mkdir insmod switch_root cat echo sleep; do
	ln -s busybox "$WORK/bin/$a"
done
# modprobe resolves the load order; busybox insmod needs plain .ko files.
i=0
for f in $(for m in virtio_pci 9pnet_virtio 9p overlay; do modprobe -d "$MODBASE" -S "$KVER" --show-depends "$m"; done |
	   awk '$1 == "insmod" && !seen[$2]++ { print $2 }'); do
	n=$(printf '%02d.ko' $i)
	case "$f" in
	*.ko.xz) xz -dc "$f" > "$WORK/mods/$n" ;;
	*.ko.zst) zstd -qdc "$f" > "$WORK/mods/$n" ;;
	*.ko.gz) gzip -dc "$f" > "$WORK/mods/$n" ;;
	*) cp "$f" "$WORK/mods/$n" ;;
	esac
	i=$((i + 1))
done
cp "$HERE/init-stage1.sh" "$WORK/init"
chmod +x "$WORK/init"
(cd "$WORK" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
