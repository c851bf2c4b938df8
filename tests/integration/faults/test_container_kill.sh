#!/bin/bash
# Nothing lost when crpc dies during a container's dump: `crpc dump
# podman:NAME DIR` and `crpc dump runc:ID DIR` of a counter container are
# SIGKILLed at random moments over a dump's duration (measured first with a
# whole dump and restore). The engine carries on without crpc; `crpc
# recover` of what the dump left waits for it, then completes the
# checkpoint from the engine's output (podman's export in the call
# directory, runc's images) or, when CRIU did not finish, removes crpc's
# temporary files and says the container is running. Each time either the
# container runs and counts on, with no checkpoint claimed and no leftover
# or call directory left, or DIR holds a complete checkpoint that `crpc
# restore` brings back with the counter carrying on. A pre-dump hook that
# kills crpc and fails makes the dump that did not finish every time. Before
# the recover,
# `crpc restore DIR` names the leftover and `crpc recover`, never
# suggesting to dump again over what may be the only copy. A recover while
# the dump still runs (held in a hook) refuses and changes nothing. A dump
# killed before it wrote its intent (the engine never asked) is refused as
# one CRIU never ran, and the call directory such a dump made is swept.
# With --leave-running (runc) the container runs on whatever the moment and
# DIR, when there, is a complete checkpoint that verifies.
# shellcheck disable=SC2016 # quoted code for wait_for's eval
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/container_lib.sh"
. "$(dirname "$0")/../helpers/kill_lib.sh"

container_tools podman

suffix=${TMP##*.}
NAME=crpc-k-$suffix
CG=/crpc-it-ckill-$suffix
IMAGE=localhost/crpc-busybox:test # podman storage of this test only
BUNDLE=$TMP/bundle
RUNC_ROOT=$TMP/runc
export CRPC_RUNTIME_DIR=$TMP/rt

printf '#!/bin/sh\nexec %q --root %q --runroot %q --tmpdir %q --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --runtime %q "$@"\n' \
	"$PODMAN" "$TMP/storage" "$TMP/run" "$TMP/libpod" "$RUNC" >"$TMP/podman"
chmod 0755 "$TMP/podman"
export CRPC_PODMAN=$TMP/podman
podman_() { "$TMP/podman" "$@"; }
runc_() { "$RUNC" --root "$RUNC_ROOT" "$@"; }

kill_cleanup() {
	local rc=$?
	set +e
	# a dump still under way in the background ends first
	[ -n "${CRPC_PID:-}" ] && kill -KILL "$CRPC_PID" 2>/dev/null
	podman_ rm -f -t 0 "$NAME" >/dev/null 2>&1
	runc_ delete -f "$NAME" >/dev/null 2>&1
	podman_ rmi -f "$IMAGE" >/dev/null 2>&1
	cgroup_end "$CG"
	cgroup_end "$CG-runc"
	umount_tmp
	return "$rc"
}
trap 'kill_cleanup; cleanup' EXIT

status_podman() { podman_ container inspect --format '{{.State.Status}}' "$NAME" 2>/dev/null || true; }
status_runc() {
	runc_ state "$NAME" 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null || true
}

"$CRPC_SRC/tests/helpers/make-busybox-bundle" --cgroups-path "$CG-runc" "$BUNDLE" ||
	fail "cannot build the busybox bundle"
tar -C "$BUNDLE/rootfs" -c . | podman_ import - "$IMAGE" >/dev/null || fail "podman import failed"

# --- podman -----------------------------------------------------------------------
COUNT=$TMP/pstate/count
mkdir -p "$TMP/pstate"
expect_exit 0 podman_ run -d --name "$NAME" --network none --cgroup-parent "$CG" -v "$TMP/pstate:/state" \
	--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$IMAGE" /counter
wait_for '[ "$(count)" -ge 3 ]' 10 || fail "the podman container's counter does not count ($(count))"
stale_calls_swept
killed_unfinished podman "podman:$NAME"
recover_too_early podman "podman:$NAME"
kill_loop podman "podman:$NAME"
podman_ rm -f -t 0 "$NAME" >/dev/null 2>&1

# --- runc -------------------------------------------------------------------------
COUNT=$BUNDLE/rootfs/state/count
(cd "$BUNDLE" && runc_ run -d "$NAME" </dev/null >/dev/null 2>&1) || fail "runc run $NAME failed"
wait_for '[ "$(count)" -ge 3 ]' 10 || fail "the runc container's counter does not count ($(count))"
killed_unfinished runc "runc:$NAME" --runc-root "$RUNC_ROOT"
kill_loop runc "runc:$NAME" --runc-root "$RUNC_ROOT"
kill_loop_leave runc "runc:$NAME" --runc-root "$RUNC_ROOT"
