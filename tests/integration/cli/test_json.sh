#!/bin/bash
# --json: every command prints exactly one JSON document on stdout, on
# success and on failure (then with the error's details), whatever -v says
# on stderr.
# shellcheck disable=SC2015,SC2016 # quoted code for other shells; A && B || fail
. "$(dirname "$0")/../lib.sh"

HELPERS=$CRPC_SRC/tests/integration/helpers

# json_run CODE CMD... [-- EXPR...]: run CMD, expect exit CODE; its stdout
# must be one JSON object matching CODE (see helpers/json_assert.py) for
# which every EXPR over the document d is true. Leaves it in $TMP/doc.json.
json_run() {
	local code=$1
	local -a cmd=() exprs=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		cmd+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	exprs=("$@")
	expect_exit "$code" "${cmd[@]}"
	printf '%s' "$OUT" >"$TMP/doc.json"
	/usr/bin/python3 "$HELPERS/json_assert.py" "$TMP/doc.json" --exit "$code" "${exprs[@]}" ||
		fail "'${cmd[*]}': wrong JSON output"
	if [ "$code" -ne 0 ]; then
		[ -n "$ERR" ] || fail "'${cmd[*]}': failed without a message on stderr"
	fi
}

# --- information commands, with and without -v -----------------------------------------
for v in "" -v; do
	json_run 0 "$CRPC_BIN" check --json $v -- 'd["criu"]["version"]'
	json_run 0 "$CRPC_BIN" version --json $v -- 'd["crpc"]["version"]' 'd["criu"]["version"]'
	json_run 0 "$CRPC_BIN" features --json $v -- \
		'sorted(d["features"]) == ["lazy_pages", "mem_track", "pidfd_store"]'
done
json_run 0 "$CRPC_BIN" --json --help -- '"dump" in d["help"]'
json_run 0 "$CRPC_BIN" help restore --json -- '"--pid-wait" in d["help"]'
json_run 0 "$CRPC_BIN" --version --json -- 'd["crpc"]["version"]'
json_run 0 "$CRPC_BIN" dump --version --json -- 'd["crpc"]["version"]'

# --- usage and environment errors ----------------------------------------------------
json_run 2 "$CRPC_BIN" --json
json_run 2 "$CRPC_BIN" --json nonsense -- '"nonsense" in d["error"]["message"]'
json_run 2 "$CRPC_BIN" dump --json
json_run 2 "$CRPC_BIN" dump --json --bogus 1 "$TMP/d" -- '"--bogus" in d["error"]["message"]'
json_run 2 "$CRPC_BIN" restore --json --pid-wait x "$TMP/d"
json_run 3 "$CRPC_BIN" check --json --criu "$TMP/no-criu"
json_run 3 "$CRPC_BIN" version --json --criu "$TMP/no-criu" -- 'd["crpc"]["version"]'
json_run 3 "$CRPC_BIN" features --json --criu "$TMP/no-criu"

# --- dump ----------------------------------------------------------------------------
pid_max=$(cat /proc/sys/kernel/pid_max)
nopid=$((pid_max - 1))
while [ -e "/proc/$nopid" ]; do nopid=$((nopid - 1)); done
json_run 1 "$CRPC_BIN" dump --json "$nopid" "$TMP/d" -- \
	'd["error"]["cause"] == "no-process"' "'$nopid' in d['error']['message']"
[ ! -e "$TMP/d" ] || fail "dump of a missing PID created $TMP/d"

pid=$(start_counter c)
track "$pid"
json_run 0 "$CRPC_BIN" dump -v --json --leave-running "$pid" "$TMP/ckpt" -- \
	"d['pid'] == $pid" 'd["criu"]["version"]' 'd["notifications"] >= 2' 'd["stats"]["pages_written"] > 0'
assert_contains "$ERR" "pre-dump" "dump -v stderr"
assert_contains "$ERR" "post-dump" "dump -v stderr"
json_run 1 "$CRPC_BIN" dump --json --leave-running "$pid" "$TMP/ckpt" -- '"--force" in d["error"]["hint"]'

# a dump CRIU itself refuses: an established TCP connection without
# --tcp-established; the error carries CRIU's log and a hint
setsid /usr/bin/python3 -c '
import socket, sys, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
cli = socket.create_connection(srv.getsockname()); conn, _ = srv.accept()
open(sys.argv[1], "w").write("up")
while True:
    time.sleep(0.05)
' "$TMP/tcp.up" </dev/null >/dev/null 2>&1 &
tcp=$!
track "$tcp"
wait_for "[ -s '$TMP/tcp.up' ]" 10 || fail "TCP workload did not start"
# --no-auto: crpc would add --tcp-established itself; this is about the error document
json_run 1 "$CRPC_BIN" dump --no-auto --json "$tcp" "$TMP/ckpt-tcp" -- \
	'd["error"]["cause"] == "tcp-established"' \
	'"--tcp-established" in d["error"]["hint"]' \
	'len(d["error"]["log_excerpt"]) > 0' \
	'not any("RLIMIT_NOFILE" in l for l in d["error"]["log_excerpt"])' \
	"d['error']['log_file'] == '$TMP/ckpt-tcp/dump.log'" \
	'd["target"]["running"] is True'
note "tcp dump error: ${ERR%%$'\n'*}"
s=$(proc_state "$tcp")
[[ $s == [RSD] ]] || fail "TCP workload in state '$s' after the refused dump"
left=$(cd "$TMP/ckpt-tcp" && find . -mindepth 1 ! -name dump.log)
[ -z "$left" ] || fail "the failed dump left files: $left"
kill -KILL "$tcp"

# --- restore ---------------------------------------------------------------------------
json_run 1 "$CRPC_BIN" restore --json "$TMP/no-such-dir"
json_run 1 "$CRPC_BIN" restore --json "$TMP/ckpt" -- 'd["error"]["cause"] == "pid-in-use"'
kill -KILL "$pid"
wait_gone "$pid" 5 || fail "PID $pid does not go away"
wait_for "session_gone $pid" 10 || fail "session $pid does not go away"
json_run 0 "$CRPC_BIN" restore --json -v "$TMP/ckpt" -- "d['pid'] == $pid" 'd["wait"] is False' \
	'all(k in d for k in ("images_dir", "image_bytes", "wall_time_ms", "log_file", "stats"))'
kill -KILL "$pid"
wait_gone "$pid" 5 || fail "PID $pid does not go away"
wait_for "session_gone $pid" 10 || fail "session $pid does not go away"

# --wait --json: one document once the restored process has ended, with its
# exit status (crpc exits with it)
"$CRPC_BIN" restore --wait --json "$TMP/ckpt" >"$TMP/wait.json" 2>"$TMP/wait.err" &
crpc=$!
track "$crpc"
wait_for "grep -qsF '$TMP' /proc/$pid/cmdline" 10 || fail "restore --wait --json: PID $pid did not appear"
kill -TERM "$pid"
rc=0
wait "$crpc" || rc=$?
[ "$rc" -eq 143 ] || fail "restore --wait --json exited $rc, expected 143: $(cat "$TMP/wait.err")"
/usr/bin/python3 "$HELPERS/json_assert.py" "$TMP/wait.json" "d['pid'] == $pid" 'd["exit_status"] == 143' \
	'd["signal"] == "SIGTERM"' 'd["wait"] is True' || fail "restore --wait --json: wrong JSON output"
