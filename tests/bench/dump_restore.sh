#!/usr/bin/env bash
# tests/bench/dump_restore.sh - time crpc against CRIU's own command line.
#
# Dumps and restores the same workload with `crpc dump` / `crpc restore` and
# with the same CRIU binary's CLI (`criu dump` / `criu restore -d`), with the
# same log level (4, into the images directory) and the same network lock
# method, alternating the two tools run by run (ABBA order), and prints the
# median wall time of each tool, for dump and restore separately, and the
# ratio crpc / criu. Not a test: CTest does not run it. Run as root.
#
# Only the crpc or criu command itself is timed. Before every dump a fresh
# workload is started and is ready; after every dump, every PID of the dumped
# tree is gone from /proc before the restore is timed (PID 1 reaps orphans
# lazily, which would otherwise show up as a delay in the restore); after
# every restore the restored tree is killed and waited for.

set -euo pipefail

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=10
WARMUP=1
WORKLOAD=python
MEM_MB=64
NETLOCK= # empty: CRIU's default (iptables) for both
NAME=
HOOKS=0

usage() {
	cat <<EOF
Usage: $PROG [-n RUNS] [-w python|bash] [-m MB] [--crpc PATH] [--criu PATH]
       [--network-lock iptables|nftables|skip] [--warmup N] [--hooks N]
       [--raw FILE] [--name NAME] [--keep] [--help]

Dump and restore the same workload with crpc and with CRIU's own CLI,
alternating, and print the median wall time of each and the ratio crpc/criu.

  -n RUNS            runs per tool (default $RUNS)
  -w WORKLOAD        python: a python3 process holding MB MiB of data (default);
                     bash: a shell loop counting every 50 ms
  -m MB              memory of the python workload in MiB (default $MEM_MB)
  --crpc PATH        crpc binary (default build/crpc)
  --criu PATH        CRIU binary (default \$CRPC_CRIU, else /etc/crpc/criu-path)
  --network-lock M   network lock method (iptables, nftables, skip) given to
                     both dumps (default: none given, CRIU's own default)
  --warmup N         untimed runs per tool first (default $WARMUP)
  --hooks N          give crpc dump N hook steps (--hook post-dump=true), to
                     measure what hooks cost against CRIU's CLI without them
  --raw FILE         append every timed run to FILE as "NAME-dump TOOL US"
                     and "NAME-restore TOOL US" lines (tests/bench/run)
  --name NAME        the benchmark's name in --raw lines (default: WORKLOAD)
  --keep             keep the work directory (images and logs of the last run)
  --help             show this help
EOF
}

bench_args '-n RUNS -w WORKLOAD -m MEM_MB --crpc CRPC --criu CRIU --network-lock NETLOCK
	--warmup WARMUP --hooks HOOKS --raw RAW --name NAME --keep KEEP=1' "$@"

positive "$RUNS" -n
number "$WARMUP" --warmup
number "$MEM_MB" -m
number "$HOOKS" --hooks
NAME=${NAME:-$WORKLOAD}
HOOK_ARGS=()
for ((i = 0; i < HOOKS; i++)); do HOOK_ARGS+=(--hook post-dump=true); done
[[ $WORKLOAD == python || $WORKLOAD == bash ]] || die "-w must be python or bash"
case $NETLOCK in "" | iptables | nftables | skip) ;; *) die "--network-lock: iptables, nftables or skip" ;; esac
need_root
need_criu
[[ -x $CRPC ]] || die "crpc $CRPC is not executable (build it first)"

WORK=$(mktemp -d /tmp/crpc-bench.XXXXXX)

# ------------------------------------------------------------------ processes

