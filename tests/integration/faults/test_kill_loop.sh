#!/bin/bash
# Nothing lost, whenever crpc dies: `crpc dump` of a running counter is
# SIGKILLed after a random 0-400 ms, 20 times. Each time either the counter
# still runs (CRIU gave up at its next notification, which crpc no longer
# answered) and no checkpoint is claimed, or a whole checkpoint exists:
# DIR with its crpc.json, or a leftover whose images CRIU finished, which
# `crpc restore` says how to complete (never suggesting to remove it), which
# `crpc recover` completes and which then restores with the counter carrying
# on (tests/integration/faults/test_recover.sh makes that case every time).
. "$(dirname "$0")/../lib.sh"

N=20
running=0 complete=0 leftover=0
for i in $(seq 1 $N); do
	pid=$(start_counter "c$i")
	dir=$TMP/ck$i
	"$CRPC_BIN" dump --no-config "$pid" "$dir" >/dev/null 2>&1 &
	crpc=$!
	sleep "0.$(printf '%03d' $((RANDOM % 400)))"
	kill -KILL "$crpc" 2>/dev/null || true
	wait "$crpc" 2>/dev/null || true
	# whatever CRIU was doing ends: it aborts at its next notification (the
	# tree thawed) or it finished and ended the tree; while it works the
	# tree is seized (t)
	for _ in 1 2; do
		wait_for "[ \"\$(proc_state $pid)\" != t ] && [ \"\$(proc_state $pid)\" != T ]" 10 ||
			fail "run $i: the counter stays stopped"
		sleep 0.3
	done
	state=$(proc_state "$pid")
	if [ -n "$state" ] && [ "$state" != Z ]; then
		running=$((running + 1))
		[ ! -e "$dir/crpc.json" ] || fail "run $i: the counter runs and $dir claims a checkpoint"
		kill -KILL "$pid"
		wait_gone "$pid" 10 || fail "run $i: the counter did not end"
		continue
	fi
	wait_gone "$pid" 10 || fail "run $i: PID $pid stays a zombie"
	if [ -e "$dir/crpc.json" ]; then
		complete=$((complete + 1))
		expect_exit 0 "$CRPC_BIN" restore --no-config "$dir"
	else
		# no checkpoint in DIR: the dump must have left a whole one beside it
		expect_exit 1 "$CRPC_BIN" restore --no-config "$dir"
		assert_contains "$ERR" "holds a dump CRIU finished before crpc was stopped" "run $i: restore's hint"
		assert_not_contains "$ERR" "remove" "run $i: restore's hint"
		left=$(ls -d "$dir".crpc-tmp-* 2>/dev/null | head -n1)
		[ -n "$left" ] || fail "run $i: the counter is gone and nothing was left to restore"
		assert_contains "$ERR" "crpc recover $left" "run $i: restore's hint"
		leftover=$((leftover + 1))
		# the command the hint names completes it; then it restores verified
		expect_exit 0 "$CRPC_BIN" recover --no-config "$left"
		expect_exit 0 "$CRPC_BIN" restore --no-config "$dir"
	fi
	before=$(counter "c$i")
	wait_for "[ \"\$(counter c$i)\" -gt $before ]" 10 || fail "run $i: the restored counter does not go on"
	kill -KILL "$pid"
	wait_gone "$pid" 10 || fail "run $i: the restored counter did not end"
done
note "$N kills: $running left running, $complete complete checkpoints, $leftover finished leftovers"
