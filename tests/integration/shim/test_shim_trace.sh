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

# --- CRIU's VERSION reply: remembered, then given without starting CRIU ------------------------
criu_ver=$("$CRPC_CRIU" --version | sed -n 's/^Version: //p')
# newest_trace: the trace of the last session
newest_trace() { ls -t "$TRACES"/*-version.trace | head -n1; }
# bare_version: a VERSION session as runc and podman hold it (no keep_open)
bare_version() { shim_client version; }
forget_version
session
t=$(newest_trace)
sed -n 2p "$t" | grep -q '"type":"criu".*"version":null' || fail "a first session's trace names a CRIU version: $(sed -n 2p "$t")"
grep -q '"event":"version-remembered"' "$t" && fail "the first VERSION was not CRIU's: $t"
expect_exit 0 "$CRPC_BIN" trace show "$t"
assert_contains "$OUT" "CRIU $criu_ver at " "trace show of a VERSION session (from the reply)"
[ -f "$REMEMBERED" ] || fail "the shim did not remember CRIU's VERSION reply ($REMEMBERED)"
[ "$(stat -c '%u %a' "$REMEMBERED")" = "0 600" ] || fail "$REMEMBERED is not root's 0600: $(stat -c '%u %a' "$REMEMBERED")"
head -n1 "$REMEMBERED" | grep -q '^crpc-swrk-version 1 ' || fail "unexpected record: $(head -n1 "$REMEMBERED")"
# later sessions: the same reply, byte for byte, and no CRIU started
bare_version
echo "$CLIENT" >"$TMP/c.json"
jcheck "$TMP/c.json" 'd["shim_exit"] == 0' 'd["replies"][0]["success"]' 'd["criu_started"] == []' ||
	fail "a remembered VERSION session: $CLIENT"
remembered_raw=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["raw"][0])' "$TMP/c.json")
t=$(newest_trace)
grep -q '"event":"version-remembered"' "$t" || fail "the trace does not say the reply was remembered: $t"
sed -n 2p "$t" | grep -q "\"type\":\"criu\".*\"version\":\"$criu_ver\"" ||
	fail "a later session's trace does not name CRIU $criu_ver: $(sed -n 2p "$t")"
forget_version
bare_version
echo "$CLIENT" >"$TMP/c.json"
jcheck "$TMP/c.json" 'd["shim_exit"] == 0' "d['raw'][0] == '$remembered_raw'" 'len(d["criu_started"]) == 1' ||
	fail "CRIU's own reply differs from the remembered one, or CRIU was not started: $CLIENT"
session # keep_open: answered, CRIU started ahead for what may follow, ended with the session
grep -q '"event":"version-remembered"' "$(newest_trace)" || fail "a keep_open VERSION was not answered from the record"
# a record that does not fit is not used (and is rewritten by the next real reply):
# another binary at the same path, a record others could write, one that is no VERSION reply
cp "$REMEMBERED" "$TMP/good"
sed -i '1s/^crpc-swrk-version 1 [0-9]* /crpc-swrk-version 1 1 /' "$REMEMBERED"
bare_version
grep -q '"event":"version-remembered"' "$(newest_trace)" && fail "a reply remembered for another binary was used"
cmp -s "$TMP/good" "$REMEMBERED" || fail "the record of another binary was not replaced by CRIU's reply"
chmod 0622 "$REMEMBERED"
bare_version
grep -q '"event":"version-remembered"' "$(newest_trace)" && fail "a record writable by others was used"
{ head -n1 "$TMP/good"; printf 'xxxxxxxxxxxx'; } | head -c "$(stat -c %s "$TMP/good")" >"$REMEMBERED"
chmod 0600 "$REMEMBERED"
bare_version
grep -q '"event":"version-remembered"' "$(newest_trace)" && fail "a record that is no VERSION reply was used"
cmp -s "$TMP/good" "$REMEMBERED" || fail "a broken record was not replaced"
rm -f "$REMEMBERED"
ln -s "$TMP/good" "$REMEMBERED"
bare_version
grep -q '"event":"version-remembered"' "$(newest_trace)" && fail "a symlinked record was used"
no_strays

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
