#!/usr/bin/env bash
# tests/bench/shim_runc.sh - the cost of crpc's shim under runc.
#
# Runs one busybox container (tests/helpers/make-busybox-bundle) and takes it
# through `runc checkpoint` + `runc restore -d` again and again, alternating
# (ABBA order) between runc pointed at the shim (a `criu` symlink to crpc,
# with the real CRIU in $CRPC_CRIU) and runc pointed straight at the same
# CRIU. Each run's time is the checkpoint's wall time plus the restore's.
# Prints every run, the median of each side, the ratio of the medians and
# the median of the ratios of the pairs run next to each other. Not a test:
# CTest does not run it. Run as root.
#
# The shim runs with a configuration that has no hooks and traces each
# session into the work directory, as it would in use (--no-trace turns the
# trace off).

set -euo pipefail

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=10
WARMUP=1
TRACE=1

usage() {
	cat <<EOF
Usage: $PROG [-n RUNS] [--crpc PATH] [--criu PATH] [--no-trace] [--warmup N]
       [--raw FILE] [--keep] [--help]

Checkpoint and restore a runc container through crpc's shim and straight
to the same CRIU, alternating, and print the median time of each and the
ratio shim/direct.

  -n RUNS        checkpoint+restore cycles per side (default $RUNS)
  --crpc PATH    crpc binary the shim symlink points to (default build/crpc)
  --criu PATH    the real CRIU (default \$CRPC_CRIU, else /etc/crpc/criu-path)
  --no-trace     run the shim with shim.trace: false
  --warmup N     untimed cycles per side first (default $WARMUP)
  --raw FILE     append every timed cycle to FILE as "runc-shim crpc US" and
                 "runc-shim criu US" lines (tests/bench/run)
  --keep         keep the work directory
  --help         show this help
EOF
}

bench_args '-n RUNS --crpc CRPC --criu CRIU --no-trace TRACE=0 --warmup WARMUP --raw RAW --keep KEEP=1' "$@"

positive "$RUNS" -n
number "$WARMUP" --warmup
need_root
need_criu
[[ -x $CRPC ]] || die "crpc not found at $CRPC (build it, or give --crpc)"
CRPC=$(readlink -f -- "$CRPC")
RUNC=$(command -v runc) || die "runc not found (scripts/setup installs it)"

WORK=$(mktemp -d /tmp/crpc-bench-shim.XXXXXX)
ID=crpc-bench-${WORK##*.}
CG=/crpc-bench-${WORK##*.}
RUNC_ROOT=$WORK/runc
BUNDLE=$WORK/bundle

finish() {
	local rc=$?
	set +e
	"$RUNC" --root "$RUNC_ROOT" delete -f "$ID" >/dev/null 2>&1
	rm_cgroup "$CG"
	drop_work 'work directory kept:'
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/shim" "$WORK/traces"
ln -s "$CRPC" "$WORK/shim/criu"
{
	echo "shim:"
	echo "  trace_dir: $WORK/traces"
	((TRACE)) || echo "  trace: false"
} >"$WORK/shim.yaml"
chmod 600 "$WORK/shim.yaml"
export CRPC_CONFIG=$WORK/shim.yaml CRPC_CRIU=$CRIU

make_bundle
runc_start "$ID"

# cycle shim|direct N: checkpoint and restore once; prints the microseconds.
cycle() {
	local side=$1 n=$2 criu t0 t1 t2 dir=$WORK/$1-$2
	case $side in
	shim) criu=$WORK/shim/criu ;;
	direct) criu=$CRIU ;;
	esac
	t0=$(now_us)
	runc_checkpoint "$criu" "$ID" "$dir" "$side checkpoint $n"
	t1=$(now_us)
	runc_restore "$criu" "$ID" "$dir" "$side restore $n"
	t2=$(now_us)
	runc_running "$ID" || die "the container is not running after $side restore $n"
	rm -rf -- "$dir"
	printf '%s %s %s\n' "$((t1 - t0))" "$((t2 - t1))" "$((t2 - t0))"
}

sleep 0.3
warmup shim direct

printf 'runc %s, CRIU %s, shim: %s -> %s (trace %s)\n' \
	"$("$RUNC" --version | sed -n 's/^runc version //p')" \
	"$("$CRIU" --version | sed -n 's/^Version: //p')" "$WORK/shim/criu" "$CRPC" \
	"$( ((TRACE)) && echo on || echo off)"
# raw_line SIDE TOTAL: the cycle for tests/bench/run (--raw)
raw_line() {
	[[ -n $RAW ]] || return 0
	if [[ $1 == shim ]]; then echo "runc-shim crpc $2"; else echo "runc-shim criu $2"; fi >>"$RAW"
}

printf '%-4s %-7s %12s %12s %12s\n' run side checkpoint restore total
abba "$WORK" shim direct raw_line

m_shim=$(median <"$WORK/shim.times")
m_direct=$(median <"$WORK/direct.times")
m_ratio=$(median <"$WORK/ratios")
echo
printf 'median checkpoint+restore: shim %s ms, direct %s ms\n' "$(ms "$m_shim")" "$(ms "$m_direct")"
awk -v a="$m_shim" -v b="$m_direct" 'BEGIN { printf "ratio of the medians (shim/direct): %.3f\n", a / b }'
printf 'median of the per-run ratios (shim/direct): %.3f (goal <= 1.02)\n' "$m_ratio"
