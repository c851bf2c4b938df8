#!/bin/bash
# Docker checkpoints and restores a busybox counter container through crpc's
# shim, with nothing but Docker's own commands: `crpc shim install --engine
# docker` with a prefix and configuration in this test's directory puts
# crpc as PREFIX/sbin/criu and records the real CRIU in that configuration;
# a private dockerd 20.10 (helpers/dockerd_lib.sh) has PREFIX/sbin first on
# its PATH and that configuration in $CRPC_CONFIG (both reach runc through
# dockerd, containerd and its runc shim), and no $CRPC_CRIU: the shim finds
# the real CRIU through the configuration alone. `crpc shim status` and
# `crpc check` say that dockerd goes through crpc. `docker checkpoint create`
# stops the container, `docker start --checkpoint` brings it back and its
# counter carries on from where it was; the hooks ran for both and each
# session left a trace that `crpc trace show` reads. After `crpc shim
# uninstall` the same dockerd no longer runs crpc.
# shellcheck disable=SC2016 # quoted code for wait_for's eval
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"
. "$(dirname "$0")/../helpers/container_lib.sh"
. "$(dirname "$0")/../helpers/dockerd_lib.sh"

mkdir -p "$TMP/traces"
marks_config "$TMP/shim.yaml" pre-dump post-dump pre-restore post-restore
PREFIX=$TMP/prefix
expect_exit 0 "$CRPC_BIN" --config "$TMP/shim.yaml" --criu "$CRPC_CRIU" shim install --engine docker --prefix "$PREFIX"

# shellcheck disable=SC2034 # dockerd_start reads it
DOCKERD_ENV=("PATH=$PREFIX/sbin:/usr/sbin:/usr/bin:/sbin:/bin" "CRPC_CONFIG=$TMP/shim.yaml")
dockerd_start
docker_counter ctr
expect_exit 0 "$CRPC_BIN" shim status --prefix "$PREFIX"
assert_contains "$OUT" "docker: dockerd $DOCKERD_PID's PATH leads to $PREFIX/sbin/criu: through crpc" "shim status"
expect_exit 0 "$CRPC_BIN" check
assert_contains "$OUT" "docker: dockerd $DOCKERD_PID's PATH leads to $PREFIX/sbin/criu: through crpc" "crpc check"

# --- checkpoint --------------------------------------------------------------
expect_exit 0 docker_ checkpoint create ctr ck1
[ "$OUT" = ck1 ] || fail "docker checkpoint create printed '$OUT'"
[ "$(docker_state ctr)" = exited ] || fail "the container is '$(docker_state ctr)' after the checkpoint"
at_ckpt=$(count)
sleep 0.3
[ "$(count)" = "$at_ckpt" ] || fail "the counter moved after the checkpoint ($at_ckpt -> $(count))"
id=$(docker_ inspect -f '{{.Id}}' ctr)
[ -s "$DOCKER_DATA/containers/$id/checkpoints/ck1/inventory.img" ] ||
	fail "no inventory.img in Docker's checkpoint directory"
dump_marks=$(<"$TMP/marks")
: >"$TMP/marks"

# --- restore -----------------------------------------------------------------
docker_start_checkpoint ck1 ctr || fail "docker start --checkpoint failed: $(cat "$TMP/start.out")"
[ "$(docker_state ctr)" = running ] || fail "the container is '$(docker_state ctr)' after the restore"
carries_on "$at_ckpt"
note "counter: $at_ckpt at the checkpoint, $FIRST first after the restore, now $(count)"
restore_marks=$(<"$TMP/marks")

[ "$dump_marks" = $'pre-dump\npost-dump' ] ||
	fail "checkpoint: hooks ran as [${dump_marks//$'\n'/ }], expected [pre-dump post-dump]"
[ "$restore_marks" = $'pre-restore\npost-restore' ] ||
	fail "restore: hooks ran as [${restore_marks//$'\n'/ }], expected [pre-restore post-restore]"

# --- traces ------------------------------------------------------------------
dump_trace='' restore_trace=''
for t in "$TMP"/traces/*.trace; do
	expect_exit 0 "$CRPC_BIN" trace show "$t"
	case $OUT in
	*"-> DUMP"*) dump_trace=$t ;;
	*"-> RESTORE"*) restore_trace=$t ;;
	esac
	[[ $OUT != *'!!'* ]] || fail "the trace $t shows failures: $OUT"
done
[ -n "$dump_trace" ] || fail "no trace of the DUMP in $TMP/traces"
[ -n "$restore_trace" ] || fail "no trace of the RESTORE in $TMP/traces"

# --- uninstall ---------------------------------------------------------------
expect_exit 0 "$CRPC_BIN" --config "$TMP/shim.yaml" shim uninstall --prefix "$PREFIX"
expect_exit 0 "$CRPC_BIN" shim status --prefix "$PREFIX"
assert_contains "$OUT" "docker: no criu on dockerd $DOCKERD_PID's PATH" "shim status after the uninstall"
