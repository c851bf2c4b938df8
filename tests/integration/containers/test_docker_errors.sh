#!/bin/bash
# What crpc says when Docker cannot do what was asked, each time with the
# container left as it was: no such container (exit 2), a container that is
# not running (exit 1), no daemon at $DOCKER_HOST (exit 3, how to start
# one), a daemon without experimental features (exit 3, the daemon.json
# line; a private dockerd 20.10 started without them). Restoring into a
# container that runs, or as a name another container has, is in
# test_docker_dump (it needs a checkpoint).
# shellcheck disable=SC2016 # quoted code for wait_for's eval
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/container_lib.sh"
. "$(dirname "$0")/../helpers/dockerd_lib.sh"

mkdir -m 700 "$TMP/run"
export CRPC_RUNTIME_DIR=$TMP/run CRPC_DOCKER=$DOCKER_CLI
# shellcheck disable=SC2034 # dockerd_start reads it
DOCKERD_EXPERIMENTAL=false
dockerd_start
docker_counter ctr

# --- no such container ---------------------------------------------------------
expect_exit 2 "$CRPC_BIN" --no-config dump docker:nosuch "$TMP/ck"
assert_contains "$ERR" "nosuch" "dump of a container that does not exist"
expect_exit 2 "$CRPC_BIN" --no-config inspect docker:nosuch
[ ! -e "$TMP/ck" ] || fail "a refused dump left $TMP/ck"

# --- not running -----------------------------------------------------------------
docker_ create --name stopped --network none "$DOCKER_IMAGE" /bin/sh -c 'sleep 100' >/dev/null
expect_exit 1 "$CRPC_BIN" --no-config dump docker:stopped "$TMP/ck"
assert_contains "$ERR" "docker:stopped is not running (created)" "dump of a stopped container"
assert_contains "$ERR" "start it first" "dump of a stopped container"
[ "$(docker_state stopped)" = created ] || fail "the refused dump changed the container: $(docker_state stopped)"

# --- no experimental features: the daemon.json line ----------------------------
expect_exit 3 "$CRPC_BIN" --no-config dump docker:ctr "$TMP/ck"
assert_contains "$ERR" "dockerd runs without experimental features" "dump without experimental"
assert_contains "$ERR" '"experimental": true' "dump without experimental"
[ "$(docker_state ctr)" = running ] || fail "the refused dump left the container '$(docker_state ctr)'"
keeps_counting 5 || fail "the container stopped counting after the refused dump (at $(count))"
[ ! -e "$TMP/ck" ] || fail "a refused dump left $TMP/ck: $(ls -A "$TMP/ck")"
[ -z "$(ls -A "$TMP/run/calls" 2>/dev/null)" ] || fail "a call directory was left: $(ls -A "$TMP/run/calls")"

# --- no daemon -------------------------------------------------------------------
expect_exit 3 env DOCKER_HOST="unix://$TMP/none.sock" "$CRPC_BIN" --no-config dump docker:ctr "$TMP/ck"
assert_contains "$ERR" "dockerd does not answer" "dump with no daemon"
assert_contains "$ERR" "systemctl start docker" "dump with no daemon"
expect_exit 0 env DOCKER_HOST="unix://$TMP/none.sock" "$CRPC_BIN" --no-config ps
