#!/bin/bash
# crpc dump sets the options the inspection finds, each printed with its
# reason (and in --json); options the user gives win; --no-auto turns it off;
# a blocker stops the dump before CRIU runs, the tree untouched.
# shellcheck disable=SC2015,SC2016 # quoted code for other shells; A && B || fail
. "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3

# --- a TCP connection inside the tree: tcp_established --------------------------------------
setsid $PY -c '
import os, socket, sys, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
if os.fork() == 0:
    c = socket.create_connection(l.getsockname()); time.sleep(600); os._exit(0)
a, _ = l.accept()
open(sys.argv[1], "w").write("ok\n")
time.sleep(600)
' "$TMP/tcp.ready" </dev/null >/dev/null 2>&1 &
tcp=$!
track "$tcp"
wait_for "[ -s '$TMP/tcp.ready' ]" 10 || fail "TCP tree did not start"

expect_exit 1 "$CRPC_BIN" dump --no-auto --leave-running --json "$tcp" "$TMP/ck-noauto"
echo "$OUT" >"$TMP/noauto.json"
json_assert "$TMP/noauto.json" --exit 1 "d['error']['cause'] == 'tcp-established'" "d.get('auto', []) == []" ||
	fail "dump --no-auto of a TCP tree: wrong document"
assert_not_contains "$ERR" "crpc: auto:" "--no-auto stderr"

expect_exit 0 "$CRPC_BIN" dump --leave-running "$tcp" "$TMP/ck-tcp"
assert_contains "$ERR" "crpc: auto: tcp_established (established TCP connection 127.0.0.1:" "dump stderr"
[ -s "$TMP/ck-tcp/inventory.img" ] || fail "no checkpoint in $TMP/ck-tcp"
expect_exit 0 "$CRPC_BIN" dump --leave-running --json "$tcp" "$TMP/ck-tcp-json"
echo "$OUT" >"$TMP/tcp.json"
json_assert "$TMP/tcp.json" --exit 0 \
	"[(a['option'], a['value'], a['source']) for a in d['auto']] == [('tcp_established', True, 'auto')]" \
	"'TCP connection' in d['auto'][0]['reason']" ||
	fail "dump --json of a TCP tree: wrong auto array"
assert_not_contains "$ERR" "crpc: auto:" "--json stderr"
# given by the user: not automatic any more
expect_exit 0 "$CRPC_BIN" dump --leave-running --tcp-established --json "$tcp" "$TMP/ck-tcp-user"
echo "$OUT" >"$TMP/tcp-user.json"
json_assert "$TMP/tcp-user.json" --exit 0 "d['auto'] == []" || fail "user's --tcp-established listed as automatic"

# --- a lock and a deleted 3 MiB file, started from a shell: file_locks, ghost_limit, shell_job ---
# The shell leads a session of the test's own (the test's session may have its
# leader out of sight, session 0, which no option makes CRIU accept).
FILES_PY='
import fcntl, os, sys, time
f = open(sys.argv[1] + ".lock", "w"); fcntl.lockf(f, fcntl.LOCK_EX)
g = open(sys.argv[1] + ".big", "wb"); g.write(os.urandom(3 << 20)); g.flush(); os.fsync(g.fileno())
os.unlink(sys.argv[1] + ".big")
open(sys.argv[1] + ".ready", "w").write("ok\n")
time.sleep(600)
'
setsid bash -c '"$0" -c "$1" "$2" & echo $! >"$2.pid"; wait' "$PY" "$FILES_PY" "$TMP/files" </dev/null >/dev/null 2>&1 &
files_sh=$!
track "$files_sh"
wait_for "[ -s '$TMP/files.ready' ] && [ -s '$TMP/files.pid' ]" 10 || fail "file holder did not start"
files=$(cat "$TMP/files.pid")
track "$files"

expect_exit 0 "$CRPC_BIN" dump --leave-running --json "$files" "$TMP/ck-files"
echo "$OUT" >"$TMP/files.json"
json_assert "$TMP/files.json" --exit 0 \
	"sorted(a['option'] for a in d['auto']) == ['file_locks', 'ghost_limit', 'shell_job']" \
	"[a['value'] for a in d['auto'] if a['option'] == 'ghost_limit'] == [3 << 20]" \
	"all(a['source'] == 'auto' and a['reason'] for a in d['auto'])" \
	"'files.big' in [a['reason'] for a in d['auto'] if a['option'] == 'ghost_limit'][0]" \
	"'led by PID $files_sh (bash)' in [a['reason'] for a in d['auto'] if a['option'] == 'shell_job'][0]" ||
	fail "dump of the file holder: wrong auto array"

