# shellcheck shell=bash
# The container kill tests (tests/integration/faults/test_container_kill*.sh);
# source after lib.sh and container_lib.sh. The test sets NAME (the
# counter container), COUNT, status_ENGINE (the engine's word for NAME's
# state) and CRPC_RUNTIME_DIR=$TMP/rt, and ends a dump still under way
# ($CRPC_PID) in its trap.
# shellcheck disable=SC2016 # quoted code for wait_for's eval

N=${CRPC_KILL_RUNS:-4} # kills per engine
crpc_() { "$CRPC_BIN" --no-config "$@"; }

# no call directory and no leftover of DIR may stay
no_leftovers() { # RUN DIR
	local left
	left=$(ls -d "$2".crpc-tmp-* 2>/dev/null || true)
	[ -z "$left" ] || fail "$1: $left was left: $(ls -A "$left")"
	[ ! -d "$CRPC_RUNTIME_DIR/calls" ] || [ -z "$(ls -A "$CRPC_RUNTIME_DIR/calls")" ] ||
		fail "$1: call directories left: $(ls "$CRPC_RUNTIME_DIR/calls")"
}

# kill_loop ENGINE TARGET [DUMP-OPTION...]: the container $NAME of ENGINE counts into $COUNT.
kill_loop() {
	local engine=$1 target=$2 i dir left st t0 ms at ran=0 whole=0 completed=0 early=0
	shift 2
	# one whole dump and restore: how long a dump takes
	t0=$(date +%s%N)
	expect_exit 0 crpc_ dump "$@" "$target" "$TMP/$engine-measure"
	ms=$((($(date +%s%N) - t0) / 1000000))
	at=$(count)
	expect_exit 0 crpc_ restore "$@" "$TMP/$engine-measure"
	carries_on "$at"
	note "$engine: a dump takes $ms ms; killing crpc at random moments within it"
	for i in $(seq 1 "$N"); do
		dir=$TMP/$engine-ck$i
		"$CRPC_BIN" --no-config dump "$@" "$target" "$dir" >"$TMP/dump.out" 2>&1 &
		CRPC_PID=$!
		sleep "$(awk -v r="$RANDOM" -v ms="$ms" 'BEGIN { printf "%.3f", r % (ms + 1) / 1000 }')"
		kill -KILL "$CRPC_PID" 2>/dev/null || true
		wait "$CRPC_PID" 2>/dev/null || true
		CRPC_PID=
		left=$(ls -d "$dir".crpc-tmp-* 2>/dev/null || true)
		: >"$TMP/recover.out"
		if [ -n "$left" ] && ! grep -q engine_call "$left/.crpc-dump-in-progress" 2>/dev/null; then
			# no intent in the marker, or no marker: killed before its
			# intent (the engine was never asked: recover refuses as for a
			# PID's dump CRIU never ran, says it can go, and sweeps the call
			# directory the dump had made), or right before the rename
			cp "$left/.crpc-dump-in-progress" "$TMP/marker" 2>/dev/null || : >"$TMP/marker"
			st=0
			"$CRPC_BIN" --no-config recover "$left" >"$TMP/recover.out" 2>&1 || st=$?
			if [ "$st" = 0 ]; then
				# killed between the marker's removal and the rename into
				# place: crpc.json is complete and recover only moves it; it
				# must then be whole and go back through its engine, as
				# checked below for every run
				note "run $i: killed right before the rename into place (marker: $(head -c 200 "$TMP/marker"))"
				completed=$((completed + 1))
			else
				early=$((early + 1))
				[ "$st" = 1 ] || fail "run $i: crpc recover $left exited $st: $(cat "$TMP/recover.out")"
				assert_contains "$(cat "$TMP/recover.out")" "CRIU did not finish this dump" \
					"run $i: recover of a dump killed before its intent"
				assert_contains "$(cat "$TMP/recover.out")" "$left can go" "run $i: recover's hint"
				rm -rf "$left"
			fi
		elif [ -n "$left" ]; then
			# the engine was asked: restore's hint keeps the leftover, names recover
			expect_exit 1 crpc_ restore "$@" "$dir"
			assert_contains "$ERR" "crpc recover $left" "run $i: restore's hint"
			assert_not_contains "$ERR" "dump again" "run $i: restore's hint"
			# the engine may still be at work: recover waits for it
			st=0
			"$CRPC_BIN" --no-config recover "$left" >"$TMP/recover.out" 2>&1 || st=$?
			case $st in
			0) completed=$((completed + 1)) ;;
			1) assert_contains "$(cat "$TMP/recover.out")" "the container is running, nothing was lost" \
				"run $i: recover of a dump that did not finish" ;;
			*) fail "run $i: crpc recover $left exited $st: $(cat "$TMP/recover.out")" ;;
			esac
		fi
		no_leftovers "$engine run $i" "$dir"
		if [ "$("status_$engine")" = running ]; then
			ran=$((ran + 1))
			[ ! -e "$dir/crpc.json" ] || fail "run $i: the container runs and $dir claims a checkpoint"
			keeps_counting 5 ||
				fail "run $i: the container runs but its counter stopped at $(count) ($(cat "$TMP/dump.out" "$TMP/recover.out" 2>/dev/null))"
			rm -rf "$dir"
			continue
		fi
		[ -s "$dir/crpc.json" ] ||
			fail "run $i: $engine:$NAME is '$("status_$engine")' and $dir holds no checkpoint: $(ls -A "$dir" 2>&1) ($(cat "$TMP/dump.out" "$TMP/recover.out" 2>/dev/null))"
		whole=$((whole + 1))
		at=$(count)
		expect_exit 0 crpc_ restore "$@" "$dir"
		[ "$("status_$engine")" = running ] || fail "run $i: $NAME is '$("status_$engine")' after the restore"
		carries_on "$at"
		rm -rf "$dir"
	done
	note "$engine: $N kills: $ran left running, $whole complete checkpoints ($completed by crpc recover), $early killed before the intent"
}

