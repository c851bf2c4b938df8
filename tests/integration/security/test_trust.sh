#!/bin/bash
# Root restores only what nobody else could have written: a checkpoint in a
# directory of another user (a throwaway user made here), or with a file
# others can write, is refused by `crpc restore` (even with --force) and by
# `crpc show --verify`, naming the file and its owner, and the tree is not
# restored; --trust-owner USER accepts that user's files.
. "$(dirname "$0")/../lib.sh"

U=crpc-t-$$
useradd --system --no-create-home --shell /usr/sbin/nologin "$U" || fail "cannot create user $U"
remove_user() { userdel "$U" 2>/dev/null; }
CLEANUP_CMDS+=(remove_user)
uid=$(id -u "$U")

pid=$(start_counter c)
expect_exit 0 "$CRPC_BIN" dump --no-config "$pid" "$TMP/ck"
wait_gone "$pid" 10 || fail "the counter is still there after the dump"

# --- the same checkpoint in a directory the user owns, with the user's files
cp -a "$TMP/ck" "$TMP/theirs"
chown -R "$U" "$TMP/theirs"
expect_exit 1 "$CRPC_BIN" restore --no-config "$TMP/theirs"
assert_contains "$ERR" "refusing to restore from $TMP/theirs: $TMP/theirs belongs to $U (uid $uid)" "restore's message"
assert_contains "$ERR" "--trust-owner" "restore's hint"
[ ! -e "/proc/$pid" ] || fail "the tree was restored from another user's directory"
expect_exit 1 "$CRPC_BIN" restore --no-config --force "$TMP/theirs"
assert_contains "$ERR" "belongs to $U" "restore --force's message"
expect_exit 1 "$CRPC_BIN" show --verify "$TMP/theirs"
assert_contains "$OUT" "verified:      FAILED (untrusted)" "show --verify"
expect_exit 0 "$CRPC_BIN" show --verify --trust-owner "$U" "$TMP/theirs"

# --- root's directory, one image writable by others
chmod 0666 "$TMP/ck/pages-1.img"
expect_exit 1 "$CRPC_BIN" restore --no-config "$TMP/ck"
assert_contains "$ERR" "$TMP/ck/pages-1.img is writable by others (mode 0666)" "restore's message"
chmod 0644 "$TMP/ck/pages-1.img"

# --- trusted explicitly: restored, and it carries on
expect_exit 0 "$CRPC_BIN" restore --no-config --trust-owner "$U" "$TMP/theirs"
before=$(counter c)
wait_for "[ \"\$(counter c)\" -gt $before ]" 10 || fail "the restored counter does not go on"
note "ok"
