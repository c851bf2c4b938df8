#!/bin/bash
# crpc inspect and OFD locks. /proc/locks shows no holder for an OFD lock
# (pid -1): a process outside the tree that OFD-locks a file the tree also
# has open (a temporary file, /dev/null as dockerd does) must not give the
# tree a lock nor the file_locks option. A tree that takes an OFD lock
# itself is reported with it once, by the process that took it, though its
# child shares the open file (and so lists the lock in its fdinfo too) and
# a dup'ed fd refers to it as well.
. "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
HELPER=$CRPC_SRC/tests/integration/helpers/ofd_lock.py
DATA=$TMP/data
: >"$DATA"

# start_ofd NAME ARGS...: `setsid ofd_lock.py $TMP/NAME.ready ARGS...`,
# tracked; sets OFD_PID and OFD_CHILD (0 when it did not fork) once it is
# ready.
start_ofd() {
	local name=$1 ready=$TMP/$1.ready
	shift
	setsid $PY "$HELPER" "$ready" "$@" </dev/null >/dev/null 2>"$TMP/$name.err" &
	track $!
	wait_for "[ -s '$ready' ]" 10 || fail "$name did not start: $(cat "$TMP/$name.err")"
	read -r OFD_PID OFD_CHILD <"$ready"
	track "$OFD_PID"
	[ "$OFD_CHILD" = 0 ] || track "$OFD_CHILD"
}

# ofd_in_proc_locks INODE: /proc/locks shows an OFD lock without a pid on INODE.
ofd_in_proc_locks() {
	local line
	while read -r line; do
		[[ $line =~ OFDLCK\ +ADVISORY\ +WRITE\ +-1\ +[0-9a-f]+:[0-9a-f]+:$1\  ]] && return 0
	done </proc/locks
	return 1
}

# inspect_json PID FILE: `crpc inspect --json PID` (exit 0) into FILE.
inspect_json() {
	expect_exit 0 "$CRPC_BIN" inspect --json "$1"
	printf '%s\n' "$OUT" >"$2"
}

# --- the outside holder: OFD write locks on bytes 0-9 of the file and of /dev/null
start_ofd holder --lock 0:10 "$DATA" /dev/null
holder=$OFD_PID
data_ino=$(stat -c %i "$DATA")
null_ino=$(stat -L -c %i /dev/null)
ofd_in_proc_locks "$data_ino" || fail "/proc/locks shows no OFD lock on $DATA: $(cat /proc/locks)"
ofd_in_proc_locks "$null_ino" || fail "/proc/locks shows no OFD lock on /dev/null: $(cat /proc/locks)"

# its own locks are its own, /dev/null's too
inspect_json "$holder" "$TMP/holder.json"
json_assert "$TMP/holder.json" --exit 0 "d['pid'] == $holder" \
	"sorted((l['class'], l['mode'], l['pid'], l['path'], l['start'], l['end']) for l in d['locks']) == \
	 [('OFDLCK', 'WRITE', $holder, '/dev/null', 0, 9), ('OFDLCK', 'WRITE', $holder, '$DATA', 0, 9)]" \
	"all(l['fd'] is not None for l in d['locks'])" \
	"'file_locks' in [o['option'] for o in d['options']]" ||
	fail "inspect of the outside holder: its OFD locks are not listed"

# --- a target with both files open, no lock of its own -------------------------------
start_ofd plain "$DATA" /dev/null
plain=$OFD_PID
inspect_json "$plain" "$TMP/plain.json"
json_assert "$TMP/plain.json" --exit 0 "d['pid'] == $plain" \
	"{'$DATA', '/dev/null'} <= {f.get('path') for f in d['processes'][0]['fds']}" \
	"d['locks'] == []" \
	"'file_locks' not in [o['option'] for o in d['options']]" ||
	fail "the outside OFD locks are given to a target that holds none"

# --- a target that OFD-locks bytes 100-109 of the file itself, then forks ------------
start_ofd owner --lock 100:10 --fork "$DATA"
owner=$OFD_PID
child=$OFD_CHILD
inspect_json "$owner" "$TMP/owner.json"
json_assert "$TMP/owner.json" --exit 0 "d['pid'] == $owner" \
	"sorted(p['pid'] for p in d['processes']) == sorted([$owner, $child])" \
	"[(l['class'], l['mode'], l['pid'], l['path'], l['start'], l['end']) for l in d['locks']] == \
	 [('OFDLCK', 'WRITE', $owner, '$DATA', 100, 109)]" \
	"d['locks'][0]['fd'] is not None" \
	"'file_locks' in [o['option'] for o in d['options']]" ||
	fail "the target's own OFD lock is not reported once, by the target"

# the child alone holds the lock too (it shares the open file description)
inspect_json "$child" "$TMP/child.json"
json_assert "$TMP/child.json" --exit 0 "d['pid'] == $child" \
	"[(l['class'], l['pid'], l['start']) for l in d['locks']] == [('OFDLCK', $child, 100)]" ||
	fail "the forked child's shared OFD lock is not reported"
