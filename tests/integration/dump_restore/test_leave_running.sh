#!/bin/bash
# dump --leave-running: the process is sampled all through the dump; it
# never ends or stays stopped, and its counter keeps going. The checkpoint
# restores once the original is gone, from the checkpoint's state.
# shellcheck disable=SC2015,SC2016 # quoted code for other shells; A && B || fail
. "$(dirname "$0")/../lib.sh"

HELPERS=$CRPC_SRC/tests/integration/helpers

pid=$(start_counter c)
track "$pid"
wait_for '[ "$(counter c)" -ge 3 ]' 10 || fail "counter does not count"

# sample state and counter every 2 ms from before the dump until after it
/usr/bin/python3 "$HELPERS/sample_proc.py" "$pid" "$TMP/c.count" "$TMP/samples" "$TMP/stop-sampling" &
sampler=$!
track "$sampler"
wait_for "[ -e '$TMP/samples.ready' ]" 10 || fail "sampler did not start"

v_before=$(counter c)
expect_exit 0 "$CRPC_BIN" dump --leave-running "$pid" "$TMP/ckpt"
v_after=$(counter c)
note "dump: $OUT"
assert_contains "$OUT" "left running" "dump summary"
# keep sampling a little after the dump
wait_for "[ \"\$(counter c)\" -ge $((v_after + 3)) ]" 5 ||
	fail "counter stuck at $(counter c) after the dump (state $(proc_state "$pid"))"
touch "$TMP/stop-sampling"
wait "$sampler" || fail "sampler failed"

n=$(wc -l <"$TMP/samples")
[ "$n" -ge 20 ] || fail "only $n samples taken"
# every sample: the PID exists, is not dead, not group-stopped (T);
# the tracing stop (t) of CRIU's freeze during the dump is allowed
bad=$(awk '$2 == "-" || $2 == "Z" || $2 == "X" || $2 == "x" || $2 == "T"' "$TMP/samples" | head -3)
[ -z "$bad" ] || fail "during the dump the process was seen gone or stopped: $bad"
# the counter never goes back or disappears
awk 'BEGIN { prev = -1 } $3 == "-" { print "unreadable at " $1; exit 1 }
	$3 + 0 < prev { print "went back at " $1 ": " prev " -> " $3; exit 1 } { prev = $3 + 0 }' \
	"$TMP/samples" >"$TMP/mono" || fail "counter: $(cat "$TMP/mono")"
frozen=$(awk '$2 == "t" { n++ } END { print n + 0 }' "$TMP/samples")
note "$n samples, $frozen in tracing stop; counter $v_before before the dump, $v_after after"
last_state=$(tail -1 "$TMP/samples" | awk '{ print $2 }')
case "$last_state" in
R | S | D) ;;
*) fail "after the dump the process is in state $last_state" ;;
esac
[ "$(tail -1 "$TMP/samples" | awk '{ print $3 }')" -gt "$v_after" ] || fail "counter did not advance after the dump"
case "$(proc_state "$pid")" in
R | S | D) ;;
*) fail "PID $pid is in state $(proc_state "$pid") after the dump" ;;
esac

# the checkpoint is complete
for f in inventory.img pstree.img "core-$pid.img" stats-dump; do
	[ -s "$TMP/ckpt/$f" ] || fail "$f missing in the checkpoint"
done
[ ! -e "$TMP/ckpt/.crpc-dump-in-progress" ] || fail "in-progress marker left behind"

# --- the checkpoint restores once the original is gone ------------------------
wait_for "[ \"\$(counter c)\" -ge $((v_after + 8)) ]" 5 || fail "counter stopped"
kill -KILL "$pid"
wait_gone "$pid" 5 || fail "PID $pid does not go away after SIGKILL"
# its child of the moment is no part of the checkpoint but holds the PID as
# its session ID until PID 1 reaps it (see test_restore_pid_busy)
wait_for "session_gone $pid" 10 || fail "session $pid does not go away"
v_kill=$(counter c)
expect_exit 0 "$CRPC_BIN" restore --json "$TMP/ckpt"
echo "$OUT" >"$TMP/restore.json"
json_assert "$TMP/restore.json" --exit 0 "d['pid'] == $pid" || fail "restore --json: wrong JSON output"
for ((i = 0; i < 500; i++)); do
	v=$(counter c)
	[ "$v" != "$v_kill" ] && break
	sleep 0.01
done
note "counter: $v_kill when killed, $v first after the restore"
[ "$v" != "$v_kill" ] || fail "the restored counter does not count"
[ "$v" -ge "$v_before" ] && [ "$v" -le $((v_after + 2)) ] ||
	fail "restored counter printed $v, expected the checkpoint's value ($v_before..$v_after), not $v_kill"
wait_for "[ \"\$(counter c)\" -ge $((v + 3)) ]" 5 || fail "restored counter stopped"
kill -KILL "$pid"
