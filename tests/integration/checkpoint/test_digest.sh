#!/bin/bash
# The digest of crpc.json. A dump lists every file with its BLAKE3 by default
# ("digest": "blake3"), as b3sum computes it; --digest sha256, or integrity:
# digest: sha256 in the configuration, gives SHA-256 (sha256sum), the
# command line winning over the configuration. Either restores, verified with
# the digest crpc.json names; a checkpoint in the format of an older crpc
# (format version 1, SHA-256 without "digest") still verifies and restores;
# an image changed after a dump is refused whatever the digest; crpc.json
# naming a digest crpc does not know is refused as invalid; a bad --digest or
# integrity: digest is a usage error.
# shellcheck disable=SC2015,SC2016 # A && B || fail; quoted code for python
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/hooks_lib.sh"

EDIT=$CRPC_SRC/tests/integration/helpers/manifest_edit.py

# sums_of DIR: "DIGEST  NAME" for every file crpc.json of DIR lists, with its own digest
sums_of() {
	/usr/bin/python3 -c '
import json, sys
m = json.load(open(sys.argv[1] + "/crpc.json"))
for f in m["files"]:
    print(f[m.get("digest", "sha256")] + "  " + f["name"])' "$1"
}

# check_sums DIR TOOL ALG: crpc.json of DIR names ALG and TOOL --check agrees with every file
check_sums() {
	local alg
	alg=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1] + "/crpc.json")).get("digest"))' "$1")
	[ "$alg" = "$3" ] || fail "$1/crpc.json names digest $alg, expected $3"
	sums_of "$1" >"$TMP/sums"
	[ "$(wc -l <"$TMP/sums")" -ge 5 ] || fail "$1/crpc.json lists too few files"
	(cd "$1" && "$2" --check --quiet "$TMP/sums") || fail "$2 --check disagrees with $1/crpc.json"
}

# restore_and_end DIR: restore, see the counter carry on, end it
restore_and_end() {
	local before
	wait_for "session_gone $pid" 10 || fail "session $pid does not go away"
	expect_exit 0 "$CRPC_BIN" restore --no-config "$@"
	assert_contains "$OUT" "verified:" "restore summary of $*"
	before=$(counter c)
	wait_for "[ \"\$(counter c)\" -gt $before ]" 10 || fail "the counter restored from $* does not count"
	kill -KILL "$pid"
	wait_gone "$pid" 5 || fail "PID $pid does not go away"
}

pid=$(start_counter c)
track "$pid"
wait_for '[ "$(counter c)" -ge 2 ]' 10 || fail "counter does not count"

# --- the default: BLAKE3, checked with b3sum -----------------------------------------
expect_exit 0 "$CRPC_BIN" dump --no-config --leave-running "$pid" "$TMP/b3"
assert_contains "$OUT" "blake3 in" "dump summary"
check_sums "$TMP/b3" b3sum blake3
expect_exit 0 "$CRPC_BIN" show --no-config --verify "$TMP/b3"
assert_contains "$OUT" "match crpc.json, blake3 in" "show --verify"

# --- SHA-256 on the command line, and from the configuration ---------------------------
expect_exit 0 "$CRPC_BIN" dump --no-config --leave-running --digest sha256 "$pid" "$TMP/sha"
assert_contains "$OUT" "sha256 in" "dump --digest sha256 summary"
check_sums "$TMP/sha" sha256sum sha256
printf 'integrity:\n  digest: sha256\n' >"$TMP/sha.yaml"
expect_exit 0 "$CRPC_BIN" dump --config "$TMP/sha.yaml" --leave-running "$pid" "$TMP/cfg"
check_sums "$TMP/cfg" sha256sum sha256
expect_exit 0 "$CRPC_BIN" dump --config "$TMP/sha.yaml" --digest blake3 --leave-running "$pid" "$TMP/cfg-cli"
check_sums "$TMP/cfg-cli" b3sum blake3

# --- usage errors ---------------------------------------------------------------------
expect_exit 2 "$CRPC_BIN" dump --no-config --digest md5 "$pid" "$TMP/never"
assert_contains "$ERR" "--digest: blake3 or sha256, got 'md5'" "dump --digest md5"
printf 'integrity:\n  digest: sha1\n' >"$TMP/bad.yaml"
expect_exit 2 "$CRPC_BIN" dump --config "$TMP/bad.yaml" "$pid" "$TMP/never"
assert_contains "$ERR" "key 'digest': blake3 or sha256, got 'sha1'" "integrity: digest: sha1"
[ ! -e "$TMP/never" ] || fail "a refused dump left $TMP/never"

