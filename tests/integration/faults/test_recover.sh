#!/bin/bash
# A dump killed after CRIU finished it: crpc is SIGKILLed the moment CRIU's
# statistics appear, while it hashes a 200 MiB tree for crpc.json. The tree is
# gone; the leftover is its only copy. `crpc restore DIR` names the command
# that completes it, `crpc recover` refuses copies CRIU did not finish (no
# statistics, a log without its last word), another user's leftover and a DIR
# that is in the way, then completes it with the options the dump recorded,
# signed, and moves it into place; the restored tree carries on. The same
# for a DIR written in place.
. "$(dirname "$0")/../lib.sh"

export CRPC_SIGNING_KEY=
mkdir -m 0700 "$TMP/keys"
expect_exit 0 "$CRPC_BIN" key generate "$TMP/keys/k"
mkdir -m 0755 "$TMP/trusted"
install -m 0644 "$TMP/keys/k.pub" "$TMP/trusted/here.pub"

# start_big NAME: a tree with 200 MiB of memory that counts into $TMP/NAME.count
start_big() {
	setsid /usr/bin/python3 -c '
import os, sys, time
ballast = bytes(range(256)) * (800 << 10)
f, i = sys.argv[1], 0
while True:
    with open(f + ".tmp", "w") as o:
        o.write("%d\n" % i)
    os.rename(f + ".tmp", f)
    i += 1
    time.sleep(0.05)' "$TMP/$1.count" </dev/null >/dev/null 2>&1 &
	local pid=$!
	track "$pid"
	wait_for "[ -s '$TMP/$1.count' ]" 20 || fail "$1 did not start"
	echo "$pid"
}

