#!/bin/bash
# crpc trace replay: a dump recorded with the real CRIU, replayed to crpc
# itself with no CRIU: the same result; a changed option reported as a
# divergence naming the field; hooks running again at the replayed
# notifications; damaged and cut-short traces failing fast with the line.
. "$(dirname "$0")/../lib.sh"

pid=$(start_counter rp)
track "$pid"
wait_for '[ "$(counter rp)" -ge 2 ]' 10 || fail "counter does not count"

# ---- record: a real dump (CRIU from the environment), leaving the target running
expect_exit 0 "$CRPC_BIN" dump --no-config --json --leave-running --trace "$TMP/dump.trace" \
	"$pid" "$TMP/ckpt1"
printf '%s' "$OUT" >"$TMP/recorded.json"
[ -s "$TMP/ckpt1/dump.log" ] || fail "the recording did not run CRIU"
kill -0 "$pid" || fail "the target is gone after a --leave-running dump"

# ---- replay to crpc itself: no CRIU runs, same result
# The replay puts its own stand-in first: a CRIU that would write a marker
# if it were run proves it is not.
REAL_CRIU=$CRPC_CRIU
mkdir "$TMP/fakebin"
printf '#!/bin/sh\ntouch %s/real-criu-ran\nexit 1\n' "$TMP" >"$TMP/fakebin/criu"
chmod 755 "$TMP/fakebin/criu"
export CRPC_CRIU=$TMP/fakebin/criu
# the replays' private directories: in $TMP, to check none is left behind
export TMPDIR=$TMP

expect_exit 0 timeout 60 "$CRPC_BIN" trace replay "$TMP/dump.trace" -- \
	"$CRPC_BIN" dump --no-config --leave-running "$pid" "$TMP/ckpt2"
assert_contains "$OUT" "Checkpointed PID $pid (bash) into $TMP/ckpt2" "the replayed dump's summary"
assert_contains "$OUT" "process:       left running" "the replayed dump's summary"
assert_contains "$ERR" "crpc: replay of dump $pid matched" "replay result"
# every message of the recording: VERSION and DUMP with their replies, and the
# notifications crpc always asks for, each with its answer
n_msgs=$(grep -c '"type":"message"' "$TMP/dump.trace")
[ "$n_msgs" -gt 4 ] || fail "the recorded dump has $n_msgs messages, no notification round trips"
assert_contains "$ERR" "all $n_msgs messages replayed as recorded" "replay result"
[ ! -e "$TMP/real-criu-ran" ] || fail "a CRIU other than the replay ran"
[ -d "$TMP/ckpt2" ] || fail "the client did not create its images directory"
# CRIU writes its log, statistics and images there; crpc's own files may be there
for f in dump.log stats-dump inventory.img pstree.img; do
	[ ! -e "$TMP/ckpt2/$f" ] || fail "CRIU wrote $f during the replay: $(ls -A "$TMP/ckpt2")"
done
kill -0 "$pid" || fail "the target is gone after the replay"

# --json: one document, the client's own (JSON) output inside, the same as recorded
expect_exit 0 timeout 60 "$CRPC_BIN" trace replay --json "$TMP/dump.trace" -- \
	"$CRPC_BIN" dump --no-config --json --leave-running "$pid" "$TMP/ckpt3"
printf '%s' "$OUT" >"$TMP/replay.json"
json_assert "$TMP/replay.json" \
	'd["ok"] is True and d["outcome"] == "matched" and d["sessions"] == 1' \
	"d['messages_total'] == $n_msgs and d['messages_matched'] == $n_msgs" \
	'd["client"]["exit_status"] == 0 and d["client"]["signal"] is None' \
	'd["reports"][0]["outcome"] == "matched"' \
	'[m["type"] for m in d["reports"][0]["messages"]][:3] == ["VERSION", "VERSION", "DUMP"]' \
	'[m["type"] for m in d["reports"][0]["messages"]][-1] == "DUMP"' \
	'set(m["type"] for m in d["reports"][0]["messages"][3:-1]) == {"NOTIFY"}' ||
	fail "trace replay --json: wrong document: $OUT"
/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/replay_result_check.py" "$TMP/recorded.json" "$TMP/replay.json" ||
	fail "the replayed dump's result differs from the recorded one"

# ---- a changed option is a divergence naming the field; exit 1
expect_exit 1 timeout 60 "$CRPC_BIN" trace replay "$TMP/dump.trace" -- \
	"$CRPC_BIN" dump --no-config "$pid" "$TMP/ckpt4"
assert_contains "$ERR" "message 3 of $n_msgs (to CRIU: DUMP, trace line 5)" "divergence: which message"
assert_contains "$ERR" "field:     opts.leave_running" "divergence: the field"
assert_contains "$ERR" "recorded:  true" "divergence: the recorded value"
assert_contains "$ERR" "received:  (not set)" "divergence: the received value"
assert_contains "$ERR" "client:    exited with status 1" "divergence: the client's status"
# the client itself got the failure reply with the reason
assert_contains "$ERR" "crpc replay: message 3 of $n_msgs" "the client's error names the replay"
kill -0 "$pid" || fail "the target is gone after a replay without --leave-running"

expect_exit 1 timeout 60 "$CRPC_BIN" trace replay --json "$TMP/dump.trace" -- \
	"$CRPC_BIN" dump --no-config --leave-running --tcp-established "$pid" "$TMP/ckpt5"
