#!/usr/bin/env bash
# tests/bench/engines.sh - crpc's container targets against the engine's own
# checkpoint and restore.
#
# Runs one busybox counter container (tests/helpers/make-busybox-bundle) in
# runc or podman and takes it through a checkpoint and a restore again and
# again, alternating (ABBA order) between crpc (`crpc dump ENGINE:NAME DIR`
# + `crpc restore DIR`, no configuration: no hooks) and the engine itself
# straight to the same CRIU (`runc checkpoint` + `runc restore -d`;
# `podman container checkpoint` + `podman container restore`). Each run's
# time is the checkpoint's wall time plus the restore's. Prints every run,
# the median of each side, the ratio of the medians and the median of the
# ratios of the pairs run next to each other. Each dump's CRIU freezing
# time (its statistics, read with `crpc show --json`) is printed too: CRIU
# checks every 100 ms whether the tree is frozen, so a dump that misses the
# first check costs 100 ms more, on either side, at random; the summary
# says how often that happened and gives the medians and ratio without the
# freezing times. Not a test: CTest does not run it. Run as root. podman
# keeps its state in the work directory.

set -euo pipefail

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=10
WARMUP=1
ENGINE=runc

usage() {
	cat <<EOF
Usage: $PROG [-e runc|podman] [-n RUNS] [--crpc PATH] [--criu PATH] [--warmup N]
       [--keep] [--help]

Checkpoint and restore a container through crpc and through its engine
alone, alternating, and print the median time of each and the ratio
crpc/engine.

  -e ENGINE      runc (default) or podman
  -n RUNS        checkpoint+restore cycles per side (default $RUNS)
  --crpc PATH    crpc binary (default build/crpc)
  --criu PATH    the real CRIU (default \$CRPC_CRIU, else /etc/crpc/criu-path)
  --warmup N     untimed cycles per side first (default $WARMUP)
  --keep         keep the work directory
  --help         show this help
EOF
}

bench_args '-e ENGINE -n RUNS --crpc CRPC --criu CRIU --warmup WARMUP --keep KEEP=1' "$@"

[[ $ENGINE == runc || $ENGINE == podman ]] || die "-e: runc or podman"
positive "$RUNS" -n
number "$WARMUP" --warmup
need_root
need_criu
[[ -x $CRPC ]] || die "crpc not found at $CRPC (build it, or give --crpc)"
RUNC=$(command -v runc) || die "runc not found (scripts/setup installs it)"
if [[ $ENGINE == podman ]]; then
	PODMAN=$(command -v podman) || die "podman not found (scripts/setup installs it)"
fi

