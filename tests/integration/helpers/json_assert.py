#!/usr/bin/python3
"""json_assert.py FILE [--exit CODE] [EXPR...]

Checks that FILE holds exactly one JSON document, an object with a boolean
"ok", and that every EXPR (a Python expression over the document `d`) is
true. With --exit CODE, also checks the document matches that exit code of
crpc: for 0, "ok" is true and there is no "error"; otherwise "ok" is false
and "error" has all its keys, a message and exit_code == CODE.
One process for many checks: python starts slowly on small machines.
Exits 1 with the reasons on stderr when a check fails.
"""
import json
import sys

ERROR_KEYS = ("operation", "message", "errno", "errno_name", "errno_text", "criu_errno",
              "criu_errmsg", "log_file", "log_excerpt", "hint", "cause", "exit_code")


def load(path):
    """FILE's text and its JSON document; exits with the reason when FILE
    does not hold exactly one."""
    text = open(path, encoding="utf-8").read()
    try:
        return text, json.loads(text)  # refuses anything after the document
    except ValueError as e:
        sys.exit("%s: not one JSON document (%s):\n%s" % (path, e, text[:2000]))


def untrue(exprs, env):
    """A problem ("not true: EXPR") for every expression of exprs that is
    not true when evaluated with the names of env; one that raises is not."""
    problems = []
    for expr in exprs:
        try:
            ok = eval(expr, env)
        except Exception as e:  # a missing key is a failed check
            ok = False
            expr += "  (%s: %s)" % (type(e).__name__, e)
        if not ok:
            problems.append("not true: " + expr)
    return problems


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit("usage: json_assert.py FILE [--exit CODE] [EXPR...]")
    path, args = args[0], args[1:]
    code = None
    if args[:1] == ["--exit"]:
        code, args = int(args[1]), args[2:]
    text, d = load(path)
    problems = []
    if not isinstance(d, dict):
        problems.append("not a JSON object")
    elif not isinstance(d.get("ok"), bool):
        problems.append('no boolean "ok"')
    elif code is not None:
        if code == 0:
            if d["ok"] is not True:
                problems.append("exit 0 but ok is not true")
            if "error" in d:
                problems.append("exit 0 but an error")
        else:
            e = d.get("error")
            if d["ok"] is not False:
                problems.append("exit %d but ok is not false" % code)
            if not isinstance(e, dict):
                problems.append('no "error" object')
            else:
                missing = [k for k in ERROR_KEYS if k not in e]
                if missing:
                    problems.append("error lacks %s" % ", ".join(missing))
                if e.get("exit_code") != code:
                    problems.append("error.exit_code is %r, not %d" % (e.get("exit_code"), code))
                if not e.get("message"):
                    problems.append("empty error.message")
    if not problems:
        problems = untrue(args, {"d": d})
    if problems:
        sys.exit("%s:\n  %s\ndocument:\n%s" % (path, "\n  ".join(problems), text[:3000]))


if __name__ == "__main__":
    main()
