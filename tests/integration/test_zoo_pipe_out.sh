#!/bin/bash
# Workload zoo: a process whose stdout is a pipe read by a process outside
# the tree (zoo_peer started it, as `cmd | reader` would). Nothing stops the
# dump, but a restore on its own gives the process a new pipe that nobody
# reads. inspect names the reader and warns that the restore needs
# --inherit-fd; dump needs no option and says so too; restored with the
# reader's pipe passed as the warning says, the process writes on and the
# reader receives.
# shellcheck disable=SC2016 # Python expressions in single quotes
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/helpers/zoo_lib.sh"
. "$(dirname "$0")/helpers/hooks_lib.sh"

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

# restore with the reader's pipe in place of the old one
write_config "$TMP/restore.yaml" <<EOC
restore:
  inherit_fd:
    - key: "pipe:[$ino]"
      fd: 3
EOC
exec 3>"/proc/$peer/fd/$rfd"
expect_exit 0 "$CRPC_BIN" restore --config "$TMP/restore.yaml" "$ZOO_CKPT"
exec 3>&-
zoo_verify pipe_out "$pid" "after the restore"
wait_for "grep -q '^verify 2$' '$TMP/peer.lines'" 5 ||
	fail "the reader did not get what the restored process wrote: $(cat "$TMP/peer.lines")"