WORK=$(mktemp -d /tmp/crpc-bench-engines.XXXXXX)
NAME=crpc-bench-${WORK##*.}
CG=/crpc-bench-${WORK##*.}
RUNC_ROOT=$WORK/runc
BUNDLE=$WORK/bundle
export CRPC_RUNTIME_DIR=$WORK/rt CRPC_CRIU=$CRIU

# podman with all its state in $WORK, as crpc runs it ($CRPC_PODMAN)
if [[ $ENGINE == podman ]]; then
	printf '#!/bin/sh\nexec %q --root %q --runroot %q --tmpdir %q --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --runtime %q "$@"\n' \
		"$PODMAN" "$WORK/storage" "$WORK/run" "$WORK/libpod" "$RUNC" >"$WORK/podman"
	chmod 0755 "$WORK/podman"
	export CRPC_PODMAN=$WORK/podman
fi

finish() {
	local rc=$? m
	set +e
	if [[ $ENGINE == podman ]]; then
		"$WORK/podman" rm -f -t 0 "$NAME" >/dev/null 2>&1
		while read -r _ m _; do
			case $m in "$WORK"/*) umount -l "$m" ;; esac
		done < <(tac /proc/self/mounts)
	else
		"$RUNC" --root "$RUNC_ROOT" delete -f "$NAME" >/dev/null 2>&1
	fi
	rm_cgroup "$CG"
	drop_work 'work directory kept:'
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

make_bundle
if [[ $ENGINE == podman ]]; then
	mkdir -p "$WORK/state" "$WORK/shim"
	# podman looks for `criu` on PATH for its own version check
	ln -s "$CRIU" "$WORK/shim/criu"
	tar -C "$BUNDLE/rootfs" -c . | "$WORK/podman" import - localhost/crpc-bench:test >/dev/null
	"$WORK/podman" run -d --name "$NAME" --network none --cgroup-parent "$CG" -v "$WORK/state:/state" \
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 localhost/crpc-bench:test /counter >/dev/null ||
		die "podman run failed"
	TARGET=podman:$NAME
else
	runc_start "$NAME"
	TARGET=runc:$NAME
fi

running() {
	if [[ $ENGINE == podman ]]; then
		[[ $("$WORK/podman" container inspect --format '{{.State.Status}}' "$NAME" 2>/dev/null) == running ]]
	else
		runc_running "$NAME"
	fi
}

# cycle crpc|engine N: checkpoint and restore once; prints the microseconds.
cycle() {
	local side=$1 n=$2 t0 t1 t2 f dir=$WORK/$1-$2
	t0=$(now_us)
	case $side-$ENGINE in
	crpc-*)
		"$CRPC" --no-config dump --runc-root "$RUNC_ROOT" "$TARGET" "$dir" >"$dir.out" 2>&1 ||
			die "crpc dump $n failed: $(cat "$dir.out")"
		t1=$(now_us)
		"$CRPC" --no-config restore "$dir" >"$dir.out" 2>&1 || die "crpc restore $n failed: $(cat "$dir.out")"
		;;
	engine-runc)
		runc_checkpoint "$CRIU" "$NAME" "$dir" "runc checkpoint $n"
		t1=$(now_us)
		runc_restore "$CRIU" "$NAME" "$dir" "runc restore $n"
		;;
	engine-podman)
		# --print-stats: CRIU's statistics as JSON on stdout (podman removes its stats-dump)
		PATH=$WORK/shim:$PATH "$WORK/podman" container checkpoint --print-stats "$NAME" >"$dir.stats" \
			2>"$dir.out" || die "podman checkpoint $n failed: $(cat "$dir.out")"
		t1=$(now_us)
		PATH=$WORK/shim:$PATH "$WORK/podman" container restore "$NAME" >"$dir.out" 2>&1 ||
			die "podman restore $n failed: $(cat "$dir.out")"
		;;
	esac
	t2=$(now_us)
	running || die "the container is not running after $side restore $n"
	case $side-$ENGINE in
	engine-runc) f=$(freezing_us "$dir/img" "$dir/work") ;;
	engine-podman)
		f=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["container_statistics"][0]["criu_statistics"]["freezing_time"])' \
			"$dir.stats" 2>/dev/null || true)
		;;
	*) f=$(freezing_us "$dir") ;;
	esac
	rm -rf -- "$dir" "$dir.out" "$dir.stats"
	printf '%s %s %s %s\n' "$((t1 - t0))" "$((t2 - t1))" "$((t2 - t0))" "$f"
}

sleep 0.3
warmup crpc engine

printf '%s, CRIU %s, crpc %s\n' "$ENGINE" "$("$CRIU" --version | sed -n 's/^Version: //p')" "$CRPC"
printf '%-4s %-7s %12s %12s %12s %12s\n' run side checkpoint restore total "CRIU freezing"
abba "$WORK" crpc engine

m_crpc=$(median <"$WORK/crpc.times")
m_engine=$(median <"$WORK/engine.times")
m_ratio=$(median <"$WORK/ratios")
echo
printf 'median checkpoint+restore: crpc %s ms, %s %s ms\n' "$(ms "$m_crpc")" "$ENGINE" "$(ms "$m_engine")"
awk -v a="$m_crpc" -v b="$m_engine" 'BEGIN { printf "ratio of the medians (crpc/engine): %.3f\n", a / b }'
sort -n "$WORK/ratios" | awk 'NR == 1 { min = $1 } { max = $1 } END { printf "per-run ratios: min %.3f, max %.3f\n", min, max }'
printf 'median of the per-run ratios (crpc/engine): %.3f (goal <= 1.05)\n' "$m_ratio"
freezing_summary "$WORK" crpc engine
