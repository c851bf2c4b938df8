#!/bin/bash
# Where a dump writes, as root: an existing DIR others could read is made
# private before the tree's memory goes into it (also a 1777 mount-point
# style directory, under umask 022); a DIR of another user is refused; a DIR
# holding anything but a crpc checkpoint or a dump's remains is refused
# (`crpc dump PID /`), and --force never removes a file crpc did not write;
# every file of a checkpoint ends up 0600 whatever the umask.
. "$(dirname "$0")/../lib.sh"

umask 022
pid=$(start_counter c)

# --- an existing 0755 DIR, and a 1777 one, end up 0700 with a notice
for mode in 0755 1777; do
	d=$TMP/dir-$mode
	mkdir "$d"
	chmod "$mode" "$d"
	expect_exit 0 "$CRPC_BIN" dump --no-config -R "$pid" "$d"
	assert_contains "$ERR" "made $d private (mode $mode -> 0700)" "the notice"
	[ "$(stat -c %a "$d")" = 700 ] || fail "$d has mode $(stat -c %a "$d") after the dump"
done

# --- every file of a checkpoint is private, in a new DIR and an existing one
expect_exit 0 "$CRPC_BIN" dump --no-config -R "$pid" "$TMP/new"
[ "$(stat -c %a "$TMP/new")" = 700 ] || fail "a new DIR has mode $(stat -c %a "$TMP/new")"
for d in "$TMP/new" "$TMP/dir-0755"; do
	open=$(find "$d" -type f -perm /077 -printf '%f %m\n')
	[ -z "$open" ] || fail "files of $d others can read or write: $open"
done

# --- a DIR of another user: refused before anything is written
mkdir "$TMP/theirs"
chown 4242 "$TMP/theirs"
expect_exit 2 "$CRPC_BIN" dump --no-config -R "$pid" "$TMP/theirs"
assert_contains "$ERR" "$TMP/theirs belongs to uid 4242" "crpc's message"
[ -z "$(ls -A "$TMP/theirs")" ] || fail "files were written into another user's DIR"

# --- a DIR with files that are not a checkpoint's: refused, nothing written
mkdir "$TMP/mixed"
echo data >"$TMP/mixed/notes.txt"
expect_exit 2 "$CRPC_BIN" dump --no-config -R "$pid" "$TMP/mixed"
assert_contains "$ERR" "holds 1 file that is not part of a crpc checkpoint (notes.txt)" "crpc's message"
[ "$(ls -A "$TMP/mixed")" = notes.txt ] || fail "files were written next to notes.txt: $(ls -A "$TMP/mixed")"

# --- / itself (the check runs before anything is touched)
before=$(ls -A / | wc -l)
expect_exit 2 "$CRPC_BIN" dump --no-config -R "$pid" /
assert_contains "$ERR" "that are not part of a crpc checkpoint" "crpc's message for /"
[ "$(ls -A / | wc -l)" = "$before" ] || fail "the dump into / wrote something there"

# --- --force over a checkpoint with a user's .img next to it: refused, the file kept
d=$TMP/dir-0755
echo disk >"$d/vm-disk.img"
expect_exit 2 "$CRPC_BIN" dump --no-config -R --force "$pid" "$d"
assert_contains "$ERR" "(vm-disk.img)" "crpc's message"
[ "$(cat "$d/vm-disk.img")" = disk ] || fail "--force removed or changed vm-disk.img"
rm "$d/vm-disk.img"
# ... and over crpc's own checkpoint it replaces it
expect_exit 0 "$CRPC_BIN" dump --no-config -R --force "$pid" "$d"
expect_exit 0 "$CRPC_BIN" show --verify "$d"
kill -0 "$pid" || fail "the counter is gone"
note "ok"
