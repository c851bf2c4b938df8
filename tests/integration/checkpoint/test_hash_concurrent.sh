#!/bin/bash
# Hashing alongside CRIU. A dump hashes the images while CRIU writes them
# (into a tmpfs, where CRIU writes faster than SHA-256 reads): crpc.json's
# digests are those of the final files (sha256sum) and most bytes were
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

expect_exit 0 "$CRPC_BIN" dump --leave-running "$pid" "$FS/ck"
/usr/bin/python3 - "$FS/ck" <<'PY' || fail "crpc.json's digests are not those of the files"
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "crpc.json")))
names = sorted(f["name"] for f in m["files"])
on_disk = sorted(n for n in os.listdir(d) if n != "crpc.json")
assert names == on_disk, (names, on_disk)
for f in m["files"]:
    h = hashlib.sha256()
    with open(os.path.join(d, f["name"]), "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    assert h.hexdigest() == f["sha256"], f["name"]
    assert os.path.getsize(os.path.join(d, f["name"])) == f["size"], f["name"]
assert m["hash_ahead_files"] >= 1, m["hash_ahead_files"]
assert m["hash_ahead_bytes"] >= 64 << 20, m["hash_ahead_bytes"]
PY
(cd "$FS/ck" && sha256sum --quiet -c <(/usr/bin/python3 -c '
import json, sys
for f in json.load(open(sys.argv[1]))["files"]:
    print(f["sha256"] + "  " + f["name"])' "$FS/ck/crpc.json")) || fail "sha256sum disagrees with crpc.json"
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
assert_contains "$ERR" "checkpoint modified: $pages sha256 mismatch" "restore stderr"
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
