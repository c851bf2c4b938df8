#!/bin/bash
# orphan-pts-master: a process whose controlling terminal is a pty slave
# whose master belonged to a process outside the dumped tree. Restored with
# restore: {orphan_pts_master: true, shell_job: true}, CRIU opens a new master
# for the restored slave and hands it over; the orphan-pts-master step gets
# it as the fd numbered in CRPC_PTS_MASTER_FD, keeps it open (a background
# reader) and reads what the restored process prints on its terminal.
# shellcheck disable=SC2016 # quoted code for wait_for and the hook
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"

helpers=$CRPC_SRC/tests/integration/helpers

# --- a counter on a pty whose master a helper outside the tree holds ------------
/usr/bin/python3 "$helpers/pts_holder.py" "$TMP" </dev/null >/dev/null 2>&1 &
holder=$!
track "$holder"
wait_for "[ -s '$TMP/child.pid' ]" 10 || fail "the pty holder did not start its counter"
pid=$(<"$TMP/child.pid")
track "$pid"
wait_for '[ "$(counter w)" -ge 2 ]' 10 || fail "the counter on the pty does not count"
tty=$(readlink "/proc/$pid/fd/0")
[[ $tty == /dev/pts/* ]] || fail "the counter's stdin is $tty, not a pty slave"

# --- dump: the terminal comes from outside, so it is a shell job ---------------
expect_exit 0 "$CRPC_BIN" dump --no-config --shell-job "$pid" "$TMP/ckpt"
wait_gone "$pid" 5 || fail "PID $pid still exists after the dump"
# the master's holder goes away too: nothing of the original terminal is left
touch "$TMP/stop"
wait_gone "$holder" 10 || fail "the pty holder did not exit"
wait_for "session_gone $pid" 10 || fail "session $pid does not go away"

# --- restore with orphan_pts_master --------------------------------------------
# The step records its callback, the fd number and what the fd is, and leaves
# a reader holding the master (closing it would hang the terminal up).
step='echo "$CRPC_ACTION" >>TMPDIR/order; echo "$CRPC_PTS_MASTER_FD" >TMPDIR/pts.fd; readlink /proc/self/fd/$CRPC_PTS_MASTER_FD >TMPDIR/pts.link; test -c /proc/self/fd/$CRPC_PTS_MASTER_FD || exit 1; /usr/bin/python3 HELPERS/pts_reader.py $CRPC_PTS_MASTER_FD TMPDIR </dev/null >/dev/null 2>&1 &'
step=${step//TMPDIR/$TMP}
step=${step//HELPERS/$helpers}
step=${step//\"/\\\"}
write_config "$TMP/pts.yaml" <<EOF
restore:
  orphan_pts_master: true
  shell_job: true
hooks:
  orphan-pts-master:
    - name: take-master
      shell: "$step"
  pre-resume:
    - shell: "echo pre-resume >>$TMP/order"
EOF

expect_exit 0 "$CRPC_BIN" restore --config "$TMP/pts.yaml" "$TMP/ckpt"
rpid=$(restored_pid)
track "$rpid"
[ "$rpid" = "$pid" ] || fail "restored PID $rpid, expected $pid"

# the step ran once, before the tasks resumed, with the master as a char device
got=$(<"$TMP/order")
[ "$got" = $'orphan-pts-master\npre-resume' ] || fail "unexpected hook order: $got"
fd=$(<"$TMP/pts.fd")
[[ $fd =~ ^[0-9]+$ ]] || fail "CRPC_PTS_MASTER_FD is '$fd', not an fd number"
link=$(<"$TMP/pts.link")
case $link in
/dev/ptmx | /dev/pts/ptmx) ;;
*) fail "fd $fd (CRPC_PTS_MASTER_FD) of the step is $link, not a pty master" ;;
esac
grep -q 'orphan-pts-master take-master: end: exit 0' "$TMP/ckpt/hooks.log" ||
	fail "hooks.log does not record the orphan-pts-master step: $(<"$TMP/ckpt/hooks.log")"

# the restored process counts on a pty whose master is the fd the step got
counting w 5 || fail "the restored counter does not count"
wait_for "[ -s '$TMP/pts.index' ]" 5 || fail "the reader did not get a pty index from fd $fd"
rtty=$(readlink "/proc/$rpid/fd/0")
[ "$rtty" = "/dev/pts/$(<"$TMP/pts.index")" ] ||
	fail "the restored process's terminal is $rtty, the step's master is pty $(<"$TMP/pts.index")"
read -r line <"/proc/$rpid/stat"
rest=${line##*) }
read -r _ _ _ sid ttynr _ <<<"$rest"
[ "$sid" = "$rpid" ] || fail "the restored process is in session $sid, not its own ($rpid)"
[ "$ttynr" != 0 ] || fail "the restored process has no controlling terminal"
# what it prints on its terminal comes out of the step's master
v=$(counter w)
wait_for "grep -q 'tick $((v + 2))' '$TMP/pts.out' 2>/dev/null" 5 ||
	fail "the restored process's output does not reach the master fd: $(tail -c 200 "$TMP/pts.out" 2>/dev/null)"
counting w 3 || fail "the restored counter stopped counting"

kill -KILL "$rpid"
wait_gone "$rpid" 5 || fail "restored PID $rpid does not go away"
