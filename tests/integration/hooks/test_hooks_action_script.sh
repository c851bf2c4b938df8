#!/bin/bash
# An unmodified CRIU-style action script (it reads CRTOOLS_SCRIPT_ACTION)
# works as a run: step on pre-dump and post-dump, and --hook post-dump=...
# from the command line runs after the file's steps.
# shellcheck disable=SC2015 # A && B || fail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"

install_exec "$CRPC_SRC/tests/integration/helpers/hooks_action_script.sh" "$TMP/action-script"
write_config "$TMP/action.yaml" <<EOF2
hooks:
  pre-dump:
    - run: [$TMP/action-script]
      env: {LOG: $TMP/actions.log}
  post-dump:
    - run: [$TMP/action-script]
      env: {LOG: $TMP/actions.log}
EOF2

pid=$(start_counter c)
track "$pid"
counting c 5 || fail "counter does not count"

expect_exit 0 "$CRPC_BIN" dump --config "$TMP/action.yaml" \
	--hook "post-dump=echo cli \$CRTOOLS_SCRIPT_ACTION \$CRTOOLS_INIT_PID >> $TMP/actions.log" \
	"$pid" "$TMP/ckpt"
wait_gone "$pid" 5 || fail "PID $pid still exists after the dump"
want="pre-dump $pid
post-dump $pid
cli post-dump $pid"
got=$(<"$TMP/actions.log")
[ "$got" = "$want" ] || fail "action script log: expected '$want', got '$got'"
[ -s "$TMP/ckpt/inventory.img" ] || fail "no inventory.img after the dump"
