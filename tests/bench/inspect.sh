#!/bin/bash
# crpc inspect on a process tree of NPROCS processes holding NFDS fds in all
# (tests/bench/inspect_tree.c: pipes, UNIX socket pairs, loopback TCP,
# eventfd, timerfd, epoll, inotify, memfd, files): the median wall time of the
# whole command over RUNS runs, for the human and the --json output, and the
# inspection's own time as it reports it. Not a test; the goal (docs/benchmarks.md) is a
# median of at most 50 ms for 100 processes and 1000 fds.
#
#   tests/bench/inspect.sh [-n RUNS] [-p NPROCS] [-f NFDS] [-b BUILD_DIR] [-r RAW]
#
# -r RAW appends every run to RAW as "inspect crpc US" (human output) and
# "inspect-json crpc US" lines, for tests/bench/run.
#
# Needs root (like crpc inspect) and a build with the tests (the helper).
set -euo pipefail

runs=30 nprocs=100 nfds=1000 raw=""
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${CRPC_BUILD:-$src/build}
while getopts "n:p:f:b:r:h" o; do
	case $o in
	n) runs=$OPTARG ;;
	p) nprocs=$OPTARG ;;
	f) nfds=$OPTARG ;;
	b) build=$OPTARG ;;
	r) raw=$OPTARG ;;
	*)
		sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
		exit 2
		;;
	esac
done
crpc=${CRPC_BIN:-$build/crpc}
helper=$build/tests/inspect_tree
[ "$(id -u)" -eq 0 ] || { echo "inspect.sh: run as root" >&2; exit 3; }
[ -x "$crpc" ] || { echo "inspect.sh: no crpc at $crpc (build first, or -b DIR)" >&2; exit 2; }
[ -x "$helper" ] || { echo "inspect.sh: no helper at $helper (build with the tests)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/crpc-bench-inspect.XXXXXX)
root=""
cleanup() {
	if [ -n "$root" ] && [ -e "/proc/$root" ]; then
		kill -TERM "$root" 2>/dev/null || true # its children die with it (PR_SET_PDEATHSIG)
		for _ in $(seq 100); do [ -e "/proc/$root" ] || break; sleep 0.05; done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$helper" -p "$nprocs" -f "$nfds" "$tmp/root.pid"
root=$(cat "$tmp/root.pid")

# what the tree holds, as crpc sees it
"$crpc" inspect --json "$root" >"$tmp/doc.json" || true
read -r got_procs got_fds < <(/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["n_processes"], d["n_fds"])' "$tmp/doc.json")

# median of a list of numbers (one per line)
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# time_runs ARGS...: wall time of each run in ms, one per line
time_runs() {
	local i t0 t1
	for ((i = 0; i < runs; i++)); do
		t0=${EPOCHREALTIME/[.,]/}
		"$crpc" inspect "$@" "$root" >/dev/null 2>&1 || true
		t1=${EPOCHREALTIME/[.,]/}
		echo "$(((t1 - t0) / 1000)).$(printf %03d $(((t1 - t0) % 1000)))"
	done
}

"$crpc" inspect "$root" >/dev/null 2>&1 || true # warm the page cache
time_runs >"$tmp/human"
time_runs --json >"$tmp/json"
for ((i = 0; i < runs; i++)); do
	"$crpc" inspect --json "$root" >"$tmp/run.$i.json" 2>/dev/null || true
done
/usr/bin/python3 -c '
import json, sys
for i in range(int(sys.argv[2])):
    print(json.load(open("%s/run.%d.json" % (sys.argv[1], i)))["elapsed_ms"])' "$tmp" "$runs" >"$tmp/lib"

if [ -n "$raw" ]; then
	awk '{ printf "inspect crpc %d\n", $1 * 1000 }' "$tmp/human" >>"$raw"
	awk '{ printf "inspect-json crpc %d\n", $1 * 1000 }' "$tmp/json" >>"$raw"
fi
echo "crpc inspect: $got_procs processes, $got_fds fds, $runs runs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '  %-28s median %8.1f ms   min %8.1f ms   max %8.1f ms\n' \
	"human output (whole command)" "$(median <"$tmp/human")" "$(sort -n "$tmp/human" | head -1)" "$(sort -n "$tmp/human" | tail -1)" \
	"--json (whole command)" "$(median <"$tmp/json")" "$(sort -n "$tmp/json" | head -1)" "$(sort -n "$tmp/json" | tail -1)" \
	"inspection alone (elapsed_ms)" "$(median <"$tmp/lib")" "$(sort -n "$tmp/lib" | head -1)" "$(sort -n "$tmp/lib" | tail -1)"
echo "  goal: median <= 50 ms (human output, whole command)"
