#!/usr/bin/python3
# manifest_check.py DIR SUMS PID RELEASE: the crpc.json of the checkpoint in
# DIR, written by a dump of PID with --leave-running, describes it: format,
# versions, kernel RELEASE, target, options, process tree, and every file with
# its size and the digest that SUMS gives it (the output of b3sum, or of
# sha256sum for a manifest of "digest": "sha256", in DIR).
# Exits with the problems found.
import json, os, sys
d, sums, pid, release = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
m = json.load(open(os.path.join(d, "crpc.json")))
want = {}
for line in open(sums):
    h, name = line.split(None, 1)
    want[name.strip()] = h
bad = []
def check(cond, what):
    if not cond:
        bad.append(what)
check(m["format"] == "crpc-checkpoint" and m["format_version"] == 2, "format")
alg = m.get("digest")
check(alg in ("blake3", "sha256"), "digest %r" % alg)
check(m["crpc_version"] and m["criu"]["version"].startswith("4."), "versions")
check(m["kernel"]["release"] == release and m["kernel"]["sysname"] == "Linux", "kernel")
check(m["created"].endswith("Z") and "T" in m["created"], "created")
check(m["pid"] == pid and m["command"] == "bash" and m["leave_running"] is True, "target")
opts = {o["option"]: o for o in m["options"]}
check(opts.get("leave_running", {}).get("value") is True and opts["leave_running"]["source"] == "user", "options: %r" % m["options"])
check(all("reason" in o for o in m["options"]), "options without a reason key")
# nobody set the log options: crpc's defaults, said so
check([(opts[k]["value"], opts[k]["source"]) for k in ("log_level", "log_file") if k in opts] ==
      [(4, "default"), ("dump.log", "default")], "log options: %r" % m["options"])
tree = m["process_tree"]
check(tree[0]["pid"] == pid and tree[0]["comm"] == "bash" and pid in tree[0]["threads"], "process tree: %r" % tree)
names = [f["name"] for f in m["files"]]
check(names == sorted(names), "files not sorted")
check(set(names) == set(want) - {"crpc.json"}, "files listed %r, on disk %r" % (sorted(names), sorted(want)))
for f in m["files"]:
    p = os.path.join(d, f["name"])
    check(f["size"] == os.path.getsize(p), "size of " + f["name"])
    if f["kind"] != "log":
        check(f.get(alg) == want[f["name"]], alg + " of " + f["name"])
    check(set(f) == {"name", "size", "kind", alg}, "keys of %r" % f)
check({f["name"]: f["kind"] for f in m["files"]}.get("dump.log") == "log", "dump.log kind")
check(any(n.startswith("pages-") for n in names) and "inventory.img" in names, "images missing from the list")
check(m["files_count"] == len(names), "files_count")
check(m["stats"]["pages_written"] > 0 and m["stats"]["frozen_time_us"] > 0, "stats")
if bad:
    sys.exit("; ".join(bad))
