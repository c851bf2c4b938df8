#!/bin/bash
# crpc.json: a dump writes a manifest that lists every file with its size and
# BLAKE3 (checked here against b3sum), the versions, kernel, options and
# process tree; restore verifies it and refuses a checkpoint whose manifest or
# images were changed, naming the file and leaving the images untouched;
# --force restores anyway; a restored checkpoint restores again (what restore
# writes into DIR does not count); a plain `criu dump` needs --force; an
# existing DIR is written in place and --force replaces an old checkpoint.
# shellcheck disable=SC2015,SC2016 # A && B || fail; quoted code for python
. "$(dirname "$0")/../lib.sh"

# fingerprint DIR: names, sizes and sha256 of every file
fingerprint() {
	(cd "$1" && find . -type f -printf '%p %s\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum)
}

# restore_ok DIR [OPTIONS]: restore, check the counter's PID came back; sets RPID
restore_ok() {
	local dir=$1
	shift
	wait_for "session_gone $pid" 10 || fail "session $pid does not go away"
	expect_exit 0 "$CRPC_BIN" restore "$@" "$dir"
	[[ $OUT =~ Restored\ PID\ ([0-9]+) ]] || fail "restore did not print the restored PID: $OUT"
	RPID=${BASH_REMATCH[1]}
	track "$RPID"
	[ "$RPID" = "$pid" ] || fail "restored PID $RPID, expected $pid"
}

# end_it: kill the (restored) counter and wait until its PIDs are free again
end_it() {
	kill -KILL "$pid" 2>/dev/null || true
	wait_gone "$pid" 5 || fail "PID $pid does not go away"
}

pid=$(start_counter c)
track "$pid"
wait_for '[ "$(counter c)" -ge 2 ]' 10 || fail "counter does not count"

# --- the manifest of a dump ---------------------------------------------------------
expect_exit 0 "$CRPC_BIN" dump --leave-running --json "$pid" "$TMP/ckpt"
echo "$OUT" >"$TMP/dump.json"
[ -s "$TMP/ckpt/crpc.json" ] || fail "no crpc.json after a dump"
[ ! -e "$TMP/ckpt/.crpc-dump-in-progress" ] || fail "the marker is left after a good dump"
[ ! -e "$TMP/ckpt/crpc.json.tmp" ] || fail "crpc.json.tmp is left after a good dump"
compgen -G "$TMP/ckpt.crpc-tmp-*" >/dev/null && fail "a temporary directory is left: $(echo "$TMP"/ckpt.crpc-tmp-*)"
json_assert "$TMP/dump.json" --exit 0 "d['manifest']['path'] == '$TMP/ckpt/crpc.json'" \
	'd["manifest"]["files"] > 5' 'd["manifest"]["bytes"] > 0' 'd["manifest"]["hash_mb_per_s"] > 0' \
	'd["manifest"]["digest"] == "blake3"' ||
	fail "dump --json: no manifest summary"
(cd "$TMP/ckpt" && b3sum -- *) >"$TMP/sums"
/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/manifest_check.py" "$TMP/ckpt" "$TMP/sums" "$pid" "$(uname -r)" || fail "crpc.json does not describe the checkpoint"

# --- a manifest whose checksum was changed: refused, the file named -----------------
cp -a "$TMP/ckpt" "$TMP/edited"
pages=$(cd "$TMP/edited" && ls pages-*.img | head -1)
real=$(b3sum --no-names "$TMP/edited/$pages")
fake=$(printf '%s' "$real" | tr '0-9a-f' '1-9a0-f')
/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/manifest_edit.py" "$TMP/edited/crpc.json" digest "$pages" "$fake"
end_it
fingerprint "$TMP/edited" >"$TMP/fp.before"
expect_exit 1 "$CRPC_BIN" restore "$TMP/edited"
assert_contains "$ERR" "checkpoint modified: $pages blake3 mismatch (expected $fake, got $real)" "restore stderr"
assert_contains "$ERR" "--force" "restore hint"
[ -z "$OUT" ] || fail "the refused restore printed on stdout: $OUT"
fingerprint "$TMP/edited" >"$TMP/fp.after"
diff "$TMP/fp.before" "$TMP/fp.after" >/dev/null || fail "the refused restore changed the checkpoint"
[ ! -e "$TMP/edited/restore.log" ] || fail "the refused restore ran CRIU (restore.log exists)"
[ ! -e "/proc/$pid" ] || fail "PID $pid exists after a refused restore"
expect_exit 1 "$CRPC_BIN" restore --json "$TMP/edited"
echo "$OUT" >"$TMP/refused.json"
json_assert "$TMP/refused.json" --exit 1 'd["verification"]["verdict"] == "modified"' \
	"d['verification']['problems'][0]['file'] == '$pages'" \
	'd["verification"]["problems"][0]["problem"] == "checksum"' \
	"d['verification']['problems'][0]['sha256'] == '$real'" 'd["verification"]["digest"] == "blake3"' \
	"d['verification']['problems'][0]['actual_digest'] == '$real'" \
	"d['verification']['problems'][0]['expected_digest'] == '$fake'" ||
	fail "restore --json: wrong verification"
expect_exit 1 "$CRPC_BIN" show --verify "$TMP/edited"
assert_contains "$OUT" "FAILED" "show --verify"

# --force restores it (the images themselves are intact)
restore_ok "$TMP/edited" --force
assert_contains "$OUT" "verified:      no (--force)" "restore --force summary"
end_it

# --- an image changed after the dump ------------------------------------------------
cp -a "$TMP/ckpt" "$TMP/flipped"
printf '\x5a' | dd of="$TMP/flipped/$pages" bs=1 seek=100 conv=notrunc status=none
expect_exit 1 "$CRPC_BIN" restore "$TMP/flipped"
assert_contains "$ERR" "checkpoint modified: $pages blake3 mismatch" "restore stderr (image changed)"
# ... and an image added to it
cp -a "$TMP/ckpt" "$TMP/added"
cp "$TMP/added/inventory.img" "$TMP/added/extra-1.img"
expect_exit 1 "$CRPC_BIN" restore "$TMP/added"
assert_contains "$ERR" "extra-1.img is an image file crpc.json does not list" "restore stderr (added)"
# ... and one truncated
cp -a "$TMP/ckpt" "$TMP/cut"
truncate -s 4096 "$TMP/cut/$pages"
expect_exit 1 "$CRPC_BIN" restore "$TMP/cut"
assert_contains "$ERR" "$pages has 4096 bytes, crpc.json lists" "restore stderr (truncated)"

# --- the real checkpoint restores, twice: restore's own files do not count -------------
restore_ok "$TMP/ckpt"
assert_contains "$OUT" "verified:" "restore summary"
[ -s "$TMP/ckpt/restore.log" ] || fail "no restore.log"
end_it
restore_ok "$TMP/ckpt"
end_it

# --- a plain criu dump: no manifest, restore needs --force ----------------------------
pid=$(start_counter p)
track "$pid"
mkdir -m 700 "$TMP/plain"
"$CRPC_CRIU" dump -t "$pid" -D "$TMP/plain" -R -o dump.log -v4 >"$TMP/criu.out" 2>&1 ||
	fail "criu dump failed: $(cat "$TMP/criu.out")"
end_it
expect_exit 1 "$CRPC_BIN" restore "$TMP/plain"
assert_contains "$ERR" "no crpc.json" "restore of a plain criu dump"
assert_contains "$ERR" "restore --force" "restore of a plain criu dump: hint"
[ ! -e "$TMP/plain/restore.log" ] || fail "the refused restore ran CRIU"
restore_ok "$TMP/plain" --force
end_it

# --- an existing DIR is written in place; --force replaces a checkpoint --------------
mkdir -m 700 "$TMP/inplace"
pid=$(start_counter q)
track "$pid"
expect_exit 0 "$CRPC_BIN" dump --leave-running "$pid" "$TMP/inplace"
[ -s "$TMP/inplace/crpc.json" ] || fail "no crpc.json after a dump into an existing DIR"
compgen -G "$TMP/inplace.crpc-tmp-*" >/dev/null && fail "a dump into an existing DIR used a temporary directory"
expect_exit 1 "$CRPC_BIN" dump --leave-running "$pid" "$TMP/inplace"
assert_contains "$ERR" "already holds a checkpoint" "dump over a checkpoint"
old=$(sha256sum <"$TMP/inplace/crpc.json")
sleep 0.01
expect_exit 0 "$CRPC_BIN" dump --leave-running --force --log-level 3 "$pid" "$TMP/inplace"
[ "$(sha256sum <"$TMP/inplace/crpc.json")" != "$old" ] || fail "dump --force did not write a new manifest"
/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/zoo_json.py" "$TMP/inplace/crpc.json" \
	"sorted((o['option'], o['value'], o['source']) for o in d['options'] if o['option'].startswith('log_')) == [('log_file', 'dump.log', 'default'), ('log_level', 3, 'user')]" ||
	fail "crpc.json: the user's --log-level or the default log file recorded wrongly"
expect_exit 0 "$CRPC_BIN" show --verify "$TMP/inplace"
assert_contains "$OUT" "verified:      ok" "show --verify of the in-place dump"
end_it
