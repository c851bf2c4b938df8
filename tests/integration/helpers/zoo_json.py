#!/usr/bin/python3
"""zoo_json.py FILE EXPR...: checks over a crpc JSON document for the
test_zoo_* tests. Every EXPR is a Python expression over the document `d`
that must be true; these helpers can be used in them:

  procs()          the processes of an inspect document
  proc(pid)        one process
  fds(pid)         the fds of process pid
  fd(pid, n)       fd n of process pid (None when absent)
  opts()           the option names of an inspect document
  opt(name)        the option entries named name
  warn(name)       the warnings named name
  auto(name)       the "auto" entries of a dump document named name

Exits 1 with the failed expressions and the document on stderr.
"""
import json
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the helpers
from json_assert import load, untrue  # noqa: E402 (after the line above)


def main():
    path, exprs = sys.argv[1], sys.argv[2:]
    text, d = load(path)

    def procs():
        return d.get("processes", [])

    def proc(pid):
        return next((p for p in procs() if p["pid"] == pid), None)

    def fds(pid):
        p = proc(pid)
        return p["fds"] if p else []

    def fd(pid, n):
        return next((f for f in fds(pid) if f["fd"] == n), None)

    def opts():
        return [o["option"] for o in d.get("options", [])]

    def opt(name):
        return [o for o in d.get("options", []) if o["option"] == name]

    def warn(name):
        return [w for w in d.get("warnings", []) if w["warning"] == name]

    def auto(name):
        return [o for o in d.get("auto", []) if o["option"] == name]

    env = {"d": d, "procs": procs, "proc": proc, "fds": fds, "fd": fd, "opts": opts,
           "opt": opt, "warn": warn, "auto": auto}
    problems = untrue(exprs, env)
    if problems:
        summary = {k: d[k] for k in ("options", "warnings", "blockers", "auto", "error") if k in d}
        sys.exit("%s:\n  %s\nof which:\n%s\ndocument:\n%s" % (
            path, "\n  ".join(problems), json.dumps(summary, indent=1), text[:6000]))


main()
