#!/bin/bash
# The shim as CRIU: any command line but `swrk N` runs the real CRIU
# unchanged; `swrk N` forwards a real dump and restore with crpc itself as
# the client (crpc dump --criu SHIM), makes the client's images_dir_fd and
# work_dir_fd valid for CRIU, passes every inherited fd on to CRIU at the
# same number, writes nothing to stdout, records one trace per session and
# prints a line per message when asked to.
# shellcheck disable=SC2016 # quoted code for wait_for
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/shim_lib.sh"

# --- pass-through: criu --version, criu check, crpc shim --version ------------------
want=$("$CRPC_CRIU" --version)
expect_exit 0 "$SHIM" --version
[ "$OUT" = "$want" ] || fail "criu --version through the shim printed '$OUT', the real one '$want'"
[ -z "$ERR" ] || fail "criu --version through the shim wrote to stderr: $ERR"
expect_exit 0 "$CRPC_BIN" shim --version
[ "$OUT" = "$want" ] || fail "crpc shim --version printed '$OUT', not '$want'"
rc_real=0
"$CRPC_CRIU" check >"$TMP/real-check.out" 2>&1 || rc_real=$?
expect_exit "$rc_real" "$SHIM" check
note "criu check through the shim: exit $rc_real: $OUT $ERR"
# a usage error of CRIU's own comes from CRIU, with its exit code
rc_real=0
"$CRPC_CRIU" --no-such-option >/dev/null 2>&1 || rc_real=$?
[ "$rc_real" -ne 0 ] || fail "the real CRIU accepted --no-such-option"
expect_exit "$rc_real" "$SHIM" --no-such-option
[ ! -e "$TRACES" ] || fail "pass-through runs wrote traces: $(ls "$TRACES")"

# --- a dump and a restore through the shim, crpc being the client -------------------------
pid=$(start_counter c)
track "$pid"
wait_for '[ "$(counter c)" -ge 2 ]' 10 || fail "counter does not count"
CRPC_SHIM_VERBOSE=$TMP/verbose.log expect_exit 0 "$CRPC_BIN" dump --no-config --criu "$SHIM" \
	--leave-running "$pid" "$TMP/ck-r"
assert_contains "$OUT" "Checkpointed PID $pid" "dump through the shim"
assert_contains "$OUT" "CRIU times" "dump summary (stats read through the translated dir)"
[ -s "$TMP/ck-r/inventory.img" ] || fail "no inventory.img after a dump through the shim"
verbose=$(cat "$TMP/verbose.log")
note "shim verbose log:"$'\n'"$verbose"
assert_contains "$verbose" "-> VERSION keep_open" "verbose log"
assert_contains "$verbose" "<- DUMP ok" "verbose log"
# the client's images_dir_fd became one of the shim's own
[[ $verbose =~ images_dir_fd:\ client\ fd\ ([0-9]+)\ is\ fd\ ([0-9]+)\ here ]] ||
	fail "the shim did not translate images_dir_fd: $verbose"
[ "${BASH_REMATCH[1]}" != "${BASH_REMATCH[2]}" ] || note "same fd number on both sides"
assert_running "$pid" c

# dump for real (the tree ends), then restore it through the shim
expect_exit 0 "$CRPC_BIN" dump --no-config --criu "$SHIM" "$pid" "$TMP/ck"
wait_gone "$pid" 5 || fail "PID $pid still there after the dump"
wait_for "session_gone $pid" 10 || fail "session $pid does not go away"
expect_exit 0 "$CRPC_BIN" restore --no-config --criu "$SHIM" "$TMP/ck"
assert_contains "$OUT" "Restored PID $pid" "restore through the shim"
track "$pid"
v=$(counter c)
wait_for "[ \"\$(counter c)\" -gt $v ]" 5 || fail "the restored counter does not count"

# --- one trace per session, named by time, pid and operation -------------------------------
ls "$TRACES" >"$TMP/traces.list"
note "traces: $(tr '\n' ' ' <"$TMP/traces.list")"
[ "$(grep -c -- '-dump\.trace$' "$TMP/traces.list")" -eq 2 ] || fail "expected 2 dump traces: $(cat "$TMP/traces.list")"
[ "$(grep -c -- '-restore\.trace$' "$TMP/traces.list")" -eq 1 ] || fail "expected 1 restore trace"
[ "$(stat -c %a "$TRACES")" = 700 ] || fail "trace directory mode $(stat -c %a "$TRACES"), expected 700"
t=$TRACES/$(grep -- '-restore\.trace$' "$TMP/traces.list")
head -n1 "$t" >"$TMP/header.json"
jcheck "$TMP/header.json" 'd["type"] == "header"' 'd["operation"] == "shim"' \
	'd["target"].startswith("client ") and "(crpc)" in d["target"]' \
	'd["argv"][-2] == "swrk"' || fail "shim trace header: $(cat "$TMP/header.json")"