# the user's ghost limit wins, even when too small: CRIU then refuses the file
expect_exit 1 "$CRPC_BIN" dump --leave-running --ghost-limit 1M "$files" "$TMP/ck-small"
assert_contains "$ERR" "ghost_limit=1048576 kept" "dump with a small --ghost-limit"
assert_contains "$ERR" "crpc: auto: file_locks" "dump with a small --ghost-limit"
assert_not_contains "$ERR" "auto: ghost_limit" "dump with a small --ghost-limit"
assert_contains "$ERR" "ghost" "CRIU's refusal"
# so does the configuration's
printf 'dump:\n  ghost_limit: 1M\n' >"$TMP/config.yaml"
expect_exit 1 "$CRPC_BIN" dump --config "$TMP/config.yaml" --leave-running --json "$files" "$TMP/ck-cfg"
echo "$OUT" >"$TMP/cfg.json"
json_assert "$TMP/cfg.json" --exit 1 "'ghost_limit' not in [a['option'] for a in d.get('auto', [])]" ||
	fail "configuration's ghost_limit: wrong document"
assert_contains "$ERR" "set in the configuration file" "dump with the configuration's ghost_limit"
case "$(proc_state "$files")" in
S | R) ;;
*) fail "file holder in state $(proc_state "$files") after the failed dumps" ;;
esac

# --- a blocker: a traced task. Nothing is started or written, the tree runs on ---------------------
setsid $PY -c '
import ctypes, os, sys, time
c = os.fork()
if c == 0:
    ctypes.CDLL(None).ptrace(0, 0, None, None)   # traced by its parent
    time.sleep(600); os._exit(0)
open(sys.argv[1], "w").write("%d\n" % c)
time.sleep(600)
' "$TMP/traced.kid" </dev/null >/dev/null 2>&1 &
troot=$!
track "$troot"
wait_for "[ -s '$TMP/traced.kid' ]" 10 || fail "traced tree did not start"
tkid=$(cat "$TMP/traced.kid")
track "$tkid"
expect_exit 1 "$CRPC_BIN" dump "$troot" "$TMP/ck-blocked"
assert_contains "$ERR" "cannot be checkpointed: 1 blocker (traced)" "blocked dump"
assert_contains "$ERR" "blocker: traced: PID $tkid" "blocked dump"
assert_contains "$ERR" "CRIU was asked nothing" "blocked dump"
expect_exit 1 "$CRPC_BIN" dump --json "$troot" "$TMP/ck-blocked"
echo "$OUT" >"$TMP/blocked.json"
json_assert "$TMP/blocked.json" --exit 1 "[b['blocker'] for b in d['blockers']] == ['traced']" \
	"d['blockers'][0]['pid'] == $tkid" "d['pid'] == $troot" ||
	fail "blocked dump --json: wrong document"
for p in "$troot" "$tkid"; do
	case "$(proc_state "$p")" in
	S | R) ;;
	*) fail "PID $p is in state $(proc_state "$p") after the blocked dump" ;;
	esac
done
shopt -s nullglob
left=("$TMP"/ck-blocked*)
shopt -u nullglob
[ "${#left[@]}" -eq 0 ] || fail "the blocked dump left ${left[*]}"
# with --no-auto the check is skipped and CRIU itself fails on the traced task
expect_exit 1 "$CRPC_BIN" dump --no-auto "$troot" "$TMP/ck-blocked-noauto"
assert_not_contains "$ERR" "blocker:" "dump --no-auto of a traced task"

# --- a session whose leader is outside the PID namespace: a blocker no option lifts -------------
# The init of a new PID namespace keeps the test's session, whose leader it
# cannot see: /proc there shows session 0 for it and its children.
expect_exit 0 unshare --pid --fork --kill-child --mount-proc bash -c '
sleep 600 </dev/null >/dev/null 2>&1 & s=$!
"$0" inspect --json $s >"$1/sid0-inspect.json"; echo "inspect=$? pid=$s"
"$0" dump --shell-job --json $s "$1/ck-sid0" >"$1/sid0-dump.json" 2>"$1/sid0-dump.err"; echo "dump=$?"
[ "$(cut -d" " -f3 /proc/$s/stat)" = S ] && echo "sleep still runs"
kill $s' "$CRPC_BIN" "$TMP"
sid0_pid=$(sed -n 's/^inspect=1 pid=//p' <<<"$OUT")
[ -n "$sid0_pid" ] || fail "inspect of a task with session id 0 did not exit 1: $OUT"
assert_contains "$OUT" "dump=1" "dump of a task with session id 0"
assert_contains "$OUT" "sleep still runs" "dump of a task with session id 0"
json_assert "$TMP/sid0-inspect.json" "d['ok'] is True" "d['dumpable'] is False" \
	"[p['sid'] for p in d['processes']] == [0]" \
	"[b['blocker'] for b in d['blockers']] == ['session-zero']" \
	"'setsid' in d['blockers'][0]['reason']" ||
	fail "inspect --json of a task with session id 0: wrong document"
json_assert "$TMP/sid0-dump.json" --exit 1 "[b['blocker'] for b in d['blockers']] == ['session-zero']" \
	"d['error']['cause'] == 'session-zero'" ||
	fail "dump --json of a task with session id 0: wrong document"
assert_contains "$(cat "$TMP/sid0-dump.err")" "CRIU was asked nothing" "dump of a task with session id 0"
[ ! -e "$TMP/ck-sid0" ] || fail "the blocked dump left $TMP/ck-sid0"
