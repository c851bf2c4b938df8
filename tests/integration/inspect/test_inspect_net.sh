#!/bin/bash
# crpc inspect on connections: a TCP pair inside the tree and a TCP client of
# a server outside it, UNIX sockets inside, to an outside stream listener and
# to an outside named datagram socket, a pipe inside the tree and a pipe to a
# process outside: each fd's type, peer and peer PIDs, and the options and
# warnings of the verdict.
# shellcheck disable=SC2015,SC2016 # quoted code for other shells; A && B || fail
. "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3

cat >"$TMP/peers.py" <<'PYEOF'
import os, socket, sys, time

def ready(path, text):
    open(path + ".tmp", "w").write(text + "\n")
    os.rename(path + ".tmp", path)

mode, out = sys.argv[1], sys.argv[2]
keep = []
if mode == "tcp-server":          # outside the inspected tree
    l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(8)
    ready(out, "%d" % l.getsockname()[1])
    while True:
        c, _ = l.accept(); keep.append(c)
elif mode == "unix-server":       # outside: a stream listener and a named dgram socket
    l = socket.socket(socket.AF_UNIX); l.bind(sys.argv[3]); l.listen(8)
    d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d.bind(sys.argv[4])
    ready(out, "ok")
    while True:
        c, _ = l.accept(); keep.append(c)
elif mode == "tree":              # the inspected tree
    port, stream_path, dgram_path = int(sys.argv[3]), sys.argv[4], sys.argv[5]
    l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(8)
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(r)
        c = socket.create_connection(("127.0.0.1", l.getsockname()[1]))
        time.sleep(600); os._exit(0)
    os.close(w)
    a, _ = l.accept()
    ext = socket.create_connection(("127.0.0.1", port))
    pa, pb = socket.socketpair()
    us = socket.socket(socket.AF_UNIX); us.connect(stream_path)
    ud = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); ud.connect(dgram_path)
    keep += [l, a, ext, pa, pb, us, ud]
    fds = {"child": child, "listen": l.fileno(), "accepted": a.fileno(), "ext": ext.fileno(),
           "pa": pa.fileno(), "pb": pb.fileno(), "us": us.fileno(), "ud": ud.fileno(), "pipe_r": r, "pipe_w": w}
    ready(out, " ".join("%s=%s" % kv for kv in fds.items()))
    time.sleep(600)
PYEOF

# --- the peers outside the tree ---------------------------------------------------------
setsid $PY "$TMP/peers.py" tcp-server "$TMP/server.port" </dev/null >/dev/null 2>&1 &
server=$!
track "$server"
setsid $PY "$TMP/peers.py" unix-server "$TMP/userver.ready" "$TMP/stream.sock" "$TMP/dgram.sock" \
	</dev/null >/dev/null 2>&1 &
userver=$!
track "$userver"
wait_for "[ -s '$TMP/server.port' ] && [ -s '$TMP/userver.ready' ]" 10 || fail "servers did not start"
port=$(cat "$TMP/server.port")

# --- the tree: its stdout is a pipe to cat, outside the tree --------------------------------
setsid $PY "$TMP/peers.py" tree "$TMP/tree.fds" "$port" "$TMP/stream.sock" "$TMP/dgram.sock" \
	</dev/null 2>/dev/null | cat >/dev/null &
