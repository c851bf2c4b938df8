#!/bin/bash
# Malformed configuration files, and files root must refuse: exit code 2,
# a message naming FILE:LINE:COL and what was wrong, and nothing run: the
# target is untouched, DIR is not created, no hook step starts.
# shellcheck disable=SC2015 # A && B || fail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"

pid=$(start_counter c)
track "$pid"
counting c 5 || fail "counter does not count"

# A step that would leave a mark if anything ran.
mark="    - shell: \"touch $TMP/ran\""

# case NAME 'WHERE' 'MESSAGE' CONTENT: CONTENT (printf format) as a config
# with mode 0600 must be refused with exit 2, WHERE (":LINE:COL" or "")
# after the file name and MESSAGE in the error.
n=0
check() {
	local name=$1 where=$2 msg=$3 f=$TMP/$1.yaml
	shift 3
	# shellcheck disable=SC2059 # the case's content is the format
	printf "$@" >"$f"
	chmod 600 "$f"
	expect_exit 2 "$CRPC_BIN" dump --config "$f" "$pid" "$TMP/d-$name"
	assert_contains "$ERR" "crpc: $f$where${where:+: }" "$name: error"
	assert_contains "$ERR" "$msg" "$name: error"
	[ ! -e "$TMP/d-$name" ] || fail "$name: DIR was created"
	[ ! -e "$TMP/ran" ] || fail "$name: a hook step ran"
	n=$((n + 1))
}

check unknown-key ":2:3" "unknown key 'leave_runing' in dump: did you mean 'leave_running'?" \
	'dump:\n  leave_runing: true\n'
# (the step comes first in these files, the error later: nothing runs)
check unknown-key2 ":5:3" "unknown key 'leave_runing' in dump: did you mean 'leave_running'?" \
	'hooks:\n  pre-dump:\n%s\ndump:\n  leave_runing: true\n' "$mark"
check tab ":2:1" "tab" \
	'dump:\n\tleave_running: true\n'
check unknown-callback ":2:3" \
	"unknown callback 'pre-dmp' in hooks: did you mean 'pre-dump'? The callbacks are: pre-stream, pre-dump, post-dump, pre-restore, post-restore, network-lock, network-unlock, setup-namespaces, post-setup-namespaces, pre-resume, post-resume, orphan-pts-master, status-ready, query-ext-files" \
	'hooks:\n  pre-dmp:\n    - shell: "true"\n'
check bad-duration ":4:16" "invalid duration '5x'" \
	'hooks:\n  pre-dump:\n    - shell: "true"\n      timeout: 5x\n'
check duplicate ":3:3" "duplicate key 'leave_running' (first at line 2, column 3)" \
	'dump:\n  leave_running: true\n  leave_running: false\n'
check bad-on-failure ":4:19" "on_failure" \
	'hooks:\n  pre-dump:\n    - shell: "true"\n      on_failure: sometimes\n'
check run-string ":3:12" "run" \
	'hooks:\n  pre-dump:\n    - run: /bin/true\n'
check wrong-type ":5:18" "key 'leave_running': expected true or false, got 'maybe'" \
	'hooks:\n  pre-dump:\n%s\ndump:\n  leave_running: maybe\n' "$mark"
check binary ":2:6" "binary file" \
	'dump:\n  x: \x00\x01\x02\n'
# empty or huge files have no line to name
check empty "" "$TMP/empty.yaml is empty" ''
check comments-only "" "holds only comments and blank lines" '# nothing here\n'
check huge "" "too large" 'dump:\n#%s\n' "$(printf '%*s' 1100000 '' | tr ' ' x)"

