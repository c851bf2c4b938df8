#!/usr/bin/python3
# trace_check.py dump FILE PID: FILE, the --trace of a dump of PID, has a
# header, a CRIU line and every message to and from CRIU decoded, numbered
# 1..N: VERSION, one DUMP of PID, every notification answered with success
# (pre-dump and post-dump among them), a successful DUMP reply last.
# trace_check.py restore FILE PID DIR: FILE, the --trace of a restore of
# DIR, has its header and one successful RESTORE reply naming PID.
import json, sys


def dump():
    path, pid = sys.argv[1], int(sys.argv[2])
    lines = [json.loads(l) for l in open(path)]   # every line parses
    def need(cond, what):
        if not cond:
            print("dump trace:", what, file=sys.stderr)
            sys.exit(1)
    need(lines[0]["type"] == "header" and lines[0]["operation"] == "dump", "first line is not the header")
    need(lines[0]["target"] == str(pid), "header target")
    need(any(l["type"] == "criu" and l["version"] for l in lines), "no CRIU line")
    msgs = [l for l in lines if l["type"] == "message"]
    need([m["seq"] for m in msgs] == list(range(1, len(msgs) + 1)), "seq not 1..N")
    for m in msgs:
        need("decode_error" not in m, "undecoded message %r" % m)
        need(isinstance(m["since_prev_us"], int) and m["raw"], "missing since_prev_us/raw")
        need(m["message"] == ("criu_req" if m["dir"] == "to_criu" else "criu_resp"), "message kind")
    def find(d, t):
        return [m for m in msgs if m["dir"] == d and m["msg_type"] == t]
    need(find("to_criu", "VERSION") and find("from_criu", "VERSION"), "no VERSION request and reply")
    dreq = find("to_criu", "DUMP")
    need(len(dreq) == 1 and dreq[0]["fields"]["opts"]["pid"] == pid, "DUMP request with opts.pid")
    scripts = []
    for i, m in enumerate(msgs):
        if m["dir"] == "from_criu" and m["msg_type"] == "NOTIFY":
            scripts.append(m["fields"]["notify"]["script"])
            nxt = msgs[i + 1]
            need(nxt["dir"] == "to_criu" and nxt["msg_type"] == "NOTIFY" and
                 nxt["fields"].get("notify_success") is True, "NOTIFY not answered with success")
    need("pre-dump" in scripts and "post-dump" in scripts, "notifications: %r" % scripts)
    last = msgs[-1]
    need(last["dir"] == "from_criu" and last["msg_type"] == "DUMP" and last["fields"]["success"] is True,
         "last message is not a successful DUMP reply")


def restore():
    path, rpid, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    lines = [json.loads(l) for l in open(path)]
    h = lines[0]
    assert h["type"] == "header" and h["operation"] == "restore" and h["target"] == d, h
    msgs = [l for l in lines if l["type"] == "message"]
    assert all("decode_error" not in m for m in msgs)
    r = [m for m in msgs if m["dir"] == "from_criu" and m["msg_type"] == "RESTORE"]
    assert len(r) == 1 and r[0]["fields"]["success"] is True, r
    assert r[0]["fields"]["restore"]["pid"] == rpid, r[0]


mode = sys.argv.pop(1)
{"dump": dump, "restore": restore}[mode]()
