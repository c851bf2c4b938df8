#!/bin/bash
# Files crpc writes as root where others may have been first: a --trace FILE
# planted as a symlink to a file of root's, or a file another user owns, is
# refused and left as it was; an existing trace of root's own is made 0600,
# a new one is created 0600 whatever the umask. The shim's trace directory
# is never used through a symlink nor when others can write it (its files
# are pruned as root), and the session goes on without a trace.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/shim_lib.sh"

OTHER=4242 # a uid no test process runs as

echo "root's secret" >"$TMP/secret"
chmod 600 "$TMP/secret"

# --- a symlink planted where the trace goes
ln -s "$TMP/secret" "$TMP/x.jsonl"
chown -h "$OTHER:$OTHER" "$TMP/x.jsonl"
expect_exit 2 "$CRPC_BIN" version --no-config --trace "$TMP/x.jsonl"
assert_contains "$ERR" "refusing to write trace file $TMP/x.jsonl: it is a symbolic link" "crpc's message"
[ "$(cat "$TMP/secret")" = "root's secret" ] || fail "the symlink's target was written"

# --- a file another user owns (and could read back)
printf 'theirs\n' >"$TMP/theirs.jsonl"
chown "$OTHER:$OTHER" "$TMP/theirs.jsonl"
chmod 666 "$TMP/theirs.jsonl"
expect_exit 2 "$CRPC_BIN" version --no-config --trace "$TMP/theirs.jsonl"
assert_contains "$ERR" "it belongs to another user" "crpc's message"
[ "$(cat "$TMP/theirs.jsonl")" = theirs ] || fail "another user's file was written"

# --- a hard link to root's file
ln "$TMP/secret" "$TMP/linked.jsonl"
expect_exit 2 "$CRPC_BIN" version --no-config --trace "$TMP/linked.jsonl"
assert_contains "$ERR" "it has other hard links" "crpc's message"
[ "$(cat "$TMP/secret")" = "root's secret" ] || fail "a hard-linked file was written"

# --- a FIFO is refused at once, not waited on
mkfifo "$TMP/fifo.jsonl"
expect_exit 2 timeout 10 "$CRPC_BIN" version --no-config --trace "$TMP/fifo.jsonl"
assert_contains "$ERR" "it is not a regular file" "crpc's message"

# --- root's own world-writable trace: rewritten and made private
printf 'old\n' >"$TMP/own.jsonl"
chmod 666 "$TMP/own.jsonl"
expect_exit 0 "$CRPC_BIN" version --no-config --trace "$TMP/own.jsonl"
[ "$(stat -c %a "$TMP/own.jsonl")" = 600 ] || fail "an existing trace kept mode $(stat -c %a "$TMP/own.jsonl")"
grep -q '"type":"header"' "$TMP/own.jsonl" || fail "the trace was not written"
grep -qx old "$TMP/own.jsonl" && fail "the old contents were kept"

# --- a new trace under umask 000
(umask 000 && "$CRPC_BIN" version --no-config --trace "$TMP/new.jsonl" >/dev/null) || fail "crpc version --trace failed"
[ "$(stat -c %a "$TMP/new.jsonl")" = 600 ] || fail "a new trace has mode $(stat -c %a "$TMP/new.jsonl")"

# --- the shim's trace directory through a symlink: not pruned, not written
mkdir -p "$TMP/elsewhere"
for i in 1 2 3 4 5; do echo "$i" >"$TMP/elsewhere/crpc-shim-2026010${i}T000000.000000Z-$i-dump.trace"; done
rm -rf "$TRACES"
ln -s "$TMP/elsewhere" "$TRACES"
shim_config "  trace_max_files: 1"
expect_exit 0 "$CRPC_BIN" version --no-config --criu "$SHIM"
[ "$(find "$TMP/elsewhere" -type f | wc -l)" = 5 ] || fail "files behind a symlinked trace_dir were pruned or added"
CRPC_SHIM_VERBOSE=$TMP/v1.log expect_exit 0 "$CRPC_BIN" version --no-config --criu "$SHIM"
assert_contains "$(cat "$TMP/v1.log")" "refusing to use trace directory $TRACES: it is a symbolic link" \
	"the shim's warning"

# --- a trace directory others can write
rm "$TRACES"
mkdir -m 0777 "$TRACES"
chmod 0777 "$TRACES"
CRPC_SHIM_VERBOSE=$TMP/v2.log expect_exit 0 "$CRPC_BIN" version --no-config --criu "$SHIM"
assert_contains "$(cat "$TMP/v2.log")" "group or others can write it" "the shim's warning"
[ -z "$(ls "$TRACES")" ] || fail "a trace was written into a directory others can write"
note "ok"
