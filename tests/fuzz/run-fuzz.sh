#!/bin/bash
# run-fuzz.sh TARGET CORPUS: run the libFuzzer TARGET for $DXFUZZ_S seconds
# (default 60), with $DXFUZZ_ARGS if set, from the seed corpus CORPUS (in the tree, only read) and what
# it finds meanwhile ($DXFUZZ_OUT/found). Every seed runs first, so a
# regression input in CORPUS fails at once. Prints the executions; a crash,
# leak or timeout fails the test and leaves the input in $DXFUZZ_OUT (add it
# to CORPUS once fixed).
set -uo pipefail
target=$1 corpus=$2
out=${DXFUZZ_OUT:?}
secs=${DXFUZZ_S:-30}
name=$(basename "$target")
mkdir -p "$out/found"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# shellcheck disable=SC2086 # DXFUZZ_ARGS: a target's own options (meson.build), split on spaces
"$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 ${DXFUZZ_ARGS:-} \
	-artifact_prefix="$out/" "$out/found" "$corpus" > "$out/log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log")
cov=$(grep -o 'cov: [0-9]*' "$out/log" | tail -1)
echo "$name: ${execs:-?} executions in ${secs} s, $cov, $(ls "$corpus" | wc -l) seeds, $(ls "$out/found" | wc -l) found inputs"
if [ $rc -ne 0 ]; then
	grep -E 'ERROR|SUMMARY|==[0-9]+==|artifact|Test unit written' "$out/log" | head -30
	echo "$name: FAILED (exit $rc); log: $out/log"
	exit 1 # libFuzzer's 77 would read as a skip to meson
fi
exit 0
