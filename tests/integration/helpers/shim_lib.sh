# shellcheck shell=bash
# Helpers for the test_shim_* integration tests; source after lib.sh.
#
# CRPC_RUNTIME_DIR is the test's own: the shim remembers CRIU's VERSION
# reply there ($REMEMBERED) and answers later VERSION requests with it;
# forget_version before a client that must meet a real CRIU.
# SHIM is crpc under the name criu (a symlink in $TMP/shim-bin); the shim
# finds the real CRIU through $CRPC_CRIU (set by lib.sh). Its configuration
# is $SHIM_CONFIG, passed as $CRPC_CONFIG, with the traces in $TRACES so that
# nothing is written to /var/log/crpc. Clients that are crpc itself run with
# --no-config so that hooks run in the shim only.

SHIM_BIN_DIR=$TMP/shim-bin
SHIM=$SHIM_BIN_DIR/criu
TRACES=$TMP/traces
SHIM_CONFIG=$TMP/shim.yaml
SHIM_CLIENT=$CRPC_SRC/tests/integration/helpers/shim_client.py
mkdir -p "$SHIM_BIN_DIR"
ln -s "$CRPC_BIN" "$SHIM"
# the runtime directory (CRIU's remembered VERSION reply) is this test's own
export CRPC_CONFIG=$SHIM_CONFIG CRPC_RUNTIME_DIR=$TMP/rt
REMEMBERED=$CRPC_RUNTIME_DIR/versions/swrk${CRPC_CRIU//\//_}

# forget_version: the next VERSION goes to a real CRIU again
forget_version() { rm -f "$REMEMBERED"; }

# shim_config [YAML LINES...]: the shim's configuration: its shim: section
# with the trace directory, then the lines given (from standard input too
# when "-" is given).
shim_config() {
	{
		echo "shim:"
		echo "  trace_dir: $TRACES"
		for l in "$@"; do
			if [ "$l" = "-" ]; then cat; else echo "$l"; fi
		done
	} >"$SHIM_CONFIG"
	chown root:root "$SHIM_CONFIG"
	chmod 600 "$SHIM_CONFIG"
}
shim_config

# shim_client MODE ARGS...: run helpers/shim_client.py against $SHIM; its
# JSON report goes to $TMP/client.json (and $CLIENT).
shim_client() {
	/usr/bin/python3 "$SHIM_CLIENT" "$1" "$SHIM" "${@:2}" >"$TMP/client.json" 2>"$TMP/client.err" ||
		fail "shim_client.py $*: $(cat "$TMP/client.err")"
	CLIENT=$(cat "$TMP/client.json")
	note "client $1: $CLIENT"
}

# assert_running PID NAME: the target is not stopped and its counter NAME moves.
assert_running() {
	local s v
	s=$(proc_state "$1")
	[[ $s == [RSD] ]] || fail "target PID $1 is in state '$s'"
	v=$(counter "$2")
	wait_for "[ \"\$(counter $2)\" -gt $v ]" 5 || fail "target PID $1 stopped counting (state $(proc_state "$1"))"
}

# no_strays: nothing of ours is left running (no shim, no CRIU).
no_strays() {
	local p
	sleep 0.1
	for p in $(stray_pids); do
		fail "process left behind: $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)"
	done
}

# jcheck FILE EXPR...: FILE holds one JSON value d for which every Python
# expression EXPR is true (one python start for many checks).
jcheck() {
	/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/json_check.py" "$@"
}

# usec: the wall clock in microseconds.
usec() {
	echo "${EPOCHREALTIME//[.,]/}"
}
