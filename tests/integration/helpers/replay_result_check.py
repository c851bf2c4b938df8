#!/usr/bin/python3
# replay_result_check.py RECORDED REPLAY: the --json result of a recorded dump
# (RECORDED) and that of its replay (the client_stdout of `crpc trace replay
# --json`, REPLAY) agree, but for the statistics no CRIU wrote this time.
import json, sys
rec = json.load(open(sys.argv[1]))
rep = json.loads(json.load(open(sys.argv[2]))["client_stdout"])
for k in ("ok", "operation", "pid", "command", "leave_running", "notifications"):
    assert rec[k] == rep[k], (k, rec[k], rep[k])
assert rec["criu"]["version"] == rep["criu"]["version"], (rec["criu"], rep["criu"])
assert rep["stats"] is None and rec["stats"] is not None  # no CRIU wrote statistics this time
