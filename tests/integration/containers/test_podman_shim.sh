#!/bin/bash
# podman checkpoints and restores a busybox container through crpc's shim.
# podman finds CRIU on PATH: it checks CRIU's version itself, runs
# `runc checkpoint`, and for the restore starts conmon, which runs
# `runc restore`; runc runs the `criu` on PATH. podman hands runc only PATH
# (and XDG_RUNTIME_DIR), conmon only PATH and containers.conf's
# conmon_env_vars, so $CRPC_CONFIG and $CRPC_CRIU never reach the shim. The
# `criu` first on PATH is therefore a wrapper that names both:
# `exec crpc --config FILE --criu REAL shim "$@"` (with a plain symlink the
# shim would read /etc/crpc/config.yaml and find the real CRIU further down
# PATH). podman keeps all its state under this test's directory (--root,
# --runroot, --tmpdir) and the container's cgroups under a cgroup parent of
# its own.
#
# shellcheck disable=SC2016 # quoted code for wait_for's eval
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"
. "$(dirname "$0")/../helpers/container_lib.sh"

container_tools podman

suffix=${TMP##*.}
NAME=crpc-it-$suffix
CG=/crpc-it-podman-$suffix
BUNDLE=$TMP/bundle
COUNT=$BUNDLE/rootfs/state/count

podman_() {
	# cgroupfs: no systemd scopes; vfs: no overlay mounts; file events:
	# no journald; runc runs the `criu` it finds on PATH.
	"$PODMAN" --root "$TMP/storage" --runroot "$TMP/run" --tmpdir "$TMP/libpod" \
		--storage-driver vfs --cgroup-manager cgroupfs --events-backend file \
		--runtime "$RUNC" "$@"
}

# Remove the container, its cgroups and any mount left under $TMP, also
# when the test failed, before lib.sh's cleanup removes $TMP. Only PIDs
# found in the container's own cgroups are ended.
podman_cleanup() {
	local rc=$?
	set +e
	podman_ rm -f -t 0 "$NAME" >/dev/null 2>&1
	cgroup_end "$CG"
	umount_tmp
	return "$rc"
}
trap 'podman_cleanup; cleanup' EXIT

# status: podman's idea of the container's state (running, exited, ...)
status() {
	podman_ container inspect --format '{{.State.Status}}' "$NAME" 2>/dev/null || true
}

# The shim, first on PATH for podman, conmon and runc.
mkdir -p "$TMP/shim" "$TMP/traces"
marks_config "$TMP/shim.yaml" pre-dump post-dump pre-restore post-restore
printf '#!/bin/sh\nexec %q --config %q --criu %q shim "$@"\n' \
	"$CRPC_BIN" "$TMP/shim.yaml" "$CRPC_CRIU" >"$TMP/shim/criu"
chmod 0755 "$TMP/shim/criu"
export PATH=$TMP/shim:$PATH

"$CRPC_SRC/tests/helpers/make-busybox-bundle" --no-spec "$BUNDLE" ||
	fail "cannot build the busybox rootfs"

# --- run ---------------------------------------------------------------------
# podman raises its own limits and would give the container ones that runc
# cannot set here (no CAP_SYS_RESOURCE): ask for modest ones.
expect_exit 0 podman_ run -d --name "$NAME" --network none --cgroup-parent "$CG" \
	--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --rootfs "$BUNDLE/rootfs" /counter
wait_for '[ "$(count)" -ge 5 ]' 10 || fail "the container's counter does not count ($(count))"

# --- checkpoint through the shim ---------------------------------------------
expect_exit 0 podman_ container checkpoint "$NAME"
[ "$(status)" = exited ] || fail "the container is '$(status)' after the checkpoint, expected exited"
at_ckpt=$(count)
sleep 0.4
[ "$(count)" = "$at_ckpt" ] || fail "the counter moved after the checkpoint ($at_ckpt -> $(count))"
dump_marks=$(<"$TMP/marks")
: >"$TMP/marks"

# --- restore through the shim (conmon -> runc restore -> shim) ---------------
expect_exit 0 podman_ container restore "$NAME"
[ "$(status)" = running ] || fail "the container is '$(status)' after the restore, expected running"
carries_on "$at_ckpt"
restore_marks=$(<"$TMP/marks")
note "counter: $at_ckpt at the checkpoint, $FIRST first after the restore, now $(count)"

hooks_ran_as checkpoint "$dump_marks" $'pre-dump\npost-dump'
hooks_ran_as restore "$restore_marks" $'pre-restore\npost-restore'

# --- traces ------------------------------------------------------------------
session_traces "$TMP/traces"
assert_contains "$DUMP_SHOW" "<- DUMP     success" "trace show of the checkpoint"
assert_contains "$RESTORE_SHOW" "<- RESTORE  success" "trace show of the restore"

expect_exit 0 podman_ rm -f -t 0 "$NAME"
