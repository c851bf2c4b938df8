#!/bin/bash
# crpc trace show FILE: the timeline of a real dump trace, --json, and a
# damaged trace whose bad lines are reported by number while the rest is
# still shown.
. "$(dirname "$0")/../lib.sh"

pid=$(start_counter ts)
track "$pid"
wait_for '[ "$(counter ts)" -ge 2 ]' 10 || fail "counter does not count"

# -v turns notifications on, so the trace has NOTIFY round trips
expect_exit 0 "$CRPC_BIN" dump -v --trace "$TMP/dump.trace" "$pid" "$TMP/ckpt"
wait_gone "$pid" 5 || fail "PID $pid still exists after the dump"

expect_exit 0 "$CRPC_BIN" trace show "$TMP/dump.trace"
assert_contains "$OUT" "-> VERSION" "timeline: VERSION request"
assert_contains "$OUT" "<- VERSION" "timeline: VERSION reply"
assert_contains "$OUT" "-> DUMP" "timeline: DUMP request"
assert_contains "$OUT" "pid $pid" "timeline: DUMP request names the pid"
assert_contains "$OUT" "<- NOTIFY   pre-dump" "timeline: pre-dump notification"
assert_contains "$OUT" "post-dump" "timeline: post-dump notification"
assert_contains "$OUT" "answered in" "timeline: notify round trips"
assert_contains "$OUT" "<- DUMP     success" "timeline: final reply"
assert_contains "$OUT" "Phases:" "phase summary"
assert_contains "$OUT" "Total:" "total duration"
[[ $OUT != *'!!'* ]] || fail "a successful dump shows failures: $OUT"

expect_exit 0 "$CRPC_BIN" trace show --json "$TMP/dump.trace"
printf '%s' "$OUT" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["ok"] is True and d["problems"] == [], d["problems"]
assert d["header"]["operation"] == "dump" and d["criu"]["version"], d["header"]
types = [(m["dir"], m["msg_type"]) for m in d["messages"]]
assert ("to_criu", "VERSION") in types and ("to_criu", "DUMP") in types, types
names = [r["name"] for r in d["notify_round_trips"]]
assert "pre-dump" in names and "post-dump" in names, names
assert all(r["ms"] >= 0 for r in d["notify_round_trips"])
assert any(p["kind"] == "hooks" for p in d["phases"]) and d["total_ms"] > 0
' || fail "trace show --json: wrong document: $OUT"

# a damaged copy: garbage on line 3, an unknown line type on line 5, the
# last line cut off in the middle
n=$(wc -l <"$TMP/dump.trace")
{
	sed -n '1,2p' "$TMP/dump.trace"
	echo 'this is not json {'
	sed -n '3p' "$TMP/dump.trace"
	echo '{"type":"mystery","x":1}'
	sed -n "4,$((n - 1))p" "$TMP/dump.trace"
	tail -n 1 "$TMP/dump.trace" | head -c 60
} >"$TMP/bad.trace"
total=$((n + 2))
expect_exit 1 "$CRPC_BIN" trace show "$TMP/bad.trace"
assert_contains "$ERR" "bad.trace:3:" "garbage line reported with its number"
assert_contains "$ERR" "bad.trace:5:" "unknown type reported with its number"
assert_contains "$ERR" "unknown line type 'mystery'" "unknown type named"
assert_contains "$ERR" "bad.trace:$total:" "cut-off last line reported with its number"
assert_contains "$OUT" "-> VERSION" "messages before the damage still shown"
assert_contains "$OUT" "-> DUMP" "messages after the damage still shown"
assert_contains "$OUT" "post-dump" "messages after the damage still shown"

expect_exit 1 "$CRPC_BIN" trace show --json "$TMP/bad.trace"
printf '%s' "$OUT" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
lines = sorted(p["line"] for p in d["problems"])
assert lines == [3, 5, int(sys.argv[1])], d["problems"]
assert len(d["messages"]) >= 3
' "$total" || fail "trace show --json on a damaged trace: $OUT"

# a missing file is exit 2 naming it
expect_exit 2 "$CRPC_BIN" trace show "$TMP/no-such.trace"
assert_contains "$ERR" "$TMP/no-such.trace" "error names the missing file"

# a recording cut by its size limit (the shim's "truncated" line): not
# damage, the messages before it are shown and the cut is said
{
	head -n 5 "$TMP/dump.trace"
	echo '{"type":"truncated","limit_bytes":4096,"reason":"the trace reached its size limit"}'
} >"$TMP/cut.trace"
expect_exit 0 "$CRPC_BIN" trace show "$TMP/cut.trace"
assert_contains "$OUT" "the recording stops early: the trace reached its size limit" "cut recording"
assert_not_contains "$ERR" "unknown line type" "truncated line is not damage"
expect_exit 0 "$CRPC_BIN" trace show --json "$TMP/cut.trace"
printf '%s' "$OUT" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["truncated"] == "the trace reached its size limit", d["truncated"]
assert d["problems"] == [], d["problems"]
' || fail "trace show --json on a cut recording: $OUT"
expect_exit 0 "$CRPC_BIN" trace show --json "$TMP/dump.trace"
printf '%s' "$OUT" | /usr/bin/python3 -c 'import json,sys; assert json.load(sys.stdin)["truncated"] is None' ||
	fail "a whole recording has truncated: null"

# a trace too large to hold in memory is refused at once (a sparse file costs no disk)
truncate -s 300M "$TMP/huge.trace"
expect_exit 2 "$CRPC_BIN" trace show "$TMP/huge.trace"
assert_contains "$ERR" "is 300 MiB; crpc reads traces of up to 256 MiB" "trace show of a huge file"
rm -f "$TMP/huge.trace"