# killed_unfinished ENGINE TARGET [DUMP-OPTION...]: crpc killed and CRIU's dump
# refused (a pre-dump hook SIGKILLs the dump's crpc, then fails): the
# container runs on, and crpc recover says so and removes what the dump left.
killed_unfinished() {
	local engine=$1 target=$2 dir=$TMP/$1-unfinished left st=0
	shift 2
	setsid bash -c 'echo $$ >"$0"; exec "$@"' "$TMP/dump.pid" "$CRPC_BIN" --no-config dump "$@" \
		--hook "pre-dump=kill -KILL \$(cat $TMP/dump.pid); exit 1" "$target" "$dir" >"$TMP/dump.out" 2>&1 &
	CRPC_PID=$!
	wait "$CRPC_PID" 2>/dev/null || true
	CRPC_PID=
	left=$(ls -d "$dir".crpc-tmp-* 2>/dev/null || true)
	[ -n "$left" ] || fail "$engine: the killed dump left no temporary directory ($(cat "$TMP/dump.out"))"
	grep -q '"step":"engine"' "$left/.crpc-dump-in-progress" || fail "$engine: no intent in $left"
	"$CRPC_BIN" --no-config recover "$left" >"$TMP/recover.out" 2>&1 || st=$?
	[ "$st" = 1 ] || fail "$engine: crpc recover of an unfinished dump exited $st: $(cat "$TMP/recover.out")"
	assert_contains "$(cat "$TMP/recover.out")" "the container is running, nothing was lost" "$engine: recover"
	note "$engine: $(head -n 1 "$TMP/recover.out")"
	no_leftovers "$engine: the unfinished dump" "$dir"
	[ ! -e "$dir" ] || fail "$engine: $dir exists after an unfinished dump"
	[ "$("status_$engine")" = running ] || fail "$engine: $NAME is '$("status_$engine")' after the unfinished dump"
	keeps_counting 5 || fail "$engine: the counter stopped at $(count) after the unfinished dump"
}


# recover_too_early ENGINE TARGET [DUMP-OPTION...]: crpc recover of the
# leftover of a dump that still runs (held in a pre-dump hook) refuses,
# changing nothing; the dump then completes DIR, which restores.
recover_too_early() {
	local engine=$1 target=$2 dir=$TMP/$1-early left='' at
	shift 2
	crpc_ dump "$@" --hook "pre-dump=sleep 2" "$target" "$dir" >"$TMP/dump.out" 2>&1 &
	CRPC_PID=$!
	wait_for 'left=$(ls -d "$dir".crpc-tmp-* 2>/dev/null) && grep -q engine_call "$left/.crpc-dump-in-progress"' 10 ||
		fail "$engine: no leftover with an intent while the dump runs"
	left=$(ls -d "$dir".crpc-tmp-*)
	expect_exit 1 crpc_ recover "$left"
	assert_contains "$ERR" "is still running (crpc PID" "$engine: recover of a running dump"
	wait "$CRPC_PID" || fail "$engine: the dump held by a hook failed: $(cat "$TMP/dump.out")"
	CRPC_PID=
	[ -s "$dir/crpc.json" ] || fail "$engine: the dump left no checkpoint: $(cat "$TMP/dump.out")"
	no_leftovers "$engine: the dump recover was refused for" "$dir"
	at=$(count)
	expect_exit 0 crpc_ restore "$@" "$dir"
	carries_on "$at"
}

