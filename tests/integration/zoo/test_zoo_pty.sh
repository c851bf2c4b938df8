#!/bin/bash
# Workload zoo: a process on a pty whose session leader and master holder
# are outside the tree (zoo_pty_session, as a terminal and a shell would
# be). inspect sees the terminal and asks for shell_job; dump takes it on
# its own. The restore runs on another pty, from another session leader
# (the same helper), and the restored process is on that terminal, in that
# session and its foreground group: a ping written to the terminal is
# answered through the new master.
# shellcheck disable=SC2015,SC2016 # A && B || fail; Python expressions in single quotes
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/zoo_lib.sh"

setsid "$ZOO_BIN/zoo_pty_session" "$TMP" start "$ZOO_BIN/zoo_pty" "$TMP" </dev/null >"$TMP/start.log" 2>&1 &
track $!
pid=$(zoo_wait_ready pty)
track "$pid"
zoo_verify pty "$pid" "before the dump"
read -r line <"/proc/$pid/stat"
rest=${line##*) }
read -r _ _ _ sid _ <<<"$rest"
[ "$sid" != "$pid" ] || fail "the workload leads its session"
tty=$(readlink "/proc/$pid/fd/0")

zoo_inspect "$pid"
zoo_inspect_assert "the terminal" \
	"proc($pid)['sid'] == $sid" "proc($pid)['tty'] == '${tty#/dev/}'" \
	"[(f['fd'], f['pty_side']) for f in fds($pid) if f['type'] == 'pty'] == [(0, 'slave'), (1, 'slave'), (2, 'slave')]" \
	"len(opt('shell_job')) >= 1"

zoo_dump "$pid" "len(auto('shell_job')) == 1"
wait_for "[ -s '$TMP/start.status' ]" 5 || fail "the first session leader did not see its job end"

# restore from a session of its own on a new pty: crpc's stdin is the new
# terminal, its output goes to files
setsid "$ZOO_BIN/zoo_pty_session" "$TMP" restore -o "$CRPC_BIN" restore "$ZOO_CKPT" </dev/null >"$TMP/restore.log" 2>&1 &
track $!
wait_for "[ -s '$TMP/restore.status' ]" 30 || fail "crpc restore did not end"
[ "$(<"$TMP/restore.status")" = "exit 0" ] ||
	fail "crpc restore: $(<"$TMP/restore.status"): $(cat "$TMP/restore.err" "$TMP/restore.out")"
assert_contains "$(<"$TMP/restore.out")" "Restored PID $pid" "crpc restore's output"
[ -e "/proc/$pid" ] || fail "restored PID $pid is not there"
zoo_verify pty "$pid" "after the restore"
# in the session of the restore's session leader, on its terminal
read -r line <"/proc/$pid/stat"
rest=${line##*) }
read -r _ _ _ rsid _ <<<"$rest"
grep -qsF "restore" "/proc/$rsid/cmdline" && grep -qsF zoo_pty_session "/proc/$rsid/cmdline" ||
	fail "the restored process is in session $rsid, not the restore's: $(tr '\0' ' ' <"/proc/$rsid/cmdline")"
rtty=$(readlink "/proc/$pid/fd/0")
[ "$rtty" != "$tty" ] || fail "the restored process is still on $tty"
grep -q "^ping 2" "$TMP/restore.tty" || fail "the new terminal did not carry the ping: $(cat "$TMP/restore.tty")"
