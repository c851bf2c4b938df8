#!/bin/bash
# Hooks run in the shim, with crpc as the client: the client that did not
# ask for notifications never sees one and its dump still runs the hooks; a
# step that aborts at post-dump fails the dump, the target resumes and the
# client's error carries the step's reason (cr_errmsg); a client that asked
# for notifications (crpc -v) sees them, except the one the hook refused;
# query-ext-files entries printed by a shim hook reach CRIU. The traces
# (the shim's, and crpc's own --trace) record the hook's failure and the
# rewritten reply as event lines that crpc trace show marks with '!!'.
# shellcheck disable=SC2016 # quoted code for wait_for and the hooks' shell
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/shim_lib.sh"

pid=$(start_counter h)
track "$pid"
wait_for '[ "$(counter h)" -ge 2 ]' 10 || fail "counter does not count"

# --- hooks fire for a client that asked for no notifications ---------------------------
shim_config "hooks:" "  pre-dump:" \
	"    - shell: 'echo \"\$CRPC_ACTION \$CRPC_OPERATION \$CRPC_PID \$CRTOOLS_IMAGE_DIR\" >>$TMP/record'" \
	"  post-dump:" \
	"    - shell: 'echo \"\$CRPC_ACTION \$CRPC_OPERATION\" >>$TMP/record'"
expect_exit 0 "$CRPC_BIN" dump --no-config --criu "$SHIM" --leave-running "$pid" "$TMP/ok"
record=$(cat "$TMP/record")
note "hooks ran: $record"
assert_contains "$record" "pre-dump dump $pid $TMP/ok" "pre-dump hook environment (CRTOOLS_IMAGE_DIR may be a temporary sibling)"
assert_contains "$record" "post-dump dump" "post-dump hook"
grep -q "notification" "$TMP/ok/hooks.log" || fail "no hooks.log in the images dir"
assert_running "$pid" h

# --- a step that aborts at post-dump ------------------------------------------------------
shim_config "hooks:" "  post-dump:" \
	"    - name: policy" \
	"      shell: 'echo quiesce refused by policy; exit 1'"
expect_exit 1 "$CRPC_BIN" dump --no-config --criu "$SHIM" "$pid" "$TMP/abort"
note "client's error:"$'\n'"$ERR"
assert_contains "$ERR" "crpc hook at post-dump failed" "client's error"
assert_contains "$ERR" "quiesce refused by policy" "client's error"
assert_contains "$ERR" "is still running" "client's error"
[ ! -e "$TMP/abort/inventory.img" ] || fail "a dump aborted at post-dump left inventory.img"
# the reason is also the last line of CRIU's log, which clients such as runc point to
tail -n1 "$TMP/abort/dump.log" | grep -q "^Error (crpc shim): crpc hook at post-dump failed: .*quiesce refused by policy" ||
	fail "the reason is not at the end of CRIU's log: $(tail -n2 "$TMP/abort/dump.log")"
assert_running "$pid" h

# the client asked for notifications (-v prints each message): it sees pre-dump, never
# the post-dump the hook refused, and gets the same reason
expect_exit 1 "$CRPC_BIN" dump -v --no-config --criu "$SHIM" "$pid" "$TMP/abort-v"
assert_contains "$ERR" "-> DUMP pid=$pid notify" "client -v"
assert_contains "$ERR" "<- NOTIFY pre-dump" "client -v"
assert_not_contains "$ERR" "<- NOTIFY post-dump" "client -v"
assert_contains "$ERR" "<- DUMP FAILED: crpc hook at post-dump failed" "client -v"
assert_contains "$ERR" "quiesce refused by policy" "client -v"
assert_running "$pid" h

# the trace of that session shows the refused notification and the rewritten reply
t=$(ls -t "$TRACES"/*-dump.trace | head -n1)
grep -q '"dir":"from_criu".*"script":"post-dump"' "$t" || fail "no post-dump notification in $t"
grep -q '"dir":"to_criu".*"notify_success":false' "$t" || fail "no refused answer in $t"
# ... and why: the hook's failure and the rewritten reply are event lines of the trace
expect_exit 0 "$CRPC_BIN" trace show --json "$t"
echo "$OUT" >"$TMP/show.json"
jcheck "$TMP/show.json" \
	'any(e["event"] == "hook-failed" and e["callback"] == "post-dump" and "quiesce refused by policy" in e["text"] for e in d["events"])' \
	'any(e["event"] == "reply-rewritten" and e["text"].startswith("crpc hook at post-dump failed") and "quiesce refused by policy" in e["text"] for e in d["events"])' \
	'all(isinstance(e["line"], int) and e["type"] == "event" for e in d["events"])' \
	'd["problems"] == []' ||
	fail "the shim's trace lacks the hook-failed / reply-rewritten events"
# in file order: the refused notification, the hook's failure, the refusal sent to CRIU
/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/shim_hook_event_order.py" "$TMP/show.json" ||
	fail "the hook-failed event is not between the notification and the refusal"
expect_exit 0 "$CRPC_BIN" trace show "$t"
note "trace show:"$'\n'"$OUT"
grep -q '^!! .* ms  \*\* hook failed at post-dump: .*quiesce refused by policy' <<<"$OUT" ||
	fail "trace show does not mark the hook failure: $OUT"
grep -q '^!! .* ms  \*\* reply rewritten for the client: crpc hook at post-dump failed' <<<"$OUT" ||
	fail "trace show does not show the rewritten reply: $OUT"

# the same refusal with crpc talking to CRIU itself: its --trace records the hook failure too
expect_exit 1 "$CRPC_BIN" dump --no-config --hook post-dump='echo refused without the shim; exit 1' \
	--trace "$TMP/cli.trace" "$pid" "$TMP/abort-cli"
assert_contains "$ERR" "refused without the shim" "client's error"
grep -q '"type":"event".*"event":"hook-failed".*"callback":"post-dump".*refused without the shim' "$TMP/cli.trace" ||
	fail "no hook-failed event in crpc's own trace: $(grep -c . "$TMP/cli.trace") lines"
assert_running "$pid" h

# --- query-ext-files: a shim hook's lines become CRIU's externals -------------------------
start_unix_peer_target
upid=$UNIX_TARGET ino=$UNIX_TARGET_INO
# without the entry the dump fails: the socket's peer is outside the tree
shim_config
expect_exit 1 "$CRPC_BIN" dump --no-config --no-auto --criu "$SHIM" --leave-running "$upid" "$TMP/ext-no"
shim_config "hooks:" "  query-ext-files:" "    - shell: 'echo unix[$ino]'"
expect_exit 0 "$CRPC_BIN" dump --no-config --no-auto --criu "$SHIM" --leave-running "$upid" "$TMP/ext"
grep -q "unix\[$ino\]" "$TMP/ext/dump.log" || fail "CRIU did not get the external entry"
# also when the client answers query-ext-files itself (-v: it asked for notifications)
expect_exit 0 "$CRPC_BIN" dump -v --no-config --no-auto --criu "$SHIM" --leave-running "$upid" "$TMP/ext-v"
assert_contains "$ERR" "<- NOTIFY query-ext-files" "client -v"
assert_contains "$ERR" "-> NOTIFY answer=ok" "client -v"
grep -q "unix\[$ino\]" "$TMP/ext-v/dump.log" || fail "the hook's entry was lost next to the client's answer"

no_strays
