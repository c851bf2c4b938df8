#!/bin/bash
# podman containers as crpc's targets: `crpc dump podman:NAME DIR`,
# `crpc restore DIR [--name NEW]`, `crpc inspect podman:NAME`, `crpc ps`,
# with Debian's podman and runc. podman keeps all its state under this
# test's directory: crpc runs it through $CRPC_PODMAN, a wrapper that adds
# --root, --runroot, --tmpdir, the vfs driver, cgroupfs and file events.
# The image is the busybox rootfs of make-busybox-bundle, made with
# `podman import` (no registry); the counter writes into a volume of this
# test. crpc is podman's CRIU for the call (--runtime-flag criu=..., the
# call directory first on PATH): the counter carries on after the restore
# into the same container (same ID), hooks fire with the container's engine,
# ID and name, DIR holds the session's trace; --leave-running keeps it
# running; a restore as --name NEW after the original was removed brings
# up a new container; an established TCP connection over the container's
# loopback survives; a bare name two engines carry is refused listing both;
# the error cases leave the container untouched.
# shellcheck disable=SC2016 # quoted code for wait_for's eval
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"
. "$(dirname "$0")/../helpers/container_lib.sh"

container_tools podman

suffix=${TMP##*.}
NAME=crpc-p-$suffix
CG=/crpc-it-podmane-$suffix
IMAGE=localhost/crpc-busybox:test # podman storage of this test only
BUNDLE=$TMP/bundle
STATE=$TMP/state
COUNT=$STATE/count
RUNC_ROOT=$TMP/runc
export CRPC_RUNTIME_DIR=$TMP/rt

# podman as crpc runs it: everything under $TMP; each command line into $TMP/podman.calls.
printf '#!/bin/sh\necho "$*" >>%q\nexec %q --root %q --runroot %q --tmpdir %q --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --runtime %q "$@"\n' \
	"$TMP/podman.calls" "$PODMAN" "$TMP/storage" "$TMP/run" "$TMP/libpod" "$RUNC" >"$TMP/podman"
chmod 0755 "$TMP/podman"
export CRPC_PODMAN=$TMP/podman
podman_() { "$TMP/podman" "$@"; }

podman_cleanup() {
	local rc=$?
	set +e
	for n in "$NAME" "$NAME-new" "$NAME-tcp"; do
		podman_ rm -f -t 0 "$n" >/dev/null 2>&1
	done
	"$RUNC" --root "$RUNC_ROOT" delete -f "$NAME" >/dev/null 2>&1
	podman_ rmi -f "$IMAGE" >/dev/null 2>&1
	cgroup_end "$CG"
	cgroup_end "$CG-runc"
	umount_tmp
	return "$rc"
}
trap 'podman_cleanup; cleanup' EXIT

crpc_() { "$CRPC_BIN" --no-config "$@"; }
status() { podman_ container inspect --format '{{.State.Status}}' "$1" 2>/dev/null || true; }
cid() { podman_ container inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
run_ctr() { # NAME STATE-DIR COMMAND [NETWORK]
	mkdir -p "$2"
	expect_exit 0 podman_ run -d --name "$1" --network "${4:-none}" --cgroup-parent "$CG" -v "$2:/state" \
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$IMAGE" "$3"
}

# the counter holds 12 MiB: enough for the dump to hash its images while they are written
"$CRPC_SRC/tests/helpers/make-busybox-bundle" --hold 12 --cgroups-path "$CG-runc" "$BUNDLE" ||
	fail "cannot build the busybox bundle"
tar -C "$BUNDLE/rootfs" -c . | podman_ import - "$IMAGE" >/dev/null || fail "podman import failed"
run_ctr "$NAME" "$STATE" /counter
ID=$(cid "$NAME")
wait_for '[ "$(count)" -ge 5 ]' 10 || fail "the container's counter does not count ($(count))"

# --- ps, inspect ----------------------------------------------------------------
expect_exit 0 crpc_ ps --json
printf '%s\n' "$OUT" >"$TMP/ps.json"
json_assert "$TMP/ps.json" \
	"any(c['engine'] == 'podman' and c['name'] == '$NAME' and c['id'] == '$ID' and c['state'] == 'running' and c['checkpointable'] is True for c in d['containers'])" \
	"any(e['name'] == 'podman' and e['present'] and e['version'] for e in d['engines'])"
expect_exit 0 crpc_ inspect --json "podman:$NAME"
printf '%s\n' "$OUT" >"$TMP/inspect.json"
json_assert "$TMP/inspect.json" "d['container']['id'] == '$ID'" "d['container']['image'] == '$IMAGE'" \
	"d['dumpable'] is True" "not any(w.get('warning') in ('namespace', 'namespaces') for w in d['warnings'])"

# --- a bare name that runc also has: refused, both listed ---------------------
(cd "$BUNDLE" && "$RUNC" --root "$RUNC_ROOT" run -d "$NAME" </dev/null >/dev/null 2>&1) ||
	fail "runc run $NAME failed"
expect_exit 2 crpc_ dump --runc-root "$RUNC_ROOT" "$NAME" "$TMP/ck-amb"
assert_contains "$ERR" "names 2 containers" "a bare name of two engines"
assert_contains "$ERR" "runc:$NAME" "the candidates"
assert_contains "$ERR" "podman:$NAME" "the candidates"
[ ! -e "$TMP/ck-amb" ] || fail "an ambiguous dump left $TMP/ck-amb"
"$RUNC" --root "$RUNC_ROOT" delete -f "$NAME" || fail "runc delete failed"

# --- hooks --------------------------------------------------------------------------
engine_hooks_config "$TMP/hooks.yaml"

# --- dump and restore into the same container -----------------------------------
expect_exit 0 "$CRPC_BIN" --config "$TMP/hooks.yaml" dump --json "podman:$NAME" "$TMP/ck"
printf '%s\n' "$OUT" >"$TMP/dump.json"
json_assert "$TMP/dump.json" "d['container']['engine'] == 'podman'" "d['container']['id'] == '$ID'" \
	"d['container']['name'] == '$NAME'"
[ "$(status "$NAME")" = exited ] || fail "$NAME is '$(status "$NAME")' after the dump, expected exited"
at_ckpt=$(count)
sleep 0.4
[ "$(count)" = "$at_ckpt" ] || fail "the counter moved after the dump ($at_ckpt -> $(count))"
# dump.log: CRIU's log as the shim copied it before podman removed its own
for f in crpc.json dump.trace hooks.log dump.log pstree.img inventory.img config.dump spec.dump; do
	[ -s "$TMP/ck/$f" ] || fail "no $f in the checkpoint: $(ls "$TMP/ck")"
done
manifest_assert "$TMP/ck/crpc.json" "d['container']['engine'] == 'podman'" "d['container']['id'] == '$ID'" \
	"d['container']['image'] == '$IMAGE'" "d['container']['engine_version'] != ''" \
	"'config.dump' in d['container']['recreate']['export']['files']" \
	"'pstree.img' in d['container']['recreate']['export']['images']" \
	"d['container']['recreate']['static_dir'] == '$(podman_ container inspect --format '{{.StaticDir}}' "$NAME")'" \
	"d.get('hash_ahead_files', 0) > 0" # hashed (and written back) while tar extracted them
got=$(awk '{print $1}' "$TMP/marks" | tr '\n' ' ')
for cb in pre-dump post-dump; do
	assert_contains "$got" "$cb" "the dump's hooks"
done
while read -r cb engine id name; do
	[ "$engine $id $name" = "podman $ID $NAME" ] || fail "hook $cb saw engine/id/name '$engine $id $name'"
done <"$TMP/marks"
: >"$TMP/marks"
expect_exit 0 "$CRPC_BIN" trace show "$TMP/ck/dump.trace"
for s in "-> DUMP" "<- NOTIFY   pre-dump" "<- DUMP     success"; do
	assert_contains "$OUT" "$s" "crpc trace show of the dump"
done

: >"$TMP/podman.calls"
expect_exit 0 "$CRPC_BIN" --config "$TMP/hooks.yaml" restore --trace "$TMP/restore.trace" "$TMP/ck"
# the same container, stopped: restored in its directory without an inspect first
calls=$(cat "$TMP/podman.calls")
assert_contains "$calls" "container restore $ID" "podman's calls of the restore"
[[ $calls != *inspect* ]] || fail "the restore into the stopped container inspected it: $calls"
grep -q "Restore finished successfully" "$TMP/ck/restore.log" || fail "no CRIU restore.log kept in the checkpoint"
grep -q "Dumping finished successfully" "$TMP/ck/dump.log" || fail "CRIU's dump.log in the checkpoint is not the dump's"
assert_contains "$OUT" "Restored podman:$NAME" "crpc restore's summary"
[ "$(status "$NAME")" = running ] || fail "$NAME is '$(status "$NAME")' after the restore"
[ "$(cid "$NAME")" = "$ID" ] || fail "the restored container has ID $(cid "$NAME"), expected $ID"
[[ $OUT =~ init\ PID\ ([0-9]+) ]] || fail "crpc restore names no init PID: $OUT"
ppid=$(podman_ container inspect --format '{{.State.Pid}}' "$NAME")
[ "${BASH_REMATCH[1]}" = "$ppid" ] || fail "crpc restore says init PID ${BASH_REMATCH[1]}, podman says $ppid"
carries_on "$at_ckpt"
got=$(awk '{print $1}' "$TMP/marks" | tr '\n' ' ')
for cb in pre-restore post-restore; do
	assert_contains "$got" "$cb" "the restore's hooks"
done
expect_exit 0 "$CRPC_BIN" trace show "$TMP/restore.trace"
assert_contains "$OUT" "<- RESTORE  success" "crpc trace show of the restore"
note "counter: $at_ckpt at the dump, $FIRST first after the restore"

# --- --leave-running, then removed and restored as --name NEW -----------------
expect_exit 0 crpc_ dump --leave-running "podman:$NAME" "$TMP/ck2"
[ "$(status "$NAME")" = running ] || fail "$NAME is '$(status "$NAME")' after --leave-running"
keeps_counting 5 || fail "the counter stopped after --leave-running"
expect_exit 1 crpc_ restore "$TMP/ck2"
assert_contains "$ERR" "is running" "restore into the running container"
[ "$(status "$NAME")" = running ] || fail "$NAME is '$(status "$NAME")' after the refused restore"
expect_exit 0 podman_ rm -f -t 0 "$NAME"
expect_exit 0 crpc_ restore --json --name "$NAME-new" "$TMP/ck2"
printf '%s\n' "$OUT" >"$TMP/restore-new.json"
[ "$(status "$NAME-new")" = running ] || fail "$NAME-new is '$(status "$NAME-new")' after restore --name"
json_assert "$TMP/restore-new.json" "d['container']['name'] == '$NAME-new'" \
	"d['container']['id'] == '$(cid "$NAME-new")'" \
	"d['pid'] == $(podman_ container inspect --format '{{.State.Pid}}' "$NAME-new")"
keeps_counting 5 || fail "the counter of $NAME-new does not move (at $(count))"

# --- errors, the container untouched --------------------------------------------
expect_exit 2 crpc_ dump "podman:nosuch-$suffix" "$TMP/ck-none"
assert_contains "$ERR" "no such container" "dump of a container that does not exist"
expect_exit 3 env CRPC_PODMAN=/nonexistent/podman "$CRPC_BIN" --no-config dump "podman:$NAME-new" "$TMP/ck-none"
assert_contains "$ERR" "podman not found" "dump with podman missing"
expect_exit 0 podman_ stop -t 0 "$NAME-new"
expect_exit 1 crpc_ dump "podman:$NAME-new" "$TMP/ck-none"
assert_contains "$ERR" "is not running (exited)" "dump of a stopped container"
[ ! -e "$TMP/ck-none" ] || fail "a refused dump left $TMP/ck-none"
[ "$(status "$NAME-new")" = exited ] || fail "the stopped container is '$(status "$NAME-new")'"
expect_exit 0 podman_ rm -f -t 0 "$NAME-new"

# --- an established TCP connection inside the container ----------------------
TSTATE=$TMP/tstate
TCP=$TSTATE/tcp
NETNS=$TMP/netns
make_netns "$NETNS"
run_ctr "$NAME-tcp" "$TSTATE" /tcp-counter "ns:$NETNS"
wait_for '[ "$(tcp_last)" -ge 5 ]' 10 || fail "the TCP pair in the container does not talk ($(tcp_last))"
expect_exit 0 crpc_ dump "podman:$NAME-tcp" "$TMP/ck-tcp"
assert_contains "$ERR" "auto: tcp_established" "the dump's notices"
at_ckpt=$(tcp_last)
expect_exit 0 crpc_ restore "$TMP/ck-tcp"
assert_contains "$ERR" "from the checkpoint: tcp_established" "the restore's notices"
tcp_carries_on "$at_ckpt"