# Whether PID $1 belongs to this benchmark's workload.
ours() {
	[[ -r /proc/$1/environ ]] &&
		{ tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null | grep -qxF "CRPC_BENCH_DIR=$WORK"
}

# PID $1 and its descendants, parents first.
tree_of() {
	local p f
	[[ -e /proc/$1 ]] || return 0
	printf '%s\n' "$1"
	for f in /proc/"$1"/task/*/children; do
		# shellcheck disable=SC2013
		for p in $(cat -- "$f" 2>/dev/null); do tree_of "$p"; done
	done
}

# Wait until /proc/PID is gone for every PID given (zombies included).
wait_gone() {
	local p i
	for p in "$@"; do
		for ((i = 0; i < 400; i++)); do
			[[ -e /proc/$p ]] || continue 2
			sleep 0.01
		done
		die "PID $p did not go away"
	done
}

# Kill the workload tree rooted at $1 and wait until all its PIDs are free.
kill_tree() {
	local pids=() p
	for p in $(tree_of "$1"); do ours "$p" && pids+=("$p"); done
	((${#pids[@]})) || return 0
	kill -KILL "${pids[@]}" 2>/dev/null || true
	wait_gone "${pids[@]}"
}

PID=
cleanup() {
	local rc=$? p
	set +e
	trap - EXIT INT TERM
	[[ -n $PID ]] && kill_tree "$PID"
	# Anything else still marked as ours (e.g. after an interrupted restore).
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		ours "$p" && kill -KILL "$p" 2>/dev/null
	done
	drop_work kept
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Start a fresh workload in its own session, stdio not a terminal; sets PID
# once it is ready.
start_workload() {
	local ready=$WORK/ready i
	rm -f -- "$ready"
	case $WORKLOAD in
	python)
		CRPC_BENCH_DIR=$WORK setsid /usr/bin/python3 -c '
import os, sys, time
data = bytearray(os.urandom(int(sys.argv[1]) << 20))
open(sys.argv[2], "w").close()
while True:
    time.sleep(0.05)
' "$MEM_MB" "$ready" </dev/null >/dev/null 2>&1 &
		;;
	bash)
		# One process: it waits 50 ms at a time on a FIFO that nobody writes
		# to instead of forking `sleep`.
		[[ -p $WORK/fifo ]] || mkfifo -m 0600 "$WORK/fifo"
		# shellcheck disable=SC2016
		CRPC_BENCH_DIR=$WORK setsid bash -c 'exec 3<>"$1"; : >"$0"; i=0
			while :; do i=$((i + 1)); read -r -t 0.05 -u 3 _ || :; done' "$ready" "$WORK/fifo" \
			</dev/null >/dev/null 2>&1 &
		;;
	esac
	PID=$!
	disown "$PID" # no job messages; this shell still reaps it when it dies
	for ((i = 0; i < 1000; i++)); do
		[[ -e $ready ]] && break
		sleep 0.01
	done
	[[ -e $ready ]] || die "the $WORKLOAD workload did not start"
	sleep 0.1
}

# ------------------------------------------------------------------ one run

DUMP_US=
RESTORE_US=

# run TOOL: dump a fresh workload and restore it with TOOL (crpc or criu);
# sets DUMP_US and RESTORE_US.
run() {
	local tool=$1 dir=$WORK/images t0 t1 pids=() rc=0
	rm -rf -- "$dir"
	start_workload
	mapfile -t pids < <(tree_of "$PID")
	if [[ $tool == criu ]]; then
		mkdir -m 0700 -- "$dir"
		t0=$EPOCHREALTIME
		"$CRIU" dump -t "$PID" -D "$dir" -o dump.log -v4 ${NETLOCK:+--network-lock "$NETLOCK"} \
			>"$WORK/out" 2>&1 || rc=$?
		t1=$EPOCHREALTIME
	else
		t0=$EPOCHREALTIME
		"$CRPC" --criu "$CRIU" dump --log-level 4 ${NETLOCK:+--network-lock "$NETLOCK"} \
			${HOOK_ARGS[@]+"${HOOK_ARGS[@]}"} "$PID" "$dir" \
			>"$WORK/out" 2>&1 || rc=$?
		t1=$EPOCHREALTIME
	fi
	if ((rc != 0)); then
		cat "$WORK/out" >&2
		tail -n 20 "$dir/dump.log" >&2 2>/dev/null || true
		die "$tool dump of PID $PID failed (exit $rc)"
	fi
	DUMP_US=$((${t1/./} - ${t0/./}))

	# The dumped tree is dead; make all its PIDs free before timing the restore.
	wait_gone "${pids[@]}"

	if [[ $tool == criu ]]; then
		t0=$EPOCHREALTIME
		"$CRIU" restore -D "$dir" -d -o restore.log -v4 \
			>"$WORK/out" 2>&1 || rc=$?
		t1=$EPOCHREALTIME
	else
		t0=$EPOCHREALTIME
		"$CRPC" --criu "$CRIU" restore "$dir" >"$WORK/out" 2>&1 || rc=$?
		t1=$EPOCHREALTIME
	fi
	if ((rc != 0)); then
		cat "$WORK/out" >&2
		tail -n 20 "$dir/restore.log" >&2 2>/dev/null || true
		die "$tool restore of PID $PID failed (exit $rc)"
	fi
	RESTORE_US=$((${t1/./} - ${t0/./}))
	if ! ours "$PID"; then die "$tool restore: PID $PID is not running"; fi

	kill_tree "$PID"
	PID=
}

# ------------------------------------------------------------------ main

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

case $WORKLOAD in
python) what="python3 process with $MEM_MB MiB of data" ;;
bash) what="bash counter loop" ;;
esac
criu_version=$("$CRIU" --version 2>/dev/null | awk '/^Version:/ { print $2; exit }') || true
printf 'workload: %s\n' "$what"
printf 'crpc: %s (%s)\n' "$CRPC" "$("$CRPC" --version 2>/dev/null | head -n1)"
printf 'criu: %s (CRIU %s)\n' "$CRIU" "${criu_version:-?}"
printf 'log level 4 into the images dir, network lock: %s; %d runs per tool, %d warm-up\n' \
	"${NETLOCK:-CRIU default}" "$RUNS" "$WARMUP"
printf 'kernel %s, %s CPUs\n' "$(uname -r)" "$(nproc)"

for ((i = 0; i < WARMUP; i++)); do
	run crpc
	run criu
done

declare -a CRPC_D CRPC_R CRIU_D CRIU_R
for ((i = 1; i <= RUNS; i++)); do
	# ABBA: crpc first on odd runs, criu first on even runs.
	if ((i % 2)); then order=(crpc criu); else order=(criu crpc); fi
	line=
	for tool in "${order[@]}"; do
		run "$tool"
		if [[ -n $RAW ]]; then
			printf '%s-dump %s %s\n%s-restore %s %s\n' "$NAME" "$tool" "$DUMP_US" \
				"$NAME" "$tool" "$RESTORE_US" >>"$RAW"
		fi
		if [[ $tool == crpc ]]; then
			CRPC_D+=("$DUMP_US") CRPC_R+=("$RESTORE_US")
		else
			CRIU_D+=("$DUMP_US") CRIU_R+=("$RESTORE_US")
		fi
		line+=$(printf '  %s dump %7s ms restore %7s ms' "$tool" "$(ms "$DUMP_US")" "$(ms "$RESTORE_US")")
	done
	printf 'run %2d:%s\n' "$i" "$line"
done

md_crpc=$(printf '%s\n' "${CRPC_D[@]}" | median)
md_criu=$(printf '%s\n' "${CRIU_D[@]}" | median)
mr_crpc=$(printf '%s\n' "${CRPC_R[@]}" | median)
mr_criu=$(printf '%s\n' "${CRIU_R[@]}" | median)

# The median of the per-run ratios too: each run pairs the two tools close
# in time, which is steadier than the ratio of medians on a busy machine.
pair_ratio() { # pair_ratio NAME_A NAME_B: median of A[i]/B[i]
	local -n a=$1 b=$2
	local i
	for i in "${!a[@]}"; do
		awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN { printf "%.6f\n", x / y }'
	done | median | awk '{ printf "%.3f", $1 }'
}

printf '\nmedian of %d runs   crpc (ms)  criu CLI (ms)  crpc/criu  median of per-run ratios\n' "$RUNS"
printf 'dump                %9s  %13s  %9s  %24s\n' "$(ms "$md_crpc")" "$(ms "$md_criu")" \
	"$(ratio "$md_crpc" "$md_criu")" "$(pair_ratio CRPC_D CRIU_D)"
printf 'restore             %9s  %13s  %9s  %24s\n' "$(ms "$mr_crpc")" "$(ms "$mr_criu")" \
	"$(ratio "$mr_crpc" "$mr_criu")" "$(pair_ratio CRPC_R CRIU_R)"
