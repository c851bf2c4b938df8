#!/bin/bash
# Workload zoo: a UNIX stream socket connected to a process outside the tree
# (zoo_peer listening on $TMP/peer.sock). CRIU cannot restore one end of a
# stream connection attached to its old peer: the peer's end closes when the
# dumped process ends, and a restore needs a replacement socket. inspect
# names the peer, marks the socket external (unix[INODE]) and warns that the
# restore needs --inherit-fd; dump takes the external on its own; a restore
# without the replacement is refused with a message that names the socket
# and the remedy, and leaves nothing running.
# shellcheck disable=SC2016 # Python expressions in single quotes
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/zoo_lib.sh"

setsid "$ZOO_BIN/zoo_peer" "$TMP" unix </dev/null >"$TMP/peer.out" 2>&1 &
peer=$!
track "$peer"
wait_for "[ -S '$TMP/peer.sock' ]" 10 || fail "the peer does not listen: $(cat "$TMP/peer.out")"

pid=$(zoo_start unix_ext)
zoo_verify unix_ext "$pid" "before the dump"
link=$(readlink "/proc/$pid/fd/3")
[[ $link =~ ^socket:\[([0-9]+)\]$ ]] || fail "fd 3 of the workload is $link"
ino=${BASH_REMATCH[1]}

zoo_inspect "$pid"
zoo_inspect_assert "the socket to the outside" \
	"fd($pid, 3)['type'] == 'unix'" "fd($pid, 3)['sock_type'] == 'stream'" \
	"fd($pid, 3)['state'] == 'ESTABLISHED'" "fd($pid, 3)['peer'] == 'outside'" \
	"$peer in fd($pid, 3)['peer_pids']" "fd($pid, 3)['peer_name'] == '$TMP/peer.sock'" \
	"[o['value'] for o in opt('external')] == ['unix[$ino]']" \
	"len(warn('unix-external')) == 1" "warn('unix-external')[0]['fd'] == 3" \
	"'--inherit-fd' in warn('unix-external')[0]['reason']" \
	"'ext_unix_sk' not in opts()"

zoo_dump "$pid" "[o['value'] for o in auto('external')] == ['unix[$ino]']"
assert_contains "$OUT$ERR" "inherit-fd" "the dump's output (JSON and stderr)"
wait_for "grep -q broken '$TMP/peer.log'" 5 || fail "the peer did not see its connection end"

# the restore without a replacement for the socket: refused, clearly
expect_exit 1 "$CRPC_BIN" restore "$ZOO_CKPT"
note "restore: ${ERR//$'\n'/ | }"
assert_contains "$ERR" "$ino" "the restore's error"
assert_contains "$ERR" "inherit" "the restore's error"
[ ! -e "/proc/$pid" ] || fail "a failed restore left PID $pid running"
