#!/usr/bin/env bash
# tests/bench/docker.sh - crpc and Docker, on one container: crpc dump
# docker:NAME + crpc restore against docker checkpoint create + docker start
# --checkpoint, or with --shim, Docker's own commands through crpc's shim
# against the same commands straight to CRIU.
#
# Starts a private dockerd 20.10 with the integration tests' harness
# (tests/integration/helpers/dockerd_lib.sh: its own data-root, socket and
# containerd, everything ended at exit) whose PATH is PREFIX/sbin, then a
# directory with the real CRIU. Side "crpc" runs with `crpc shim install
# --prefix PREFIX` in place (Docker's runc runs crpc, which forwards to the
# real CRIU), with `crpc dump` and `crpc restore`, or with --shim Docker's
# own checkpoint and start; the shim then traces each session into the work
# directory, as configured in use. Side "docker" runs Docker's commands with
# the shim uninstalled (runc runs the real CRIU). The installs are not
# timed. One busybox counter container goes through both sides again and
# again, alternating (ABBA). Each run's time is the checkpoint's wall time
# plus the restore's. Prints every run, the median of each side, the ratio
# of the medians and the median of the per-pair ratios. No hooks are
# configured. Not a test: CTest does not run it (tests/bench/run --quick
# runs --shim once). Run as root, from a built tree.
# shellcheck disable=SC2016 # quoted code for wait_for's eval

