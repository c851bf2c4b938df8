#!/bin/bash
# A step on every one of the 14 callbacks records its name and environment:
# the exact sequences real CRIU produces for a plain process dump and
# restore, and every hook variable's value.
# shellcheck disable=SC2015,SC2016 # A && B || fail; quoted code for eval
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"

install_exec "$CRPC_SRC/tests/integration/helpers/hooks_record.sh" "$TMP/record"
{
	echo "hooks:"
	for cb in $HOOK_CALLBACKS; do
		echo "  $cb:"
		echo "    - run: [$TMP/record, $TMP/seq.log, $cb]"
	done
} | write_config "$TMP/hooks.yaml"

# DIR through a symbolic link: the hooks get its real path
mkdir -m 700 "$TMP/real"
ln -s real "$TMP/link"
dir=$TMP/link/ckpt
real=$TMP/real/ckpt

pid=$(start_counter c)
track "$pid"
wait_for '[ "$(counter c)" -ge 2 ]' 10 || fail "counter does not count"

# --- dump ----------------------------------------------------------------------
expect_exit 0 "$CRPC_BIN" dump --config "$TMP/hooks.yaml" "$pid" "$dir"
wait_gone "$pid" 5 || fail "PID $pid still exists after the dump"

# dump VAR=value for a callback of the dump; DIR did not exist, so the
# images (and the hooks) are in its temporary stand-in until the dump is complete
d() {
	local tmp=$real.crpc-tmp-XXXXXX
	echo "$1 CRTOOLS_SCRIPT_ACTION=$1 CRTOOLS_IMAGE_DIR=$tmp CRTOOLS_INIT_PID=$pid CRPC_ACTION=$1 CRPC_OPERATION=dump CRPC_PID=$pid CRPC_IMAGES_DIR=$tmp CRPC_NOTIFY_PID!"
}
want=$(d pre-dump; d query-ext-files; d post-dump)
got=$(sed -E 's/\.crpc-tmp-[A-Za-z0-9]{6}/.crpc-tmp-XXXXXX/g' "$TMP/seq.log")
if [ "$got" != "$want" ]; then
	diff <(echo "$want") <(echo "$got") >&2 || true
	fail "dump: hooks ran with a different sequence/environment than expected (diff: - expected, + got)"
fi
grep -q 'pre-dump\[1\]: end: exit 0' "$real/hooks.log" || fail "hooks.log does not record the pre-dump step"

# --- restore -------------------------------------------------------------------
wait_for "session_gone $pid" 10 || fail "session $pid does not go away"
: >"$TMP/seq.log"
expect_exit 0 "$CRPC_BIN" restore --config "$TMP/hooks.yaml" "$dir"
rpid=$(restored_pid)
track "$rpid"
[ "$rpid" = "$pid" ] || fail "restored PID $rpid, expected $pid"
counting c 5 || fail "the restored counter does not count"

r() {
	local init="CRTOOLS_INIT_PID=$pid" cpid="CRPC_PID=$pid" notify="CRPC_NOTIFY_PID!"
	case $1 in
	pre-restore) init="CRTOOLS_INIT_PID!" cpid="CRPC_PID!" ;; # no task yet
	post-restore) notify="CRPC_NOTIFY_PID=$pid" ;;
	esac
	echo "$1 CRTOOLS_SCRIPT_ACTION=$1 CRTOOLS_IMAGE_DIR=$real $init CRPC_ACTION=$1 CRPC_OPERATION=restore $cpid CRPC_IMAGES_DIR=$real $notify"
}
want=$(r pre-restore; r post-restore; r pre-resume; r post-resume)
got=$(<"$TMP/seq.log")
if [ "$got" != "$want" ]; then
	diff <(echo "$want") <(echo "$got") >&2 || true
	fail "restore: hooks ran with a different sequence/environment than expected (diff: - expected, + got)"
fi
grep -q 'post-resume\[1\]: end: exit 0' "$real/hooks.log" || fail "hooks.log does not record the post-resume step"

kill -KILL "$rpid"
wait_gone "$rpid" 5 || fail "restored PID $rpid does not go away"