# --- refusals when root ---------------------------------------------------------
f=$TMP/perm.yaml
printf 'hooks:\n  pre-dump:\n%s\n' "$mark" >"$f"
chmod 666 "$f"
expect_exit 2 "$CRPC_BIN" dump --config "$f" "$pid" "$TMP/d-perm"
assert_contains "$ERR" "$f is writable by group/others" "mode 0666: error"
assert_contains "$ERR" "chmod go-w $f" "mode 0666: error"
chmod 620 "$f"
expect_exit 2 "$CRPC_BIN" dump --config "$f" "$pid" "$TMP/d-perm"
assert_contains "$ERR" "$f is writable by group/others" "mode 0620: error"
chmod 600 "$f"
chown 65534 "$f"
expect_exit 2 "$CRPC_BIN" dump --config "$f" "$pid" "$TMP/d-perm"
assert_contains "$ERR" "$f is owned by uid 65534, not root" "owned by nobody: error"
assert_contains "$ERR" "chown root $f" "owned by nobody: error"
[ ! -e "$TMP/d-perm" ] || fail "DIR created despite a refused config"
[ ! -e "$TMP/ran" ] || fail "a step of a refused config ran"

x=$TMP/hook-prog
printf '#!/bin/sh\ntouch %s/ran\n' "$TMP" >"$x"
chmod 777 "$x"
write_config "$TMP/run.yaml" <<EOF2
hooks:
  pre-dump:
    - run: [$x]
EOF2
expect_exit 2 "$CRPC_BIN" dump --config "$TMP/run.yaml" "$pid" "$TMP/d-run"
assert_contains "$ERR" "$TMP/run.yaml:3:13: " "run: mode 0777: error"
assert_contains "$ERR" "is writable by group/others; refusing to run it as root" "run: mode 0777: error"
err_mode=$ERR
chmod 755 "$x"
chown 65534 "$x"
expect_exit 2 "$CRPC_BIN" dump --config "$TMP/run.yaml" "$pid" "$TMP/d-run"
assert_contains "$ERR" "is owned by uid 65534, not root; refusing to run it as root" "run: owned by nobody: error"
err_owner=$ERR
[ ! -e "$TMP/d-run" ] || fail "DIR created despite a refused run: program"
[ ! -e "$TMP/ran" ] || fail "a refused run: program ran"

# the same config, fixed, works (the cases above failed for their reason)
chown root "$x"
expect_exit 0 "$CRPC_BIN" dump --leave-running --config "$TMP/run.yaml" "$pid" "$TMP/d-run"
[ -e "$TMP/ran" ] || fail "the fixed run: step did not run"

# --- checked again when the step runs: a program made writable after the
# file was read (by the step before it) is refused, the dump aborts -------------
y=$TMP/late-prog
printf '#!/bin/sh\ntouch %s/late-ran\n' "$TMP" >"$y"
chmod 755 "$y"
write_config "$TMP/late.yaml" <<EOF2
hooks:
  pre-dump:
    - shell: "chmod 777 $y"
    - run: [$y]
EOF2
expect_exit 1 "$CRPC_BIN" dump --leave-running --config "$TMP/late.yaml" "$pid" "$TMP/d-late"
assert_contains "$ERR" "was refused: crpc runs as root and will not run $y: it is writable by others" "run: program made writable at run time: error"
[ ! -e "$TMP/late-ran" ] || fail "a run: program writable by others ran as root"
[ ! -e "$TMP/d-late/inventory.img" ] || fail "inventory.img after a refused pre-dump step"

# --- the target was never touched ---------------------------------------------
[ -e "/proc/$pid" ] || fail "the target died"
counting c 3 || fail "the target stopped counting"

# --- the refusals name the program, and a fix that works, in full ----------------
# ($x is longer than the 48 bytes up to which names of keys and values are
# shown whole in other messages)
assert_contains "$err_mode" "run: '$x' is writable by group/others" "run: mode 0777: error"
assert_contains "$err_mode" "chmod go-w $x" "run: mode 0777: error (the fix)"
assert_contains "$err_owner" "run: '$x' is owned by uid 65534" "run: owned by nobody: error"
assert_contains "$err_owner" "chown root $x" "run: owned by nobody: error (the fix)"
note "$n malformed files and 5 permission cases refused"
