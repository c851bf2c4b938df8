#!/bin/bash
# runc containers as crpc's targets: `crpc dump runc:ID DIR` with runc's
# --root given as --runc-root, `crpc restore DIR [--name NEW]`, `crpc
# inspect runc:ID` and `crpc ps`, with Debian's runc and the busybox counter
# container of make-busybox-bundle. crpc runs `runc --criu` with itself as
# CRIU (a call directory under $CRPC_RUNTIME_DIR, this test's own): the
# container's counter carries on after the restore into the same
# container, hooks fire at every callback with the container's engine and
# ID in their environment, DIR holds the session's trace for `crpc trace
# show`. --leave-running keeps it running (a restore into it is refused
# while it runs); a restore as --name NEW after the original was removed
# brings up a new container that carries on. A container holding an
# established TCP connection over its loopback gets tcp_established from
# the inspection, added by the shim to runc's DUMP request, and the
# connection survives. The error cases (no such container, a paused one,
# runc missing, a name that is a PID) leave the container untouched with
# the documented exit codes.
# shellcheck disable=SC2016 # quoted code for wait_for's eval
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"
. "$(dirname "$0")/../helpers/container_lib.sh"

container_tools runc

suffix=${TMP##*.}
ID=crpc-e-$suffix
CG=/crpc-it-runce-$suffix
RUNC_ROOT=$TMP/runc
BUNDLE=$TMP/bundle
COUNT=$BUNDLE/rootfs/state/count
export CRPC_RUNTIME_DIR=$TMP/rt

IDS=("$ID" "$ID-new" "$ID-tcp")
runc_cleanup() {
	local rc=$? i
	set +e
	for i in "${IDS[@]}"; do
		"$RUNC" --root "$RUNC_ROOT" delete -f "$i" >/dev/null 2>&1
	done
	cgroup_end "$CG"
	cgroup_end "$CG-tcp"
	return "$rc"
}
trap 'runc_cleanup; cleanup' EXIT

runc_() {
	"$RUNC" --root "$RUNC_ROOT" "$@"
}
crpc_() {
	"$CRPC_BIN" --no-config "$@"
}
state() {
	runc_ state "$1" 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null || true
}
run_container() { # ID BUNDLE
	(cd "$2" && runc_ --log "$TMP/run.log" run -d "$1" </dev/null >/dev/null 2>&1) ||
		fail "runc run $1 failed: $(cat "$TMP/run.log")"
}

# the counter holds 12 MiB: enough for the dump to hash its images while they are written
"$CRPC_SRC/tests/helpers/make-busybox-bundle" --hold 12 --cgroups-path "$CG" "$BUNDLE" ||
	fail "cannot build the busybox bundle"
run_container "$ID" "$BUNDLE"
wait_for '[ "$(count)" -ge 5 ]' 10 || fail "the container's counter does not count ($(count))"

# --- ps and inspect ----------------------------------------------------------
expect_exit 0 crpc_ ps --runc-root "$RUNC_ROOT" --json
printf '%s\n' "$OUT" >"$TMP/ps.json"
json_assert "$TMP/ps.json" \
	"any(c['engine'] == 'runc' and c['id'] == '$ID' and c['state'] == 'running' and c['pid'] > 1 and c['checkpointable'] is True and c['blockers'] == 0 for c in d['containers'])"
expect_exit 0 crpc_ ps --runc-root "$RUNC_ROOT"
assert_contains "$OUT" "$ID" "crpc ps"
expect_exit 0 crpc_ inspect --runc-root "$RUNC_ROOT" "runc:$ID"
assert_contains "$OUT" "Container runc:$ID" "crpc inspect runc:$ID"
assert_not_contains "$OUT" "namespaces of its own (" "crpc inspect runc:$ID (the container's namespaces are expected)"
expect_exit 0 crpc_ inspect --runc-root "$RUNC_ROOT" --json "$ID" # a bare name
printf '%s\n' "$OUT" >"$TMP/inspect.json"
json_assert "$TMP/inspect.json" "d['container']['id'] == '$ID'" "d['dumpable'] is True" \
	"not any(w.get('warning') in ('namespace', 'namespaces') for w in d['warnings'])"

# --- hooks: every callback, with the container's engine and ID -----------
engine_hooks_config "$TMP/hooks.yaml"

# --- dump and restore into the same container ---------------------------------
expect_exit 0 "$CRPC_BIN" --config "$TMP/hooks.yaml" dump --runc-root "$RUNC_ROOT" --trace "$TMP/dump.trace" \
	--hook "post-dump=echo flag \$CRPC_CONTAINER_ID >>$TMP/marks" "runc:$ID" "$TMP/ck"
assert_contains "$OUT" "Checkpointed runc:$ID" "crpc dump's summary"
[ -z "$(state "$ID")" ] || fail "runc still knows $ID after the dump: $(state "$ID")"
at_ckpt=$(count)
sleep 0.4
[ "$(count)" = "$at_ckpt" ] || fail "the counter moved after the dump ($at_ckpt -> $(count))"
for f in crpc.json dump.trace dump.log hooks.log pstree.img inventory.img; do
	[ -s "$TMP/ck/$f" ] || fail "no $f in the checkpoint: $(ls "$TMP/ck")"
done
[ ! -e "$TMP/rt/calls" ] || [ -z "$(ls -A "$TMP/rt/calls")" ] || fail "call directories left: $(ls "$TMP/rt/calls")"
manifest_assert "$TMP/ck/crpc.json" "d['container']['engine'] == 'runc'" "d['container']['id'] == '$ID'" \
	"d['container']['recreate']['bundle'] == '$BUNDLE'" "d['container']['recreate']['root'] == '$RUNC_ROOT'" \
	"d['container']['recreate']['config']['process']['args'] == ['/counter']" \
	"d['container']['engine_version'] != ''" "d['criu']['version'] != ''" \
	"any(f['name'] == 'dump.trace' for f in d['files'])" \
	"d.get('hash_ahead_files', 0) > 0" # hashed (and written back) while the engine's CRIU wrote
dump_marks=$(<"$TMP/marks")
: >"$TMP/marks"
want_dump="pre-dump network-lock query-ext-files post-dump"
got=$(awk '$1 != "flag" {print $1}' <<<"$dump_marks" | tr '\n' ' ')
[ "$got" = "$want_dump " ] || fail "dump: hooks ran as [$got], expected [$want_dump ]"
while read -r cb engine id name; do
	[ "$cb" = flag ] && continue
	[ "$engine $id $name" = "runc $ID $ID" ] || fail "hook $cb saw engine/id/name '$engine $id $name'"
done <<<"$dump_marks"
assert_contains "$dump_marks" "flag $ID" "the --hook step's output"
# the trace: in DIR and at --trace, readable
for t in "$TMP/ck/dump.trace" "$TMP/dump.trace"; do
	expect_exit 0 "$CRPC_BIN" trace show "$t"
	for s in "-> DUMP" "<- NOTIFY   pre-dump" "<- DUMP     success"; do
		assert_contains "$OUT" "$s" "crpc trace show $t"
	done
done

expect_exit 0 "$CRPC_BIN" --config "$TMP/hooks.yaml" restore --json "$TMP/ck"
printf '%s\n' "$OUT" >"$TMP/restore.json"
json_assert "$TMP/restore.json" "d['ok'] is True" "d['container']['engine'] == 'runc'" \
	"d['container']['id'] == '$ID'" "d['container']['state'] == 'running'" "d['pid'] > 1"
[ "$(state "$ID")" = running ] || fail "runc does not see $ID running after the restore: '$(state "$ID")'"
carries_on "$at_ckpt"
restore_marks=$(awk '{print $1}' "$TMP/marks" | tr '\n' ' ')
for cb in pre-restore post-restore; do
	assert_contains "$restore_marks" "$cb" "the restore's hooks"
done
grep -qv "runc $ID $ID\$" "$TMP/marks" && fail "a restore hook saw another container: $(cat "$TMP/marks")"
note "counter: $at_ckpt at the dump, $FIRST first after the restore"

# --- --leave-running; a restore into the running container is refused -----
expect_exit 0 crpc_ dump --runc-root "$RUNC_ROOT" --leave-running "runc:$ID" "$TMP/ck2"
[ "$(state "$ID")" = running ] || fail "$ID is '$(state "$ID")' after --leave-running"
keeps_counting 5 || fail "the counter stopped after --leave-running"
expect_exit 1 crpc_ restore "$TMP/ck2"
assert_contains "$ERR" "is running" "restore into a running container"
[ "$(state "$ID")" = running ] || fail "$ID is '$(state "$ID")' after the refused restore"

# --- removed, restored as --name NEW -------------------------------------------
runc_ delete -f "$ID" || fail "runc delete -f $ID failed"
at_ckpt=$(count)
expect_exit 2 crpc_ restore --name 'bad/name' "$TMP/ck2"
expect_exit 0 crpc_ restore --name "$ID-new" "$TMP/ck2"
assert_contains "$OUT" "Restored runc:$ID-new" "restore --name"
[ "$(state "$ID-new")" = running ] || fail "$ID-new is '$(state "$ID-new")' after restore --name"
keeps_counting 5 || fail "the counter of $ID-new does not move (at $(count))"

# --- errors, the container untouched --------------------------------------------
expect_exit 2 crpc_ dump --runc-root "$RUNC_ROOT" "runc:nosuch-$suffix" "$TMP/ck-none"
assert_contains "$ERR" "no such container" "dump of a container that does not exist"
[ ! -e "$TMP/ck-none" ] || fail "a failed dump left $TMP/ck-none"
expect_exit 2 crpc_ dump --json --runc-root "$RUNC_ROOT" "runc:nosuch-$suffix" "$TMP/ck-none"
printf '%s\n' "$OUT" >"$TMP/nosuch.json"
json_assert "$TMP/nosuch.json" --exit 2 "d['target'] == 'runc:nosuch-$suffix'" \
	"'no such container' in d['error']['message']"
expect_exit 2 crpc_ dump --runc-root "$RUNC_ROOT" "lxc:$ID-new" "$TMP/ck-none"
assert_contains "$ERR" "unknown engine" "an unknown engine"
expect_exit 3 env CRPC_RUNC=/nonexistent/runc "$CRPC_BIN" --no-config dump "runc:$ID-new" "$TMP/ck-none"
assert_contains "$ERR" "runc not found" "dump with runc missing"
runc_ pause "$ID-new" || fail "runc pause failed"
expect_exit 1 crpc_ dump --runc-root "$RUNC_ROOT" "runc:$ID-new" "$TMP/ck-none"
assert_contains "$ERR" "not running (paused)" "dump of a paused container"
[ "$(state "$ID-new")" = paused ] || fail "the paused container is '$(state "$ID-new")' after the refused dump"
[ ! -e "$TMP/ck-none" ] || fail "a refused dump left $TMP/ck-none"
runc_ resume "$ID-new" || fail "runc resume failed"
keeps_counting 5 || fail "the counter does not move after the refused dumps"
# a blocker (the container's init traced from the host): refused before runc is asked
init=$(runc_ state "$ID-new" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
/usr/bin/python3 -c '
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
if libc.ptrace(0x4206, int(sys.argv[1]), None, None) != 0:   # PTRACE_SEIZE
    sys.exit("PTRACE_SEIZE failed: errno %d" % ctypes.get_errno())
open(sys.argv[2], "w").write("seized\n")
time.sleep(600)
' "$init" "$TMP/seized" </dev/null >/dev/null 2>&1 &
tracer=$!
track "$tracer"
wait_for "[ -s '$TMP/seized' ]" 10 || fail "cannot trace the container's init $init"
expect_exit 1 crpc_ dump --runc-root "$RUNC_ROOT" "runc:$ID-new" "$TMP/ck-none"
assert_contains "$ERR" "blocker: traced" "dump of a container with a traced task"
expect_exit 1 crpc_ dump --json --runc-root "$RUNC_ROOT" "runc:$ID-new" "$TMP/ck-none"
printf '%s\n' "$OUT" >"$TMP/blocked.json"
json_assert "$TMP/blocked.json" --exit 1 "d['container']['id'] == '$ID-new'" \
	"[b['blocker'] for b in d['blockers']] == ['traced']"
[ ! -e "$TMP/ck-none" ] || fail "a blocked dump left $TMP/ck-none"
[ ! -e "$TMP/rt/calls" ] || [ -z "$(ls -A "$TMP/rt/calls")" ] || fail "a blocked dump made a call directory"
kill -KILL "$tracer"
wait_gone "$tracer" 5 || fail "the tracer $tracer does not go away"
# a pre-dump hook that refuses: runc's checkpoint fails with its reason, the container runs on
expect_exit 1 crpc_ dump --runc-root "$RUNC_ROOT" --hook 'pre-dump=echo not now >&2; exit 7' \
	"runc:$ID-new" "$TMP/ck-none"
assert_contains "$ERR" "runc checkpoint" "dump refused by a hook"
assert_contains "$ERR" "not now" "dump refused by a hook (the hook's reason, from the CRIU log)"
[ ! -e "$TMP/ck-none" ] || [ -z "$(ls "$TMP/ck-none" | grep -v -e '^dump.log$' -e '^hooks.log$')" ] ||
	fail "a refused dump left a checkpoint: $(ls "$TMP/ck-none")"
[ ! -e "$TMP/ck-none/crpc.json" ] || fail "a refused dump left crpc.json"
[ "$(state "$ID-new")" = running ] || fail "the container is '$(state "$ID-new")' after the blocked dump"
keeps_counting 5 || fail "the counter does not move after the blocked dump"
runc_ delete -f "$ID-new" || fail "runc delete -f $ID-new failed"

# --- an established TCP connection inside the container ----------------------
TBUNDLE=$TMP/tbundle
"$CRPC_SRC/tests/helpers/make-busybox-bundle" --cgroups-path "$CG-tcp" "$TBUNDLE" ||
	fail "cannot build the second bundle"
NETNS=$TMP/netns
CLEANUP_CMDS+=(netns_end)
netns_end() { umount "$NETNS" 2>/dev/null || true; }
make_netns "$NETNS"
/usr/bin/python3 - "$TBUNDLE/config.json" "$NETNS" <<'EOF'
import json, sys
p, netns = sys.argv[1:3]
spec = json.load(open(p))
spec["process"]["args"] = ["/tcp-counter"]
for ns in spec["linux"]["namespaces"]:
    if ns["type"] == "network":
        ns["path"] = netns
json.dump(spec, open(p, "w"), indent="\t")
EOF
TCP=$TBUNDLE/rootfs/state/tcp
run_container "$ID-tcp" "$TBUNDLE"
wait_for '[ "$(tcp_last)" -ge 5 ]' 10 || fail "the TCP pair in the container does not talk ($(tcp_last))"
expect_exit 0 crpc_ dump --runc-root "$RUNC_ROOT" "runc:$ID-tcp" "$TMP/ck-tcp"
assert_contains "$ERR" "auto: tcp_established" "the dump's notices"
manifest_assert "$TMP/ck-tcp/crpc.json" \
	"any(o['option'] == 'tcp_established' and o['source'] == 'auto' for o in d['options'])"
expect_exit 0 "$CRPC_BIN" trace show --json "$TMP/ck-tcp/dump.trace"
assert_contains "$OUT" "\"tcp_established\": true" "the trace of the DUMP runc sent through the shim"
at_ckpt=$(tcp_last)
expect_exit 0 crpc_ restore "$TMP/ck-tcp"
tcp_carries_on "$at_ckpt"
runc_ delete -f "$ID-tcp" || fail "runc delete -f $ID-tcp failed"