printf '%s' "$OUT" >"$TMP/div.json"
json_assert "$TMP/div.json" \
	'd["ok"] is False and d["outcome"] == "diverged"' \
	'd["divergence"]["field"] == "opts.tcp_established"' \
	'd["divergence"]["recorded"] == "(not set)" and d["divergence"]["received"] == "true"' \
	'd["divergence"]["message"] == 3 and d["divergence"]["line"] == 5' \
	'd["divergence"]["dir"] == "to_criu" and d["divergence"]["msg_type"] == "DUMP"' \
	'd["messages_matched"] == 2 and d["error"]["exit_code"] == 1' ||
	fail "trace replay --json on a divergence: $OUT"

# --ignore takes a field out of the compare
expect_exit 0 timeout 60 "$CRPC_BIN" trace replay --ignore opts.tcp_established "$TMP/dump.trace" -- \
	"$CRPC_BIN" dump --no-config --leave-running --tcp-established "$pid" "$TMP/ckpt6"
expect_exit 2 "$CRPC_BIN" trace replay --ignore opts.no_such_field "$TMP/dump.trace" -- true
assert_contains "$ERR" "criu_opts has no field 'no_such_field'" "a bad --ignore is named"

# ---- a client that never starts CRIU, or starts it twice
expect_exit 1 timeout 60 "$CRPC_BIN" trace replay "$TMP/dump.trace" -- true
assert_contains "$ERR" "the client never started CRIU" "a client that never starts CRIU"
assert_contains "$ERR" "exited with status 0 (the replay failed all the same)" "client status"
expect_exit 1 timeout 60 "$CRPC_BIN" trace replay "$TMP/dump.trace" -- sh -c \
	"'$CRPC_BIN' dump --no-config --leave-running $pid '$TMP/ckpt7' && '$CRPC_BIN' version"
assert_contains "$ERR" "the client started CRIU again (start number 2)" "a second CRIU start"

# ---- hooks: a recorded dump with hooks, replayed: the hooks run again
hook='echo "$CRPC_ACTION $CRPC_PID" >>'"$TMP/hooks.marker"
expect_exit 0 "$CRPC_BIN" dump --criu "$REAL_CRIU" --no-config --leave-running --trace "$TMP/hooks.trace" \
	--hook "pre-dump=$hook" --hook "post-dump=$hook" "$pid" "$TMP/ckpt-h1"
[ "$(cat "$TMP/hooks.marker")" = "pre-dump $pid
post-dump $pid" ] || fail "hooks of the recording: $(cat "$TMP/hooks.marker")"
: >"$TMP/hooks.marker"
expect_exit 0 timeout 60 "$CRPC_BIN" trace replay "$TMP/hooks.trace" -- "$CRPC_BIN" dump --no-config \
	--leave-running --hook "pre-dump=$hook" --hook "post-dump=$hook" "$pid" "$TMP/ckpt-h2"
[ "$(cat "$TMP/hooks.marker")" = "pre-dump $pid
post-dump $pid" ] || fail "hooks did not run again in the replay: $(cat "$TMP/hooks.marker")"
grep -q 'post-dump\[1\]: end: exit 0' "$TMP/ckpt-h2/hooks.log" ||
	fail "the replay's hooks.log does not record the post-dump step"
[ ! -e "$TMP/ckpt-h2/dump.log" ] || fail "CRIU wrote a log during the replay"
# a failing hook shows up as the answer that differs: notify_success
expect_exit 1 timeout 60 "$CRPC_BIN" trace replay "$TMP/hooks.trace" -- "$CRPC_BIN" dump --no-config \
	--leave-running --hook "pre-dump=$hook" --hook "post-dump=exit 3" "$pid" "$TMP/ckpt-h3"
assert_contains "$ERR" "(to CRIU: NOTIFY" "a failing hook: the NOTIFY answer differs"
assert_contains "$ERR" "field:     notify_success" "a failing hook: the field"
assert_contains "$ERR" "received:  false" "a failing hook: the received value"

# ---- damaged traces: exit 2 with the line, before anything runs; never a hang
size=$(stat -c %s "$TMP/hooks.trace")
lines=$(wc -l <"$TMP/hooks.trace")
head -c $((size - 40)) "$TMP/hooks.trace" >"$TMP/cut.trace"
expect_exit 2 timeout 60 "$CRPC_BIN" trace replay "$TMP/cut.trace" -- touch "$TMP/client-ran"
assert_contains "$ERR" "cut.trace:$lines: last line is cut off" "a cut-off trace names its line"
assert_contains "$ERR" "is damaged: line $lines" "a cut-off trace names its line"
[ ! -e "$TMP/client-ran" ] || fail "the client ran although the trace is damaged"
# whole lines, but the last one (CRIU's final answer) missing: the client is
# hung up on after its last request, as by a CRIU that died
head -n $((lines - 1)) "$TMP/hooks.trace" >"$TMP/short.trace"
expect_exit 1 timeout 60 "$CRPC_BIN" trace replay "$TMP/short.trace" -- "$CRPC_BIN" dump --no-config \
	--leave-running --hook "pre-dump=$hook" --hook "post-dump=$hook" "$pid" "$TMP/ckpt-h4"
assert_contains "$ERR" "trace line $((lines - 1))" "a short trace names the line where it stops"
assert_contains "$ERR" "the trace ends here, without CRIU's answer" "a short trace"
expect_exit 2 "$CRPC_BIN" trace replay "$TMP/no-such.trace" -- true
assert_contains "$ERR" "$TMP/no-such.trace" "a missing trace is named"
expect_exit 2 "$CRPC_BIN" trace replay "$TMP/dump.trace"
assert_contains "$ERR" "missing '-- CLIENT" "usage without a client"

# nothing of the replays is left behind
if compgen -G "$TMP/crpc-replay.*" >/dev/null; then
	fail "private directories of the replays left behind: $(echo "$TMP"/crpc-replay.*)"
fi
kill -0 "$pid" || fail "the target is gone"
