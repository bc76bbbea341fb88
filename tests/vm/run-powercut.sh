#!/bin/bash
# run-powercut.sh: the power-cut test (guest/powercut.sh), DXT_CUTS cuts
# (default 2) and a last boot that checks the last one. Each round boots the
# guest on three file-backed NVDIMMs, new for the run (1 GiB FS-DAX served,
# 384 MiB FS-DAX for the control, 256 MiB device-DAX), lets it check the previous cut and start the load, and kills
# QEMU (SIGKILL) at a random moment 0.5-4.5 s after the load is running.
# Env: as run-vm.sh (DX_BUILD, DXVM_KROOT, DXVM_TAG, DXT_*).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${DX_BUILD:?set DX_BUILD to the meson build directory}"
CUTS=${DXT_CUTS:-2}
# The share run-vm.sh gives guest/powercut.sh (its naming, repeated).
SHARE=$(realpath "$DX_BUILD")/vm/powercut
if [ -n "${DXVM_KROOT:-}" ]; then
	SHARE=$SHARE-${DXVM_KVER:-$(ls "$(realpath "$DXVM_KROOT")/usr/lib/modules" | sort -V | tail -1)}
fi
[ -n "${DXVM_TAG:-}" ] && SHARE=$SHARE+$DXVM_TAG
mkdir -p "$SHARE"
NV0=$SHARE/nvdimm-fsdax.img NV1=$SHARE/nvdimm-control.img NV2=$SHARE/nvdimm-devdax.img
rm -f "$NV0" "$NV1" "$NV2" "$SHARE"/cut-*
truncate -s 1G "$NV0" && truncate -s 384M "$NV1" && truncate -s 256M "$NV2" || exit 125
export DXVM_NVDIMM=$NV0:$NV1:$NV2

for round in $(seq "$CUTS"); do
	cut_s=$(awk -v seed="$RANDOM" 'BEGIN { srand(seed); printf "%.2f", 0.5 + 4 * rand() }')
	DXT_PC_ROUND=$round DXVM_CUT_MARK=load-running DXVM_CUT_S=$cut_s \
		"$HERE/run-vm.sh" "$HERE/guest/powercut.sh" > "$SHARE/round-$round.log" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|   )' "$SHARE/guest.log"
	grep 'run-vm:' "$SHARE/round-$round.log"
	if [ ! -f "$SHARE/cut" ]; then
		echo "run-powercut: round $round ended without a power cut (status $rc)" >&2
		tail -30 "$SHARE/round-$round.log" >&2
		exit 1
	fi
	cp "$SHARE/cut" "$SHARE/cut-$round"
	cp "$SHARE/guest.log" "$SHARE/round-$round-guest.log"
	# A round ends in the cut, not in a status: its checks count here.
	grep -q '^FAIL' "$SHARE/guest.log" && failed_rounds="${failed_rounds:-} $round"
done
DXT_PC_ROUND=$((CUTS + 1)) DXT_PC_FINAL=1 "$HERE/run-vm.sh" "$HERE/guest/powercut.sh"
rc=$?
if [ -n "${failed_rounds:-}" ]; then
	echo "run-powercut: checks failed in the load of round(s)$failed_rounds (round-N-guest.log)" >&2
	exit 1
fi
exit $rc