# the restores below need the counter's PIDs (the page images are checked while CRIU restores)
kill -KILL "$pid"
wait_gone "$pid" 5 || fail "PID $pid does not go away"

# --- a checkpoint of an older crpc: SHA-256, no "digest", format version 1 ---------------
cp -a "$TMP/sha" "$TMP/old"
/usr/bin/python3 "$EDIT" "$TMP/old/crpc.json" old-format
/usr/bin/python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert m["format_version"] == 1 and "digest" not in m and all("sha256" in f for f in m["files"])' "$TMP/old/crpc.json" ||
	fail "old-format did not make an old manifest"
expect_exit 0 "$CRPC_BIN" show --no-config --verify "$TMP/old"
assert_contains "$OUT" "match crpc.json, sha256 in" "show --verify of an old checkpoint"
assert_contains "$OUT" "status:        complete (crpc.json, format 1, sha256 digests)" "show of an old checkpoint"
cp -a "$TMP/old" "$TMP/old-flipped"
pages=$(cd "$TMP/old" && ls pages-*.img | head -1)
printf '\x5a' | dd of="$TMP/old-flipped/$pages" bs=1 seek=100 conv=notrunc status=none
expect_exit 1 "$CRPC_BIN" show --no-config --verify "$TMP/old-flipped"
expect_exit 1 "$CRPC_BIN" restore --no-config "$TMP/old-flipped"
assert_contains "$ERR" "checkpoint modified: $pages sha256 mismatch" "restore of a changed old checkpoint"
# a restore failing before CRIU's post-restore (where the page images are
# waited for) keeps its error and names the modified image in the hint
printf 'hooks:\n  pre-restore:\n    - name: failing\n      shell: "exit 1"\n' | write_config "$TMP/fail.yaml"
expect_exit 1 "$CRPC_BIN" restore --config "$TMP/fail.yaml" "$TMP/old-flipped"
assert_contains "$ERR" "pre-restore" "restore failing at pre-restore"
assert_contains "$ERR" "the checkpoint proved modified, too: $pages sha256 mismatch" \
	"restore of a changed checkpoint failing at pre-restore"

# --- a BLAKE3 checkpoint changed after the dump: refused ------------------------------
cp -a "$TMP/b3" "$TMP/b3-flipped"
printf '\x5a' | dd of="$TMP/b3-flipped/$pages" bs=1 seek=100 conv=notrunc status=none
expect_exit 1 "$CRPC_BIN" restore --no-config "$TMP/b3-flipped"
assert_contains "$ERR" "checkpoint modified: $pages blake3 mismatch (expected " "restore of a changed image"
[ ! -e "$TMP/b3-flipped/restore.log" ] || grep -q post-restore "$TMP/b3-flipped/restore.log" ||
	fail "CRIU ran past the page images' verification"
# ... and with the change covered by a resealed crpc.json it verifies (no signature here):
# the digest is what b3sum says of the file
cp -a "$TMP/b3-flipped" "$TMP/b3-resealed"
/usr/bin/python3 "$EDIT" "$TMP/b3-resealed/crpc.json" reseal "$pages"
check_sums "$TMP/b3-resealed" b3sum blake3
expect_exit 0 "$CRPC_BIN" show --no-config --verify "$TMP/b3-resealed"

# --- a digest crpc does not know --------------------------------------------------------
cp -a "$TMP/b3" "$TMP/unknown"
/usr/bin/python3 "$EDIT" "$TMP/unknown/crpc.json" set digest sha3-256
expect_exit 1 "$CRPC_BIN" restore --no-config "$TMP/unknown"
assert_contains "$ERR" "crpc.json lists its files with a digest this crpc does not know (\"digest\": \"sha3-256\"" "unknown digest"
[ ! -e "$TMP/unknown/restore.log" ] || fail "CRIU ran for a manifest of an unknown digest"

# --- each restores, verified --------------------------------------------------------------
restore_and_end "$TMP/b3"
restore_and_end "$TMP/sha"
restore_and_end "$TMP/old"
