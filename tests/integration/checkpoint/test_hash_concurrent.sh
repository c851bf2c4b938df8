#!/bin/bash
# Hashing alongside CRIU. A dump hashes the images while CRIU writes them
# (into a tmpfs): crpc.json's BLAKE3 digests are those of the final files
# (b3sum), also with --digest sha256 (sha256sum), and most bytes were
# hashed while CRIU ran. A restore verifies the page images while CRIU
# restores: an image changed after the dump fails the restore at CRIU's
# post-restore, before a restored task ran (the counter never moves, no
# process is left), with the file named; the intact checkpoint restores.
# shellcheck disable=SC2015,SC2016 # A && B || fail; quoted code for python
. "$(dirname "$0")/../lib.sh"

FS=$TMP/fs
mkdir -m 700 "$FS"
mount -t tmpfs -o size=512M,mode=0700 crpc-test "$FS"
unmount_fs() { mountpoint -q "$FS" && umount "$FS"; }
CLEANUP_CMDS+=(unmount_fs)

# --- a dump hashed while CRIU writes ---------------------------------------------------
setsid /usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/py_counter.py" "$TMP" py 192 </dev/null >/dev/null 2>&1 &
pid=$!
track "$pid"
wait_for '[ "$(counter py)" -ge 2 ]' 20 || fail "the python workload does not count"

# check_ck DIR ALG TOOL: every file of DIR listed with its size, its digest as TOOL computes it,
# most bytes hashed ahead
check_ck() {
	/usr/bin/python3 - "$1" "$2" <<'PY' || fail "crpc.json's list of $1 is not the directory's"
import json, os, sys
d, alg = sys.argv[1], sys.argv[2]
m = json.load(open(os.path.join(d, "crpc.json")))
assert m["digest"] == alg, m["digest"]
names = sorted(f["name"] for f in m["files"])
on_disk = sorted(n for n in os.listdir(d) if n != "crpc.json")
assert names == on_disk, (names, on_disk)
for f in m["files"]:
    assert os.path.getsize(os.path.join(d, f["name"])) == f["size"], f["name"]
assert m["hash_ahead_files"] >= 1, m["hash_ahead_files"]
assert m["hash_ahead_bytes"] >= 64 << 20, m["hash_ahead_bytes"]
PY
	# the recipe of docs/guide.md
	(cd "$1" && python3 -c 'import json; [print(f[json.load(open("crpc.json"))["digest"]] + "  " + f["name"]) for f in json.load(open("crpc.json"))["files"]]' | "$3" --quiet -c) || fail "$3 disagrees with $1/crpc.json"
}

expect_exit 0 "$CRPC_BIN" dump --leave-running "$pid" "$FS/ck"
check_ck "$FS/ck" blake3 b3sum
rm -rf "$FS/ck"
expect_exit 0 "$CRPC_BIN" dump --leave-running --digest sha256 "$pid" "$FS/ck"
check_ck "$FS/ck" sha256 sha256sum
kill -KILL "$pid"
wait_gone "$pid" 5 || fail "PID $pid does not go away"

# --- a page image changed after the dump: caught before the tree runs ------------------
pid=$(start_counter c)
wait_for '[ "$(counter c)" -ge 2 ]' 10 || fail "counter does not count"
expect_exit 0 "$CRPC_BIN" dump "$pid" "$FS/small"
wait_gone "$pid" 5 || fail "PID $pid does not go away after the dump"
pages=$(cd "$FS/small" && ls pages-*.img | head -1)
cp -a "$FS/small" "$FS/flipped"
size=$(stat -c %s "$FS/flipped/$pages")
printf '\x5a' | dd of="$FS/flipped/$pages" bs=1 seek=$((size - 7)) conv=notrunc status=none
last=$(counter c)
expect_exit 1 "$CRPC_BIN" restore --json "$FS/flipped"
echo "$OUT" >"$TMP/refused.json"
json_assert "$TMP/refused.json" --exit 1 'd["verification"]["verdict"] == "modified"' \
	"d['verification']['problems'][0]['file'] == '$pages'" \
	'd["verification"]["problems"][0]["problem"] == "checksum"' ||
	fail "restore --json: wrong verification"
expect_exit 1 "$CRPC_BIN" restore "$FS/flipped"
assert_contains "$ERR" "checkpoint modified: $pages blake3 mismatch" "restore stderr"
# CRIU ran and was stopped at post-restore, which kills the tree
[ -s "$FS/flipped/restore.log" ] || fail "CRIU did not run: the page images were not checked concurrently"
grep -q "post-restore" "$FS/flipped/restore.log" || fail "CRIU's restore did not stop at post-restore"
wait_gone "$pid" 5 || fail "PID $pid is running after a refused restore"
sleep 0.3
[ "$(counter c)" = "$last" ] || fail "the restored counter ran ($last -> $(counter c))"

# --- the intact checkpoint restores, all of it verified ---------------------------------
expect_exit 0 "$CRPC_BIN" restore --json "$FS/small"
echo "$OUT" >"$TMP/ok.json"
n=$(/usr/bin/python3 -c '
import json, sys
print(sum(1 for f in json.load(open(sys.argv[1]))["files"] if f.get("kind") != "log"))' "$FS/small/crpc.json")
json_assert "$TMP/ok.json" --exit 0 "d['verified']['files'] == $n" || fail "not every file was verified"
wait_for '[ "$(counter c)" -gt "$last" ]' 10 || fail "the restored counter does not count"
kill -KILL "$pid"
wait_gone "$pid" 5 || fail "PID $pid does not go away"
