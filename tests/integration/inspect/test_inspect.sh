#!/bin/bash
# crpc inspect: a process that does not exist, a kernel thread, a zombie, a
# thread id, usage errors, the document of a small tree (stopped and traced
# tasks included), and processes that exit while they are inspected: always a
# clear answer (exit 0 or 1 with a reason), never a crash.
# shellcheck disable=SC2015,SC2016 # quoted code for other shells; A && B || fail
. "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3

# --- a PID that does not exist ----------------------------------------------------
nopid=30000
while [ -e "/proc/$nopid" ]; do nopid=$((nopid + 1)); done
expect_exit 1 "$CRPC_BIN" inspect "$nopid"
assert_contains "$ERR" "no such process" "inspect of a missing PID"
assert_contains "$ERR" "ESRCH" "inspect of a missing PID"
expect_exit 1 "$CRPC_BIN" inspect --json "$nopid"
echo "$OUT" >"$TMP/nopid.json"
json_assert "$TMP/nopid.json" --exit 1 "d['error']['cause'] == 'no-process'" \
	"d['error']['errno_name'] == 'ESRCH'" "d['pid'] == $nopid" ||
	fail "inspect --json of a missing PID: wrong document"

# --- usage errors -------------------------------------------------------------------
expect_exit 2 "$CRPC_BIN" inspect
assert_contains "$ERR" "missing PID"
expect_exit 2 "$CRPC_BIN" inspect 12ab
expect_exit 2 "$CRPC_BIN" inspect 1 2
expect_exit 2 "$CRPC_BIN" inspect --no-such-option 1
expect_exit 0 "$CRPC_BIN" inspect --help
assert_contains "$OUT" "Usage: crpc inspect"

# --- a kernel thread ----------------------------------------------------------------------
if kt=$(kernel_thread); then
	expect_exit 1 "$CRPC_BIN" inspect "$kt"
	assert_contains "$OUT" "kernel-thread" "inspect $kt"
	assert_contains "$OUT" "kernel thread" "inspect $kt"
	assert_contains "$OUT" "cannot be checkpointed" "inspect $kt"
	expect_exit 1 "$CRPC_BIN" inspect --json "$kt"
	echo "$OUT" >"$TMP/kthread.json"
	json_assert "$TMP/kthread.json" "d['ok'] is True" "d['dumpable'] is False" \
		"[b['blocker'] for b in d['blockers']] == ['kernel-thread']" \
		"d['processes'][0]['kernel_thread'] is True" "len(d['processes']) == 1" ||
		fail "inspect --json $kt: wrong document"
else
	note "no kernel thread visible here (a PID namespace of its own): not inspected"
fi

# --- a zombie ---------------------------------------------------------------------------------
# a parent that never reaps its child
setsid $PY -c '
import os, sys, time
c = os.fork()
if c == 0:
    os._exit(0)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % c)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
' "$TMP/zombie.pid" </dev/null >/dev/null 2>&1 &
zparent=$!
track "$zparent"
wait_for "[ -s '$TMP/zombie.pid' ]" 10 || fail "zombie maker did not start"
zpid=$(cat "$TMP/zombie.pid")
wait_for "[ \"\$(proc_state $zpid)\" = Z ]" 10 || fail "PID $zpid did not become a zombie"
expect_exit 1 "$CRPC_BIN" inspect "$zpid"
assert_contains "$OUT" "zombie-root" "inspect of a zombie"
assert_contains "$OUT" "is a zombie" "inspect of a zombie"
expect_exit 1 "$CRPC_BIN" inspect --json "$zpid"
echo "$OUT" >"$TMP/zombie.json"
json_assert "$TMP/zombie.json" "d['dumpable'] is False" "'zombie-root' in [b['blocker'] for b in d['blockers']]" \
	"d['processes'][0]['zombie'] is True" "d['processes'][0]['state'] == 'Z'" ||
	fail "inspect --json of a zombie: wrong document"
# its parent, with the zombie child inside the tree, is dumpable
expect_exit 0 "$CRPC_BIN" inspect --json "$zparent"
echo "$OUT" >"$TMP/zparent.json"
json_assert "$TMP/zparent.json" --exit 0 "d['dumpable'] is True" \
	"[p['pid'] for p in d['processes']] == [$zparent, $zpid]" "d['processes'][1]['zombie'] is True" ||
	fail "inspect of the zombie's parent: wrong document"

# --- a thread id is not a process ---------------------------------------------------------------
setsid $PY -c '
import sys, threading, time, os
t = threading.Thread(target=time.sleep, args=(600,), daemon=True)
t.start()
open(sys.argv[1] + ".tmp", "w").write("%d\n" % t.native_id)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
' "$TMP/thread.tid" </dev/null >/dev/null 2>&1 &
tproc=$!
track "$tproc"
wait_for "[ -s '$TMP/thread.tid' ]" 10 || fail "threaded process did not start"
tid=$(cat "$TMP/thread.tid")
expect_exit 2 "$CRPC_BIN" inspect "$tid"
assert_contains "$ERR" "is a thread of process $tproc"

# --- a small tree: parent, children, a stopped and a traced one --------------------------------
setsid $PY -c '
import ctypes, os, signal, sys, time
kids = []
for i in range(2):
    c = os.fork()
    if c == 0:
        time.sleep(600)
        os._exit(0)
    kids.append(c)
c = os.fork()
if c == 0:
    # traced by its parent, which never waits for it
    ctypes.CDLL(None, use_errno=True).ptrace(0, 0, None, None)
    time.sleep(600)
    os._exit(0)
