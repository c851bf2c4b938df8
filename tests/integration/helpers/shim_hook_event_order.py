#!/usr/bin/python3
# shim_hook_event_order.py SHOW_JSON: in `crpc trace show --json` of a shim
# trace, the hook-failed event comes after CRIU's post-dump notification and
# before the failed answer to it.
import json, sys
d = json.load(open(sys.argv[1]))
ev = [e["line"] for e in d["events"] if e["event"] == "hook-failed"][0]
note = [m["line"] for m in d["messages"] if m["dir"] == "from_criu" and m.get("fields", {}).get("notify", {}).get("script") == "post-dump"][0]
ack = [m["line"] for m in d["messages"] if m["dir"] == "to_criu" and m.get("fields", {}).get("notify_success") is False][0]
sys.exit(0 if note < ev < ack else "order: notify %d event %d ack %d" % (note, ev, ack))
