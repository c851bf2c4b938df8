#!/bin/bash
# Progress: a dump that runs longer than a second shows one line of
# progress (bytes written against the memory the inspection expects, rate,
# time left) on a terminal (a pty from script(1)), rewritten in place and
# cleared before the summary; nothing when stderr is a file, or with --json.
# shellcheck disable=SC2015,SC2016 # A && B || fail; quoted code for python
. "$(dirname "$0")/../lib.sh"

setsid /usr/bin/python3 -c '
import sys, time
n = 96 << 20
data = bytearray(n)
data[::4096] = b"\x05" * (n // 4096)
open(sys.argv[1] + "/ready", "w").close()
while True:
    time.sleep(0.05)' "$TMP" </dev/null >/dev/null 2>&1 &
pid=$!
track "$pid"
wait_for "[ -e '$TMP/ready' ]" 20 || fail "the workload did not start"

# the hook makes the dump last well over a second
slow=(--leave-running --hook "post-dump=sleep 1.5")

# on a terminal: progress lines, then the summary on a clean line
script -qec "$(printf '%q ' "$CRPC_BIN" dump "${slow[@]}" "$pid" "$TMP/tty")" /dev/null >"$TMP/tty.out" 2>&1 ||
	fail "dump on a pty failed: $(cat "$TMP/tty.out")"
[ -s "$TMP/tty/crpc.json" ] || fail "the dump on a pty wrote no checkpoint"
grep -aq 'crpc: dump: [0-9.]* [KMG]i\?B of [0-9.]* [KMG]i\?B, [0-9]* MB/s' "$TMP/tty.out" ||
	fail "no progress line on a terminal: $(tr '\r' '\n' <"$TMP/tty.out" | head -5)"
grep -aq $'\r\e\\[KCheckpointed PID' "$TMP/tty.out" || fail "the progress line was not cleared before the summary"

# stderr to a file: none
expect_exit 0 "$CRPC_BIN" dump "${slow[@]}" "$pid" "$TMP/file"
assert_not_contains "$ERR" "crpc: dump:" "stderr to a file"
assert_not_contains "$OUT" "crpc: dump:" "stdout to a file"

# --json on a terminal: none
script -qec "$(printf '%q ' "$CRPC_BIN" dump --json "${slow[@]}" "$pid" "$TMP/json")" /dev/null >"$TMP/json.out" 2>&1 ||
	fail "dump --json on a pty failed: $(cat "$TMP/json.out")"
[ -s "$TMP/json/crpc.json" ] || fail "the --json dump on a pty wrote no checkpoint"
! grep -aq 'crpc: dump:' "$TMP/json.out" || fail "progress shown with --json"
