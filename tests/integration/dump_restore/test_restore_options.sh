#!/bin/bash
# crpc restore takes the options the dump needed from the checkpoint's
# crpc.json: a tree with an established TCP connection, dumped with
# --tcp-established given by the user (no automatic options), restores
# with no flag, the option applied and reported; an option given to the
# restore wins over the checkpoint's (--tcp-close, --no-checkpoint-options);
# without a manifest (--force) nothing is applied. crpc.json records its own
# SHA-256: an edited option is refused like an edited image, while a mere
# reformatting of the file is not. Bad --inherit-fd arguments are usage
# errors.
# shellcheck disable=SC2016 # Python expressions in single quotes
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/zoo_lib.sh"

# end_tree: end the restored tree (the root and its child) and wait for it
end_tree() {
	local p
	for p in "$pid" "$child"; do kill -KILL "$p" 2>/dev/null || true; done
	for p in "$pid" "$child"; do wait_gone "$p" 10 || fail "PID $p did not end"; done
}

# dump_to DIR: dump the tree with the user's --tcp-established only
dump_to() {
	expect_exit 0 "$CRPC_BIN" dump --no-auto --tcp-established --json "$pid" "$1"
	printf '%s\n' "$OUT" >"$TMP/dump.json"
	json_assert "$TMP/dump.json" --exit 0 'd["ok"] is True' 'd["auto"] == []' || fail "dump into $1 failed"
	wait_gone "$pid" 10 || fail "PID $pid still exists after the dump"
}

pid=$(zoo_start tcp_pair)
mapfile -t tree < <(zoo_tree_pids "$pid")
[ "${#tree[@]}" -eq 2 ] || fail "expected 2 processes, got ${tree[*]}"
child=${tree[1]}
track "$child"
zoo_verify tcp_pair "$pid" "before the dump"
before=$ZOO_RESULT

dump_to "$TMP/ck1"
/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/zoo_json.py" "$TMP/ck1/crpc.json" \
	"[(o['value'], o['source']) for o in d['options'] if o['option'] == 'tcp_established'] == [(True, 'user')]" ||
	fail "crpc.json does not record the user's tcp_established"
cp -a "$TMP/ck1" "$TMP/edited"
cp -a "$TMP/ck1" "$TMP/reformatted"
cp -a "$TMP/ck1" "$TMP/nomanifest"

# --- restored with no flag: tcp_established comes from the checkpoint ----------------
expect_exit 0 "$CRPC_BIN" restore -v "$TMP/ck1"
assert_contains "$ERR" "crpc: from the checkpoint: tcp_established (dump: " "restore stderr"
assert_contains "$ERR" "tcp established   yes" "restore -v: the request's options"
assert_contains "$OUT" "Restored PID $pid" "restore stdout"
zoo_verify tcp_pair "$pid" "after the restore"
[ "${ZOO_RESULT#* port }" = "${before#* port }" ] || fail "ports changed: '$before' -> '$ZOO_RESULT'"

# --json lists it
dump_to "$TMP/ck2"
expect_exit 0 "$CRPC_BIN" restore --json "$TMP/ck2"
printf '%s\n' "$OUT" >"$TMP/restore.json"
json_assert "$TMP/restore.json" --exit 0 'd["ok"] is True' \
	'[(o["option"], o["value"], o["source"]) for o in d["checkpoint_options"]] == [("tcp_established", True, "user")]' \
	'"ghost_limit" not in [o["option"] for o in d["checkpoint_options"]]' \
	'all(o["why"] for o in d["checkpoint_options_not_applied"])' 'd["outside_pipes"] == []' ||
	fail "restore --json: wrong checkpoint_options"
[ -z "$ERR" ] || fail "restore --json wrote on stderr: $ERR"
zoo_verify tcp_pair "$pid" "after the JSON restore"

# --- the user's choice wins ---------------------------------------------------------
# --tcp-close: the connection is restored closed, tcp_established not applied
dump_to "$TMP/ck3"
expect_exit 0 "$CRPC_BIN" restore -v --json --tcp-close "$TMP/ck3"
printf '%s\n' "$OUT" >"$TMP/restore.json"
json_assert "$TMP/restore.json" --exit 0 'd["ok"] is True' 'd["checkpoint_options"] == []' \
	'[(o["option"], o["why"]) for o in d["checkpoint_options_not_applied"] if o["option"] == "tcp_established"] == [("tcp_established", "your tcp_close wins")]' ||
	fail "restore --tcp-close: tcp_established applied anyway"
assert_contains "$ERR" "tcp established   no" "restore --tcp-close -v"
assert_contains "$ERR" "tcp close         yes" "restore --tcp-close -v"
end_tree
# --no-checkpoint-options: nothing applied, and CRIU refuses the connection
expect_exit 1 "$CRPC_BIN" restore --no-checkpoint-options "$TMP/ck3"
assert_not_contains "$ERR" "from the checkpoint" "restore --no-checkpoint-options"
assert_contains "$ERR" "Connected TCP socket in image" "restore --no-checkpoint-options"
assert_contains "$ERR" "--tcp-established" "restore --no-checkpoint-options: hint"
wait_gone "$pid" 5 || fail "a failed restore left PID $pid"

