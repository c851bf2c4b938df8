#!/usr/bin/env bash
# tests/bench/dump_1g.sh - dump a process with 1 GiB of touched anonymous
# memory into tmpfs: crpc's wall time against the same CRIU's CLI, and the
# bytes per second of both against a plain `dd` of 1 GiB into the same tmpfs.
#
# crpc's time includes what it does beyond CRIU: the manifest (the digest of
# every file, the sync, crpc.json) and the rename of DIR.crpc-tmp-XXXXXX to
# DIR; its --json output tells how long the hashing took, printed as a rate.
# Both tools dump the same running process (--leave-running / -R) with log
# level 4 and CRIU's default network lock, alternating run by run (ABBA);
# the images of each run are removed before the next.
#
# Then the restore: the workload is dumped once more by crpc (this time it
# stops), and the same images are restored again and again by `crpc restore`
# (which verifies every file against crpc.json first) and by `criu restore -d`,
# alternating; the restored process is killed and gone before the next run.
# Last, crpc's peak resident set size during one more dump and one restore
# (tests/bench/peak_rss.py). Not a test: CTest does not run it. Run as root.

set -euo pipefail

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=3
SIZE_MB=1024

usage() {
	cat <<EOF
Usage: $PROG [-n RUNS] [-m MB] [--crpc PATH] [--criu PATH] [--raw FILE] [--keep]
       [--help]

Dump a python3 process holding MB MiB of touched anonymous memory into a
tmpfs with crpc and with CRIU's CLI, and write the same amount with dd;
restore it with both; print the median wall time and throughput of each, and
crpc's peak RSS.

  -n RUNS            runs per tool (default $RUNS)
  -m MB              memory of the workload in MiB (default $SIZE_MB)
  --crpc PATH        crpc binary (default build/crpc)
  --criu PATH        CRIU binary (default \$CRPC_CRIU, else /etc/crpc/criu-path)
  --raw FILE         append every timed run to FILE as "BENCH TOOL VALUE" lines
                     (microseconds, KiB for rss-*), for tests/bench/run
  --keep             keep the work directory (unmounted, without images)
  --help             show this help
EOF
}

bench_args '-n RUNS -m SIZE_MB --crpc CRPC --criu CRIU --raw RAW --keep KEEP=1' "$@"

positive "$RUNS" -n
positive "$SIZE_MB" -m
need_root
need_criu
[[ -x $CRPC ]] || die "crpc $CRPC is not executable (build it first)"

WORK=$(mktemp -d /tmp/crpc-bench-1g.XXXXXX)
FS=$WORK/tmpfs
PID=

