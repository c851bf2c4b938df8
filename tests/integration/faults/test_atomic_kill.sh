#!/bin/bash
# A dump interrupted by SIGKILL of crpc itself (a hook kills its parent, crpc)
# leaves no DIR that restore accepts: into a new DIR, only the temporary
# DIR.crpc-tmp-XXXXXX exists, and restore refuses both names with a message
# saying the dump was interrupted; into an existing DIR, the DIR keeps the
# in-progress marker and no crpc.json. CRIU, whose client is gone, fails the
# notification and resumes the target: it keeps running and counting, and no
# CRIU is left behind. A later dump --force into the in-place DIR works.
# shellcheck disable=SC2015,SC2016 # A && B || fail; $PPID is the hook shell's
. "$(dirname "$0")/../lib.sh"

# assert_counting PID NAME: running (not stopped, not a zombie) and counting
assert_counting() {
	local s v
	s=$(proc_state "$1")
	[[ $s == [RSD] ]] || fail "target PID $1 is in state '$s' after crpc was killed"
	v=$(counter "$2")
	wait_for "[ \"\$(counter $2)\" -ge $((v + 3)) ]" 5 ||
		fail "target PID $1 stopped counting (state $(proc_state "$1"))"
}

# kill_crpc_at CALLBACK DIR PID: crpc dump, SIGKILLed by a hook at CALLBACK
kill_crpc_at() {
	local rc=0
	"$CRPC_BIN" dump --no-config --hook "$1=kill -KILL \$PPID" "$3" "$2" \
		>"$TMP/out" 2>"$TMP/err" || rc=$?
	[ "$rc" -eq 137 ] || fail "crpc dump exited $rc, expected 137 (SIGKILL); stderr: $(cat "$TMP/err")"
}

# assert_no_stray: CRIU (and the hook) go away once their client is gone
assert_no_stray() {
	local p
	sleep 0.1
	for p in $(stray_pids); do
		fail "process left behind: $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)"
	done
}

# --- killed at post-dump: the target was frozen and its images written --------------
pid=$(start_counter a)
track "$pid"
wait_for '[ "$(counter a)" -ge 2 ]' 10 || fail "counter does not count"
kill_crpc_at post-dump "$TMP/ckpt" "$pid"
[ ! -e "$TMP/ckpt" ] || fail "DIR exists after crpc was killed: $(ls -A "$TMP/ckpt")"
tmps=("$TMP"/ckpt.crpc-tmp-*)
[ "${#tmps[@]}" -eq 1 ] && [ -d "${tmps[0]}" ] || fail "expected one temporary directory, found: ${tmps[*]}"
tmpdir=${tmps[0]}
[[ $tmpdir =~ /ckpt\.crpc-tmp-[A-Za-z0-9]{6}$ ]] || fail "temporary directory name: $tmpdir"
[ "$(stat -c %a "$tmpdir")" = 700 ] || fail "temporary directory mode $(stat -c %a "$tmpdir")"
[ -e "$tmpdir/.crpc-dump-in-progress" ] || fail "no in-progress marker in $tmpdir"
[ ! -e "$tmpdir/crpc.json" ] || fail "crpc.json written although crpc was killed"
[ -s "$tmpdir/inventory.img" ] || fail "CRIU had not written the images when crpc was killed (test setup)"
grep -q "Running post-dump scripts" "$tmpdir/dump.log" || fail "CRIU did not reach post-dump"
assert_counting "$pid" a
note "target $pid state $(proc_state "$pid") after crpc was killed at post-dump"

# restore refuses DIR (missing, naming the leftover) and the leftover itself
expect_exit 1 "$CRPC_BIN" restore "$TMP/ckpt"
assert_contains "$ERR" "does not exist" "restore of DIR"
assert_contains "$ERR" "an interrupted dump into $TMP/ckpt left $tmpdir" "restore of DIR: hint"
expect_exit 1 "$CRPC_BIN" restore "$tmpdir"
assert_contains "$ERR" "incomplete: a dump into it did not complete" "restore of the leftover"
[ ! -e "$tmpdir/restore.log" ] || fail "restore of the leftover ran CRIU"
expect_exit 1 "$CRPC_BIN" restore --json "$tmpdir"
echo "$OUT" >"$TMP/r.json"
json_assert "$TMP/r.json" --exit 1 'd["verification"]["verdict"] == "unfinished"' ||
	fail "restore --json of the leftover"
expect_exit 0 "$CRPC_BIN" show "$tmpdir"
assert_contains "$OUT" "incomplete" "show of the leftover"
assert_no_stray

# a new dump into DIR works next to the leftover, and restore accepts it
expect_exit 0 "$CRPC_BIN" dump --leave-running "$pid" "$TMP/ckpt"
[ -s "$TMP/ckpt/crpc.json" ] || fail "no crpc.json after the dump that followed"
expect_exit 0 "$CRPC_BIN" show --verify "$TMP/ckpt"

# --- killed at pre-dump: before CRIU froze anything ----------------------------------
kill_crpc_at pre-dump "$TMP/ckpt2" "$pid"
[ ! -e "$TMP/ckpt2" ] || fail "DIR exists after crpc was killed at pre-dump"
tmps=("$TMP"/ckpt2.crpc-tmp-*)
[ -e "${tmps[0]}/.crpc-dump-in-progress" ] || fail "no marker in the leftover of the pre-dump kill"
expect_exit 1 "$CRPC_BIN" restore "${tmps[0]}"
assert_contains "$ERR" "did not complete" "restore of the pre-dump leftover"
assert_counting "$pid" a
assert_no_stray

# --- an existing DIR: written in place, left marked unfinished ------------------------
mkdir -m 700 "$TMP/inplace"
kill_crpc_at post-dump "$TMP/inplace" "$pid"
compgen -G "$TMP/inplace.crpc-tmp-*" >/dev/null && fail "a dump into an existing DIR used a temporary directory"
[ -e "$TMP/inplace/.crpc-dump-in-progress" ] || fail "no marker in the in-place DIR"
[ ! -e "$TMP/inplace/crpc.json" ] || fail "crpc.json in the in-place DIR although crpc was killed"
expect_exit 1 "$CRPC_BIN" restore "$TMP/inplace"
assert_contains "$ERR" "did not complete" "restore of the in-place DIR"
assert_counting "$pid" a
# a dump into it is refused without --force, and works with it
expect_exit 1 "$CRPC_BIN" dump --leave-running "$pid" "$TMP/inplace"
assert_contains "$ERR" "unfinished dump" "dump into the interrupted DIR"
expect_exit 0 "$CRPC_BIN" dump --leave-running --force "$pid" "$TMP/inplace"
[ ! -e "$TMP/inplace/.crpc-dump-in-progress" ] || fail "dump --force left the marker"
expect_exit 0 "$CRPC_BIN" show --verify "$TMP/inplace"
assert_counting "$pid" a
assert_no_stray
