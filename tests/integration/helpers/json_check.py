#!/usr/bin/python3
# json_check.py FILE EXPR...: FILE holds one JSON value d for which every
# Python expression EXPR is true. Exits with the failed ones and the value.
import json, sys
d = json.load(open(sys.argv[1]))
bad = [e for e in sys.argv[2:] if not eval(e, {"d": d})]
if bad:
    sys.exit("failed: " + "; ".join(bad) + "\n" + json.dumps(d)[:3000])
