#!/bin/bash
# Workload zoo: a process whose stdout is a pipe read by a process outside
# the tree (zoo_peer started it, as `cmd | reader` would). Nothing stops the
# dump, but a restore on its own gives the process a new pipe that nobody
# reads. inspect names the reader and warns that the restore needs
# --inherit-fd; dump needs no option and says so too, and records the
# reader in crpc.json; a plain `crpc restore` gives the process the
# reader's pipe back (and says so), so the process writes on and the
# reader receives. With --no-checkpoint-options it does not.
# shellcheck disable=SC2016 # Python expressions in single quotes
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/zoo_lib.sh"

setsid "$ZOO_BIN/zoo_peer" "$TMP" pipe "$ZOO_BIN/zoo_pipe_out" "$TMP" </dev/null >"$TMP/peer.out" 2>&1 &
peer=$!
track "$peer"
pid=$(zoo_wait_ready pipe_out)
track "$pid"
zoo_verify pipe_out "$pid" "before the dump"
wait_for "grep -q '^verify 1$' '$TMP/peer.lines'" 5 || fail "the reader did not get the line: $(cat "$TMP/peer.lines")"
pipe=$(readlink "/proc/$pid/fd/1")
[[ $pipe =~ ^pipe:\[([0-9]+)\]$ ]] || fail "stdout of the workload is $pipe"
ino=${BASH_REMATCH[1]}
# the reader's end of the same pipe
rfd=
for f in /proc/"$peer"/fd/*; do
	[ "$(readlink "$f")" = "$pipe" ] && rfd=${f##*/}
done
[ -n "$rfd" ] || fail "the reader does not hold $pipe"

zoo_inspect "$pid"
zoo_inspect_assert "the pipe to the outside" \
	"fd($pid, 1)['type'] == 'pipe'" "fd($pid, 1)['access'] == 'w'" "fd($pid, 1)['inode'] == $ino" \
	"fd($pid, 1)['peer'] == 'outside'" "$peer in fd($pid, 1)['peer_pids']" \
	"len(warn('pipe-outside')) == 1" "warn('pipe-outside')[0]['fd'] == 1" \
	"'--inherit-fd' in warn('pipe-outside')[0]['reason']" 'opts() == []'

zoo_dump "$pid" 'd["auto"] == []'
assert_contains "$OUT$ERR" "inherit-fd" "the dump's output (JSON and stderr)"

# the manifest names the reader and its end of the pipe
/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/zoo_json.py" "$ZOO_CKPT/crpc.json" \
	"[(p['inode'], p['tree_end']) for p in d['outside_pipes']] == [($ino, 'write')]" \
	"d['outside_pipes'][0]['holders'][0] == {'pid': $peer, 'fd': $rfd, 'end': 'read', 'comm': 'zoo_peer'}" ||
	fail "crpc.json does not record the pipe to the reader"

# a plain restore re-attaches the process to the reader's pipe
expect_exit 0 "$CRPC_BIN" restore "$ZOO_CKPT"
note "restore: ${ERR//$'\n'/ | }"
assert_contains "$ERR" "re-attached pipe:[$ino] (the tree's write end) to the pipe of PID $peer (zoo_peer) fd $rfd" \
	"the restore's stderr"
zoo_verify pipe_out "$pid" "after the restore"
wait_for "grep -q '^verify 2$' '$TMP/peer.lines'" 5 ||
	fail "the reader did not get what the restored process wrote: $(cat "$TMP/peer.lines")"
[ "$(readlink "/proc/$pid/fd/1")" = "$pipe" ] || fail "the restored stdout is $(readlink "/proc/$pid/fd/1"), not $pipe"

# --json lists it (and the same again from a second checkpoint)
ZOO_CKPT=$TMP/ckpt2
zoo_dump "$pid"
expect_exit 0 "$CRPC_BIN" restore --json "$ZOO_CKPT"
printf '%s\n' "$OUT" >"$TMP/restore.json"
/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/zoo_json.py" "$TMP/restore.json" \
	"[(p['key'], p['reattached'], p['holder']['pid']) for p in d['outside_pipes']] == [('pipe:[$ino]', True, $peer)]" ||
	fail "restore --json: wrong outside_pipes"
zoo_verify pipe_out "$pid" "after the second restore"
wait_for "grep -q '^verify 3$' '$TMP/peer.lines'" 5 ||
	fail "the reader did not get what the process wrote after the second restore: $(cat "$TMP/peer.lines")"

# with --no-checkpoint-options the process gets a pipe of its own
ZOO_CKPT=$TMP/ckpt3
zoo_dump "$pid"
expect_exit 0 "$CRPC_BIN" restore --no-checkpoint-options "$ZOO_CKPT"
assert_not_contains "$ERR" "re-attached" "the restore's stderr with --no-checkpoint-options"
[ "$(readlink "/proc/$pid/fd/1")" != "$pipe" ] || fail "--no-checkpoint-options: the pipe was re-attached anyway"
