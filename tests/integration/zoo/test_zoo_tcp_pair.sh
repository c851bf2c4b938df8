#!/bin/bash
# Workload zoo: both ends of an established TCP connection on loopback in
# the tree (a parent and its child), plus the listening socket. inspect sees
# the three sockets and asks for tcp_established; dump takes it on its own;
# after the restore the connection carries a ping both ways, same ports.
# shellcheck disable=SC2016 # Python expressions in single quotes
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/zoo_lib.sh"

pid=$(zoo_start tcp_pair)
zoo_verify tcp_pair "$pid" "before the dump"
before=$ZOO_RESULT
mapfile -t tree < <(zoo_tree_pids "$pid")
[ "${#tree[@]}" -eq 2 ] || fail "expected 2 processes, got ${tree[*]}"
child=${tree[1]}

zoo_inspect "$pid"
zoo_inspect_assert "the TCP sockets" \
	"[f['state'] for f in fds($pid) if f['type'] == 'tcp'].count('LISTEN') == 1" \
	"[f['state'] for f in fds($pid) if f['type'] == 'tcp'].count('ESTABLISHED') == 1" \
	"[(f['state'], f['peer']) for f in fds($child) if f['type'] == 'tcp'] == [('ESTABLISHED', 'inside')]" \
	"all(f['peer'] == 'inside' for p in procs() for f in p['fds'] if f['type'] == 'tcp' and f['state'] == 'ESTABLISHED')" \
	"all(f['local']['addr'] == '127.0.0.1' for p in procs() for f in p['fds'] if f['type'] == 'tcp')" \
	"len(opt('tcp_established')) >= 1" "opt('tcp_established')[0]['value'] is True" \
	"'ext_unix_sk' not in opts() and 'shell_job' not in opts()"

zoo_dump "$pid" "len(auto('tcp_established')) == 1"
zoo_restore "$pid"
[ -e "/proc/$child" ] || fail "the child $child is not restored"
zoo_verify tcp_pair "$pid" "after the restore"
# same connection: same ports as before the dump
[ "${ZOO_RESULT#* port }" = "${before#* port }" ] || fail "ports changed: '$before' -> '$ZOO_RESULT'"
zoo_verify tcp_pair "$pid" "once more"
