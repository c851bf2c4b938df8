# shellcheck shell=bash
# Shared helpers for crpc's integration tests. Each test sources this file.
#
# Tests run as root against the real CRIU that scripts/setup provisioned.
# Every process a test starts carries the test's private temporary directory
# in its command line or environment, so the cleanup trap can find and end
# all of them (restored trees included) by PID, even when the test fails.

set -euo pipefail

CRPC_SRC=${CRPC_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CRPC_BIN=${CRPC_BIN:-$CRPC_SRC/build/crpc}
TEST_NAME=$(basename "$0" .sh)

# A test run in session 0 (started by an init that never called setsid, as
# CI runners are, or led from a parent PID namespace) would have CRIU refuse
# every workload the test starts from its own shell. The test then leads a
# session of its own, as it does on a developer's machine; the test about
# session 0 makes one with unshare.
read -r _stat <"/proc/$$/stat"
read -r _ _ _ _sid _ <<<"${_stat##*) }"
if [ "$_sid" = 0 ] && [ -z "${CRPC_TEST_OWN_SESSION:-}" ]; then
	export CRPC_TEST_OWN_SESSION=1
	exec setsid --wait bash "$0" "$@"
fi
unset _stat _sid

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

note() {
	echo "# $*" >&2
}

[ "$(id -u)" -eq 0 ] || fail "integration tests must run as root (CRIU needs it)"
[ -x "$CRPC_BIN" ] || fail "crpc binary not found at $CRPC_BIN (build first)"
if [ -z "${CRPC_CRIU:-}" ]; then
	[ -r /etc/crpc/criu-path ] || fail "no CRIU recorded in /etc/crpc/criu-path: run scripts/setup"
	CRPC_CRIU=$(cat /etc/crpc/criu-path)
fi
export CRPC_CRIU
[ -x "$CRPC_CRIU" ] || fail "CRIU at $CRPC_CRIU is not executable: run scripts/setup"

TMP=$(mktemp -d /tmp/crpc-it."$TEST_NAME".XXXXXX)
export CRPC_TEST_TMP=$TMP
declare -a TRACKED_PIDS=()

# track PID...: end these processes at exit.
track() {
	TRACKED_PIDS+=("$@")
}

# Processes whose command line or environment mention $TMP: ours.
# Shell builtins only: a fork per process makes this take seconds.
our_pids() {
	local p
	local -a a
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = "$$" ] && continue
		a=()
		{ mapfile -d '' a <"/proc/$p/cmdline"; } 2>/dev/null || true
		if [[ "${a[*]}" == *"$TMP"* ]]; then
			echo "$p"
			continue
		fi
		a=()
		{ mapfile -d '' a <"/proc/$p/environ"; } 2>/dev/null || true
		if [[ "${a[*]}" == *"CRPC_TEST_TMP=$TMP"* ]]; then
			echo "$p"
		fi
	done
}

# stray_pids: processes of ours (see our_pids) that are neither tracked nor
# children of tracked ones (a counter's sleep or mv) and do not end within
# a second: what a command under test left running.
stray_pids() {
	local p line rest ppid
	for p in $(our_pids); do
		case " ${TRACKED_PIDS[*]} " in *" $p "*) continue ;; esac
		{ read -r line <"/proc/$p/stat"; } 2>/dev/null || continue
		rest=${line##*) }
		read -r _ ppid _ <<<"$rest"
		case " ${TRACKED_PIDS[*]} " in *" $ppid "*) continue ;; esac
		wait_gone "$p" 1 && continue
		echo "$p"
	done
}

