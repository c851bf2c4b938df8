#!/bin/bash
# What a failing hook step does, on the real target: at pre-dump the target
# is never frozen and keeps running; at post-dump the dump fails and the
# tasks resume; at pre-restore/post-restore the restore fails and no
# restored task survives; at post-resume (CRIU cannot abort) the restore
# succeeds with exit code 4 and a warning; on_failure: ignore lets it pass.
# shellcheck disable=SC2015,SC2016 # A && B || fail; quoted code for sh
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"

# cfg NAME CALLBACK [EXTRA YAML LINE]: a config whose CALLBACK step fails
cfg() {
	{
		echo "hooks:"
		echo "  $2:"
		echo "    - name: failing"
		echo "      shell: \"sleep \${SLEEP:-0}; echo failing at \$CRPC_ACTION; exit 1\""
		[ -z "${3:-}" ] || echo "      $3"
	} | write_config "$TMP/$1.yaml"
}

# no_checkpoint DIR: restore refuses DIR
no_checkpoint() {
	local rc=0
	"$CRPC_BIN" restore --no-config --pid-wait 0 "$1" >"$TMP/r.out" 2>"$TMP/r.err" || rc=$?
	[ "$rc" -ne 0 ] || fail "restore accepted $1 after a failed dump: $(cat "$TMP/r.out")"
	[ "$rc" -ne 4 ] || fail "restore of $1 exited 4"
	note "restore of the failed dump: exit $rc: $(head -1 "$TMP/r.err")"
}

# --- pre-dump: never frozen, keeps running, no checkpoint -----------------------
pid=$(start_counter pre)
track "$pid"
counting pre 5 || fail "counter does not count"
cfg predump pre-dump
# sample the target's state while the dump (and its 0.5 s hook) runs
(
	while [ ! -e "$TMP/stop-sampling" ]; do
		{ read -r line <"/proc/$pid/stat"; } 2>/dev/null || break
		line=${line##*) }
		echo "${line%% *}"
	done >"$TMP/states"
) &
sampler=$!
SLEEP=0.5 expect_exit 1 "$CRPC_BIN" dump --config "$TMP/predump.yaml" "$pid" "$TMP/d1"
touch "$TMP/stop-sampling"
wait "$sampler"
states=$(sort "$TMP/states" | uniq -c | tr '\n' ' ')
note "pre-dump abort: target states sampled during the dump: $states"
grep -q '[tT]' "$TMP/states" && fail "the target was stopped/traced during a dump aborted at pre-dump: $states"
[ "$(wc -l <"$TMP/states")" -ge 10 ] || fail "too few state samples: $states"
assert_contains "$ERR" "pre-dump" "stderr"
[ -e "/proc/$pid" ] || fail "the target died after a pre-dump abort"
counting pre 3 || fail "the target stopped counting after a pre-dump abort"
[ ! -e "$TMP/d1/inventory.img" ] || fail "inventory.img left after a pre-dump abort"
no_checkpoint "$TMP/d1"
grep -q 'failing at pre-dump' "$TMP/d1/hooks.log" || fail "hooks.log lacks the step's output"

# --- post-dump: the dump fails, the tasks resume --------------------------------
cfg postdump post-dump
expect_exit 1 "$CRPC_BIN" dump --config "$TMP/postdump.yaml" "$pid" "$TMP/d2"
assert_contains "$ERR" "post-dump" "stderr"
[ -e "/proc/$pid" ] || fail "the target died after a post-dump abort"
case "$(proc_state "$pid")" in
t | T | Z | X | '') fail "target in state $(proc_state "$pid") after a post-dump abort" ;;
esac
counting pre 3 || fail "the target does not count after a post-dump abort (state $(proc_state "$pid"))"
no_checkpoint "$TMP/d2"

# --- on_failure: ignore at post-dump: the dump succeeds --------------------------
cfg ignore post-dump "on_failure: ignore"
expect_exit 0 "$CRPC_BIN" dump --config "$TMP/ignore.yaml" "$pid" "$TMP/good"
wait_gone "$pid" 5 || fail "PID $pid still exists after the dump"
grep -q 'failing at post-dump' "$TMP/good/hooks.log" || fail "the ignored step did not run"
sums=$(img_sums "$TMP/good")
wait_for "session_gone $pid" 10 || fail "session $pid does not go away"

# --- pre-restore: the restore fails, nothing restored, images untouched ----------
cfg prerestore pre-restore
expect_exit 1 "$CRPC_BIN" restore --config "$TMP/prerestore.yaml" "$TMP/good"
assert_contains "$ERR" "pre-restore" "stderr"
wait_gone "$pid" 5 || fail "PID $pid exists after a restore aborted at pre-restore"
[ "$(img_sums "$TMP/good")" = "$sums" ] || fail "images changed by a restore aborted at pre-restore"

# --- post-restore: the restore fails, no restored task survives ------------------
cfg postrestore post-restore
expect_exit 1 "$CRPC_BIN" restore --config "$TMP/postrestore.yaml" "$TMP/good"
assert_contains "$ERR" "post-restore" "stderr"
wait_gone "$pid" 5 || fail "restored PID $pid survives a restore aborted at post-restore (state $(proc_state "$pid"))"
v=$(counter pre)
sleep 0.3
[ "$(counter pre)" = "$v" ] || fail "something counts after a restore aborted at post-restore"
[ "$(img_sums "$TMP/good")" = "$sums" ] || fail "images changed by a restore aborted at post-restore"
wait_for "session_gone $pid" 10 || fail "session $pid does not go away"

# --- post-resume: CRIU cannot abort: exit 4, a warning, the process runs ---------
cfg postresume post-resume
expect_exit 4 "$CRPC_BIN" restore --config "$TMP/postresume.yaml" "$TMP/good"
rpid=$(restored_pid)
track "$rpid"
[ "$rpid" = "$pid" ] || fail "restored PID $rpid, expected $pid"
assert_contains "$ERR" "warning" "stderr"
assert_contains "$ERR" "post-resume" "stderr"
[ -e "/proc/$rpid" ] || fail "restored PID $rpid is gone after a post-resume failure"
counting pre 3 || fail "the restored counter does not count"
kill -KILL "$rpid"
wait_gone "$rpid" 5 || fail "restored PID $rpid does not go away"
