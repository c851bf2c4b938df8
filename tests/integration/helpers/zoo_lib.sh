# shellcheck shell=bash
# Helpers for the test_zoo_* integration tests; source after lib.sh.
#
# A workload (tests/workloads) is started as `zoo_NAME $TMP ARGS...`; it
# writes its PID to $TMP/NAME.ready once set up, and on SIGUSR1 checks its
# own state and writes "ok ..." or "FAIL: ..." to $TMP/NAME.result.

ZOO_BIN=${CRPC_WORKLOADS:-${CRPC_BUILD:-$CRPC_SRC/build}/tests/workloads}
ZOO_SRC=$CRPC_SRC/tests/workloads
[ -x "$ZOO_BIN/zoo_peer" ] || fail "workloads not built in $ZOO_BIN (build the tests first)"
ZOO_CKPT=$TMP/ckpt
ZOO_RESULT=

# zoo_start NAME ARGS...: start workload NAME (zoo_NAME, or the script
# NAME.sh) in a session of its own, its output in $TMP/NAME.log; wait until
# it is ready; prints its PID.
zoo_start() {
	local name=$1 pid prog=$ZOO_BIN/zoo_$1
	shift
	[ -e "$ZOO_SRC/$name.sh" ] && prog=$ZOO_SRC/$name.sh
	setsid "$prog" "$TMP" "$@" </dev/null >>"$TMP/$name.log" 2>&1 &
	pid=$!
	track "$pid"
	zoo_wait_ready "$name" >/dev/null
	echo "$pid"
}

# zoo_wait_ready NAME: wait for $TMP/NAME.ready; prints the PID in it.
zoo_wait_ready() {
	local r
	if ! wait_for "[ -s '$TMP/$1.ready' ]" 10; then
		r=$(cat "$TMP/$1.result" 2>/dev/null) || r=
		fail "workload $1 did not get ready${r:+: $r}; its output: $(tail -c 500 "$TMP/$1.log" 2>/dev/null)"
	fi
	cat "$TMP/$1.ready"
}

# zoo_verify NAME PID WHEN: ask the workload to check its state; fail unless
# it reports ok. The report is left in $ZOO_RESULT.
zoo_verify() {
	local name=$1 pid=$2 when=$3
	rm -f "$TMP/$name.result"
	kill -USR1 "$pid" 2>/dev/null || fail "$when: workload $name (PID $pid) is not running"
	wait_for "[ -s '$TMP/$name.result' ]" 15 ||
		fail "$when: workload $name (PID $pid, state $(proc_state "$pid")) did not report"
	ZOO_RESULT=$(<"$TMP/$name.result")
	case $ZOO_RESULT in
	ok*) note "$when: $name: $ZOO_RESULT" ;;
	*) fail "$when: workload $name reports: $ZOO_RESULT" ;;
	esac
}

# zoo_tree_pids PID: PID and all its descendants, one a line.
zoo_tree_pids() {
	local -A kids=()
	local f line rest ppid p
	local -a todo=("$1")
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		rest=${line##*) }
		read -r _ ppid _ <<<"$rest"
		p=${f#/proc/}
		kids[$ppid]+=" ${p%/stat}"
	done
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		echo "$p"
		# shellcheck disable=SC2206 # split on purpose
		todo+=(${kids[$p]:-})
	done
}

# zoo_inspect PID: `crpc inspect --json PID` must exit 0 (dumpable); the
# document goes to $TMP/inspect.json.
zoo_inspect() {
	expect_exit 0 "$CRPC_BIN" inspect --json "$1"
	printf '%s\n' "$OUT" >"$TMP/inspect.json"
	json_assert "$TMP/inspect.json" --exit 0 "d['pid'] == $1" 'd["dumpable"] is True' 'd["blockers"] == []' ||
		fail "crpc inspect $1: not dumpable or wrong document"
}

# zoo_inspect_assert WHAT EXPR...: Python expressions over the inspect
# document d that must all be true, with helpers such as proc(pid),
# fds(pid), fd(pid, n), opts(), opt(name) and warn(name): see
# helpers/zoo_json.py.
zoo_inspect_assert() {
	local what=$1
	shift
	/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/zoo_json.py" "$TMP/inspect.json" "$@" ||
		fail "crpc inspect: $what"
}

# zoo_dump PID [EXPR...]: `crpc dump --json PID $ZOO_CKPT` with no option
# must succeed, and every process of the tree be gone afterwards. The EXPRs
# are checked against the dump's JSON document (auto(name): the options
# the dump added on its own). Its stderr is left in $ERR.
zoo_dump() {
	local pid=$1 p
	shift
	local -a tree
	mapfile -t tree < <(zoo_tree_pids "$pid")
	track "${tree[@]}"
	expect_exit 0 "$CRPC_BIN" dump --json "$pid" "$ZOO_CKPT"
	printf '%s\n' "$OUT" >"$TMP/dump.json"
	note "dump: ${ERR//$'\n'/ | }"
	/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/zoo_json.py" "$TMP/dump.json" \
		'd["ok"] is True' "$@" || fail "crpc dump: wrong JSON document"
	for p in "${tree[@]}"; do
		wait_gone "$p" 10 || fail "PID $p of the tree still exists after the dump (state $(proc_state "$p"))"
	done
}

# zoo_restore PID: `crpc restore $ZOO_CKPT` with no option must succeed and
# bring back PID.
zoo_restore() {
	local pid=$1
	expect_exit 0 "$CRPC_BIN" restore "$ZOO_CKPT"
	note "restore: ${OUT//$'\n'/ | }"
	[[ $OUT =~ Restored\ PID\ ([0-9]+) ]] || fail "restore did not print the restored PID: $OUT"
	[ "${BASH_REMATCH[1]}" = "$pid" ] || fail "restored PID ${BASH_REMATCH[1]}, expected $pid"
	[ -e "/proc/$pid" ] || fail "restored PID $pid is not there"
}
