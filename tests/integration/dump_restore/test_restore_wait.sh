#!/bin/bash
# restore --wait: crpc exits with the restored process's exit status, and
# forwards SIGTERM to it.
# shellcheck disable=SC2015,SC2016 # quoted code for other shells; A && B || fail
. "$(dirname "$0")/../lib.sh"

# --- exit status -----------------------------------------------------------------
# waits for $TMP/w.go, then exits 7
setsid bash -c 'while [ ! -e "$0.go" ]; do sleep 0.05; done; exit 7' "$TMP/w" </dev/null >/dev/null 2>&1 &
wpid=$!
track "$wpid"
wait_for "[ \"\$(proc_state $wpid)\" = S ]" 5 || fail "workload did not start"

expect_exit 0 "$CRPC_BIN" dump "$wpid" "$TMP/ckpt-w"
wait_gone "$wpid" 5 || fail "PID $wpid still exists after the dump"

"$CRPC_BIN" restore --wait "$TMP/ckpt-w" >"$TMP/w.out" 2>"$TMP/w.err" &
crpc=$!
track "$crpc"
# the restored process: same PID, same command line
wait_for "grep -qsF '$TMP/w' /proc/$wpid/cmdline" 10 ||
	fail "restored PID $wpid did not appear; crpc said: $(cat "$TMP/w.err")"
ppid=$(awk '{ print $4 }' "/proc/$wpid/stat")
[ "$ppid" = "$crpc" ] || fail "restored PID $wpid has parent $ppid, expected crpc ($crpc)"
# crpc must not end while the restored process runs
sleep 0.3
[ -e "/proc/$crpc" ] && [ "$(proc_state "$crpc")" != Z ] || fail "crpc restore --wait ended early"
touch "$TMP/w.go"
rc=0
wait "$crpc" || rc=$?
[ "$rc" -eq 7 ] || fail "crpc restore --wait exited $rc, expected 7; stderr: $(cat "$TMP/w.err")"
wait_gone "$wpid" 5 || fail "restored PID $wpid still exists after it exited"
assert_contains "$(cat "$TMP/w.err")" "Restored PID $wpid" "restore --wait summary (stderr)"
[ ! -s "$TMP/w.out" ] || fail "restore --wait without --json wrote to stdout: $(cat "$TMP/w.out")"

# --- exit status with --json -------------------------------------------------------
setsid bash -c 'while [ ! -e "$0.go" ]; do sleep 0.05; done; exit 3' "$TMP/j" </dev/null >/dev/null 2>&1 &
jpid=$!
track "$jpid"
wait_for "[ \"\$(proc_state $jpid)\" = S ]" 5 || fail "workload did not start"
expect_exit 0 "$CRPC_BIN" dump "$jpid" "$TMP/ckpt-j"
wait_gone "$jpid" 5 || fail "PID $jpid still exists after the dump"
"$CRPC_BIN" restore --wait --json "$TMP/ckpt-j" >"$TMP/j.out" 2>"$TMP/j.err" &
crpc=$!
track "$crpc"
wait_for "grep -qsF '$TMP/j' /proc/$jpid/cmdline" 10 || fail "restored PID $jpid did not appear"
touch "$TMP/j.go"
rc=0
wait "$crpc" || rc=$?
[ "$rc" -eq 3 ] || fail "crpc restore --wait --json exited $rc, expected 3; stderr: $(cat "$TMP/j.err")"
json_assert "$TMP/j.out" "d['pid'] == $jpid" 'd["exit_status"] == 3' 'd["signal"] is None' ||
	fail "restore --wait --json: wrong JSON output"

# --- SIGTERM is forwarded ------------------------------------------------------------
pid=$(start_counter c)
track "$pid"
expect_exit 0 "$CRPC_BIN" dump "$pid" "$TMP/ckpt-c"
wait_gone "$pid" 5 || fail "PID $pid still exists after the dump"
v_dump=$(counter c)
"$CRPC_BIN" restore --wait "$TMP/ckpt-c" >"$TMP/c.out" 2>"$TMP/c.err" &
crpc=$!
track "$crpc"
wait_for "[ \"\$(counter c)\" -gt $v_dump ]" 10 ||
	fail "restored counter does not count; crpc said: $(cat "$TMP/c.err")"
# the restored tree (the loop and its current child, if any) belongs to crpc
kill -TERM "$crpc"
rc=0
wait "$crpc" || rc=$?
[ "$rc" -eq 143 ] || fail "crpc restore --wait exited $rc after SIGTERM, expected 143; stderr: $(cat "$TMP/c.err")"
wait_gone "$pid" 3 || fail "restored PID $pid still exists (state $(proc_state "$pid")) after SIGTERM"
v_end=$(counter c)
sleep 0.2
[ "$(counter c)" = "$v_end" ] || fail "the counter still moves after crpc forwarded SIGTERM"

# --- SIGHUP is forwarded too ---------------------------------------------------------
# the loop's child of the moment outlived it (crpc exits with the root) and
# holds the PID as its session ID until PID 1 reaps it
wait_for "session_gone $pid" 10 || fail "session $pid does not go away"
"$CRPC_BIN" restore --wait "$TMP/ckpt-c" >"$TMP/h.out" 2>"$TMP/h.err" &
crpc=$!
track "$crpc"
wait_for "[ \"\$(counter c)\" -gt $v_dump ] && [ \"\$(counter c)\" != $v_end ]" 10 ||
	fail "counter restored again does not count; crpc said: $(cat "$TMP/h.err")"
kill -HUP "$crpc"
rc=0
wait "$crpc" || rc=$?
[ "$rc" -eq 129 ] || fail "crpc restore --wait exited $rc after SIGHUP, expected 129; stderr: $(cat "$TMP/h.err")"
wait_gone "$pid" 3 || fail "restored PID $pid still exists after SIGHUP"

# --- SIGINT is forwarded (to a process that does not ignore it) ------------------------
# (a background job of a non-interactive shell ignores SIGINT, so the shell
# loops above would ignore it too; this workload restores the default)
setsid /usr/bin/python3 -c '
import signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_DFL)
open(sys.argv[1], "w").write("up\n")
while True:
    time.sleep(0.05)
' "$TMP/py" </dev/null >/dev/null 2>&1 &
ppid_=$!
track "$ppid_"
wait_for "[ -s '$TMP/py' ]" 10 || fail "python workload did not start"
expect_exit 0 "$CRPC_BIN" dump "$ppid_" "$TMP/ckpt-py"
wait_gone "$ppid_" 5 || fail "PID $ppid_ still exists after the dump"
"$CRPC_BIN" restore --wait "$TMP/ckpt-py" >"$TMP/i.out" 2>"$TMP/i.err" &
crpc=$!
track "$crpc"
wait_for "grep -qsF '$TMP/py' /proc/$ppid_/cmdline" 10 || fail "restored PID $ppid_ did not appear"
kill -INT "$crpc"
rc=0
wait "$crpc" || rc=$?
[ "$rc" -eq 130 ] || fail "crpc restore --wait exited $rc after SIGINT, expected 130; stderr: $(cat "$TMP/i.err")"
wait_gone "$ppid_" 3 || fail "restored PID $ppid_ still exists after SIGINT"
