#!/bin/bash
# -v: one line per RPC message on stderr as it happens, in order, with the
# message type and what matters in it; a failing reply shows CRIU's errno.
. "$(dirname "$0")/../lib.sh"

pid=$(start_counter v)
track "$pid"
wait_for '[ "$(counter v)" -ge 2 ]' 10 || fail "counter does not count"

"$CRPC_BIN" dump -v --leave-running "$pid" "$TMP/ckpt" >"$TMP/out" 2>"$TMP/err" ||
	fail "dump -v failed: $(cat "$TMP/err")"
grep -F -- '] ->' "$TMP/err" >"$TMP/sent" || true
grep -F -- '] <-' "$TMP/err" >"$TMP/received" || true
grep -E -- '\] (->|<-) ' "$TMP/err" | sed -E 's/^crpc: \[ *[0-9.]+s\] //' >"$TMP/lines"
note "messages: $(cat "$TMP/lines")"

# the whole exchange, in order: VERSION first, the DUMP request, the
# notifications each answered, and CRIU's reply last
first=$(head -n1 "$TMP/lines")
last=$(tail -n1 "$TMP/lines")
assert_contains "$first" "-> VERSION keep_open" "first message"
assert_contains "$(sed -n 2p "$TMP/lines")" "<- VERSION ok version=" "VERSION reply"
assert_contains "$(sed -n 3p "$TMP/lines")" "-> DUMP pid=$pid notify leave_running" "dump request"
assert_contains "$last" "<- DUMP ok" "last message"
for n in pre-dump post-dump; do
	grep -q -- "<- NOTIFY $n" "$TMP/lines" || fail "no $n notification line"
done
# every notification is followed by its answer
awk '/<- NOTIFY / { want = 1; next } want && !/-> NOTIFY answer=ok/ { print; exit 1 } { want = 0 }' \
	"$TMP/lines" >"$TMP/bad" || fail "notification not answered at once: $(cat "$TMP/bad")"
sent=$(wc -l <"$TMP/sent")
received=$(wc -l <"$TMP/received")
[ "$sent" -eq "$received" ] || fail "$sent messages sent but $received received"
# timestamps never go back
sed -E -n 's/^crpc: \[ *([0-9.]+)s\].*/\1/p' "$TMP/err" |
	awk '$1 + 0 < prev { exit 1 } { prev = $1 + 0 }' || fail "timestamps go back"

# a failing reply (scripted by the fake peer): the line names the failure,
# CRIU's errno by name and the first line of its message
CRPC_FAKE_MODE=failure-with-errmsg expect_exit 1 "$CRPC_BIN" dump -v --no-config \
	--criu "$CRPC_SRC/tests/helpers/fake-criu" --leave-running "$pid" "$TMP/none"
assert_contains "$ERR" "<- DUMP FAILED errno=ESRCH: Can't seize 99: No such process" "failing dump"

# without -v: no message lines
"$CRPC_BIN" dump --leave-running "$pid" "$TMP/ckpt2" >"$TMP/out2" 2>"$TMP/err2" ||
	fail "dump failed: $(cat "$TMP/err2")"
if grep -qE -- '\] (->|<-) ' "$TMP/err2"; then
	fail "message lines printed without -v"
fi
echo "ok"
