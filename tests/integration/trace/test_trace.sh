#!/bin/bash
# --trace FILE on dump and restore: every message to and from CRIU is one
# JSON line, decoded field by field, after a header line.
. "$(dirname "$0")/../lib.sh"

pid=$(start_counter t)
track "$pid"
wait_for '[ "$(counter t)" -ge 2 ]' 10 || fail "counter does not count"

# -v turns notifications on, so the trace has NOTIFY round trips
expect_exit 0 "$CRPC_BIN" dump -v --trace "$TMP/dump.trace" "$pid" "$TMP/ckpt"
wait_gone "$pid" 5 || fail "PID $pid still exists after the dump"
[ -s "$TMP/dump.trace" ] || fail "no dump trace written"
[ "$(stat -c %a "$TMP/dump.trace")" = 600 ] || fail "trace mode is $(stat -c %a "$TMP/dump.trace")"

/usr/bin/python3 - "$TMP/dump.trace" "$pid" <<'PY' || fail "dump trace: wrong content (see above)"
import json, sys
path, pid = sys.argv[1], int(sys.argv[2])
lines = [json.loads(l) for l in open(path)]   # every line parses
def need(cond, what):
    if not cond:
        print("dump trace:", what, file=sys.stderr)
        sys.exit(1)
need(lines[0]["type"] == "header" and lines[0]["operation"] == "dump", "first line is not the header")
need(lines[0]["target"] == str(pid), "header target")
need(any(l["type"] == "criu" and l["version"] for l in lines), "no CRIU line")
msgs = [l for l in lines if l["type"] == "message"]
need([m["seq"] for m in msgs] == list(range(1, len(msgs) + 1)), "seq not 1..N")
for m in msgs:
    need("decode_error" not in m, "undecoded message %r" % m)
    need(isinstance(m["since_prev_us"], int) and m["raw"], "missing since_prev_us/raw")
    need(m["message"] == ("criu_req" if m["dir"] == "to_criu" else "criu_resp"), "message kind")
def find(d, t):
    return [m for m in msgs if m["dir"] == d and m["msg_type"] == t]
need(find("to_criu", "VERSION") and find("from_criu", "VERSION"), "no VERSION request and reply")
dreq = find("to_criu", "DUMP")
need(len(dreq) == 1 and dreq[0]["fields"]["opts"]["pid"] == pid, "DUMP request with opts.pid")
scripts = []
for i, m in enumerate(msgs):
    if m["dir"] == "from_criu" and m["msg_type"] == "NOTIFY":
        scripts.append(m["fields"]["notify"]["script"])
        nxt = msgs[i + 1]
        need(nxt["dir"] == "to_criu" and nxt["msg_type"] == "NOTIFY" and
             nxt["fields"].get("notify_success") is True, "NOTIFY not answered with success")
need("pre-dump" in scripts and "post-dump" in scripts, "notifications: %r" % scripts)
last = msgs[-1]
need(last["dir"] == "from_criu" and last["msg_type"] == "DUMP" and last["fields"]["success"] is True,
     "last message is not a successful DUMP reply")
PY

wait_for "session_gone $pid" 10 || fail "session $pid does not go away"
expect_exit 0 "$CRPC_BIN" restore --trace "$TMP/restore.trace" "$TMP/ckpt"
track "$pid"
[[ $OUT =~ Restored\ PID\ ([0-9]+) ]] || fail "restore did not print the restored PID: $OUT"
rpid=${BASH_REMATCH[1]}
track "$rpid"

/usr/bin/python3 - "$TMP/restore.trace" "$rpid" "$TMP/ckpt" <<'PY' || fail "restore trace: wrong content"
import json, sys
path, rpid, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = [json.loads(l) for l in open(path)]
h = lines[0]
assert h["type"] == "header" and h["operation"] == "restore" and h["target"] == d, h
msgs = [l for l in lines if l["type"] == "message"]
assert all("decode_error" not in m for m in msgs)
r = [m for m in msgs if m["dir"] == "from_criu" and m["msg_type"] == "RESTORE"]
assert len(r) == 1 and r[0]["fields"]["success"] is True, r
assert r[0]["fields"]["restore"]["pid"] == rpid, r[0]
PY

# an unwritable trace file is a usage error naming it
expect_exit 2 "$CRPC_BIN" version --trace "$TMP/no/such/dir/x.trace"
assert_contains "$ERR" "$TMP/no/such/dir/x.trace" "error for a bad trace file"

kill -KILL "$rpid"
wait_gone "$rpid" 5 || fail "restored PID $rpid does not go away"
