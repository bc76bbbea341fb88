#!/bin/bash
# cppcheck over every C file of the project: warnings, style, performance and
# portability findings fail the test. Declarations stay at the top of their
# block by choice, so variableScope is not reported.
# Usage: cppcheck.sh SOURCE_ROOT BUILD_ROOT
set -uo pipefail
src=$1 build=$2
cd "$src" || exit 1
queue=$(echo '#include <sys/queue.h>' | cpp -H -o /dev/null 2>&1 | awk '/queue.h/ {print $2; exit}')
exec cppcheck --quiet --error-exitcode=1 --std=c11 --inline-suppr \
	--enable=warning,style,performance,portability \
	--suppress=missingIncludeSystem --suppress=variableScope \
	${queue:+--include=$queue} -I "$build" -I proto -I src \
	src bench tests/vm/helpers tests/unit tests/fuzz
