#!/bin/bash
# The shim's traces stay bounded: at most trace_max_files files (the oldest
# go first), at most trace_max_total bytes, and one file stops at
# trace_max_file_size with a last {"type":"truncated"} line. A failure
# reply the shim writes itself is recorded as a "shim-reply" event. A trace
# directory that cannot be written costs the trace only; trace: false
# writes none. Verbose lines go where $CRPC_SHIM_VERBOSE says, never to
# stdout.
# shellcheck disable=SC2016 # quoted code for wait_for
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/shim_lib.sh"

FAKE=$CRPC_SRC/tests/helpers/fake-criu

# session: one VERSION session through the shim (crpc version as the client)
session() {
	expect_exit 0 "$CRPC_BIN" version --no-config --criu "$SHIM"
	assert_contains "$OUT" "CRIU 4" "crpc version through the shim"
}

# --- at most trace_max_files, the newest kept ------------------------------------------------
shim_config "  trace_max_files: 3"
for i in 1 2 3 4 5; do session; done
ls "$TRACES" >"$TMP/all"
[ "$(wc -l <"$TMP/all")" -eq 3 ] || fail "expected 3 traces, got: $(cat "$TMP/all")"
grep -q -- '-version\.trace$' "$TMP/all" || fail "trace names lack the operation: $(cat "$TMP/all")"
newest=$(tail -n1 "$TMP/all")
session
ls "$TRACES" >"$TMP/all2"
[ "$(wc -l <"$TMP/all2")" -eq 3 ] || fail "expected 3 traces after one more session"
grep -qx -- "$newest" "$TMP/all2" || fail "the newest trace $newest was removed"
grep -qx -- "$(head -n1 "$TMP/all")" "$TMP/all2" && fail "the oldest trace was kept"