kids.append(c)
open(sys.argv[1] + ".tmp", "w").write(" ".join(map(str, kids)) + "\n")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
' "$TMP/tree.kids" </dev/null >/dev/null 2>&1 &
root=$!
track "$root"
wait_for "[ -s '$TMP/tree.kids' ]" 10 || fail "tree did not start"
read -r k1 k2 k3 <"$TMP/tree.kids"
track "$k1" "$k2" "$k3"
kill -STOP "$k2"
wait_for "[ \"\$(proc_state $k2)\" = T ]" 10 || fail "PID $k2 did not stop"
expect_exit 1 "$CRPC_BIN" inspect --json "$root"
echo "$OUT" >"$TMP/tree.json"
json_assert "$TMP/tree.json" "d['ok'] is True" "d['dumpable'] is False" \
	"[p['pid'] for p in d['processes']] == [$root, $k1, $k2, $k3]" \
	"all(p['ppid'] == $root for p in d['processes'][1:])" \
	"d['processes'][0]['sid'] == $root" \
	"d['processes'][2]['stopped'] is True and d['processes'][2]['state'] == 'T'" \
	"d['processes'][3]['traced'] is True and d['processes'][3]['tracer_pid'] == $root" \
	"[b['blocker'] for b in d['blockers']] == ['traced']" \
	"d['blockers'][0]['pid'] == $k3" \
	"'stopped' in [w['warning'] for w in d['warnings']]" \
	"[f['type'] for f in d['processes'][0]['fds'] if f['fd'] == 0] == ['device']" \
	"d['n_processes'] == 4 and d['n_threads'] >= 4" \
	"d['memory']['rss_bytes'] > 0" \
	"isinstance(d['processes'][0]['cgroups'], list) and d['namespaces'] == []" ||
	fail "inspect --json of a tree: wrong document"
expect_exit 1 "$CRPC_BIN" inspect "$root"
assert_contains "$OUT" "traced by PID $root" "human output"
assert_contains "$OUT" "Blockers" "human output"
assert_contains "$OUT" "cannot be checkpointed (1 blocker)" "human output"
# without the traced child the tree is dumpable (exit 0)
kill -KILL "$k3"
wait_for "[ \"\$(proc_state $k3)\" = Z ] || [ ! -e /proc/$k3 ]" 10 || fail "traced child does not end"
kill -CONT "$k2"
expect_exit 0 "$CRPC_BIN" inspect "$k1"
assert_contains "$OUT" "can be checkpointed" "inspect of a child"
assert_contains "$OUT" "shell_job" "inspect of a child that is not a session leader"

# --- processes that exit while they are inspected --------------------------------------------------
# a root whose children come and go all the time: always exit 0 and a full document
setsid bash -c 'while :; do /bin/true & /bin/true & sleep 0.002; wait; done' </dev/null >/dev/null 2>&1 &
churn=$!
track "$churn"
for i in $(seq 50); do
	rc=0
	"$CRPC_BIN" inspect --json "$churn" >"$TMP/churn.$i.json" 2>"$TMP/churn.err" || rc=$?
	[ "$rc" -eq 0 ] || fail "run $i: inspect of a churning tree exited $rc: $(cat "$TMP/churn.err")"
done
# roots that exit while inspected: exit 0 (inspected before it exited), or 1
# with ESRCH ("no such process") or with a zombie-root blocker
outcomes=""
for i in $(seq 50); do
	setsid sleep "$((i * 2 / 1000)).$(printf %03d $((i * 2 % 1000)))" &
	sp=$!
	rc=0
	"$CRPC_BIN" inspect --json "$sp" >"$TMP/exit.$i.json" 2>"$TMP/exit.$i.err" || rc=$?
	case $rc in
	0 | 1) ;;
	*) fail "run $i: inspect of an exiting process exited $rc: $(cat "$TMP/exit.$i.err")" ;;
	esac
	echo "$i $sp $rc" >>"$TMP/exit.runs"
	outcomes+=" $rc"
	wait "$sp" 2>/dev/null || true
done
# one python for all the documents
$PY - "$TMP" "$churn" <<'PYEOF' >"$TMP/race.out" || fail "race documents: $(cat "$TMP/race.out")"
import json, sys
tmp, churn = sys.argv[1], int(sys.argv[2])
bad, gone = [], 0
for i in range(1, 51):
    d = json.load(open("%s/churn.%d.json" % (tmp, i)))
    if not (d["ok"] is True and d["dumpable"] is True and d["processes"][0]["pid"] == churn):
        bad.append("churn run %d: %r" % (i, d.get("blockers")))
    gone += any(p["gone"] for p in d["processes"])
kinds = {}
for line in open(tmp + "/exit.runs"):
    i, pid, rc = map(int, line.split())
    d = json.load(open("%s/exit.%d.json" % (tmp, i)))
    err = open("%s/exit.%d.err" % (tmp, i)).read()
    if rc == 0:
        ok = d["ok"] is True and d["pid"] == pid
        kind = "inspected"
    elif d["ok"] is False:
        e = d["error"]
        ok = e["cause"] == "no-process" and e["errno_name"] == "ESRCH" and "no such process" in err \
            and e["exit_code"] == 1
        kind = "ESRCH"
    else:
        ok = [b["blocker"] for b in d["blockers"]] == ["zombie-root"]
        kind = "zombie"
    if not ok:
        bad.append("exit run %d (rc %d): %s %s" % (i, rc, json.dumps(d)[:400], err))
    kinds[kind] = kinds.get(kind, 0) + 1
print("churn: %d of 50 saw a process exit meanwhile; exiting roots: %s" % (gone, kinds))
if bad:
    print("\n".join(bad))
    sys.exit(1)
PYEOF
note "$(cat "$TMP/race.out")"
note "exiting roots, exit codes:$outcomes"
