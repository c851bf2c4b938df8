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
our_pids() {
	local p
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = "$$" ] && continue
		if grep -qsF "$TMP" "/proc/$p/cmdline" 2>/dev/null ||
			grep -qsF "CRPC_TEST_TMP=$TMP" "/proc/$p/environ" 2>/dev/null; then
			echo "$p"
		fi
	done
}

cleanup() {
	local rc=$? p pids tries
	set +e
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
	rm -rf "$TMP"
	if [ "$rc" -eq 0 ]; then echo "PASS: $TEST_NAME"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_gone PID SECONDS: wait until /proc/PID is gone (zombies included).
wait_gone() {
	local pid=$1 secs=${2:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		[ -e "/proc/$pid" ] || return 0
		sleep 0.05
	done
	return 1
}

# wait_for COND_CMD SECONDS: poll a command until it succeeds.
wait_for() {
	local secs=$2 i
	for ((i = 0; i < secs * 20; i++)); do
		if eval "$1"; then return 0; fi
		sleep 0.05
	done
	return 1
}

# proc_state PID: the state letter (R, S, T, Z...) or empty.
proc_state() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	echo "${s%% *}"
}

# start_counter NAME: a detached shell loop writing an increasing counter to
# $TMP/NAME.count; prints its PID.
start_counter() {
	local f=$TMP/$1.count
	setsid bash -c 'i=0; while :; do echo $i > "$0.tmp"; mv "$0.tmp" "$0"; i=$((i+1)); sleep 0.05; done' "$f" \
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

# expect_exit CODE CMD...: run CMD, capture stdout/stderr into $OUT/$ERR,
# fail unless it exits with CODE.
expect_exit() {
	local want=$1 rc=0
	shift
	"$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
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
