#!/bin/bash
# CRPC_TIMING=1 prints each phase of a dump's and a restore's critical path
# on stderr, and nothing else changes; unset or 0, nothing is printed.
# The restore starts one CRIU, early or not: early while DIR is verified
# when crpc.json re-attaches nothing, else right before the request (the
# re-attached pipe's fd must be inherited). The holders of a pipe the tree
# shares with an outside process, found while CRIU dumps, are crpc.json's,
# also one that exits as soon as the tree is gone.
# shellcheck disable=SC2016 # quoted code for the workload's shell
. "$(dirname "$0")/../lib.sh"

# pipe_pair NAME READER: a counter (the tree) writing into a pipe whose other
# end READER (bash code, run with exec) holds outside the tree; the writer
# closes what it inherited besides stdio, so the pipe to the reader is its
# only one. Sets writer and reader (both tracked).
pipe_pair() {
	setsid bash -c 'for f in /proc/$$/fd/*; do f=${f##*/}; [ "$f" -gt 2 ] && eval "exec $f>&-"; done
	echo $$ >"$0.w"; i=0; while :; do i=$((i + 1)); sleep 0.05; done' "$TMP/$1" 2>/dev/null </dev/null |
		bash -c 'echo $$ >"$0.r"; '"$2" "$TMP/$1" &
	wait_for "[ -s '$TMP/$1.w' ] && [ -s '$TMP/$1.r' ]" 10 || fail "the pipe workload $1 did not start"
	writer=$(cat "$TMP/$1.w")
	reader=$(cat "$TMP/$1.r")
	track "$writer"
	track "$reader"
}

# ---- a dump and a restore with nothing to re-attach
pid=$(start_counter t)
expect_exit 0 env CRPC_TIMING=1 "$CRPC_BIN" dump "$pid" "$TMP/ck1"
assert_contains "$OUT" "Checkpointed PID $pid" "the summary"
for phase in "timing: main" "timing: dump: inspection and verdict" "timing: CRIU started, VERSION answered" \
	"timing: request sent to CRIU" "timing: CRIU: request to answer" "timing: dump: manifest, sync, DIR in place" \
	"timing: dump   "; do
	assert_contains "$ERR" "$phase" "stderr with CRPC_TIMING=1"
done
# the DUMP request goes out after the inspection decided the options
insp=$(grep -n "timing: dump: inspection and verdict" "$TMP/err" | head -1 | cut -d: -f1)
req=$(grep -n "timing: request sent to CRIU" "$TMP/err" | tail -1 | cut -d: -f1)
[ "$insp" -lt "$req" ] || fail "the DUMP request was timed before the inspection ended: $ERR"
# every line: a phase with its start and length, or a moment
bad=$(grep "timing:" "$TMP/err" | grep -Ev '^crpc: timing: .+ \+ *[0-9]+\.[0-9]{2} ms( +[0-9]+\.[0-9]{2} ms)?$' || true)
[ -z "$bad" ] || fail "malformed timing lines: $bad"
wait_gone "$pid" 10 || fail "PID $pid still exists after the dump"

expect_exit 0 env CRPC_TIMING=1 "$CRPC_BIN" restore "$TMP/ck1"
track "$pid"
assert_contains "$OUT" "Restored PID $pid" "the summary"
assert_contains "$ERR" "timing: restore: DIR, trust, verification" "stderr of the restore"
n=$(grep -c "timing: CRIU started, VERSION answered" "$TMP/err")
[ "$n" = 1 ] || fail "the restore started CRIU $n times: $ERR"
kill -KILL "$pid"
wait_gone "$pid" 10 || fail "PID $pid did not end"

# ---- unset or 0: no timing lines
pid=$(start_counter u)
expect_exit 0 env CRPC_TIMING=0 "$CRPC_BIN" dump --leave-running "$pid" "$TMP/ck2"
assert_not_contains "$ERR" "timing:" "stderr with CRPC_TIMING=0"
expect_exit 0 env -u CRPC_TIMING "$CRPC_BIN" dump --leave-running "$pid" "$TMP/ck3"
assert_not_contains "$ERR" "timing:" "stderr without CRPC_TIMING"
kill -KILL "$pid"
wait_gone "$pid" 10 || fail "PID $pid did not end"

# ---- a pipe shared with a process outside the tree that keeps it open
pipe_pair p 'exec sleep 1000'
expect_exit 0 env CRPC_TIMING=1 "$CRPC_BIN" dump "$writer" "$TMP/ck4"
assert_contains "$ERR" "timing: manifest: outside pipes" "stderr of the dump"
holders=$(json_get "$TMP/ck4/crpc.json" \
	"[(p['tree_end'], [(h['pid'], h['end']) for h in p['holders']]) for p in d['outside_pipes']]")
[ "$holders" = "[('write', [($reader, 'read')])]" ] ||
	fail "crpc.json does not name the pipe's outside holder $reader alone: $holders"
wait_gone "$writer" 10 || fail "PID $writer still exists after the dump"

# its restore re-attaches the pipe: CRIU starts once, after the pipe was opened
expect_exit 0 env CRPC_TIMING=1 "$CRPC_BIN" restore "$TMP/ck4"
assert_contains "$ERR" "re-attached" "stderr of the restore"
n=$(grep -c "timing: CRIU started, VERSION answered" "$TMP/err")
[ "$n" = 1 ] || fail "the restore started CRIU $n times: $ERR"
[ "$(readlink "/proc/$writer/fd/1")" = "$(readlink "/proc/$reader/fd/0")" ] ||
	fail "the restored tree's stdout is not the reader's pipe"
kill -KILL "$writer" "$reader"
wait_gone "$writer" 10 || fail "PID $writer did not end"

# ---- a reader that exits once the tree is gone (EOF): its holding is recorded
# as it was while CRIU dumped, not as what is left after the dump
pipe_pair q 'exec cat >/dev/null'
expect_exit 0 "$CRPC_BIN" dump "$writer" "$TMP/ck5"
wait_gone "$reader" 10 || fail "the reader $reader did not end at EOF"
holders=$(json_get "$TMP/ck5/crpc.json" \
	"[(p['tree_end'], [(h['pid'], h['end'], h['comm']) for h in p['holders']]) for p in d['outside_pipes']]")
[ "$holders" = "[('write', [($reader, 'read', 'cat')])]" ] ||
	fail "crpc.json does not name the reader $reader as it held the pipe during the dump: $holders"
