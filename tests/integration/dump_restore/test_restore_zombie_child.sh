#!/bin/bash
# A tree holding a zombie (a child that exited and was not reaped yet, as a
# shell loop's sleep can be at the moment of the dump) is checkpointed and
# restored like any other: CRIU restores the zombie as a zombie.
#
# CRIU 4.2 leaves the thread list of a zombie's pstree.img entry
# uninitialised: the thread id written there is whatever its memory held
# (seen: 2151761792, 2345129856...). crpc must not take that for a damaged
# checkpoint. To make the case the same on every run, the zombie's thread
# id is set to such a value when CRIU happened to write a small one.
# shellcheck disable=SC2015,SC2016 # quoted code for other shells; A && B || fail
. "$(dirname "$0")/../lib.sh"

# the root never reaps its child: it execs sleep
setsid bash -c 'sleep 0 & echo $! >"$0.child"; exec sleep 1000' "$TMP/z" </dev/null >/dev/null 2>&1 &
root=$!
track "$root"
wait_for "[ -s '$TMP/z.child' ]" 5 || fail "workload did not start"
child=$(cat "$TMP/z.child")
track "$child"
wait_for "[ \"\$(proc_state $child)\" = Z ]" 5 || fail "child $child did not become a zombie"

expect_exit 0 "$CRPC_BIN" dump "$root" "$TMP/ckpt"
wait_gone "$root" 5 || fail "PID $root still exists after the dump"

# what CRIU wrote for the zombie; make its thread id a large one
/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/pstree_zombie_tids.py" "$TMP/ckpt/pstree.img" "$child" >"$TMP/patch.txt" || fail "cannot read pstree.img"
note "$(cat "$TMP/patch.txt")"

# pstree.img was edited above, so it no longer matches crpc.json: --force
expect_exit 0 "$CRPC_BIN" restore --force --json "$TMP/ckpt"
echo "$OUT" >"$TMP/restore.json"
json_assert "$TMP/restore.json" --exit 0 "d['pid'] == $root" "d['pids'] == [$root, $child]" ||
	fail "restore --json: wrong JSON output"
[ "$(proc_state "$child")" = Z ] || fail "restored child $child is in state '$(proc_state "$child")', expected a zombie"
[ "$(awk '{ print $4 }' "/proc/$child/stat")" = "$root" ] || fail "restored zombie $child is not a child of $root"
[ "$(proc_state "$root")" = S ] || fail "restored root $root is in state '$(proc_state "$root")'"
kill -KILL "$root"
