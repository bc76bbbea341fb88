#!/bin/bash
# run-vm.sh GUEST_SCRIPT: boot the Debian kernel under QEMU/TCG with the host's
# root shared read-only over 9p, emulated pmem (memmap=) and a NIC on a hub
# that goes nowhere, run GUEST_SCRIPT inside, and exit with its status.
#   124: QEMU timed out     125: the guest died without reporting a status
# Env: DX_BUILD (build dir, required), DXVM_TIMEOUT (s, default 300),
#      DXVM_MEM (default 6G: the memmap= regions need RAM above 4G),
#      DXVM_PMEM (memmap= of /dev/pmem0, FS-DAX; default 1G!4G),
#      DXVM_PMEM2 (memmap= of /dev/pmem1, made device-DAX by devdax_up; default 512M!6G),
#      DXVM_KVER (default: the newest kernel in /lib/modules),
#      DXVM_KROOT (a kernel fetched by scripts/fetch-guest-kernel, not installed:
#      the directory holding usr/lib/modules/KVER/vmlinuz; logs then go to
#      <test name>-KVER/),
#      DXVM_INIT=systemd (systemd as PID 1, the test as a service; default: bash);
#      DXVM_TAG (a variant of the test: its logs go to <dir>+TAG/);
#      DXVM_NVDIMM (FILE[:FILE...]: each file, created by the caller, is an
#      emulated NVDIMM backed by it, whose bytes survive QEMU being killed,
#      as an NVDIMM's survive a power cut; the memmap= regions go then),
#      DXVM_CUT_MARK and DXVM_CUT_S (a power cut: QEMU is killed with SIGKILL
#      DXVM_CUT_S seconds after the guest creates the file DXVM_CUT_MARK in
#      its share; the run then ends with status 0 and the file "cut" in the
#      share says so);
#      DXBENCH_*, DXSOAK_* and DXT_* settings pass through to the guest.
# Logs stay in $DX_BUILD/vm/<test name>/ (console.log, guest.log).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TEST=$(realpath "$1")
NAME=$(basename "$TEST" .sh)
: "${DX_BUILD:?set DX_BUILD to the meson build directory}"
DX_BUILD=$(realpath "$DX_BUILD")
MODBASE=/
APPEND_MODS=
VMDIR=$DX_BUILD/vm
SHARE=$VMDIR/$NAME
if [ -n "${DXVM_KROOT:-}" ]; then
	MODBASE=$(realpath "$DXVM_KROOT")/usr
	KVER=${DXVM_KVER:-$(ls "$MODBASE/lib/modules" | sort -V | tail -1)}
	KERNEL=$MODBASE/lib/modules/$KVER/vmlinuz
	APPEND_MODS="dxvm.modules=$MODBASE/lib/modules/$KVER"
	SHARE=$VMDIR/$NAME-$KVER
else
	KVER=${DXVM_KVER:-$(ls /lib/modules | sort -V | tail -1)}
	KERNEL=/boot/vmlinuz-$KVER
fi
# A variant of a test (DXVM_TAG, e.g. odp) keeps its own logs.
[ -n "${DXVM_TAG:-}" ] && SHARE=$SHARE+$DXVM_TAG
# A long soak (DXSOAK_S) gets its own seconds on top.
TIMEOUT=${DXVM_TIMEOUT:-$((300 + ${DXSOAK_S:-0}))}
INITRD=$VMDIR/initramfs-$KVER.cpio.gz

if [ ! -r "$KERNEL" ]; then
	echo "run-vm: no guest kernel $KERNEL (scripts/install-deps installs linux-image-amd64)" >&2
	exit 125
fi
mkdir -p "$SHARE"
if [ ! -s "$INITRD" ] || [ "$HERE/init-stage1.sh" -nt "$INITRD" ]; then
	bash "$HERE/build-initramfs.sh" "$KVER" "$INITRD" "$MODBASE" || exit 125
fi
cat > "$SHARE/env" <<ENV
export DX_BUILD=$DX_BUILD
export DX_SRC=$(realpath "$HERE/../..")
export DXVM_GUEST=$HERE/guest
ENV
# Settings of guest scripts (DXBENCH_*, DXSOAK_*, DXT_*) pass through.
for v in ${!DXBENCH_@} ${!DXSOAK_@} ${!DXT_@}; do
	echo "export $v=${!v@Q}" >> "$SHARE/env"
