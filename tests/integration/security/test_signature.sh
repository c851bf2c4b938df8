#!/bin/bash
# Signed checkpoints: `crpc key generate` makes a key pair (never over an
# existing file), `crpc dump --sign-key` signs crpc.json, and `crpc show
# --verify` / `crpc restore` name the trusted key that signed it. Refused:
# an image edited with its digest and crpc.json's own digest recomputed, an
# edited crpc.json, a signature moved onto another trusted key's name, a
# checkpoint signed by an untrusted key or not signed at all under
# --require-signature (or the configuration's signing: require), and keys
# whose mode or owner would let others read or replace them.
. "$(dirname "$0")/../lib.sh"

EDIT=$CRPC_SRC/tests/integration/helpers/manifest_edit.py
export CRPC_SIGNING_KEY= # nothing signs unless asked (a machine may have a default key)
mkdir -m 0700 "$TMP/keys"
mkdir -m 0755 "$TMP/trusted"

# --- keys
expect_exit 0 "$CRPC_BIN" key generate "$TMP/keys/a"
assert_contains "$OUT" "key sha256:" "key generate"
[ "$(stat -c %a "$TMP/keys/a")" = 600 ] || fail "the private key is not 0600"
[ "$(stat -c %a "$TMP/keys/a.pub")" = 644 ] || fail "the public key is not 0644"
cp "$TMP/keys/a" "$TMP/a.before"
expect_exit 1 "$CRPC_BIN" key generate "$TMP/keys/a"
assert_contains "$ERR" "never overwritten" "key generate over an existing key"
cmp -s "$TMP/keys/a" "$TMP/a.before" || fail "key generate changed an existing key"
expect_exit 0 "$CRPC_BIN" key generate --json "$TMP/keys/b"
fp_b=$(json_get "$TMP/out" 'd["key_sha256"]')
install -m 0644 "$TMP/keys/a.pub" "$TMP/trusted/hostA.pub"

# --- a signed dump, verified and restored
pid=$(start_counter c)
expect_exit 0 "$CRPC_BIN" dump --no-config --sign-key "$TMP/keys/a" "$pid" "$TMP/ck"
assert_contains "$OUT" "signed:        $TMP/ck/crpc.json.sig" "dump's summary"
[ "$(stat -c %a "$TMP/ck/crpc.json.sig")" = 600 ] || fail "crpc.json.sig is not 0600"
wait_gone "$pid" 10 || fail "the counter is still there after the dump"
expect_exit 0 "$CRPC_BIN" show --no-config --verify --trusted-keys "$TMP/trusted" "$TMP/ck"
assert_contains "$OUT" "signed by:     hostA (key" "show --verify"
cp -a "$TMP/ck" "$TMP/ck-image" # for the tampering below, before the restore writes its log
cp -a "$TMP/ck" "$TMP/ck-json"
cp -a "$TMP/ck" "$TMP/ck-moved"

# an image changed, its digest and crpc.json's own recomputed: the signature tells
printf '\x5a' | dd of="$TMP/ck-image/pages-1.img" bs=1 seek=64 conv=notrunc status=none
/usr/bin/python3 "$EDIT" "$TMP/ck-image/crpc.json" reseal pages-1.img
expect_exit 1 "$CRPC_BIN" show --no-config --verify --trusted-keys "$TMP/trusted" "$TMP/ck-image"
assert_contains "$OUT" "verified:      ok" "the checksums alone do not see it"
assert_contains "$OUT" "crpc.json.sig is not the signature of this crpc.json by hostA" "show --verify"
expect_exit 1 "$CRPC_BIN" restore --no-config --trusted-keys "$TMP/trusted" "$TMP/ck-image"
assert_contains "$ERR" "is not the signature of this crpc.json" "restore, no signature required"
[ ! -e "$TMP/ck-image/restore.log" ] || fail "CRIU ran on a badly signed checkpoint"
# crpc.json alone changed, its own digest recomputed
/usr/bin/python3 "$EDIT" "$TMP/ck-json/crpc.json" set hostname elsewhere
expect_exit 1 "$CRPC_BIN" restore --no-config --require-signature --trusted-keys "$TMP/trusted" "$TMP/ck-json"
assert_contains "$ERR" "is not the signature of this crpc.json" "restore of an edited crpc.json"
# the signature file itself damaged
echo '{"format": "crpc-signature"}' >"$TMP/ck-moved/crpc.json.sig"
expect_exit 1 "$CRPC_BIN" show --no-config --verify --trusted-keys "$TMP/trusted" "$TMP/ck-moved"
assert_contains "$OUT" "crpc.json.sig is damaged" "show --verify of a damaged signature"

expect_exit 0 "$CRPC_BIN" restore --no-config --require-signature --trusted-keys "$TMP/trusted" "$TMP/ck"
assert_contains "$OUT" "signed by:     hostA" "restore's summary"
before=$(counter c)
wait_for "[ \"\$(counter c)\" -gt $before ]" 10 || fail "the restored counter does not go on"
expect_exit 2 "$CRPC_BIN" restore --no-config --force --require-signature "$TMP/ck"
assert_contains "$ERR" "--force skips the verification" "restore --force --require-signature"
rpid=$(pgrep -f -n "$TMP/c.count") || fail "the restored counter is gone"
kill -9 "$rpid"
wait_gone "$rpid" 10 || fail "the restored counter does not end"

