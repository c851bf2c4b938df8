#!/bin/bash
# crpc trace show FILE: the timeline of a real dump trace, --json, a
# damaged trace whose bad lines are reported by number while the rest is
# still shown, and a 300 MiB trace shown in bounded memory.
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

# a trace of any size is shown line by line in bounded memory: 300 MiB (more
# than the 256 MiB a replay reads whole) of notify round trips made from the
# dump's own lines, shown with its peak memory (VmHWM) measured
/usr/bin/python3 - "$TMP/dump.trace" "$TMP/huge.trace" <<'PY'
import json, sys
src, dst = sys.argv[1], sys.argv[2]
lines = [json.loads(l) for l in open(src)]
head = [l for l in lines if l["type"] in ("header", "criu")]
notify = [l for l in lines if l["type"] == "message" and l.get("msg_type") == "NOTIFY"][:2]
assert len(notify) == 2 and notify[0]["dir"] == "from_criu", notify
pad = "x" * 400  # an unknown key: the reader keeps what it does not know
with open(dst, "w") as f:
    for l in head:
        f.write(json.dumps(l, separators=(",", ":")) + "\n")
    seq, mono, size = 1, 1000.0, 0
    while size < 300 << 20:
        for m in notify:
            m = dict(m, seq=seq, mono=mono, pad=pad)
            t = json.dumps(m, separators=(",", ":")) + "\n"
            f.write(t)
            size += len(t)
            seq += 1
            mono += 0.001
print(seq - 1)
PY
[ "$(stat -c %s "$TMP/huge.trace")" -gt $((300 << 20)) ] || fail "the generated trace is too small"
n_msgs=$(grep -c '"type":"message"' "$TMP/huge.trace")
# peak_rss OUT CMD...: run CMD with stdout into OUT; print its peak resident
# memory in KiB (VmHWM, read from /proc until it ends; the kernel's maxrss of a
# child would count the python it was forked from)
peak_rss() {
	/usr/bin/python3 -c '
import subprocess, sys, time
with open(sys.argv[1], "w") as out, open(sys.argv[1] + ".err", "w") as err:
    p = subprocess.Popen(sys.argv[2:], stdout=out, stderr=err)
    hwm = 0
    while p.poll() is None:
        try:
            with open("/proc/%d/status" % p.pid) as f:
                for l in f:
                    if l.startswith("VmHWM:"):
                        hwm = max(hwm, int(l.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
print(hwm)
sys.exit(p.returncode)' "$@"
}
# Bounded means well under the trace's size. An ASan build keeps what is
# freed in its quarantine (256 MiB by default) and adds its shadow memory:
# there the bound only catches a trace read whole (1 GiB for 300 MiB).
rss_limit=$((48 * 1024))
if ldd "$CRPC_BIN" 2>/dev/null | grep -q libasan; then
	rss_limit=$((1024 * 1024))
	note "AddressSanitizer build: peak RSS bound ${rss_limit} KiB"
fi
rss_kb=$(peak_rss "$TMP/huge.out" "$CRPC_BIN" trace show "$TMP/huge.trace") ||
	fail "trace show of a 300 MiB trace failed: $(head -c 2000 "$TMP/huge.out.err")"
note "trace show of $(($(stat -c %s "$TMP/huge.trace") >> 20)) MiB, $n_msgs messages: peak RSS ${rss_kb} KiB"
[ "$rss_kb" -lt "$rss_limit" ] || fail "trace show took $rss_kb KiB for a 300 MiB trace (bounded memory expected)"
grep -q "Total: .* over $n_msgs messages" "$TMP/huge.out" || fail "the total does not count every message: $(tail -n 5 "$TMP/huge.out")"
grep -q "times, longest" "$TMP/huge.out" || fail "the round trips are not added up: $(tail -n 12 "$TMP/huge.out")"
rss_kb=$(peak_rss "$TMP/huge.json" "$CRPC_BIN" trace show --json "$TMP/huge.trace") ||
	fail "trace show --json of a 300 MiB trace failed: $(head -c 2000 "$TMP/huge.json.err")"
note "trace show --json of the same: peak RSS ${rss_kb} KiB"
[ "$rss_kb" -lt "$rss_limit" ] || fail "trace show --json took $rss_kb KiB for a 300 MiB trace"
[ "$(grep -c '^      "type": "message",$' "$TMP/huge.json")" -eq "$n_msgs" ] || fail "trace show --json does not list every message"
tail -c 4096 "$TMP/huge.json" | grep -q "\"count\": $((n_msgs / 2))" || fail "trace show --json: round trips not counted: $(tail -c 1500 "$TMP/huge.json")"
rm -f "$TMP/huge.trace" "$TMP/huge.out" "$TMP/huge.json"