# dump_killed PID DIR GLOB: dump PID into DIR with --tcp-close (an option to find
# in crpc.json later), SIGKILL crpc as soon as GLOB/stats-dump exists
dump_killed() {
	local crpc
	"$CRPC_BIN" dump --no-config --tcp-close "$1" "$2" >"$TMP/dump.out" 2>&1 &
	crpc=$!
	local end=$((${EPOCHREALTIME//[.,]/} + 60000000))
	until compgen -G "$3/stats-dump" >/dev/null; do
		((${EPOCHREALTIME//[.,]/} < end)) || { kill -KILL "$crpc"; fail "no stats-dump in $3 after 60 s"; }
		kill -0 "$crpc" 2>/dev/null || fail "crpc ended before CRIU wrote its statistics: $(cat "$TMP/dump.out")"
	done
	kill -KILL "$crpc"
	wait "$crpc" 2>/dev/null || true
}

# --- into a new DIR: the leftover DIR.crpc-tmp-XXXXXX
pid=$(start_big a)
dump_killed "$pid" "$TMP/ck" "$TMP/ck.crpc-tmp-*"
wait_gone "$pid" 20 || fail "the tree is still there after CRIU finished"
left=$(compgen -G "$TMP/ck.crpc-tmp-*")
[ ! -e "$left/crpc.json" ] || fail "crpc wrote crpc.json before it was killed: the kill came too late"
[ ! -e "$TMP/ck" ] || fail "$TMP/ck exists: the kill came too late"
grep -q '"format":"crpc-dump-intent"' "$left/.crpc-dump-in-progress" || fail "the marker holds no record of the dump"

expect_exit 1 "$CRPC_BIN" restore --no-config "$TMP/ck"
assert_contains "$ERR" "crpc recover $left" "restore's hint"
assert_not_contains "$ERR" "remove" "restore's hint"

# copies CRIU did not finish, as far as they can tell, are refused and left alone
cp -a "$left" "$TMP/nostats.crpc-tmp-AAAAAA"
rm "$TMP/nostats.crpc-tmp-AAAAAA/stats-dump"
expect_exit 1 "$CRPC_BIN" recover "$TMP/nostats.crpc-tmp-AAAAAA"
assert_contains "$ERR" "CRIU did not finish this dump (there is no stats-dump" "recover without statistics"
[ -e "$TMP/nostats.crpc-tmp-AAAAAA/.crpc-dump-in-progress" ] && [ ! -e "$TMP/nostats" ] ||
	fail "a refused recover changed something"
cp -a "$left" "$TMP/nolog.crpc-tmp-AAAAAA"
grep -v "Dumping finished successfully" "$left/dump.log" >"$TMP/nolog.crpc-tmp-AAAAAA/dump.log"
expect_exit 1 "$CRPC_BIN" recover "$TMP/nolog.crpc-tmp-AAAAAA"
assert_contains "$ERR" "dump.log does not end with \"Dumping finished successfully\"" "recover with a cut log"
rm -rf "$TMP/nostats.crpc-tmp-AAAAAA" "$TMP/nolog.crpc-tmp-AAAAAA"
# another user's, or writable by others
chmod 0757 "$left"
expect_exit 1 "$CRPC_BIN" recover "$left"
assert_contains "$ERR" "is writable by others (mode 0757)" "recover of a directory others can write"
chmod 0700 "$left"
chown nobody "$left/pages-1.img"
expect_exit 1 "$CRPC_BIN" recover "$left"
assert_contains "$ERR" "belongs to nobody" "recover of another user's file"
chown root "$left/pages-1.img"
# DIR in the way; a DIR for an in-place dump
mkdir "$TMP/ck"
touch "$TMP/ck/keep"
expect_exit 1 "$CRPC_BIN" recover "$left"
assert_contains "$ERR" "exists (and is no empty directory)" "recover onto a DIR with files"
rm -rf "$TMP/ck"

expect_exit 0 "$CRPC_BIN" recover --sign-key "$TMP/keys/k" "$left"
assert_contains "$OUT" "Recovered the checkpoint of PID $pid into $TMP/ck" "recover's summary"
assert_contains "$OUT" "signed:" "recover's summary"
[ ! -e "$left" ] || fail "the leftover is still there after the recovery"
[ ! -e "$TMP/ck/.crpc-dump-in-progress" ] || fail "the recovered checkpoint keeps the marker"
/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pid"] == int(sys.argv[2]), d["pid"]
assert any(o["option"] == "tcp_close" and o["source"] == "user" for o in d["options"]), d["options"]
assert d["criu"]["version"] and d["stats"], d
' "$TMP/ck/crpc.json" "$pid" || fail "the recovered crpc.json misses what the dump recorded"
expect_exit 0 "$CRPC_BIN" show --no-config --verify --require-signature --trusted-keys "$TMP/trusted" "$TMP/ck"
assert_contains "$OUT" "signed by:     here" "show --verify of the recovered checkpoint"
expect_exit 0 "$CRPC_BIN" restore --no-config --require-signature --trusted-keys "$TMP/trusted" "$TMP/ck"
assert_contains "$ERR" "from the checkpoint: tcp_close" "the restore takes the recorded option"
before=$(counter a)
wait_for "[ \"\$(counter a)\" -gt $before ]" 20 || fail "the restored tree does not carry on"
kill -KILL "$pid"
wait_gone "$pid" 20 || fail "the restored tree did not end"
expect_exit 1 "$CRPC_BIN" recover "$TMP/ck"
assert_contains "$ERR" "nothing to recover" "recover of a complete checkpoint"
# killed between the marker's removal and the rename: verified, then moved
cp -a "$TMP/ck" "$TMP/ck2.crpc-tmp-BBBBBB"
expect_exit 1 "$CRPC_BIN" restore --no-config "$TMP/ck2"
assert_contains "$ERR" "only the rename into place is missing" "restore's hint for a complete leftover"
printf '\x5a' | dd of="$TMP/ck2.crpc-tmp-BBBBBB/pages-1.img" bs=1 seek=64 conv=notrunc status=none
expect_exit 1 "$CRPC_BIN" recover "$TMP/ck2.crpc-tmp-BBBBBB"
assert_contains "$ERR" "pages-1.img blake3 mismatch" "recover of a complete leftover that was changed"
cp "$TMP/ck/pages-1.img" "$TMP/ck2.crpc-tmp-BBBBBB/pages-1.img"
expect_exit 0 "$CRPC_BIN" recover "$TMP/ck2.crpc-tmp-BBBBBB"
[ -e "$TMP/ck2/crpc.json" ] && [ ! -e "$TMP/ck2.crpc-tmp-BBBBBB" ] || fail "the complete leftover was not moved into place"
expect_exit 0 "$CRPC_BIN" show --no-config --verify "$TMP/ck2"

# --- into an existing DIR: completed in place
pid=$(start_big b)
mkdir -m 0700 "$TMP/inplace"
dump_killed "$pid" "$TMP/inplace" "$TMP/inplace"
wait_gone "$pid" 20 || fail "the tree is still there after CRIU finished"
[ ! -e "$TMP/inplace/crpc.json" ] || fail "crpc wrote crpc.json before it was killed: the kill came too late"
expect_exit 1 "$CRPC_BIN" restore --no-config "$TMP/inplace"
assert_contains "$ERR" "crpc recover $TMP/inplace" "restore's hint for an in-place dump"
expect_exit 2 "$CRPC_BIN" recover "$TMP/inplace" "$TMP/elsewhere"
expect_exit 0 "$CRPC_BIN" recover "$TMP/inplace"
[ ! -e "$TMP/inplace/crpc.json.sig" ] || fail "recover signed without a key"
expect_exit 0 "$CRPC_BIN" restore --no-config "$TMP/inplace"
before=$(counter b)
wait_for "[ \"\$(counter b)\" -gt $before ]" 20 || fail "the restored tree does not carry on"
kill -KILL "$pid"
wait_gone "$pid" 20 || fail "the restored tree did not end"
note "ok"