RUNS=10
WARMUP=1
SHIM=0
RAW_FILE=
usage() {
	cat <<USAGE
Usage: ${0##*/} [-n RUNS] [--shim] [--warmup N] [--raw FILE]
       (crpc from \$CRPC_BIN, default build/crpc; CRIU from \$CRPC_CRIU)

  -n RUNS      checkpoint+restore cycles per side (default $RUNS)
  --shim       Docker's own commands through crpc's shim on side crpc
               (goal <= 1.02), instead of crpc dump and restore (<= 1.05)
  --warmup N   untimed cycles per side first (default $WARMUP)
  --raw FILE   append every timed cycle to FILE as "KEY crpc US" and
               "KEY docker US" lines, KEY docker-shim or docker
               (tests/bench/run)
USAGE
}
while (($#)); do
	case $1 in
	-n) RUNS=${2:?-n needs a value}; shift ;;
	--shim) SHIM=1 ;;
	--warmup) WARMUP=${2:?--warmup needs a value}; shift ;;
	--raw) RAW_FILE=${2:?--raw needs a value}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "${0##*/}: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "${0##*/}: -n must be a positive number" >&2; exit 2; }
[[ $WARMUP =~ ^[0-9]+$ ]] || { echo "${0##*/}: --warmup must be a number" >&2; exit 2; }

. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/helpers/container_lib.sh"
. "$(dirname "$0")/../integration/helpers/dockerd_lib.sh"
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"

mkdir -m 700 "$TMP/run" "$TMP/realbin" "$TMP/traces"
ln -s "$CRPC_CRIU" "$TMP/realbin/criu"
echo "shim:" >"$TMP/crpc.yaml"
echo "  trace_dir: $TMP/traces" >>"$TMP/crpc.yaml"
chmod 600 "$TMP/crpc.yaml"
PREFIX=$TMP/prefix
# shellcheck disable=SC2034 # dockerd_start reads it
DOCKERD_ENV=("PATH=$PREFIX/sbin:$TMP/realbin:/usr/sbin:/usr/bin:/sbin:/bin" "CRPC_RUNTIME_DIR=$TMP/run"
	"CRPC_CONFIG=$TMP/crpc.yaml")
export CRPC_RUNTIME_DIR=$TMP/run CRPC_DOCKER=$DOCKER_CLI CRPC_CONFIG=$TMP/crpc.yaml
dockerd_start
docker_counter bench

shim() { "$CRPC_BIN" --criu "$CRPC_CRIU" shim "$1" --prefix "$PREFIX" >/dev/null || fail "crpc shim $1 failed"; }

# cycle crpc|docker N: checkpoint and restore once; prints the microseconds.
cycle() {
	local side=$1 n=$2 t0 t1 t2 v traces
	if [ "$side" = crpc ]; then shim install; else shim uninstall; fi
	traces=$(find "$TMP/traces" -type f | wc -l)
	v=$(count)
	t0=$(now_us)
	if [ "$side" = crpc ] && ((!SHIM)); then
		"$CRPC_BIN" dump docker:bench "$TMP/ck-$n" >"$TMP/out" 2>&1 || fail "crpc dump $n: $(cat "$TMP/out")"
	else
		docker_ checkpoint create bench "ck-$n" >"$TMP/out" 2>&1 || fail "docker checkpoint $n: $(cat "$TMP/out")"
	fi
	t1=$(now_us)
	if [ "$side" = crpc ] && ((!SHIM)); then
		"$CRPC_BIN" restore "$TMP/ck-$n" >"$TMP/out" 2>&1 || fail "crpc restore $n: $(cat "$TMP/out")"
	else
		# as crpc does: again while containerd still holds the checkpoint's content
		docker_start_checkpoint "ck-$n" bench || fail "docker start $n: $(cat "$TMP/start.out")"
		docker_ checkpoint rm bench "ck-$n" >/dev/null 2>&1
	fi
	t2=$(now_us)
	[ "$(docker_state bench)" = running ] || fail "the container is not running after $side run $n"
	wait_for "[ \"\$(count)\" -gt $v ]" 10 || fail "the counter does not move after $side run $n"
	# Docker's runc ran crpc's shim, which traced the sessions (into DIR for
	# crpc dump, else into the configuration's trace_dir), or the real CRIU
	if [ "$side" = crpc ] && ((!SHIM)); then
		[ -s "$TMP/ck-$n/dump.trace" ] || fail "run $n of side crpc did not go through the shim (no dump.trace)"
	elif [ "$side" = crpc ] && [ "$(find "$TMP/traces" -type f | wc -l)" -le "$traces" ]; then
		fail "run $n of side crpc did not go through the shim (no new trace in $TMP/traces)"
	elif [ "$side" = docker ] && [ "$(find "$TMP/traces" -type f | wc -l)" -ne "$traces" ]; then
		fail "run $n of side docker went through the shim"
	fi
	rm -rf "$TMP/ck-$n"
	printf '%s %s %s\n' "$((t1 - t0))" "$((t2 - t1))" "$((t2 - t0))"
}

warmup crpc docker
if ((SHIM)); then what="Docker's commands through the shim" goal=1.02; else what="crpc dump and restore" goal=1.05; fi
printf 'docker %s, CRIU %s, crpc %s; side crpc: %s\n' "$(docker_ version -f '{{.Server.Version}}')" \
	"$("$CRPC_CRIU" --version | sed -n 's/^Version: //p')" "$CRPC_BIN" "$what"
printf '%-4s %-7s %12s %12s %12s\n' run side checkpoint restore total
# record SIDE US: abba's call after each cycle, the --raw line
raw_key=docker
((SHIM)) && raw_key=docker-shim
record() { [[ -z $RAW_FILE ]] || echo "$raw_key $1 $2" >>"$RAW_FILE"; }
abba "$TMP" crpc docker record >&2
m_crpc=$(median <"$TMP/crpc.times")
m_docker=$(median <"$TMP/docker.times")
printf 'min/max crpc: %s/%s ms, docker: %s/%s ms\n' "$(ms "$(sort -n "$TMP/crpc.times" | head -1)")" \
	"$(ms "$(sort -n "$TMP/crpc.times" | tail -1)")" "$(ms "$(sort -n "$TMP/docker.times" | head -1)")" \
	"$(ms "$(sort -n "$TMP/docker.times" | tail -1)")" >&2
printf 'median checkpoint+restore: crpc %s ms, docker %s ms\n' "$(ms "$m_crpc")" "$(ms "$m_docker")" >&2
awk -v a="$m_crpc" -v b="$m_docker" 'BEGIN { printf "ratio of the medians (crpc/docker): %.3f\n", a / b }' >&2
printf 'median of the per-run ratios (crpc/docker): %.3f (goal <= %s)\n' "$(median <"$TMP/ratios")" "$goal" >&2