done

# Persistent memory: memmap= regions of guest RAM, or file-backed NVDIMMs.
MACHINE=pc MEMORY=${DXVM_MEM:-6G} PMEM_ARGS=()
PMEM_APPEND="memmap=${DXVM_PMEM:-1G!4G} memmap=${DXVM_PMEM2:-512M!6G}"
if [ -n "${DXVM_NVDIMM:-}" ]; then
	MACHINE=pc,nvdimm=on MEMORY=${DXVM_MEM:-4G},slots=4,maxmem=32G PMEM_APPEND=
	i=0
	IFS=: read -ra nvdimms <<< "$DXVM_NVDIMM"
	for f in "${nvdimms[@]}"; do
		PMEM_ARGS+=(-object "memory-backend-file,id=nv$i,share=on,mem-path=$f,size=$(stat -c %s "$f")"
			-device "nvdimm,memdev=nv$i,id=nvdimm$i")
		i=$((i + 1))
	done
fi

boot() {
	rm -f "$SHARE/exit-status" "$SHARE/guest.log" "$SHARE/cut"
	[ -n "${DXVM_CUT_MARK:-}" ] && rm -f "$SHARE/$DXVM_CUT_MARK"
	timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
		-accel tcg,thread=multi -M "$MACHINE" -cpu max -smp 2 -m "$MEMORY" "${PMEM_ARGS[@]}" \
		-kernel "$KERNEL" -initrd "$INITRD" \
		-append "console=ttyS0 panic=-1 mitigations=off loglevel=4 $PMEM_APPEND dxvm.stage2=$HERE/guest-stage2.sh dxvm.test=$TEST dxvm.init=${DXVM_INIT:-bash} $APPEND_MODS" \
		-display none -monitor none -serial file:"$SHARE/console.log" -no-reboot \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs local,path="$SHARE",mount_tag=share,security_model=none,multidevs=remap \
		-netdev hubport,id=n0,hubid=0 -device virtio-net-pci,netdev=n0 &
	local q=$!
	[ -n "${DXVM_CUT_MARK:-}" ] && cut_when_marked $q &
	{ wait $q; } 2>/dev/null # (a cut: bash would say "Killed")
	local rc=$?
	wait
	return $rc
}

# The power cut: SIGKILL to the QEMU under timeout(1) (pid $1), DXVM_CUT_S
# seconds after the guest made the mark.
cut_when_marked() {
	while kill -0 "$1" 2>/dev/null; do
		if [ -e "$SHARE/$DXVM_CUT_MARK" ]; then
			sleep "${DXVM_CUT_S:-1}"
			pkill -KILL -P "$1" -x qemu-system-x86 && echo "${DXVM_CUT_S:-1}" > "$SHARE/cut"
			return
		fi
		sleep 0.05
	done
}

start=$SECONDS
for try in 1 2; do
	boot
	qrc=$?
	if [ -f "$SHARE/cut" ]; then
		echo "run-vm: $NAME: power cut (QEMU killed) $(cat "$SHARE/cut") s after $DXVM_CUT_MARK"
		exit 0
	fi
	if [ $qrc -eq 124 ]; then
		echo "run-vm: $NAME timed out after ${TIMEOUT}s; console: $SHARE/console.log" >&2
		tail -20 "$SHARE/console.log" >&2
		exit 124
	fi
	[ -f "$SHARE/exit-status" ] && break
	# A rare early-boot oops under multi-threaded TCG: retry once if the test never started.
	grep -q 'stage2: running\|stage2: exec systemd' "$SHARE/console.log" && break
	cp "$SHARE/console.log" "$SHARE/console-failed-boot-$try.log"
	echo "run-vm: guest died before the test started (console kept); retrying" >&2
done
cat "$SHARE/guest.log" 2>/dev/null
if [ ! -f "$SHARE/exit-status" ]; then
	echo "run-vm: $NAME: the guest reported no exit status; console: $SHARE/console.log" >&2
	tail -30 "$SHARE/console.log" >&2
	exit 125
fi
rc=$(cat "$SHARE/exit-status")
echo "run-vm: $NAME: exit status $rc after $((SECONDS - start)) s"
exit "$rc"
