#!/usr/bin/env bash
# tests/bench/docker.sh - crpc dump docker:NAME + crpc restore against
# docker checkpoint create + docker start --checkpoint, on one container.
#
# Starts a private dockerd 20.10 with the integration tests' harness
# (tests/integration/helpers/dockerd_lib.sh: its own data-root, socket and
# containerd, everything ended at exit) whose PATH is PREFIX/sbin, then a
# directory with the real CRIU. Side "crpc" runs with `crpc shim install
# --prefix PREFIX` in place (Docker's runc runs crpc, which forwards to the
# real CRIU with this call's context); side "docker" runs with it
# uninstalled (runc runs the real CRIU). The installs are not timed. One
# busybox counter container goes through both sides again and again,
# alternating (ABBA). Each run's time is the checkpoint's wall time plus the
# restore's. Prints every run, the median of each side, the ratio of the
# medians and the median of the per-pair ratios. No hooks are configured.
# Not a test: CTest does not run it. Run as root, from a built tree.
# shellcheck disable=SC2016 # quoted code for wait_for's eval

RUNS=10
while (($#)); do
	case $1 in
	-n) RUNS=${2:?-n needs a value}; shift ;;
	-h | --help)
		echo "Usage: ${0##*/} [-n RUNS]   (crpc from \$CRPC_BIN, default build/crpc)"
		exit 0
		;;
	*) echo "${0##*/}: unknown argument: $1" >&2; exit 2 ;;
	esac
	shift
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "${0##*/}: -n must be a positive number" >&2; exit 2; }

. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/helpers/container_lib.sh"
. "$(dirname "$0")/../integration/helpers/dockerd_lib.sh"
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"

mkdir -m 700 "$TMP/run" "$TMP/realbin"
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
	local side=$1 n=$2 t0 t1 t2 v
	if [ "$side" = crpc ]; then shim install; else shim uninstall; fi
	v=$(count)
	t0=$(now_us)
	if [ "$side" = crpc ]; then
		"$CRPC_BIN" dump docker:bench "$TMP/ck-$n" >"$TMP/out" 2>&1 || fail "crpc dump $n: $(cat "$TMP/out")"
	else
		docker_ checkpoint create bench "ck-$n" >"$TMP/out" 2>&1 || fail "docker checkpoint $n: $(cat "$TMP/out")"
	fi
	t1=$(now_us)
	if [ "$side" = crpc ]; then
		"$CRPC_BIN" restore "$TMP/ck-$n" >"$TMP/out" 2>&1 || fail "crpc restore $n: $(cat "$TMP/out")"
	else
		# as crpc does: again while containerd still holds the checkpoint's content
		docker_start_checkpoint "ck-$n" bench || fail "docker start $n: $(cat "$TMP/start.out")"
		docker_ checkpoint rm bench "ck-$n" >/dev/null 2>&1
	fi
	t2=$(now_us)
	[ "$(docker_state bench)" = running ] || fail "the container is not running after $side run $n"
	wait_for "[ \"\$(count)\" -gt $v ]" 10 || fail "the counter does not move after $side run $n"
	rm -rf "$TMP/ck-$n"
	printf '%s %s %s\n' "$((t1 - t0))" "$((t2 - t1))" "$((t2 - t0))"
}

cycle crpc w >/dev/null
cycle docker w >/dev/null
printf 'docker %s, CRIU %s, crpc %s\n' "$(docker_ version -f '{{.Server.Version}}')" \
	"$("$CRPC_CRIU" --version | sed -n 's/^Version: //p')" "$CRPC_BIN"
printf '%-4s %-7s %12s %12s %12s\n' run side checkpoint restore total
abba "$TMP" crpc docker >&2
m_crpc=$(median <"$TMP/crpc.times")
m_docker=$(median <"$TMP/docker.times")
printf 'min/max crpc: %s/%s ms, docker: %s/%s ms\n' "$(ms "$(sort -n "$TMP/crpc.times" | head -1)")" \
	"$(ms "$(sort -n "$TMP/crpc.times" | tail -1)")" "$(ms "$(sort -n "$TMP/docker.times" | head -1)")" \
	"$(ms "$(sort -n "$TMP/docker.times" | tail -1)")" >&2
printf 'median checkpoint+restore: crpc %s ms, docker %s ms\n' "$(ms "$m_crpc")" "$(ms "$m_docker")" >&2
awk -v a="$m_crpc" -v b="$m_docker" 'BEGIN { printf "ratio of the medians (crpc/docker): %.3f\n", a / b }' >&2
printf 'median of the per-run ratios (crpc/docker): %.3f (goal <= 1.05)\n' "$(median <"$TMP/ratios")" >&2
