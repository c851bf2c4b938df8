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

/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/trace_check.py" dump "$TMP/dump.trace" "$pid" || fail "dump trace: wrong content (see above)"

wait_for "session_gone $pid" 10 || fail "session $pid does not go away"
expect_exit 0 "$CRPC_BIN" restore --trace "$TMP/restore.trace" "$TMP/ckpt"
track "$pid"
[[ $OUT =~ Restored\ PID\ ([0-9]+) ]] || fail "restore did not print the restored PID: $OUT"
rpid=${BASH_REMATCH[1]}
track "$rpid"

/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/trace_check.py" restore "$TMP/restore.trace" "$rpid" "$TMP/ckpt" || fail "restore trace: wrong content"

# an unwritable trace file is a usage error naming it
expect_exit 2 "$CRPC_BIN" version --trace "$TMP/no/such/dir/x.trace"
assert_contains "$ERR" "$TMP/no/such/dir/x.trace" "error for a bad trace file"

kill -KILL "$rpid"
wait_gone "$rpid" 5 || fail "restored PID $rpid does not go away"
