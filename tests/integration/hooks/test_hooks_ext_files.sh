#!/bin/bash
# query-ext-files: the lines a step prints become external entries CRIU gets
# in its reply. A process holds a datagram UNIX socket connected to a socket
# outside the dumped tree: without `unix[INODE]` the dump fails ("External
# socket is used"); with a step printing it (between empty lines, which are
# skipped) the dump succeeds and CRIU logs every entry it added.
# shellcheck disable=SC2016 # quoted code for wait_for
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"

# the peer, outside the tree, and the target: connected to it, counting
start_unix_peer_target
pid=$UNIX_TARGET ino=$UNIX_TARGET_INO

# --- without the entry: CRIU refuses the external socket -------------------------
write_config "$TMP/none.yaml" <<EOF
hooks:
  query-ext-files:
    - shell: "echo \$CRPC_ACTION >>$TMP/none.log"
EOF
# --no-auto: crpc would add the external entry itself; this is about CRIU without it
expect_exit 1 "$CRPC_BIN" dump --no-auto --config "$TMP/none.yaml" --leave-running "$pid" "$TMP/ckpt1"
assert_contains "$ERR" "External socket is used" "dump without the entry: stderr"
[ "$(<"$TMP/none.log")" = query-ext-files ] || fail "query-ext-files did not run exactly once: $(<"$TMP/none.log")"
[ -d "/proc/$pid" ] || fail "the target does not run after the failed dump"

# --- with the entry: the dump succeeds --------------------------------------------
# Two steps: the entries of both are sent, in order; empty and blank lines
# are not entries.
write_config "$TMP/ext.yaml" <<EOF
hooks:
  query-ext-files:
    - name: sock
      shell: "echo \$CRPC_ACTION >>$TMP/ext.log; echo; echo '   '; echo 'unix[$ino]'; echo; echo note >&2"
    - name: mnt
      shell: "echo \$CRPC_ACTION >>$TMP/ext.log; printf '\\\\n\\\\nmnt[/crpc-ext-test-unused]:unused\\\\n\\\\n'"
  pre-dump:
    - shell: "echo \$CRPC_ACTION >>$TMP/ext.log"
  post-dump:
    - shell: "echo \$CRPC_ACTION >>$TMP/ext.log"
EOF
expect_exit 0 "$CRPC_BIN" dump --config "$TMP/ext.yaml" --leave-running "$pid" "$TMP/ckpt2"
got=$(<"$TMP/ext.log")
[ "$got" = $'pre-dump\nquery-ext-files\nquery-ext-files\npost-dump' ] ||
	fail "unexpected hook sequence (each query-ext-files step once): $got"
# CRIU logs each external entry it got: exactly these two, in order
got=$(grep -o 'Adding external object:.*' "$TMP/ckpt2/dump.log") || true
want="Adding external object: unix[$ino]
Adding external object: mnt[/crpc-ext-test-unused]:unused"
if [ "$got" != "$want" ]; then
	diff <(echo "$want") <(echo "$got") >&2 || true
	fail "CRIU got other external entries than expected (diff: - expected, + got)"
fi
grep -q "found exception for unix" "$TMP/ckpt2/dump.log" || fail "CRIU did not treat the socket as external"
# hooks.log: the entries, and stderr only as a log line
grep -q "query-ext-files sock: external entry: unix\[$ino\]" "$TMP/ckpt2/hooks.log" ||
	fail "hooks.log does not record the entry: $(<"$TMP/ckpt2/hooks.log")"
grep -q "query-ext-files sock: note" "$TMP/ckpt2/hooks.log" ||
	fail "hooks.log does not record the step's stderr: $(<"$TMP/ckpt2/hooks.log")"
n=$(grep -c 'external entry:' "$TMP/ckpt2/hooks.log") || true
[ "$n" = 2 ] || fail "hooks.log records $n external entries, expected 2: $(<"$TMP/ckpt2/hooks.log")"
counting u 5 || fail "the target does not count after the dump"
