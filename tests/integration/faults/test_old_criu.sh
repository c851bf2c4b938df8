#!/usr/bin/env bash
# The distribution's own CRIU (Debian 12: 3.17.1, unpacked by
# `scripts/setup --with-test-criu`) is real and fails here: it is too old for
# some options and its kernel check fails on this kernel. crpc must refuse
# options it would silently drop, and say plainly that it cannot work here.
. "$(dirname "$0")/../lib.sh"

[ -r /etc/crpc/distro-criu-path ] || fail "no distribution CRIU: run scripts/setup --with-test-criu"
OLD=$(cat /etc/crpc/distro-criu-path)
[ -x "$OLD" ] || fail "$OLD is not executable"

# version: crpc talks to it and reports what it is
expect_exit 0 "$CRPC_BIN" --criu "$OLD" version --json
[ "$(json_get "$TMP/out" 'd["criu"]["version"]')" = "3.17.1" ] || fail "version: $OUT"

# check: fails, exit 3, CRIU's reason, pointer to the setup script
expect_exit 3 "$CRPC_BIN" --criu "$OLD" check
assert_contains "$ERR" "vDSO" "check stderr"
assert_contains "$ERR" "scripts/setup" "check stderr"

pid=$(start_counter t)
track "$pid"

# an option 3.17 would ignore is refused before anything is dumped
expect_exit 3 "$CRPC_BIN" dump --criu "$OLD" --network-lock skip "$pid" "$TMP/ck1"
assert_contains "$ERR" "--network-lock skip needs CRIU 3.19" "gating stderr"
assert_contains "$ERR" "3.17.1" "gating stderr"
[ ! -e "$TMP/ck1/inventory.img" ] || fail "a checkpoint was written despite the refusal"
[ "$(proc_state "$pid")" != "" ] || fail "target died"

# a plain dump: CRIU fails; crpc confirms with CRIU's own kernel check
expect_exit 3 "$CRPC_BIN" dump --criu "$OLD" "$pid" "$TMP/ck2"
assert_contains "$ERR" "fails CRIU's own kernel check" "dump stderr"
assert_contains "$ERR" "scripts/setup" "dump stderr"
assert_contains "$ERR" "is still running" "dump stderr"
[ ! -e "$TMP/ck2/inventory.img" ] || fail "failed dump left inventory.img"
expect_exit 1 "$CRPC_BIN" restore "$TMP/ck2"

# and the target never stopped counting
c1=$(counter t)
wait_for "[ \"\$(counter t)\" -gt $c1 ]" 5 || fail "target stopped counting"
