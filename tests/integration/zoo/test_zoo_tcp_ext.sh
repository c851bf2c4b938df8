#!/bin/bash
# Workload zoo: an established TCP connection whose other end is a process
# outside the tree (zoo_peer, on loopback). inspect names the peer and asks
# for tcp_established; dump takes it on its own; the peer never sees the
# connection break, and after the restore the same connection carries pings
# on with the sequence numbers going on from where they were. The network
# lock CRIU sets during the dump is gone after the restore.
# shellcheck disable=SC2016 # Python expressions in single quotes
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/zoo_lib.sh"

setsid "$ZOO_BIN/zoo_peer" "$TMP" tcp </dev/null >"$TMP/peer.out" 2>&1 &
peer=$!
track "$peer"
wait_for "[ -s '$TMP/peer.port' ]" 10 || fail "the peer does not listen: $(cat "$TMP/peer.out")"
port=$(<"$TMP/peer.port")

pid=$(zoo_start tcp_ext "$port")
zoo_verify tcp_ext "$pid" "before the dump"
before=$ZOO_RESULT

zoo_inspect "$pid"
zoo_inspect_assert "the connection to the peer" \
	"len(procs()) == 1" \
	"[(f['state'], f['peer'], f['remote']['port']) for f in fds($pid) if f['type'] == 'tcp'] == [('ESTABLISHED', 'outside', $port)]" \
	"$peer in [f for f in fds($pid) if f['type'] == 'tcp'][0].get('peer_pids', [])" \
	"len(opt('tcp_established')) >= 1"

zoo_dump "$pid" "len(auto('tcp_established')) == 1"
sleep 0.3 # the peer would notice a reset at once
assert_not_contains "$(cat "$TMP/peer.log")" "broken" "the peer's log after the dump"
zoo_restore "$pid"
zoo_verify tcp_ext "$pid" "after the restore"
[ "${ZOO_RESULT#* port }" = "${before#* port }" ] || fail "ports changed: '$before' -> '$ZOO_RESULT'"
zoo_verify tcp_ext "$pid" "once more"
log=$(cat "$TMP/peer.log")
assert_not_contains "$log" "broken" "the peer's log"
assert_contains "$log" "answered ping 4" "the peer's log"
[ "$(grep -c accepted "$TMP/peer.log")" -eq 1 ] || fail "the peer accepted more than one connection: $log"
if command -v iptables-save >/dev/null; then
	rules=$(iptables-save 2>/dev/null | grep -i criu || true)
	[ -z "$rules" ] || fail "CRIU's network lock is still there after the restore: $rules"
fi
