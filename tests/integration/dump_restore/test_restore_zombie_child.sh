#!/bin/bash
# A tree holding a zombie (a child that exited and was not reaped yet, as a
# shell loop's sleep can be at the moment of the dump) is checkpointed and
# restored like any other: CRIU restores the zombie as a zombie.
#
# CRIU 4.2 leaves the thread list of a zombie's pstree.img entry
# uninitialised: the thread id written there is whatever its memory held
# (seen: 2151761792, 2345129856...). crpc must not take that for a damaged
# checkpoint. To make the case the same on every run, the zombie's thread
# id is set to such a value when CRIU happened to write a small one.
# shellcheck disable=SC2015,SC2016 # quoted code for other shells; A && B || fail
. "$(dirname "$0")/../lib.sh"

# the root never reaps its child: it execs sleep
setsid bash -c 'sleep 0 & echo $! >"$0.child"; exec sleep 1000' "$TMP/z" </dev/null >/dev/null 2>&1 &
root=$!
track "$root"
wait_for "[ -s '$TMP/z.child' ]" 5 || fail "workload did not start"
child=$(cat "$TMP/z.child")
track "$child"
wait_for "[ \"\$(proc_state $child)\" = Z ]" 5 || fail "child $child did not become a zombie"

expect_exit 0 "$CRPC_BIN" dump "$root" "$TMP/ckpt"
wait_gone "$root" 5 || fail "PID $root still exists after the dump"

# what CRIU wrote for the zombie; make its thread id a large one
/usr/bin/python3 - "$TMP/ckpt/pstree.img" "$child" <<'PY' >"$TMP/patch.txt" || fail "cannot read pstree.img"
import struct, sys
path, zombie = sys.argv[1], int(sys.argv[2])

def varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i

def enc(v):
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        out.append(c | (0x80 if v else 0))
        if not v:
            return bytes(out)

b = open(path, "rb").read()
out, i = bytearray(b[:8]), 8  # two magic numbers
while i < len(b):
    (size,) = struct.unpack("<I", b[i:i + 4])
    m, i = b[i + 4:i + 4 + size], i + 4 + size
    fields, j = [], 0
    while j < len(m):
        key, j = varint(m, j)
        if key & 7 == 0:
            v, j = varint(m, j)
            fields.append([key >> 3, v])
        elif key & 7 == 2:  # packed repeated
            n, j = varint(m, j)
            sub, j, q = m[j:j + n], j + n, 0
            while q < len(sub):
                v, q = varint(sub, q)
                fields.append([key >> 3, v])
        else:
            sys.exit("unexpected wire type in pstree.img")
    pid = [v for f, v in fields if f == 1][0]
    if pid == zombie:
        tids = [v for f, v in fields if f == 5]
        print("CRIU wrote thread ids %s for zombie %d" % (tids, zombie))
        for fv in fields:
            if fv[0] == 5 and fv[1] <= 0x7FFFFFFF:
                fv[1] = 0xDEADBEEF
    body = b"".join(enc(f << 3) + enc(v) for f, v in fields)
    out += struct.pack("<I", len(body)) + body
open(path, "wb").write(out)
PY
note "$(cat "$TMP/patch.txt")"

# pstree.img was edited above, so it no longer matches crpc.json: --force
expect_exit 0 "$CRPC_BIN" restore --force --json "$TMP/ckpt"
echo "$OUT" >"$TMP/restore.json"
json_assert "$TMP/restore.json" --exit 0 "d['pid'] == $root" "d['pids'] == [$root, $child]" ||
	fail "restore --json: wrong JSON output"
[ "$(proc_state "$child")" = Z ] || fail "restored child $child is in state '$(proc_state "$child")', expected a zombie"
[ "$(awk '{ print $4 }' "/proc/$child/stat")" = "$root" ] || fail "restored zombie $child is not a child of $root"
[ "$(proc_state "$root")" = S ] || fail "restored root $root is in state '$(proc_state "$root")'"
kill -KILL "$root"