cleanup() {
	local rc=$? p pids tries
	set +e
	disown -a 2>/dev/null # no "Killed" notices for the jobs ended below
	for tries in 1 2 3 4 5; do
		pids="${TRACKED_PIDS[*]} $(our_pids)"
		pids=$(echo "$pids" | tr ' ' '\n' | grep -E '^[0-9]+$' | sort -u)
		[ -z "$pids" ] && break
		for p in $pids; do
			kill -CONT "$p" 2>/dev/null
			kill -KILL "$p" 2>/dev/null
		done
		sleep 0.2
	done
	# wait until they are gone for real (PID 1 reaps orphans lazily)
	for p in ${TRACKED_PIDS[*]}; do
		wait_gone "$p" 5 || echo "warning: PID $p still present after cleanup" >&2
	done
	mountpoint -q "$TMP/ro" 2>/dev/null && umount "$TMP/ro"
	for p in "${CLEANUP_CMDS[@]}"; do "$p"; done
	rm -rf "$TMP"
	if [ "$rc" -eq 0 ]; then echo "PASS: $TEST_NAME"; fi
	exit "$rc"
}
# functions a test adds to be called at the end, e.g. to remove a user it made
CLEANUP_CMDS=()
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_gone PID SECONDS: wait until /proc/PID is gone (zombies included).
wait_gone() {
	local pid=$1 end
	end=$((${EPOCHREALTIME//[.,]/} + ${2:-10} * 1000000))
	while [ -e "/proc/$pid" ]; do
		((${EPOCHREALTIME//[.,]/} < end)) || return 1
		sleep 0.05
	done
	return 0
}

# session_gone SID: no process (zombies included) is left in session SID.
# Until then the number SID stays taken (as a session ID) and CRIU cannot
# give it to a restored process, e.g. after killing a restored session
# leader whose current child lingers as a zombie of PID 1.
session_gone() {
	local f line rest sid
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		rest=${line##*) }
		read -r _ _ _ sid _ <<<"$rest"
		[ "$sid" = "$1" ] && return 1
	done
	return 0
}

# wait_for COND_CMD SECONDS: poll a command until it succeeds. The time
# limit is wall-clock time: forks are slow on some machines.
wait_for() {
	local end
	end=$((${EPOCHREALTIME//[.,]/} + $2 * 1000000))
	while :; do
		if eval "$1"; then return 0; fi
		((${EPOCHREALTIME//[.,]/} < end)) || return 1
		sleep 0.05
	done
}

# proc_state PID: the state letter (R, S, T, Z...) or empty.
# kernel_thread [NOT_PID]: print the PID of a kernel thread (PF_KTHREAD in
# /proc/PID/stat), other than NOT_PID. Fails where none is visible: in a PID
# namespace of its own a test sees no kernel thread at all.
kernel_thread() {
	local f line rest flags pid
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		pid=${f#/proc/}
		pid=${pid%/stat}
		[ "$pid" = "${1:-}" ] && continue
		rest=${line##*) }
		read -r _ _ _ _ _ _ flags _ <<<"$rest"
		if ((flags & 0x00200000)); then
			echo "$pid"
			return 0
		fi
	done
	return 1
}

proc_state() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	echo "${s%% *}"
}

# COUNTER_LOOP: bash code counting into the file "$0" every 50 ms. Each
# value is written to one of two files that are never removed ($0.tmp0,
# $0.tmp1; the one not linked as "$0" then), hard-linked as "$0.new" and
# renamed over "$0" (`ln -f` would make a link of a random name next to
# it): a reader never sees a partial value. Both files get their full size
# before "$0" first appears and each value is written over the last in
# place (`1<>`: no truncation; padded to 10 characters), so their size never
# changes: a counter checkpointed while it held one open finds it again at
# restore after the original went on (CRIU refuses to restore an open file
# whose size changed since the dump, "has bad size").
# shellcheck disable=SC2016 # code for the workload's shell
COUNTER_LOOP='i=0; printf "%10d\n" 0 >"$0.tmp0"; printf "%10d\n" 0 >"$0.tmp1"; while :; do t="$0.tmp$((i % 2))"; printf "%10d\n" $i 1<>"$t"; rm -f "$0.new"; ln "$t" "$0.new"; mv -f "$0.new" "$0"; i=$((i + 1)); sleep 0.05; done'

# start_counter NAME: a detached shell loop writing an increasing counter to
# $TMP/NAME.count; prints its PID.
start_counter() {
	local f=$TMP/$1.count
	setsid bash -c "$COUNTER_LOOP" "$f" \
		</dev/null >/dev/null 2>&1 &
	local pid=$!
	track "$pid"
	wait_for "[ -s '$f' ]" 10 || fail "counter $1 did not start"
	echo "$pid"
}

# counter NAME: the current value.
counter() {
	cat "$TMP/$1.count" 2>/dev/null || echo -1
}

# start_unix_peer_target: a UNIX datagram socket bound in $TMP (the peer,
# outside the tree) and, in a session of its own, a counter "u" connected to
# it (the target). Sets UNIX_TARGET (its PID) and UNIX_TARGET_INO (its
# socket's inode); both processes are tracked.
start_unix_peer_target() {
	local f l
	/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1] + "/sock")
while True:
    time.sleep(1)' "$TMP" </dev/null >/dev/null 2>&1 &
	track $!
	wait_for "[ -S '$TMP/sock' ]" 10 || fail "the peer socket did not appear"
	setsid /usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/py_counter.py" "$TMP" u 0 "$TMP/sock" \
		</dev/null >/dev/null 2>&1 &
	UNIX_TARGET=$!
	track "$UNIX_TARGET"
	wait_for '[ "$(counter u)" -ge 2 ]' 10 || fail "the unix-socket target does not count"
	UNIX_TARGET_INO=
	for f in /proc/"$UNIX_TARGET"/fd/*; do
		l=$(readlink "$f") || continue
		if [[ $l =~ ^socket:\[([0-9]+)\]$ ]]; then UNIX_TARGET_INO=${BASH_REMATCH[1]}; fi
	done
	[ -n "$UNIX_TARGET_INO" ] || fail "no socket inode for the target $UNIX_TARGET"
}

# expect_exit CODE CMD...: run CMD, capture stdout/stderr into $OUT/$ERR,
# fail unless it exits with CODE.
expect_exit() {
	local want=$1 rc=0
	shift
	"$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	# read like $(cat FILE), without starting programs (slow here)
	OUT='' ERR=''
	IFS= read -r -d '' OUT <"$TMP/out" || true
	IFS= read -r -d '' ERR <"$TMP/err" || true
	while [[ $OUT == *$'\n' ]]; do OUT=${OUT%$'\n'}; done
	while [[ $ERR == *$'\n' ]]; do ERR=${ERR%$'\n'}; done
	if [ "$rc" -ne "$want" ]; then
		echo "--- stdout:" >&2
		echo "$OUT" >&2
		echo "--- stderr:" >&2
		echo "$ERR" >&2
		fail "'$*' exited $rc, expected $want"
	fi
}

# assert_contains HAYSTACK NEEDLE [WHAT]
assert_contains() {
	case "$1" in
	*"$2"*) ;;
	*) fail "${3:-output} does not contain '$2': $1" ;;
	esac
}

assert_not_contains() {
	case "$1" in
	*"$2"*) fail "${3:-output} contains '$2': $1" ;;
	*) ;;
	esac
}

# json_get FILE EXPR: read a value from a JSON document with python3.
json_get() {
	/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$1" "$2"
}

# json_assert FILE [--exit CODE] EXPR...: FILE holds one JSON object for
# which every Python expression EXPR over it (as d) is true; see
# helpers/json_assert.py. One python start for many checks.
json_assert() {
	/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/json_assert.py" "$@"
}