# --- signed by a key nobody trusts; its signature put under hostA's name
pid=$(start_counter d)
expect_exit 0 "$CRPC_BIN" dump --no-config --sign-key "$TMP/keys/b" "$pid" "$TMP/ck-b"
wait_gone "$pid" 10 || fail "the counter is still there after the dump"
expect_exit 0 "$CRPC_BIN" show --no-config --verify --trusted-keys "$TMP/trusted" "$TMP/ck-b"
assert_contains "$OUT" "an untrusted key $fp_b" "show --verify of another key's checkpoint"
expect_exit 1 "$CRPC_BIN" show --no-config --verify --require-signature --trusted-keys "$TMP/trusted" "$TMP/ck-b"
assert_contains "$OUT" "not among the trusted keys" "show --verify --require-signature"
expect_exit 1 "$CRPC_BIN" restore --no-config --require-signature --trusted-keys "$TMP/trusted" "$TMP/ck-b"
assert_contains "$ERR" "signed by key $fp_b, which is not among the trusted keys ($TMP/trusted/*.pub)" "restore"
assert_contains "$ERR" "hint:" "restore's hint"
fp_a=$(json_get "$TMP/ck/crpc.json.sig" 'd["key_sha256"]')
/usr/bin/python3 -c 'import json,sys; p=sys.argv[1]; s=json.load(open(p)); s["key_sha256"]=sys.argv[2]; json.dump(s, open(p, "w"))' \
	"$TMP/ck-b/crpc.json.sig" "$fp_a"
expect_exit 1 "$CRPC_BIN" restore --no-config --trusted-keys "$TMP/trusted" "$TMP/ck-b"
assert_contains "$ERR" "is not the signature of this crpc.json by hostA" "restore of a signature under another name"

# --- not signed: fine, unless a signature is required (option or configuration)
pid=$(start_counter e)
expect_exit 0 "$CRPC_BIN" dump --no-config "$pid" "$TMP/ck-plain"
wait_gone "$pid" 10 || fail "the counter is still there after the dump"
[ ! -e "$TMP/ck-plain/crpc.json.sig" ] || fail "a dump without a key signed"
expect_exit 0 "$CRPC_BIN" show --no-config --verify --trusted-keys "$TMP/trusted" "$TMP/ck-plain"
assert_contains "$OUT" "nobody (not signed)" "show --verify of an unsigned checkpoint"
expect_exit 1 "$CRPC_BIN" restore --no-config --require-signature --trusted-keys "$TMP/trusted" "$TMP/ck-plain"
assert_contains "$ERR" "it is not signed (it has no crpc.json.sig) and a signature is required" "restore"
printf 'signing:\n  trusted_keys: %s\n  require: true\n' "$TMP/trusted" >"$TMP/require.yaml"
chmod 0600 "$TMP/require.yaml"
expect_exit 1 "$CRPC_BIN" restore --config "$TMP/require.yaml" "$TMP/ck-plain"
assert_contains "$ERR" "a signature is required" "restore under signing: require"

# --- the configuration's key signs; CRPC_SIGNING_KEY names one too
printf 'signing:\n  key: %s\n' "$TMP/keys/a" >"$TMP/sign.yaml"
chmod 0600 "$TMP/sign.yaml"
pid=$(start_counter f)
expect_exit 0 env -u CRPC_SIGNING_KEY "$CRPC_BIN" dump --config "$TMP/sign.yaml" "$pid" "$TMP/ck-conf"
wait_gone "$pid" 10 || fail "the counter is still there after the dump"
expect_exit 0 "$CRPC_BIN" show --config "$TMP/require.yaml" --verify "$TMP/ck-conf"
assert_contains "$OUT" "signed by:     hostA" "show --verify of the configuration's signed dump"

# --- keys others could read or replace are refused, before CRIU runs
pid=$(start_counter g)
chmod 0640 "$TMP/keys/a"
expect_exit 1 "$CRPC_BIN" dump --no-config --sign-key "$TMP/keys/a" "$pid" "$TMP/ck-badkey"
assert_contains "$ERR" "refusing the signing key $TMP/keys/a: it is readable by its group (mode 0640)" "dump"
[ -e "/proc/$pid" ] || fail "the target is gone after a refused key"
[ ! -e "$TMP/ck-badkey" ] || fail "a refused key left a directory"
chmod 0600 "$TMP/keys/a"
chown nobody "$TMP/keys/a"
expect_exit 1 "$CRPC_BIN" dump --no-config --sign-key "$TMP/keys/a" "$pid" "$TMP/ck-badkey"
assert_contains "$ERR" "it belongs to nobody" "dump with another user's key"
chown root "$TMP/keys/a"
ln -s "$TMP/keys/a" "$TMP/keys/link"
expect_exit 1 "$CRPC_BIN" dump --no-config --sign-key "$TMP/keys/link" "$pid" "$TMP/ck-badkey"
assert_contains "$ERR" "is a symbolic link" "dump with a symlinked key"
[ -e "/proc/$pid" ] || fail "the target is gone after a refused key"
chmod 0664 "$TMP/trusted/hostA.pub"
expect_exit 1 "$CRPC_BIN" restore --no-config --trusted-keys "$TMP/trusted" "$TMP/ck-conf"
assert_contains "$ERR" "refusing the trusted key $TMP/trusted/hostA.pub: it is writable by its group" "restore"
chmod 0644 "$TMP/trusted/hostA.pub"
chmod 0777 "$TMP/trusted"
expect_exit 1 "$CRPC_BIN" show --no-config --verify --trusted-keys "$TMP/trusted" "$TMP/ck-conf"
assert_contains "$OUT" "refusing the trusted keys' directory $TMP/trusted: it is writable by others" "show --verify"
chmod 0755 "$TMP/trusted"
note "ok"
