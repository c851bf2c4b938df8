#!/bin/bash
# CRIU killed during a dump, while it waits for crpc's answer to a
# notification: crpc reports that CRIU was killed, the target keeps running
# and DIR is not left looking like a checkpoint.
#
# Deterministic: crpc -v prints each notification from its notify callback
# before answering. helpers/stall_stderr.py keeps crpc's stderr a full pipe
# and lets its writes through one by one; once crpc is stuck printing a
# notification and CRIU has logged "Running <notification> scripts", CRIU
# waits for an answer crpc cannot give, and the helper SIGKILLs it.
# shellcheck disable=SC2015,SC2016 # quoted code for other shells; A && B || fail
. "$(dirname "$0")/../lib.sh"

HELPERS=$CRPC_SRC/tests/integration/helpers

# kill_criu_at NAME DIR [crpc dump options...] PID
# runs crpc dump -v under the helper, CRIU is killed at notification NAME;
# sets RC, OUT, ERR, CRIU_PID
kill_criu_at() {
	local name=$1 dir=$2
	shift 2
	RC=0
	/usr/bin/python3 "$HELPERS/stall_stderr.py" \
		--log "$dir.crpc-tmp-*/dump.log" --log-line "Running $name scripts" \
		--criu-pid-file "$TMP/$name.criu-pid" --stdout "$TMP/$name.out" --stderr "$TMP/$name.err" \
		-- "$CRPC_BIN" dump -v "$@" "$dir" 2>"$TMP/$name.helper" || RC=$?
	OUT=$(cat "$TMP/$name.out")
	ERR=$(cat "$TMP/$name.err" 2>/dev/null || true)
	[ "$RC" -ne 100 ] || fail "setup: $(cat "$TMP/$name.helper")"
	CRIU_PID=$(cat "$TMP/$name.criu-pid")
	note "$(cat "$TMP/$name.helper")"
}

# assert_still_running PID COUNTER
assert_still_running() {
	local pid=$1 v s
	s=$(proc_state "$pid")
	case "$s" in
	R | S | D) ;;
	*) fail "target PID $pid is in state '$s' after CRIU was killed" ;;
	esac
	v=$(counter "$2")
	wait_for "[ \"\$(counter $2)\" -ge $((v + 3)) ]" 5 ||
		fail "target PID $pid stopped counting (at $(counter "$2"), state $(proc_state "$pid"))"
	s=$(proc_state "$pid")
	[[ $s == [RSD] ]] || fail "target PID $pid is in state '$s'"
}

# assert_not_a_checkpoint DIR
assert_not_a_checkpoint() {
	local dir=$1 left
	left=$(cd "$dir" && find . -mindepth 1 ! -name dump.log)
	[ -z "$left" ] || fail "the failed dump left files in $dir: $left"
	[ -s "$dir/dump.log" ] || fail "the failed dump did not keep $dir/dump.log"
	expect_exit 1 "$CRPC_BIN" restore "$dir"
	assert_contains "$ERR" "no checkpoint" "restore of the failed dump's DIR"
	[ ! -e "$dir/restore.log" ] || fail "restore of an incomplete checkpoint created restore.log"
}

# --- killed at pre-dump: before CRIU touched the target -----------------------------
pid=$(start_counter a)
track "$pid"
wait_for '[ "$(counter a)" -ge 2 ]' 5 || fail "counter does not count"
kill_criu_at pre-dump "$TMP/ckpt-a" "$pid"
note "crpc stderr:"$'\n'"$ERR"
[ "$RC" -eq 1 ] || fail "crpc dump exited $RC after CRIU was killed, expected 1; stderr: $ERR"
assert_contains "$ERR" "killed by signal 9" "crpc stderr"
assert_contains "$ERR" "SIGKILL" "crpc stderr"
assert_contains "$ERR" "pre-dump" "crpc stderr (-v notification)"
assert_contains "$ERR" "is still running" "crpc stderr (target)"
[ -z "$OUT" ] || fail "the failed dump printed a summary: $OUT"
wait_gone "$CRIU_PID" 2 || fail "killed CRIU $CRIU_PID is still there (state $(proc_state "$CRIU_PID"))"
# CRIU died where intended: after announcing pre-dump, before seizing anything
log=$TMP/ckpt-a/dump.log
[ "$(grep -c 'Running .* scripts' "$log")" -eq 1 ] || fail "CRIU went past pre-dump: $(grep 'Running .* scripts' "$log")"
! grep -q "Seized task" "$log" || fail "CRIU seized the target before it was killed"
assert_still_running "$pid" a
assert_not_a_checkpoint "$TMP/ckpt-a"

# --- killed at post-dump: the target is frozen and its images written ---------------
pid=$(start_counter b)
track "$pid"
wait_for '[ "$(counter b)" -ge 2 ]' 5 || fail "counter does not count"
kill_criu_at post-dump "$TMP/ckpt-b" --json "$pid"
note "crpc stderr:"$'\n'"$ERR"
[ "$RC" -eq 1 ] || fail "crpc dump exited $RC after CRIU was killed, expected 1; stderr: $ERR"
assert_contains "$ERR" "killed by signal 9" "crpc stderr"
assert_contains "$ERR" "post-dump" "crpc stderr (-v notification)"
wait_gone "$CRIU_PID" 2 || fail "killed CRIU $CRIU_PID is still there"
log=$TMP/ckpt-b/dump.log
grep -q "Seized task $pid" "$log" || fail "CRIU had not frozen the target when it was killed"
grep -q "Running post-dump scripts" "$log" || fail "CRIU did not reach post-dump"
! grep -q "Unfreezing tasks" "$log" || fail "CRIU released the target itself before it was killed"
echo "$OUT" >"$TMP/b.json"
json_assert "$TMP/b.json" --exit 1 'd["error"]["cause"] == "criu-died"' \
	'"signal 9" in d["error"]["message"]' 'd["target"]["running"] is True' ||
	fail "dump --json after CRIU was killed: wrong JSON output"
assert_still_running "$pid" b
assert_not_a_checkpoint "$TMP/ckpt-b"

# nothing else of ours is left: no CRIU, no crpc
sleep 0.1
for p in $(stray_pids); do
	fail "process left behind: $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)"
done