cat_pid=$!
track "$cat_pid"
wait_for "[ -s '$TMP/tree.fds' ]" 10 || fail "tree did not start"
declare -A F
read -r -a kvs <"$TMP/tree.fds"
for kv in "${kvs[@]}"; do F[${kv%%=*}]=${kv#*=}; done
# the tree's root: the process whose fds file we got, the parent of "child"
child=${F[child]}
track "$child"
root=$(awk '{ print $4 }' "/proc/$child/stat")
track "$root"
note "tree root $root, child $child; tcp server $server, unix server $userver, cat $cat_pid"

expect_exit 0 "$CRPC_BIN" inspect --json "$root"
echo "$OUT" >"$TMP/tree.json"
/usr/bin/python3 "$CRPC_SRC/tests/integration/helpers/json_assert.py" "$TMP/tree.json" --exit 0 \
	"[p['pid'] for p in d['processes']] == [$root, $child]" \
	"d['dumpable'] is True" || fail "tree: wrong processes"

# one python for the many checks; f(pid, fd) is fd of process pid
cat >"$TMP/check.py" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
env = dict(a.split("=", 1) for a in sys.argv[2:] if "=" in a)
root, child, server, userver, cat = (int(env[k]) for k in ("root", "child", "server", "userver", "cat"))
F = {k[2:]: int(v) for k, v in env.items() if k.startswith("F_")}
def proc(pid): return next(p for p in d["processes"] if p["pid"] == pid)
def f(pid, n): return next((x for x in proc(pid)["fds"] if x["fd"] == n), None)
opts = {o["option"]: o for o in d["options"] if o["option"] != "external"}
exts = [o for o in d["options"] if o["option"] == "external"]
warns = [w["warning"] for w in d["warnings"]]
checks = [
    # TCP inside the tree: the accepted connection and the child's client end point at each other
    ("listener", f(root, F["listen"])["type"] == "tcp" and f(root, F["listen"])["state"] == "LISTEN"
        and f(root, F["listen"])["peer"] == "none"),
    ("accepted", f(root, F["accepted"])["state"] == "ESTABLISHED" and f(root, F["accepted"])["peer"] == "inside"),
    ("child end", any(x["type"] == "tcp" and x["state"] == "ESTABLISHED" and x["peer"] == "inside"
        and x["inode"] == f(root, F["accepted"])["peer_inode"] for x in proc(child)["fds"])),
    ("family", f(root, F["accepted"])["family"] == "ipv4" and f(root, F["accepted"])["local"]["addr"] == "127.0.0.1"),
    # TCP to the server outside
    ("tcp outside", f(root, F["ext"])["peer"] == "outside" and f(root, F["ext"])["remote"]["port"] == int(env["port"])
        and server in f(root, F["ext"])["peer_pids"]),
    ("tcp_established", "tcp_established" in opts and opts["tcp_established"]["value"] is True
        and "TCP connection" in opts["tcp_established"]["reason"]),
    # UNIX socket pair inside
    ("socketpair", f(root, F["pa"])["type"] == "unix" and f(root, F["pa"])["sock_type"] == "stream"
        and f(root, F["pa"])["peer"] == "inside" and f(root, F["pa"])["peer_inode"] == f(root, F["pb"])["inode"]),
    # UNIX stream to an outside listener: an external unix[INODE] and a warning
    ("unix stream outside", f(root, F["us"])["peer"] == "outside" and userver in f(root, F["us"])["peer_pids"]),
    ("external", [o["value"] for o in exts] == ["unix[%d]" % f(root, F["us"])["inode"]]),
    ("unix-external warning", "unix-external" in warns),
    # UNIX datagram to an outside named socket: ext_unix_sk
    ("unix dgram outside", f(root, F["ud"])["sock_type"] == "dgram" and f(root, F["ud"])["peer"] == "outside"
        and f(root, F["ud"])["peer_name"].endswith("/dgram.sock")),
    ("ext_unix_sk", "ext_unix_sk" in opts and "dgram.sock" in opts["ext_unix_sk"]["reason"]),
    # a pipe inside the tree (child holds the write end) and stdout to cat outside
    ("pipe inside", f(root, F["pipe_r"])["type"] == "pipe" and f(root, F["pipe_r"])["peer"] == "inside"
        and f(root, F["pipe_r"])["access"] == "r"),
    ("pipe outside", f(root, 1)["type"] == "pipe" and f(root, 1)["peer"] == "outside" and cat in f(root, 1)["peer_pids"]
        and f(root, 1)["access"] == "w"),
    ("pipe-outside warning", "pipe-outside" in warns),
    ("no shell_job", "shell_job" not in opts),
]
bad = [name for name, ok in checks if not ok]
if bad:
    print("failed: " + ", ".join(bad))
    sys.exit(1)
PYEOF
args=(root="$root" child="$child" server="$server" userver="$userver" cat="$cat_pid" port="$port")
for k in "${!F[@]}"; do args+=("F_$k=${F[$k]}"); done
$PY "$TMP/check.py" "$TMP/tree.json" "${args[@]}" >"$TMP/check.out" 2>&1 ||
	fail "inspect of the tree: $(cat "$TMP/check.out")"

# the human output says the same
expect_exit 0 "$CRPC_BIN" inspect "$root"
assert_contains "$OUT" "peer inside: PID $child" "human output"
assert_contains "$OUT" "peer OUTSIDE: PID $server" "human output"
assert_contains "$OUT" "peer OUTSIDE: PID $userver" "human output"
assert_contains "$OUT" "peer OUTSIDE: PID $cat_pid" "human output"
assert_contains "$OUT" "Options crpc would use" "human output"
assert_contains "$OUT" "ext_unix_sk" "human output"
assert_contains "$OUT" "external=unix[" "human output"

# the child alone: its TCP peer and the pipe's read end are now outside
expect_exit 0 "$CRPC_BIN" inspect --json "$child"
echo "$OUT" >"$TMP/child.json"
json_assert "$TMP/child.json" --exit 0 \
	"[x['peer'] for x in d['processes'][0]['fds'] if x['type'] == 'tcp' and x['state'] == 'ESTABLISHED'] == ['outside']" \
	"$root in [x for f in d['processes'][0]['fds'] if f['type'] == 'tcp' and f['state'] == 'ESTABLISHED' for x in f['peer_pids']]" \
	"[(f['type'], f['access'], f['peer']) for f in d['processes'][0]['fds'] if f['fd'] == ${F[pipe_w]}] == [('pipe', 'w', 'outside')]" \
	"$root in [x for f in d['processes'][0]['fds'] if f['fd'] == ${F[pipe_w]} for x in f['peer_pids']]" \
	"'shell_job' in [o['option'] for o in d['options']]" ||
	fail "inspect of the child alone: wrong document"
