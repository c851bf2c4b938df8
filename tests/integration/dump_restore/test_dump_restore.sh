#!/bin/bash
# Dump a shell loop (it ends), restore it: same PID, and its counter carries
# on from where it was instead of starting again.
# shellcheck disable=SC2015,SC2016 # quoted code for other shells; A && B || fail
. "$(dirname "$0")/../lib.sh"

# first_new_value NAME OLD SECONDS: wait until the counter differs from OLD,
# print the first new value seen.
first_new_value() {
	local f=$TMP/$1.count old=$2 secs=$3 v i
	for ((i = 0; i < secs * 100; i++)); do
		v=$(<"$f") 2>/dev/null || v=
		if [ -n "$v" ] && [ "$v" != "$old" ]; then
			echo "$v"
			return 0
		fi
		sleep 0.01
	done
	return 1
}

# now_ms: monotonic enough for these bounds
now_ms() { echo $((${EPOCHREALTIME//[.,]/} / 1000)); }

# sum of the sizes of the regular files in DIR [matching GLOB]
files_bytes() {
	find "$1" -maxdepth 1 -type f -name "${2:-*}" -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}

pid=$(start_counter c)
track "$pid"
cmdline_before=$(tr '\0' ' ' <"/proc/$pid/cmdline")
wait_for '[ "$(counter c)" -ge 3 ]' 10 || fail "counter does not count"

# --- dump: the process ends, the images are there ------------------------------
expect_exit 0 "$CRPC_BIN" dump "$pid" "$TMP/ckpt"
note "dump: $OUT"
wait_gone "$pid" 5 || fail "PID $pid still exists after the dump (state $(proc_state "$pid"))"
v_dump=$(counter c)
sleep 0.2
[ "$(counter c)" = "$v_dump" ] || fail "the counter still moves after the dump"

assert_contains "$OUT" "$pid" "dump summary"
assert_contains "$OUT" "$TMP/ckpt" "dump summary"
assert_contains "$OUT" "image size" "dump summary"
assert_contains "$OUT" "wall time" "dump summary"
assert_contains "$OUT" "frozen" "dump summary"
assert_contains "$OUT" "memdump" "dump summary"
assert_contains "$OUT" "memwrite" "dump summary"
assert_contains "$OUT" "scanned" "dump summary"
assert_contains "$OUT" "written" "dump summary"
for f in inventory.img pstree.img "core-$pid.img" "mm-$pid.img" "pagemap-$pid.img" stats-dump dump.log; do
	[ -s "$TMP/ckpt/$f" ] || fail "$f missing or empty in the checkpoint"
done
ls "$TMP"/ckpt/pages-*.img >/dev/null 2>&1 || fail "no pages-*.img in the checkpoint"
[ ! -e "$TMP/ckpt/.crpc-dump-in-progress" ] || fail "the in-progress marker is left after a good dump"
[ "$(stat -c %a "$TMP/ckpt")" = 700 ] || fail "DIR mode is $(stat -c %a "$TMP/ckpt"), expected 700"
grep -q "Dumping finished successfully" "$TMP/ckpt/dump.log" || fail "dump.log does not say the dump finished"

# --- restore: same PID, same command, the counter goes on -----------------------
# (the loop's child of the moment outlives it as a zombie of PID 1 for a
# while, holding the PID as its session ID: let it go, so that the restore
# does not wait and the counter's first value tells where it started)
wait_for "session_gone $pid" 10 || fail "session $pid does not go away"
t_restore=$(now_ms)
expect_exit 0 "$CRPC_BIN" restore "$TMP/ckpt"
track "$pid"
v1=$(first_new_value c "$v_dump" 5) || fail "the restored counter does not count (stuck at $v_dump)"
t_seen=$(now_ms)
note "restore: $OUT"
[[ $OUT =~ Restored\ PID\ ([0-9]+) ]] || fail "restore did not print the restored PID: $OUT"
rpid=${BASH_REMATCH[1]}
[ "$rpid" = "$pid" ] || fail "restored PID $rpid, expected the original $pid"
[ -e "/proc/$pid" ] || fail "restored PID $pid does not exist"
assert_contains "$OUT" "image size" "restore summary"
assert_contains "$OUT" "restored" "restore summary"
[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" = "$cmdline_before" ] ||
	fail "restored PID $pid runs '$(tr '\0' ' ' <"/proc/$pid/cmdline")'"
[ -s "$TMP/ckpt/restore.log" ] || fail "no restore.log"

# it counts at most once per 50 ms from the moment the restore started
max=$((v_dump + 2 + (t_seen - t_restore) / 50))
note "counter: $v_dump at the dump, $v1 first after the restore ($((t_seen - t_restore)) ms later, so at most $max)"
[ "$v1" -gt "$v_dump" ] || fail "counter went from $v_dump to $v1 after the restore: it started again"
[ "$v1" -le "$max" ] || fail "counter jumped from $v_dump to $v1 after the restore, more than it can count in $((t_seen - t_restore)) ms"
wait_for "[ \"\$(counter c)\" -ge $((v1 + 3)) ]" 5 || fail "the restored counter stopped at $(counter c)"
case "$(proc_state "$pid")" in
R | S | D) ;;
*) fail "restored PID $pid is in state $(proc_state "$pid")" ;;
esac

# --- dump --json (leave running) of the restored process ------------------------
v_before=$(counter c)
expect_exit 0 "$CRPC_BIN" dump --leave-running --json "$pid" "$TMP/ckpt2"
v_after=$(counter c)
echo "$OUT" >"$TMP/dump.json"
img_bytes=$(files_bytes "$TMP/ckpt2" '*.img')
all_bytes=$(files_bytes "$TMP/ckpt2")
json_assert "$TMP/dump.json" --exit 0 "d['pid'] == $pid" "d['images_dir'] == '$TMP/ckpt2'" \
	'd["leave_running"] is True' "$img_bytes <= d['image_bytes'] <= $all_bytes" \
	'd["wall_time_ms"] > 0' 'd["stats"]["frozen_time_ms"] > 0' 'd["stats"]["memdump_time_ms"] > 0' \
	'd["stats"]["memwrite_time_ms"] > 0' 'd["stats"]["pages_scanned"] > 0' \
	'0 < d["stats"]["pages_written"] <= d["stats"]["pages_scanned"]' ||
	fail "dump --json: wrong JSON output (the .img files hold $img_bytes bytes, all files $all_bytes)"
[ -e "/proc/$pid" ] || fail "PID $pid ended despite --leave-running"

# let it count on, well past the checkpoint's value
wait_for "[ \"\$(counter c)\" -ge $((v_after + 20)) ]" 5 || fail "counter stopped after dump --leave-running"

# --- kill it, restore --json --------------------------------------------------
kill -KILL "$pid"
# its child of the moment is no part of the checkpoint: crpc would not wait
# for it (see test_restore_pid_busy)
wait_for "session_gone $pid" 10 || fail "session $pid does not go away"
# read once it is gone: kill(2) returns before the loop, running on the
# other CPU, has stopped, and it can write one more value
v_kill=$(counter c)
t0=$(now_ms)
expect_exit 0 "$CRPC_BIN" restore --json "$TMP/ckpt2"
v2=$(first_new_value c "$v_kill" 5) || fail "the counter restored from ckpt2 does not count"
note "restore --json took $(($(now_ms) - t0)) ms"
echo "$OUT" >"$TMP/restore.json"
json_assert "$TMP/restore.json" --exit 0 "d['pid'] == $pid" "$pid in d['pids']" \
	'd["stats"]["pages_restored"] > 0' || fail "restore --json: wrong JSON output"
note "counter: $v_before..$v_after during dump 2, $v_kill when killed, $v2 first after restore"
# from the checkpoint's value on: not from the killed process's, not from 0
if [ "$v2" -lt "$v_before" ] || [ "$v2" -ge "$v_kill" ]; then
	fail "counter restored from ckpt2 printed $v2, expected to go on from the checkpoint's $v_before..$v_after (it was at $v_kill when killed)"
fi

kill -KILL "$pid"
wait_gone "$pid" 5 || fail "restored PID $pid does not go away"
