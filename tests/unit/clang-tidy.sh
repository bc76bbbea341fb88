#!/bin/bash
# clang-tidy (clang-analyzer and bugprone, as .clang-tidy sets them) over
# every C file of src/, with BUILD_ROOT's compile_commands.json. Any finding
# fails the test.
# Usage: clang-tidy.sh SOURCE_ROOT BUILD_ROOT
set -uo pipefail
src=$1 build=$2
cd "$src" || exit 1
# One per core, four files each: it is the unit suite's longest test.
out=$(printf '%s\0' src/*/*.c | xargs -0 -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet 2>&1)
rc=$?
grep -E 'warning:|error:' <<< "$out" | sort -u
n=$(grep -cE '(warning|error):' <<< "$out")
echo "clang-tidy: $(ls src/*/*.c | wc -l) files, $n findings"
[ $rc -eq 0 ] && [ "$n" -eq 0 ]
