# shellcheck shell=bash
# Helpers of the tests of trees in namespaces of their own (namespaces/),
# sourced after lib.sh.

HELPERS=$CRPC_SRC/tests/integration/helpers

# sandbox_init PID: the first child of PID (the init unshare or bubblewrap forked)
sandbox_init() {
	local c i
	for ((i = 0; i < 200; i++)); do
		c=
		read -r c _ <"/proc/$1/task/$1/children" || true
		[ -n "$c" ] && echo "$c" && return 0
		sleep 0.05
	done
	return 1
}

# start_sandbox [OPTION...]: ns_sandbox.py (with OPTIONs) as the init of
# new PID, mount, network, IPC and UTS namespaces (unshare), in a session of
# the test's own; init is its PID, tracked like unshare's.
# shellcheck disable=SC2120 # the options are optional
start_sandbox() {
	unshare --fork --pid --mount-proc --net --ipc --uts \
		setsid /usr/bin/python3 "$HELPERS/ns_sandbox.py" "$TMP" "$@" </dev/null >/dev/null 2>&1 &
	track $!
	init=$(sandbox_init $!) || fail "the sandbox's init did not start"
	track "$init"
}

# ns_pid PID: its PID in its innermost PID namespace
ns_pid() { awk '/^NSpid:/ { print $NF }' "/proc/$1/status"; }

# doc_true FILE EXPR...: every Python expression over the JSON document d of FILE is true
doc_true() {
	/usr/bin/python3 - "$@" <<'PY' || fail "$1 is not as expected"
import json, sys
d = json.load(open(sys.argv[1]))
bad = [e for e in sys.argv[2:] if not eval(e, {"d": d})]
for e in bad:
    print("false: " + e, file=sys.stderr)
if bad:
    print(json.dumps(d, indent=1)[:4000], file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# dump_sandbox INIT DIR: `crpc dump INIT DIR` with no option succeeds and
# the sandbox's init is gone after it.
dump_sandbox() {
	expect_exit 0 "$CRPC_BIN" dump "$1" "$2"
	note "dump: $ERR"
	wait_gone "$1" 5 || fail "the sandbox's init $1 still exists after the dump"
}

# restored_init: after a `crpc restore`, rinit is the PID it printed,
# tracked for the clean-up.
restored_init() {
	[[ $OUT =~ Restored\ PID\ ([0-9]+) ]] || fail "restore did not print the restored PID: $OUT"
	rinit=${BASH_REMATCH[1]}
	track "$rinit"
}

# value NAME: a counter of the sandbox
value() { cat "$TMP/$1.count" 2>/dev/null || echo -1; }

# advances NAME FROM SECONDS: the counter goes past FROM
advances() { wait_for "[ \"\$(value $1)\" -gt $2 ]" "$3"; }

# check_sandbox_restored PID: the restored sandbox of ns_sandbox.py is the
# init of new namespaces and its counters go on from V_INIT, V_TCP, V_ZL
check_sandbox_restored() {
	local rinit=$1 t
	[ "$(ns_pid "$rinit")" = 1 ] || fail "the restored PID $rinit is not the init of a PID namespace"
	for t in pid mnt net ipc uts; do
		[ "$(readlink "/proc/$rinit/ns/$t")" != "$(readlink "/proc/self/ns/$t")" ] ||
			fail "the restored sandbox shares crpc's $t namespace"
	done
	advances init "$V_INIT" 10 || fail "the init's counter does not go on past $V_INIT"
	advances tcp "$V_TCP" 10 || fail "the TCP connection does not carry on past $V_TCP"
	advances zl "$V_ZL" 10 || fail "the session of the exited leader does not carry on past $V_ZL"
	[ "$(value init)" -lt $((V_INIT + 1000)) ] || fail "the init's counter started anew"
}
