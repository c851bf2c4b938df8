#!/bin/bash
# crpc check, version and features against the real CRIU; --help and
# --version of every command.
# shellcheck disable=SC2015,SC2016 # quoted code for other shells; A && B || fail
. "$(dirname "$0")/../lib.sh"

HELPERS=$CRPC_SRC/tests/integration/helpers

# The CRIU version as CRIU itself reports it ("Version: 4.2.1").
criu_version=$("$CRPC_CRIU" --version | sed -n 's/^Version: *//p')
[ -n "$criu_version" ] || fail "cannot read the version of $CRPC_CRIU"
note "CRIU $criu_version at $CRPC_CRIU"

# crpc's own version, from the tool and from the build system.
expect_exit 0 "$CRPC_BIN" --version
crpc_version_line=$OUT
[[ $crpc_version_line =~ ^crpc\ ([0-9]+\.[0-9]+(\.[0-9]+)?) ]] ||
	fail "crpc --version printed '$OUT', expected 'crpc X.Y.Z'"
crpc_version=${BASH_REMATCH[1]}
project_version=$(sed -n 's/^project(crpc VERSION \([0-9.]*\).*/\1/p' "$CRPC_SRC/CMakeLists.txt")
[ -z "$project_version" ] || [ "$crpc_version" = "$project_version" ] ||
	fail "crpc --version says $crpc_version, CMakeLists.txt says $project_version"

# --- check -------------------------------------------------------------------
tmp_before=$(find /tmp -maxdepth 1 -name 'crpc-check.*' | sort)
expect_exit 0 "$CRPC_BIN" check
assert_contains "$OUT$ERR" "$criu_version" "crpc check output"
assert_contains "$OUT$ERR" "$CRPC_CRIU" "crpc check output"
tmp_after=$(find /tmp -maxdepth 1 -name 'crpc-check.*' | sort)
[ "$tmp_before" = "$tmp_after" ] || fail "crpc check left a temporary directory behind: $tmp_after"

expect_exit 0 "$CRPC_BIN" check --json
echo "$OUT" >"$TMP/check.json"
json_assert "$TMP/check.json" --exit 0 "d['criu']['version'] == '$criu_version'" ||
	fail "check --json: wrong JSON output"
[ -z "$ERR" ] || fail "check --json wrote to stderr: $ERR"

# --- version -----------------------------------------------------------------
expect_exit 0 "$CRPC_BIN" version
assert_contains "$OUT" "crpc $crpc_version" "crpc version output"
assert_contains "$OUT" "CRIU $criu_version" "crpc version output"

expect_exit 0 "$CRPC_BIN" version --json
echo "$OUT" >"$TMP/version.json"
json_assert "$TMP/version.json" --exit 0 "d['crpc']['version'] == '$crpc_version'" \
	"d['criu']['version'] == '$criu_version'" "d['criu']['path'] == '$CRPC_CRIU'" ||
	fail "version --json: wrong JSON output"

# CRIU chosen by --criu wins over $CRPC_CRIU
expect_exit 0 env CRPC_CRIU=/nonexistent/criu "$CRPC_BIN" version --criu "$CRPC_CRIU"
assert_contains "$OUT" "CRIU $criu_version" "crpc version --criu output"

# --- features ----------------------------------------------------------------
expect_exit 0 "$CRPC_BIN" features --json
echo "$OUT" >"$TMP/features.json"
expect_exit 0 "$CRPC_BIN" features
echo "$OUT" >"$TMP/features.txt"
assert_contains "$OUT" "$criu_version" "crpc features output"
# what the kernel really offers, probed without CRIU (null: cannot tell)
/usr/bin/python3 "$HELPERS/kernel_features.py" >"$TMP/kernel.json" || fail "kernel feature probe failed"
note "kernel probe: $(cat "$TMP/kernel.json")"
# CONFIG_MEM_SOFT_DIRTY off (these machines) means no memory tracking
no_soft_dirty=0
if zcat /proc/config.gz 2>/dev/null | grep -q '^# CONFIG_MEM_SOFT_DIRTY is not set'; then
	no_soft_dirty=1
fi
/usr/bin/python3 "$HELPERS/features_check.py" "$TMP" "$no_soft_dirty" || fail "crpc features disagrees with the kernel"

# --- --help of everything ------------------------------------------------------
check_help() { # check_help "ARGS" OPTION...
	local args=$1 o
	shift
	# shellcheck disable=SC2086
	expect_exit 0 "$CRPC_BIN" $args
	[ -n "$OUT" ] || fail "'crpc $args' printed nothing on stdout"
	assert_contains "$OUT" "Usage: crpc" "crpc $args"
	for o in --help --json --version --criu "$@"; do
		assert_contains "$OUT" "$o" "crpc $args"
	done
}
check_help "--help" check version features dump restore
check_help "-h" check version features dump restore
check_help "help" check version features dump restore
check_help "check --help"
check_help "version --help"
check_help "features --help" mem_track lazy_pages pidfd_store
dump_opts=(--leave-running --tcp-established --tcp-close --ext-unix-sk --shell-job --file-locks
	--link-remap --ghost-limit --manage-cgroups --network-lock --external --log-level --force)
check_help "dump --help" "${dump_opts[@]}"
check_help "checkpoint --help" "${dump_opts[@]}"
check_help "help dump" "${dump_opts[@]}"
check_help "restore --help" --wait --pid-wait --log-level
check_help "help restore" --wait --pid-wait
# --help wins over anything else, even missing arguments
check_help "dump --help 1" --leave-running
check_help "restore -h" --wait

# --help --json: one JSON document holding the help text
expect_exit 0 "$CRPC_BIN" dump --help --json
echo "$OUT" >"$TMP/help.json"
json_assert "$TMP/help.json" --exit 0 '"--leave-running" in d["help"]' || fail "dump --help --json: wrong JSON output"

# --- --version of everything ---------------------------------------------------
for cmd in check version features dump checkpoint restore; do
	expect_exit 0 "$CRPC_BIN" "$cmd" --version
	[ "$OUT" = "$crpc_version_line" ] || fail "crpc $cmd --version printed '$OUT'"
done
expect_exit 0 "$CRPC_BIN" --version --json
echo "$OUT" >"$TMP/v.json"
json_assert "$TMP/v.json" --exit 0 "d['crpc']['version'] == '$crpc_version'" || fail "--version --json: wrong JSON output"

# nothing of ours is left running
left=$(our_pids)
[ -z "$left" ] || fail "processes left running: $left"
