#!/bin/bash
# A terminal whose master side nobody holds any more (zdtm's pty04: "two pts
# with a fake ptmx"). CRIU restores such a pty with a master of its own, so
# the tree needs no shell_job: crpc inspect says the master is closed and
# asks for no option, crpc dump and restore with no options work and the
# process carries on. A terminal whose master an outside process still holds
# does need shell_job (the control case).
. "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
HELPERS=$CRPC_SRC/tests/integration/helpers

# --- the orphaned terminal
setsid $PY "$HELPERS/pty_orphan.py" "$TMP/orphan" </dev/null >/dev/null 2>"$TMP/orphan.err" &
track $!
wait_for "[ -s '$TMP/orphan' ]" 10 || fail "pty_orphan.py did not start: $(cat "$TMP/orphan.err")"
read -r pid <"$TMP/orphan"
track "$pid"
wait_for "[ -s '$TMP/orphan.count' ]" 10 || fail "the orphan-pty process does not count"

expect_exit 0 "$CRPC_BIN" inspect --json "$pid"
printf '%s\n' "$OUT" >"$TMP/orphan.json"
json_assert "$TMP/orphan.json" --exit 0 \
	"[f['master_closed'] for p in d['processes'] for f in p['fds'] if f['type'] == 'pty'] == [True, True]" \
	"'shell_job' not in [o['option'] for o in d['options']]" ||
	fail "inspect of a process whose pty master is closed"

expect_exit 0 "$CRPC_BIN" dump "$pid" "$TMP/ck"
assert_not_contains "$ERR" "shell_job" "dump's messages"
wait_gone "$pid" 10 || fail "PID $pid still there after the dump"
expect_exit 0 "$CRPC_BIN" restore "$TMP/ck"
before=$(cat "$TMP/orphan.count")
wait_for "[ \"\$(cat '$TMP/orphan.count')\" -gt $((before + 2)) ]" 10 ||
	fail "the restored process does not carry on counting"
[ -e "/proc/$pid" ] || fail "restored PID $pid is not running"

# --- the control case: the master is held by a process outside the tree
mkdir "$TMP/held"
$PY "$HELPERS/pts_holder.py" "$TMP/held" </dev/null >/dev/null 2>&1 &
track $!
wait_for "[ -s '$TMP/held/child.pid' ]" 10 || fail "pts_holder.py did not start"
read -r child <"$TMP/held/child.pid"
track "$child"
expect_exit 0 "$CRPC_BIN" inspect --json "$child"
printf '%s\n' "$OUT" >"$TMP/held.json"
json_assert "$TMP/held.json" --exit 0 \
	"all(not f['master_closed'] for p in d['processes'] for f in p['fds'] if f['type'] == 'pty')" \
	"'shell_job' in [o['option'] for o in d['options']]" ||
	fail "inspect of a process whose pty master is held outside the tree"
touch "$TMP/held/stop"
note "ok"
