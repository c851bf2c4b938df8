#!/bin/bash
# A pre-dump step that sleeps for 100 s, with a child that does too, and
# timeout: 1s: crpc kills the step's whole process group and fails the dump
# within a few seconds; the target keeps running.
# shellcheck disable=SC2015 # A && B || fail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"

# pgrp_gone PGID: no process (zombies included) is left in process group PGID
pgrp_gone() {
	local f line rest pgrp
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		rest=${line##*) }
		read -r _ _ pgrp _ <<<"$rest"
		[ "$pgrp" = "$1" ] && return 1
	done
	return 0
}

write_config "$TMP/timeout.yaml" <<EOF2
hooks:
  pre-dump:
    - name: slow
      shell: "echo \$\$ > $TMP/sh.pid; sleep 100 & echo \$! > $TMP/bg.pid; sleep 100"
      timeout: 1s
EOF2

pid=$(start_counter c)
track "$pid"
counting c 5 || fail "counter does not count"

t0=${EPOCHREALTIME//[.,]/}
expect_exit 1 "$CRPC_BIN" dump --config "$TMP/timeout.yaml" "$pid" "$TMP/ckpt"
ms=$(((${EPOCHREALTIME//[.,]/} - t0) / 1000))
note "dump with a 1 s hook timeout failed after $ms ms: $ERR"
[ "$ms" -lt 10000 ] || fail "crpc took $ms ms to give up on a step with timeout: 1s"
[ "$ms" -ge 900 ] || fail "crpc gave up after $ms ms, before the step's 1 s timeout"
assert_contains "$ERR" "timed out" "stderr"
assert_contains "$ERR" "slow" "stderr (the step's name)"

[ -s "$TMP/sh.pid" ] && [ -s "$TMP/bg.pid" ] || fail "the step did not start (no pid files)"
sh_pid=$(<"$TMP/sh.pid")
bg_pid=$(<"$TMP/bg.pid")
track "$sh_pid" "$bg_pid" # (ended at exit if the test fails)
wait_gone "$bg_pid" 3 || fail "the step's background sleep $bg_pid survives its timeout"
wait_gone "$sh_pid" 3 || fail "the step's shell $sh_pid survives its timeout"
wait_for "pgrp_gone $sh_pid" 3 || fail "processes of the step's group $sh_pid survive its timeout (the foreground sleep)"
grep -q 'slow' "$TMP/ckpt/hooks.log" || fail "hooks.log does not mention the step"
grep -qi 'timed out\|timeout' "$TMP/ckpt/hooks.log" || fail "hooks.log does not record the timeout: $(cat "$TMP/ckpt/hooks.log")"

[ -e "/proc/$pid" ] || fail "the target died"
counting c 3 || fail "the target stopped counting (state $(proc_state "$pid"))"
[ ! -e "$TMP/ckpt/inventory.img" ] || fail "inventory.img left after the aborted dump"