# Whether PID $1 is this benchmark's workload (restored ones included).
ours() {
	[[ -r /proc/$1/environ ]] &&
		{ tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null | grep -qxF "CRPC_BENCH_DIR=$WORK"
}

# Wait until /proc/$1 is gone (PID 1 reaps a killed orphan late here).
wait_gone() {
	local i
	for ((i = 0; i < 1000; i++)); do
		[[ -e /proc/$1 ]] || return 0
		sleep 0.01
	done
	die "PID $1 did not go away"
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [[ -n $PID ]] && ours "$PID"; then
		kill -KILL "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	mountpoint -q "$FS" && umount "$FS"
	drop_work kept
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -m 0700 "$FS"
# room for one dump (plus its log) at a time, or the dd file
mount -t tmpfs -o size=$((SIZE_MB + 256))M,mode=0700 crpc-bench "$FS"

# The workload: SIZE_MB MiB, every page written (present, not the zero page).
ready=$WORK/ready
CRPC_BENCH_DIR=$WORK setsid /usr/bin/python3 -c '
import sys, time
n = int(sys.argv[1]) << 20
data = bytearray(n)
data[::4096] = b"\x01" * (n // 4096)
open(sys.argv[2], "w").close()
while True:
    time.sleep(1)
' "$SIZE_MB" "$ready" </dev/null >/dev/null 2>&1 &
PID=$!
disown "$PID" # no job messages; this shell still reaps it when it dies
for ((i = 0; i < 3000; i++)); do
	[[ -e $ready ]] && break
	kill -0 "$PID" 2>/dev/null || die "the workload died"
	sleep 0.01
done
[[ -e $ready ]] || die "the workload did not start"
sleep 0.2

mbs() { awk -v mb="$SIZE_MB" -v us="$1" 'BEGIN { printf "%.0f", mb * 1048576 / (us / 1e6) / 1e6 }'; }

declare -a T_CRPC=() T_CRIU=() T_DD=() T_HASH=() T_SYNC=()

run_crpc() {
	local dir=$FS/crpc t0 t1 out
	t0=$(now_us)
	out=$("$CRPC" --criu "$CRIU" --no-config dump --json --leave-running --log-level 4 "$PID" "$dir") ||
		{ echo "$out" >&2; die "crpc dump failed"; }
	t1=$(now_us)
	T_CRPC+=($((t1 - t0)))
	T_HASH+=("$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(int(json.load(sys.stdin)["manifest"]["hash_time_ms"]*1000))')")
	T_SYNC+=("$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(int(json.load(sys.stdin)["manifest"]["sync_time_ms"]*1000))')")
	rm -rf -- "$dir"
}

run_criu() {
	local dir=$FS/criu t0 t1
	mkdir -m 0700 "$dir"
	t0=$(now_us)
	"$CRIU" dump -t "$PID" -D "$dir" -R -o dump.log -v4 >"$WORK/criu.out" 2>&1 ||
		{ cat "$WORK/criu.out" >&2; tail -20 "$dir/dump.log" >&2; die "criu dump failed"; }
	t1=$(now_us)
	T_CRIU+=($((t1 - t0)))
	rm -rf -- "$dir"
}

run_dd() {
	local t0 t1
	t0=$(now_us)
	dd if=/dev/zero of="$FS/dd" bs=1M count="$SIZE_MB" status=none
	t1=$(now_us)
	T_DD+=($((t1 - t0)))
	rm -f -- "$FS/dd"
}

raw() { [[ -z $RAW ]] || printf '%s %s %s\n' "$@" >>"$RAW"; }

# one untimed dump each first (page cache, CRIU's own first-run costs)
run_crpc
run_criu
T_CRPC=() T_CRIU=() T_HASH=() T_SYNC=()
for ((r = 0; r < RUNS; r++)); do
	if ((r % 2)); then run_criu; run_crpc; else run_crpc; run_criu; fi
	run_dd
done
for v in "${T_CRPC[@]}"; do raw 1g-dump crpc "$v"; done
for v in "${T_CRIU[@]}"; do raw 1g-dump criu "$v"; done
for v in "${T_DD[@]}"; do raw 1g-dump dd "$v"; done
for v in "${T_HASH[@]}"; do raw 1g-dump-hash crpc "$v"; done

# crpc's peak RSS in one more dump
"$SRC/tests/bench/peak_rss.py" "$WORK/rss" "$CRPC" --criu "$CRIU" --no-config dump --leave-running \
	--log-level 4 "$PID" "$FS/crpc" >"$WORK/crpc.out" 2>&1 || { cat "$WORK/crpc.out" >&2; die "crpc dump failed"; }
read -r RSS_DUMP RSS_DUMP_ALL <"$WORK/rss"
raw rss-1g-dump crpc "$RSS_DUMP"
raw rss-1g-dump crpc+criu "$RSS_DUMP_ALL"
rm -rf -- "$FS/crpc"

# The restores: dump once more (the workload stops), then restore those images.
IMG=$FS/ck
"$CRPC" --criu "$CRIU" --no-config dump --log-level 4 "$PID" "$IMG" >"$WORK/crpc.out" 2>&1 ||
	{ cat "$WORK/crpc.out" >&2; die "crpc dump failed"; }
wait_gone "$PID"

declare -a R_CRPC=() R_CRIU=()
# restore_once crpc|criu [rss]: one timed restore, then kill and wait the process
restore_once() {
	local t0 t1 rc=0
	t0=$(now_us)
	if [[ $1 == criu ]]; then
		"$CRIU" restore -D "$IMG" -d -o restore.log -v4 >"$WORK/restore.out" 2>&1 || rc=$?
	elif [[ ${2:-} == rss ]]; then
		"$SRC/tests/bench/peak_rss.py" "$WORK/rss" "$CRPC" --criu "$CRIU" --no-config restore "$IMG" \
			>"$WORK/restore.out" 2>&1 || rc=$?
	else
		"$CRPC" --criu "$CRIU" --no-config restore "$IMG" >"$WORK/restore.out" 2>&1 || rc=$?
	fi
	t1=$(now_us)
	((rc == 0)) || { cat "$WORK/restore.out" >&2; tail -20 "$IMG/restore.log" >&2; die "$1 restore failed"; }
	ours "$PID" || die "$1 restore: PID $PID is not running"
	kill -KILL "$PID"
	wait_gone "$PID"
	[[ -n ${2:-} ]] && return 0
	if [[ $1 == criu ]]; then R_CRIU+=($((t1 - t0))); else R_CRPC+=($((t1 - t0))); fi
}
restore_once crpc warm
restore_once criu warm
for ((r = 0; r < RUNS; r++)); do
	if ((r % 2)); then restore_once criu; restore_once crpc; else restore_once crpc; restore_once criu; fi
done
restore_once crpc rss
read -r RSS_RESTORE RSS_RESTORE_ALL <"$WORK/rss"
raw rss-1g-restore crpc "$RSS_RESTORE"
raw rss-1g-restore crpc+criu "$RSS_RESTORE_ALL"
for v in "${R_CRPC[@]}"; do raw 1g-restore crpc "$v"; done
for v in "${R_CRIU[@]}"; do raw 1g-restore criu "$v"; done
PID=

crpc_us=$(printf '%s\n' "${T_CRPC[@]}" | median)
criu_us=$(printf '%s\n' "${T_CRIU[@]}" | median)
dd_us=$(printf '%s\n' "${T_DD[@]}" | median)
hash_us=$(printf '%s\n' "${T_HASH[@]}" | median)
sync_us=$(printf '%s\n' "${T_SYNC[@]}" | median)
rcrpc_us=$(printf '%s\n' "${R_CRPC[@]}" | median)
rcriu_us=$(printf '%s\n' "${R_CRIU[@]}" | median)
criu_version=$("$CRIU" --version 2>/dev/null | awk '/^Version:/ { print $2; exit }') || true

printf 'Dump and restore of a python3 process with %s MiB of touched memory, tmpfs\n' "$SIZE_MB"
printf 'CRIU %s, kernel %s, %s CPUs, %s runs per tool (medians)\n\n' "${criu_version:-?}" \
	"$(uname -r)" "$(nproc)" "$RUNS"
printf '%-34s %10s %10s\n' "" "wall ms" "MB/s"
printf '%-34s %10s %10s\n' "crpc dump (with manifest)" "$(ms "$crpc_us")" "$(mbs "$crpc_us")"
printf '%-34s %10s %10s\n' "criu dump (CLI)" "$(ms "$criu_us")" "$(mbs "$criu_us")"
printf '%-34s %10s %10s\n' "dd if=/dev/zero bs=1M" "$(ms "$dd_us")" "$(mbs "$dd_us")"
printf '%-34s %10s %10s\n' "  of which crpc's hashing" "$(ms "$hash_us")" "$(mbs "$hash_us")"
printf '%-34s %10s\n' "  of which crpc's sync" "$(ms "$sync_us")"
printf '%-34s %10s %10s\n' "crpc restore (verified)" "$(ms "$rcrpc_us")" "$(mbs "$rcrpc_us")"
printf '%-34s %10s %10s\n' "criu restore -d (CLI)" "$(ms "$rcriu_us")" "$(mbs "$rcriu_us")"
printf '%-34s %7s KiB (crpc and criu: %s KiB)\n' "crpc peak RSS, dump" "$RSS_DUMP" "$RSS_DUMP_ALL"
printf '%-34s %7s KiB (crpc and criu: %s KiB)\n' "crpc peak RSS, restore" "$RSS_RESTORE" "$RSS_RESTORE_ALL"
awk -v a="$crpc_us" -v b="$criu_us" 'BEGIN { printf "\ncrpc / criu: dump %.3f", a / b }'
awk -v a="$rcrpc_us" -v b="$rcriu_us" 'BEGIN { printf ", restore %.3f\n", a / b }'
