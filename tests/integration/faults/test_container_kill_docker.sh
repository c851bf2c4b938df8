#!/bin/bash
# test_container_kill.sh for Docker: `crpc dump docker:NAME DIR` of a
# counter container, against a private dockerd with crpc's shim installed
# on its PATH, SIGKILLed once by a pre-dump hook (CRIU refuses the dump:
# crpc recover says the container runs on and removes what the dump left),
# then at random moments over a dump's duration: dockerd finishes its
# checkpoint into its data root without crpc, and crpc recover takes it
# from there into a complete DIR that `crpc restore` brings back with the
# counter carrying on, or the container runs on with nothing left behind.
# shellcheck disable=SC2016 # quoted code for wait_for's eval
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"
. "$(dirname "$0")/../helpers/container_lib.sh"
. "$(dirname "$0")/../helpers/dockerd_lib.sh"
. "$(dirname "$0")/../helpers/kill_lib.sh"

mkdir -m 700 "$TMP/rt"
PREFIX=$TMP/prefix
expect_exit 0 "$CRPC_BIN" --config "$TMP/crpc.yaml" --criu "$CRPC_CRIU" shim install --engine docker --prefix "$PREFIX"
mkdir "$TMP/realbin"
ln -s "$CRPC_CRIU" "$TMP/realbin/criu"
DOCKERD_ENV=("PATH=$PREFIX/sbin:$TMP/realbin:/usr/sbin:/usr/bin:/sbin:/bin" "CRPC_RUNTIME_DIR=$TMP/rt" "CRPC_CONFIG=$TMP/crpc.yaml")
export CRPC_RUNTIME_DIR=$TMP/rt CRPC_DOCKER=$DOCKER_CLI

kill_cleanup() {
	local rc=$?
	set +e
	[ -n "${CRPC_PID:-}" ] && kill -KILL "$CRPC_PID" 2>/dev/null
	dockerd_stop
	return "$rc"
}
trap 'kill_cleanup; cleanup' EXIT
dockerd_start

NAME=ctr
status_docker() { docker_state "$NAME"; }
docker_counter "$NAME"
killed_unfinished docker "docker:$NAME"
kill_loop docker "docker:$NAME"
