#!/bin/bash
# Restoring while a PID of the checkpoint is in use fails clearly and
# touches nothing. A PID held by a zombie is waited for (--pid-wait).
# shellcheck disable=SC2015,SC2016 # quoted code for other shells; A && B || fail
. "$(dirname "$0")/../lib.sh"

# fingerprint DIR: names, sizes, modes, mtimes and content hashes of everything in it
fingerprint() {
	(cd "$1" && find . -printf '%p %y %s %m %T@\n' | sort && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# --- a live process holds the PID ---------------------------------------------------
pid=$(start_counter c)
track "$pid"
expect_exit 0 "$CRPC_BIN" dump --leave-running "$pid" "$TMP/ckpt"
fingerprint "$TMP/ckpt" >"$TMP/fp.before"
[ ! -e "$TMP/ckpt/restore.log" ] || fail "restore.log exists before any restore"

t0=$EPOCHREALTIME
expect_exit 1 "$CRPC_BIN" restore "$TMP/ckpt"
t1=$EPOCHREALTIME
note "restore refused: $ERR"
assert_contains "$ERR" "PID $pid" "restore error"
assert_contains "$ERR" "bash" "restore error (command holding the PID)"
assert_contains "$ERR" "in use" "restore error"
[ -z "$OUT" ] || fail "the failed restore printed on stdout: $OUT"
# a live process fails at once, it is not waited for like a zombie (5 s)
elapsed_ms=$(((${t1//[.,]/} - ${t0//[.,]/}) / 1000))
[ "$elapsed_ms" -lt 3000 ] || fail "restore took ${elapsed_ms} ms to refuse a PID held by a live process"

fingerprint "$TMP/ckpt" >"$TMP/fp.after"
diff "$TMP/fp.before" "$TMP/fp.after" >"$TMP/fp.diff" || fail "the failed restore changed the images: $(cat "$TMP/fp.diff")"
[ ! -e "$TMP/ckpt/restore.log" ] || fail "the failed restore created restore.log"
case "$(proc_state "$pid")" in
R | S | D) ;;
*) fail "the process holding the PID is in state $(proc_state "$pid")" ;;
esac
v=$(counter c)
wait_for "[ \"\$(counter c)\" -gt $v ]" 5 || fail "the process holding the PID stopped counting"

# --json: the cause is named
expect_exit 1 "$CRPC_BIN" restore --json "$TMP/ckpt"
echo "$OUT" >"$TMP/busy.json"
json_assert "$TMP/busy.json" --exit 1 'd["error"]["cause"] == "pid-in-use"' \
	"'$pid' in d['error']['message']" 'd["error"]["hint"]' || fail "restore --json: wrong JSON output"
fingerprint "$TMP/ckpt" >"$TMP/fp.after2"
diff "$TMP/fp.before" "$TMP/fp.after2" >/dev/null || fail "the failed restore --json changed the images"

# restore --wait fails the same way (and does not hang)
expect_exit 1 "$CRPC_BIN" restore --wait "$TMP/ckpt"
assert_contains "$ERR" "PID $pid" "restore --wait error"
fingerprint "$TMP/ckpt" >"$TMP/fp.after3"
diff "$TMP/fp.before" "$TMP/fp.after3" >/dev/null || fail "the failed restore --wait changed the images"

kill -KILL "$pid"
wait_gone "$pid" 5 || fail "PID $pid does not go away"

# --- the PID is free but still taken as a session and group ID ---------------------
# A session leader is checkpointed (leave running), then starts a long child
# (no part of the checkpoint) and is killed: its PID is gone from /proc, but
# the number stays taken while the child lives in its session and group,
# so the restore cannot get it. crpc must say so before calling CRIU.
setsid bash -c 'i=0; printf "%10d\n" 0 >"$0.tmp0"; printf "%10d\n" 0 >"$0.tmp1"; while :; do t="$0.tmp$((i % 2))"; printf "%10d\n" $i 1<>"$t"; rm -f "$0.new"; ln "$t" "$0.new"; mv -f "$0.new" "$0"; i=$((i+1))
	if [ -e "$0.spawn" ]; then rm -f "$0.spawn"; sleep 1000 <&- >&- 2>&- & echo $! > "$0.child"; fi
	sleep 0.05; done' "$TMP/s.count" </dev/null >/dev/null 2>&1 &
lpid=$!
track "$lpid"
wait_for "[ -s '$TMP/s.count' ]" 10 || fail "session workload did not start"
expect_exit 0 "$CRPC_BIN" dump --leave-running "$lpid" "$TMP/ckpt-s"
touch "$TMP/s.count.spawn"
wait_for "[ -s '$TMP/s.count.child' ]" 5 || fail "session workload did not start its child"
child=$(cat "$TMP/s.count.child")
track "$child"
kill -KILL "$lpid"
wait_gone "$lpid" 5 || fail "PID $lpid does not go away"
[ "$(awk '{ print $6 }' "/proc/$child/stat")" = "$lpid" ] || fail "child $child is not in session $lpid"
fingerprint "$TMP/ckpt-s" >"$TMP/fp-s.before"
t0=$EPOCHREALTIME
expect_exit 1 "$CRPC_BIN" restore "$TMP/ckpt-s"
t1=$EPOCHREALTIME
note "restore refused: $ERR"
assert_contains "$ERR" "$lpid" "restore error (PID taken as a session ID)"
assert_contains "$ERR" "sleep" "restore error (command holding the session ID)"
[ ! -e "$TMP/ckpt-s/restore.log" ] || fail "crpc called CRIU although PID $lpid is taken as the session ID of $child (sleep): $(grep -m1 Error "$TMP/ckpt-s/restore.log")"
fingerprint "$TMP/ckpt-s" >"$TMP/fp-s.after"
diff "$TMP/fp-s.before" "$TMP/fp-s.after" >/dev/null || fail "the failed restore changed the images"
elapsed_ms=$(((${t1//[.,]/} - ${t0//[.,]/}) / 1000))
[ "$elapsed_ms" -lt 3000 ] || fail "restore took ${elapsed_ms} ms to refuse a PID held by a live process"
# once the session is empty, the checkpoint restores
kill -KILL "$child"
wait_for "session_gone $lpid" 10 || fail "session $lpid does not go away"
expect_exit 0 "$CRPC_BIN" restore --json "$TMP/ckpt-s"
echo "$OUT" >"$TMP/s.json"
json_assert "$TMP/s.json" --exit 0 "d['pid'] == $lpid" || fail "restore --json: wrong JSON output"
kill -KILL "$lpid"

# --- a zombie holds the PID -----------------------------------------------------------
# The counter's parent never reaps it (it execs sleep), so once dumped (and
# killed) the counter stays a zombie as long as its parent lives.
setsid bash -c 'setsid bash -c "$1" "$0" </dev/null >/dev/null 2>&1 &
echo $! > "$0.pid"; exec sleep 1000' "$TMP/z.count" "$COUNTER_LOOP" </dev/null >/dev/null 2>&1 &
parent=$!
track "$parent"
wait_for "[ -s '$TMP/z.count.pid' ] && [ -s '$TMP/z.count' ]" 10 || fail "zombie workload did not start"
zpid=$(cat "$TMP/z.count.pid")
track "$zpid"
expect_exit 0 "$CRPC_BIN" dump "$zpid" "$TMP/ckpt-z"
wait_for "[ \"\$(proc_state $zpid)\" = Z ]" 5 || fail "PID $zpid is not a zombie after the dump (state $(proc_state "$zpid"))"

t0=$EPOCHREALTIME
expect_exit 1 "$CRPC_BIN" restore --pid-wait 0.5 "$TMP/ckpt-z"
t1=$EPOCHREALTIME
note "restore refused: $ERR"
assert_contains "$ERR" "$zpid" "restore error (zombie)"
assert_contains "$ERR" "zombie" "restore error (zombie)"
elapsed_ms=$(((${t1//[.,]/} - ${t0//[.,]/}) / 1000))
[ "$elapsed_ms" -ge 450 ] || fail "restore gave up on the zombie after ${elapsed_ms} ms, before --pid-wait 0.5"
[ "$elapsed_ms" -lt 4000 ] || fail "restore waited ${elapsed_ms} ms for the zombie, --pid-wait was 0.5"
[ ! -e "$TMP/ckpt-z/restore.log" ] || fail "the failed restore created restore.log"

# end the parent: PID 1 adopts the zombie and reaps it after a while; the
# default --pid-wait (5 s) covers that
kill -KILL "$parent"
expect_exit 0 "$CRPC_BIN" restore --json "$TMP/ckpt-z"
echo "$OUT" >"$TMP/z.json"
json_assert "$TMP/z.json" --exit 0 "d['pid'] == $zpid" || fail "restore --json: wrong JSON output"
v=$(cat "$TMP/z.count")
wait_for "[ \"\$(cat '$TMP/z.count')\" -gt $v ]" 5 || fail "the counter restored after the zombie went away does not count"
kill -KILL "$zpid"