# --force without a manifest: nothing to take, and -v says so
rm "$TMP/nomanifest/crpc.json"
expect_exit 1 "$CRPC_BIN" restore -v --force "$TMP/nomanifest"
assert_contains "$ERR" "no options from the checkpoint: it has no crpc.json" "restore --force -v"
assert_contains "$ERR" "Connected TCP socket in image" "restore --force without a manifest"

# --- crpc.json is covered by its own checksum ---------------------------------------
# an option edited by hand: refused before CRIU runs
/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/manifest_edit.py" "$TMP/edited/crpc.json" drop-option tcp_established
expect_exit 1 "$CRPC_BIN" restore "$TMP/edited"
assert_contains "$ERR" "checkpoint modified: crpc.json was changed after the dump" "restore of an edited crpc.json"
assert_contains "$ERR" "give them on the command line" "restore of an edited crpc.json: hint"
[ ! -e "$TMP/edited/restore.log" ] || fail "the refused restore ran CRIU"
expect_exit 1 "$CRPC_BIN" restore --json "$TMP/edited"
printf '%s\n' "$OUT" >"$TMP/refused.json"
json_assert "$TMP/refused.json" --exit 1 'd["verification"]["verdict"] == "modified"' \
	'[(p["file"], p["problem"]) for p in d["verification"]["problems"]] == [("crpc.json", "checksum")]' ||
	fail "restore --json of an edited crpc.json: wrong verification"
expect_exit 1 "$CRPC_BIN" show --verify "$TMP/edited"
# the same content written another way is the same manifest
/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/manifest_edit.py" "$TMP/reformatted/crpc.json" reverse-keys
expect_exit 0 "$CRPC_BIN" show --verify "$TMP/reformatted"

# --- --inherit-fd is checked before anything runs ---------------------------------------
expect_exit 2 "$CRPC_BIN" restore --inherit-fd 'socket:[1]' "$TMP/ck1"
assert_contains "$ERR" "expected fd[N]:KEY" "--inherit-fd without fd[N]"
expect_exit 2 "$CRPC_BIN" restore --inherit-fd 'fd[1]:pipe:[1]' "$TMP/ck1"
assert_contains "$ERR" "use 3 or above" "--inherit-fd fd[1]"
expect_exit 2 "$CRPC_BIN" restore --inherit-fd 'fd[87]:pipe:[1]' "$TMP/ck1"
assert_contains "$ERR" "fd 87 is not open" "--inherit-fd of a closed fd"

# --- a UNIX stream socket connected outside the tree: needs a replacement ---------------
setsid "$ZOO_BIN/zoo_peer" "$TMP" unix </dev/null >"$TMP/peer.out" 2>&1 &
track $!
wait_for "[ -S '$TMP/peer.sock' ]" 10 || fail "the peer does not listen: $(cat "$TMP/peer.out")"
pid=$(zoo_start unix_ext)
child=$pid
link=$(readlink "/proc/$pid/fd/3")
[[ $link =~ ^socket:\[([0-9]+)\]$ ]] || fail "fd 3 of unix_ext is $link"
ino=${BASH_REMATCH[1]}
expect_exit 0 "$CRPC_BIN" dump "$pid" "$TMP/ck-unix"
wait_gone "$pid" 10 || fail "PID $pid still exists after the dump"
# refused before CRIU runs, naming the socket and the remedy
expect_exit 1 "$CRPC_BIN" restore "$TMP/ck-unix"
assert_contains "$ERR" "UNIX socket inode $ino of the checkpoint" "restore of an external socket"
assert_contains "$ERR" "--inherit-fd 'fd[N]:socket:[$ino]'" "restore of an external socket: hint"
[ ! -e "$TMP/ck-unix/restore.log" ] || fail "the refused restore ran CRIU"
# without the checkpoint's options CRIU refuses it: the hint from its log names the socket too
expect_exit 1 "$CRPC_BIN" restore --no-checkpoint-options "$TMP/ck-unix"
assert_contains "$ERR" "External socket found in image" "restore --no-checkpoint-options of an external socket"
assert_contains "$ERR" "hint: UNIX socket inode $ino of the tree" "restore --no-checkpoint-options: hint"
assert_contains "$ERR" "--inherit-fd 'fd[N]:socket:[$ino]'" "restore --no-checkpoint-options: hint"
assert_not_contains "$ERR" "--external" "restore --no-checkpoint-options: hint"
wait_gone "$pid" 5 || fail "a failed restore left PID $pid"
# with a replacement (one end of a socketpair as fd 3) it is restored, holding that socket
/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/restore_inherit_socket.py" "$CRPC_BIN" "$TMP/ck-unix" "$ino" >"$TMP/replaced.out" 2>&1 ||
	fail "restore with --inherit-fd: $(cat "$TMP/replaced.out")"
replaced=$(sed -n 's/^inode //p' "$TMP/replaced.out")
[ "$(readlink "/proc/$pid/fd/3")" = "socket:[$replaced]" ] ||
	fail "restored fd 3 is $(readlink "/proc/$pid/fd/3"), not the replacement socket:[$replaced]"