grep -q '"dir":"to_criu".*"msg_type":"RESTORE"' "$t" || fail "no RESTORE request in the trace"
grep -q '"dir":"from_criu".*"msg_type":"RESTORE"' "$t" || fail "no RESTORE reply in the trace"
expect_exit 0 "$CRPC_BIN" trace show "$t"
assert_contains "$OUT" "RESTORE" "crpc trace show of a shim trace"

# --- a client of its own: work_dir_fd, stdout, inherited fds ------------------------------
pid=$(start_counter w)
track "$pid"
mkdir "$TMP/wd-images" "$TMP/wd-work"
shim_client workdir "$pid" "$TMP/wd-images" "$TMP/wd-work"
echo "$CLIENT" >"$TMP/c.json"
jcheck "$TMP/c.json" 'd["shim_exit"] == 0' 'd["replies"][0]["type"] == 1' \
	'd["replies"][0]["success"]' 'd["stdout"] == ""' || fail "workdir dump: $CLIENT"
[ -s "$TMP/wd-work/dump.log" ] || fail "CRIU's log is not in the work dir: $(ls "$TMP/wd-work")"
[ ! -e "$TMP/wd-images/dump.log" ] || fail "CRIU's log went to the images dir"
[ -s "$TMP/wd-images/inventory.img" ] || fail "no images in the images dir"
assert_running "$pid" w

# the client's fd 9 (not the swrk socket) is CRIU's fd 9, the very same pipe
forget_version
shim_client inherit
echo "$CLIENT" >"$TMP/c.json"
jcheck "$TMP/c.json" 'd["criu_fd9"] == [d["pipe"]]' 'd["stdout"] == ""' ||
	fail "CRIU did not get the client's fd 9: $CLIENT"

# a client that moves the shim into a cgroup after the shim started its CRIU
# ahead (runc does so before a restore): the CRIU that serves the request is
# in that cgroup too
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
	cg_base=/sys/fs/cgroup # cgroup v2 alone
elif [ -d /sys/fs/cgroup/pids ]; then
	cg_base=/sys/fs/cgroup/pids
else
	cg_base=/sys/fs/cgroup/unified
fi
CG=$cg_base/crpc-test-shim-$$
remove_cg() { [ ! -d "$CG" ] || rmdir "$CG" 2>/dev/null || echo "warning: $CG not removed" >&2; }
CLEANUP_CMDS+=(remove_cg)
mkdir "$CG" || fail "cannot make the cgroup $CG"
forget_version
shim_client cgroup "$CG"
echo "$CLIENT" >"$TMP/c.json"
rel=${CG#"$cg_base"}
jcheck "$TMP/c.json" 'd["replies"][0]["success"]' 'len(d["criu_cgroups"]) == 1' \
	"any(l.split(':', 2)[2] == '$rel' for l in d['shim_cgroups'].splitlines())" \
	"d['criu_cgroups'][0] == d['shim_cgroups']" || fail "the shim's CRIU is not in the shim's new cgroup: $CLIENT"
wait_for "[ ! -s '$CG/cgroup.procs' ]" 10 || fail "processes left in $CG: $(cat "$CG/cgroup.procs")"
remove_cg

# the session as served with a trace: the shim's own process, CRIU its child
# (the CRIU here may be a wrapper that runs its own loader: not compared by name)
crpc_exe=$(readlink -f "$CRPC_BIN")
forget_version
shim_client exe
echo "$CLIENT" >"$TMP/c.json"
jcheck "$TMP/c.json" "d['exe'] == '$crpc_exe'" "len(d['children_exe']) == 1" \
	"d['children_exe'][0] != '$crpc_exe'" 'd["replies"][0]["success"]' || fail "the shim with a trace: $CLIENT"
# nothing to add (no hook, no trace, not verbose): the real CRIU in the shim's place
shim_config "  trace: false"
forget_version
shim_client exe
echo "$CLIENT" >"$TMP/c.json"
jcheck "$TMP/c.json" "d['exe'] != '$crpc_exe'" 'd["children_exe"] == []' 'd["replies"][0]["success"]' \
	'd["stdout"] == ""' || fail "the shim with nothing to add did not run CRIU in its place: $CLIENT"
# a hook configured: the shim serves the session again
shim_config "  trace: false" "hooks:" "  post-dump:" "    - run: [/bin/true]"
forget_version
shim_client exe
echo "$CLIENT" >"$TMP/c.json"
jcheck "$TMP/c.json" "d['exe'] == '$crpc_exe'" "len(d['children_exe']) == 1" || fail "the shim with a hook: $CLIENT"
no_strays
