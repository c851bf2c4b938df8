#!/bin/bash
# The shim when something goes wrong on either side; nothing hangs, the
# target keeps running and the error names what happened:
# - the client closes its socket in the middle of a dump (at pre-dump,
#   before anything is frozen, and at post-dump, with the target frozen):
#   the shim hangs up on CRIU, CRIU aborts and resumes the target, the shim
#   exits with CRIU;
# - CRIU is killed in the middle of a dump (by a hook, at pre-dump and at
#   post-dump): the client gets a failed reply saying CRIU was killed;
# - bytes from the client that are no criu_req (as its first message, and as
#   its answer to a notification): a failed reply naming the problem, the
#   session ends, a dump in flight aborts;
# - bytes from CRIU that are no criu_resp: forwarded unchanged (the client
#   reports them) and recorded in the trace as decode_error;
# - a message larger than the socket's default buffer still goes through;
# - a client that hangs up before any request: the shim exits 0, silently.
# shellcheck disable=SC2016 # quoted code for wait_for and the hooks' shell
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/shim_lib.sh"

FAKE=$CRPC_SRC/tests/helpers/fake-criu

pid=$(start_counter r)
track "$pid"
wait_for '[ "$(counter r)" -ge 2 ]' 10 || fail "counter does not count"

# --- the client hangs up mid-dump -------------------------------------------------------
for at in pre-dump post-dump; do
	mkdir "$TMP/close-$at"
	shim_client close-at "$at" "$pid" "$TMP/close-$at"
	echo "$CLIENT" >"$TMP/c.json"
	jcheck "$TMP/c.json" 'd["shim_exit"] != "timeout"' 'd["seconds"] < 20' \
		"d[\"replies\"][-1].get(\"notify\") == \"$at\"" 'd["stdout"] == ""' ||
		fail "client closing at $at: $CLIENT"
	grep -q "Running $at scripts" "$TMP/close-$at/dump.log" || fail "CRIU did not reach $at"
	grep -q "Dumping FAILED" "$TMP/close-$at/dump.log" || fail "CRIU did not fail the dump whose client left at $at"
	assert_running "$pid" r
done
grep -q "Seized task $pid" "$TMP/close-post-dump/dump.log" || fail "the target was not frozen at post-dump"

# --- CRIU killed mid-dump (by a hook: the shim's other child is CRIU) ---------------------
for at in pre-dump post-dump; do
	shim_config "hooks:" "  $at:" \
		"    - shell: 'for c in \$(cat /proc/\$PPID/task/*/children); do [ \$c = \$\$ ] || kill -9 \$c; done'"
	start=$(usec)
	expect_exit 1 "$CRPC_BIN" dump --no-config --criu "$SHIM" "$pid" "$TMP/kill-$at"
	note "CRIU killed at $at: $(head -n2 <<<"$ERR")"
	assert_contains "$ERR" "crpc shim: CRIU (" "client's error"
	assert_contains "$ERR" "was killed by signal 9 (SIGKILL) before it replied to the DUMP request" "client's error"
	assert_contains "$ERR" "is still running" "client's error"
	tail -n1 "$TMP/kill-$at/dump.log" | grep -q "^Error (crpc shim): CRIU (.*) was killed by signal 9" ||
		fail "CRIU's death is not at the end of its log: $(tail -n2 "$TMP/kill-$at/dump.log")"
	(($(usec) - start < 20000000)) || fail "the dump took too long after CRIU died"
	assert_running "$pid" r
done
shim_config

# --- a client that hangs up before any request ---------------------------------------------
# The CRIU the shim started ahead of the first request ends without a word
# (a CRIU reading EOF would print an error on the client's stderr).
shim_client hangup
echo "$CLIENT" >"$TMP/c.json"
jcheck "$TMP/c.json" 'd["shim_exit"] == 0' 'd["replies"] == []' 'd["stdout"] == ""' ||
	fail "client hanging up before a request: $CLIENT"
[ ! -s "$TMP/client.err" ] || fail "a session without a request printed: $(cat "$TMP/client.err")"
no_strays

# --- bytes from the client that are no criu_req -------------------------------------------
shim_client garbage
echo "$CLIENT" >"$TMP/c.json"
jcheck "$TMP/c.json" 'd["shim_exit"] == 1' 'd["seconds"] < 10' 'd["replies"][0]["success"] is False' \
	'"not a valid criu_req" in d["replies"][0]["errmsg"]' 'd["replies"][1] == {"eof": True}' ||
	fail "garbage from the client: $CLIENT"
t=$(ls -t "$TRACES"/*.trace | head -n1)
grep -q '"dir":"to_criu".*"decode_error"' "$t" || fail "the client's garbage is not in the trace as decode_error"

# ... as the answer to a notification, with the target frozen
mkdir "$TMP/garbage-ack"
shim_client garbage-ack post-dump "$pid" "$TMP/garbage-ack"
echo "$CLIENT" >"$TMP/c.json"
jcheck "$TMP/c.json" 'd["shim_exit"] != "timeout"' 'd["seconds"] < 20' \
	'd["replies"][-2]["type"] == 1 and d["replies"][-2]["success"] is False' \
	'"not a valid criu_req" in d["replies"][-2]["errmsg"]' || fail "garbage answer: $CLIENT"
grep -q "Dumping FAILED" "$TMP/garbage-ack/dump.log" || fail "the dump went on after a garbage answer"
assert_running "$pid" r

# --- a real CRIU that cannot be executed: the client is told, the shim ends with 3 ------------
printf '#!%s/no-interpreter\n' "$TMP" >"$TMP/criu-badinterp"
chmod 0755 "$TMP/criu-badinterp"
CRPC_CRIU=$TMP/criu-badinterp expect_exit 3 "$CRPC_BIN" version --no-config --criu "$SHIM"
assert_contains "$ERR" "cannot start CRIU $TMP/criu-badinterp" "the client's error when CRIU cannot be executed"

# --- bytes from CRIU that are no criu_resp: passed on as they are -------------------------
CRPC_CRIU=$FAKE CRPC_FAKE_MODE=garbage-version expect_exit 3 "$CRPC_BIN" version --no-config --criu "$SHIM"
assert_contains "$ERR" "not a valid criu_resp" "crpc's error about CRIU's garbage"
t=$(ls -t "$TRACES"/*.trace | head -n1)
grep -q '"dir":"from_criu".*"decode_error"' "$t" || fail "CRIU's garbage is not in the trace as decode_error"
grep -q '"raw":"//////8="' "$t" || fail "CRIU's garbage bytes are not in the trace"

# --- a reply larger than a socket buffer -----------------------------------------------
CRPC_CRIU=$FAKE CRPC_FAKE_MODE=oversize expect_exit 1 timeout 30 "$CRPC_BIN" dump --no-config --no-auto \
	--criu "$SHIM" --leave-running "$pid" "$TMP/oversize"
assert_contains "$ERR" "524296-byte message" "crpc's error about the oversized reply"
assert_running "$pid" r

no_strays