# --- the CRIU version: from the session's own VERSION reply, then remembered ---------------------
criu_ver=$("$CRPC_CRIU" --version | sed -n 's/^Version: //p')
rm -f "$TRACES/.criu-version"
session
t=$(ls -t "$TRACES"/*-version.trace | head -n1)
sed -n 2p "$t" | grep -q '"type":"criu".*"version":null' || fail "a first session's trace names a CRIU version: $(sed -n 2p "$t")"
expect_exit 0 "$CRPC_BIN" trace show "$t"
assert_contains "$OUT" "CRIU $criu_ver at " "trace show of a VERSION session (from the reply)"
grep -q " $criu_ver\$" "$TRACES/.criu-version" || fail "the shim did not remember CRIU's version"
session
t=$(ls -t "$TRACES"/*-version.trace | head -n1)
sed -n 2p "$t" | grep -q "\"type\":\"criu\".*\"version\":\"$criu_ver\"" ||
	fail "a later session's trace does not name CRIU $criu_ver: $(sed -n 2p "$t")"
# another binary at the same path: the remembered version is not used
sed -i 's/^[0-9]* /1 /' "$TRACES/.criu-version"
session
t=$(ls -t "$TRACES"/*-version.trace | head -n1)
sed -n 2p "$t" | grep -q '"version":null' || fail "a version remembered for another binary was used"

# files the shim did not write are never touched
echo keep >"$TRACES/notes.txt"

# --- at most trace_max_total bytes ----------------------------------------------------------
shim_config "  trace_max_total: 8K" "  trace_max_file_size: 4K"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do session; done
total=$(cat "$TRACES"/crpc-shim-*.trace | wc -c)
note "12 sessions: $(find "$TRACES" -name 'crpc-shim-*' | wc -l) traces, $total bytes"
[ "$total" -le 8192 ] || fail "traces hold $total bytes, more than trace_max_total 8K"
[ "$(cat "$TRACES/notes.txt")" = keep ] || fail "a file that is no shim trace was touched"

# --- one file stops at trace_max_file_size ----------------------------------------------------
pid=$(start_counter t)
track "$pid"
CRPC_CRIU=$FAKE CRPC_FAKE_MODE=oversize expect_exit 1 timeout 30 "$CRPC_BIN" dump --no-config --no-auto \
	--criu "$SHIM" --leave-running "$pid" "$TMP/big"
t=$(ls -t "$TRACES"/*-dump.trace | head -n1)
size=$(stat -c %s "$t")
note "trace of the oversized reply: $size bytes"
[ "$size" -le $((4096 + 512)) ] || fail "$t has $size bytes, past trace_max_file_size 4K"
tail -n1 "$t" >"$TMP/last.json"
jcheck "$TMP/last.json" 'd["type"] == "truncated"' 'd["limit_bytes"] == 4096' ||
	fail "the last line of $t is not the truncated line"
grep -q '"msg_type":"DUMP"' "$t" || fail "the DUMP request is missing before the cut"

# --- a failure reply the shim writes itself is an event of the trace ---------------------------
shim_config
shim_client garbage
t=$(ls -t "$TRACES"/*-empty.trace | head -n1)
grep -q '"type":"event".*"event":"shim-reply","callback":null,"text":"EMPTY: crpc shim: the client sent a 4-byte message that is not a valid criu_req' "$t" ||
	fail "no shim-reply event in $t: $(cat "$t")"
expect_exit 0 "$CRPC_BIN" trace show "$t"
grep -q '^!! .* ms  \*\* shim reply to the client: EMPTY: crpc shim: the client sent' <<<"$OUT" ||
	fail "trace show does not mark the shim's own reply: $OUT"

# --- a trace directory that cannot be written ----------------------------------------------
shim_config
sed -i "s|trace_dir: .*|trace_dir: /proc/crpc-no-such-dir/traces|" "$SHIM_CONFIG"
session
[ "$(wc -l <<<"$OUT")" -eq 2 ] || fail "unexpected output of a client whose shim cannot trace: $OUT"
[ ! -e /proc/crpc-no-such-dir ] || fail "the trace directory appeared"
# a dump still works too
expect_exit 0 "$CRPC_BIN" dump --no-config --criu "$SHIM" --leave-running "$pid" "$TMP/no-trace"

# --- trace: false --------------------------------------------------------------------------------
rm -rf "$TRACES"
shim_config "  trace: false"
session
[ ! -e "$TRACES" ] || fail "trace: false still wrote $(ls "$TRACES")"

# --- verbose: into a file; to stderr only when asked -----------------------------------------
CRPC_SHIM_VERBOSE=$TMP/v.log session
grep -q -- '-> VERSION keep_open' "$TMP/v.log" || fail "no message line in the verbose file: $(cat "$TMP/v.log")"
grep -q -- '<- VERSION ok version=' "$TMP/v.log" || fail "no reply line in the verbose file"
[ "$(stat -c %a "$TMP/v.log")" = 600 ] || fail "the verbose file is $(stat -c %a "$TMP/v.log"), not 0600"
# a symlink planted where the file goes is not followed; another user's file is not written
echo untouched >"$TMP/v-target"
ln -s "$TMP/v-target" "$TMP/v-link"
CRPC_SHIM_VERBOSE=$TMP/v-link session
[ "$(cat "$TMP/v-target")" = untouched ] || fail "the shim wrote its verbose lines through a symlink"
touch "$TMP/v-nobody"
chown nobody "$TMP/v-nobody"
CRPC_SHIM_VERBOSE=$TMP/v-nobody session
[ ! -s "$TMP/v-nobody" ] || fail "the shim wrote its verbose lines into another user's file"
# the shim run by hand: verbose lines on its stderr, stdout untouched
CRPC_SHIM_VERBOSE=1 shim_client workdir "$pid" "$(mkdir -p "$TMP/v1" && echo "$TMP/v1")" "$TMP/v1"
grep -q -- '-> DUMP' "$TMP/client.err" || fail "CRPC_SHIM_VERBOSE=1 printed no message line on stderr: $(cat "$TMP/client.err")"
echo "$CLIENT" >"$TMP/c.json"
jcheck "$TMP/c.json" 'd["stdout"] == ""' || fail "the verbose shim wrote to stdout"
shim_client workdir "$pid" "$(mkdir -p "$TMP/v2" && echo "$TMP/v2")" "$TMP/v2"
[ ! -s "$TMP/client.err" ] || fail "the shim wrote to stderr without verbose: $(cat "$TMP/client.err")"

no_strays