# stale_calls_swept: the call directories of crpcs killed before they asked
# their engine (their PID gone, only criu, call.json and an empty traces/)
# are swept by the next crpc recover of a leftover without an intent; one
# holding an engine's output stays.
stale_calls_swept() {
	local calls=$CRPC_RUNTIME_DIR/calls gone
	bash -c 'exit 0' &
	gone=$!
	wait "$gone"
	mkdir -p "$calls/$gone-0/traces" "$calls/$gone-1/traces" "$TMP/early.crpc-tmp-AbC123"
	chmod 700 "$CRPC_RUNTIME_DIR" "$calls" "$calls/$gone-0" "$calls/$gone-1" "$TMP/early.crpc-tmp-AbC123"
	for d in "$calls/$gone-0" "$calls/$gone-1"; do
		ln -s "$CRPC_BIN" "$d/criu"
		echo '{}' >"$d/call.json"
	done
	echo export >"$calls/$gone-1/export.tar"
	: >"$TMP/early.crpc-tmp-AbC123/.crpc-dump-in-progress"
	expect_exit 1 crpc_ recover "$TMP/early.crpc-tmp-AbC123"
	[ ! -e "$calls/$gone-0" ] || fail "a stale call directory of the setup only was not swept: $(ls -A "$calls/$gone-0")"
	[ -s "$calls/$gone-1/export.tar" ] || fail "the sweep removed a call directory holding an export"
	rm -rf "${calls:?}/$gone-1" "$TMP/early.crpc-tmp-AbC123"
}

# kill_loop_leave ENGINE TARGET [DUMP-OPTION...]: as kill_loop with
# --leave-running: the container runs on whatever the moment, and after
# crpc recover DIR is a complete checkpoint that verifies or is not there.
kill_loop_leave() {
	local engine=$1 target=$2 i dir left st whole=0
	shift 2
	for i in $(seq 1 "$N"); do
		dir=$TMP/$engine-lr$i
		"$CRPC_BIN" --no-config dump "$@" --leave-running "$target" "$dir" >"$TMP/dump.out" 2>&1 &
		CRPC_PID=$!
		sleep "0.$(printf '%03d' $((RANDOM % 400)))"
		kill -KILL "$CRPC_PID" 2>/dev/null || true
		wait "$CRPC_PID" 2>/dev/null || true
		CRPC_PID=
		left=$(ls -d "$dir".crpc-tmp-* 2>/dev/null || true)
		if [ -n "$left" ]; then
			st=0
			"$CRPC_BIN" --no-config recover "$left" >"$TMP/recover.out" 2>&1 || st=$?
			[ "$st" = 0 ] || [ "$st" = 1 ] || fail "leave-running run $i: crpc recover exited $st: $(cat "$TMP/recover.out")"
			[ -e "$left" ] && rm -rf "$left" # refused before the intent: not a checkpoint
		fi
		[ ! -d "$CRPC_RUNTIME_DIR/calls" ] || [ -z "$(ls -A "$CRPC_RUNTIME_DIR/calls")" ] ||
			fail "leave-running run $i: call directories left: $(ls "$CRPC_RUNTIME_DIR/calls")"
		[ "$("status_$engine")" = running ] || fail "leave-running run $i: $NAME is '$("status_$engine")'"
		keeps_counting 5 || fail "leave-running run $i: the counter stopped at $(count)"
		if [ -e "$dir" ]; then
			whole=$((whole + 1))
			expect_exit 0 crpc_ show --verify "$dir"
			manifest_assert "$dir/crpc.json" "d['leave_running'] is True" "d['container']['engine'] == '$engine'"
			rm -rf "$dir"
		fi
	done
	note "$engine --leave-running: $N kills, $whole complete checkpoints, the container always running"
}
