#!/usr/bin/python3
# features_check.py TMP NO_SOFT_DIRTY: `crpc features` agrees with the kernel:
# TMP/features.json (--json) and TMP/features.txt (the text) against
# TMP/kernel.json (kernel_features.py); NO_SOFT_DIRTY is 1 when the kernel
# lacks CONFIG_MEM_SOFT_DIRTY. Exits with the disagreements.
import json, sys
tmp, no_soft_dirty = sys.argv[1], sys.argv[2] == "1"
text = open(tmp + "/features.json").read()
d = json.loads(text)
k = json.load(open(tmp + "/kernel.json"))
human = {}
for line in open(tmp + "/features.txt"):
    w = line.split()
    if len(w) >= 2:
        human[w[0]] = w[1]
bad = []
if d.get("ok") is not True:
    bad.append("ok is not true")
for f in ("mem_track", "lazy_pages", "pidfd_store"):
    v = d.get("features", {}).get(f)
    if not isinstance(v, bool):
        bad.append("%s is %r, not a boolean" % (f, v))
        continue
    if k[f] is not None and k[f] != v:
        bad.append("%s is %s but the kernel probe says %s" % (f, v, k[f]))
    if human.get(f) != ("yes" if v else "no"):
        bad.append("%s: --json says %s, the text says %r" % (f, v, human.get(f)))
if no_soft_dirty and d.get("features", {}).get("mem_track") is not False:
    bad.append("mem_track must be false without CONFIG_MEM_SOFT_DIRTY")
if bad:
    sys.exit("features: " + "; ".join(bad) + "\n" + text)
