#!/usr/bin/python3
# manifest_edit.py FILE EDIT [ARG...]: change a checkpoint's crpc.json the
# way someone editing it by hand would:
#   sha256 NAME HASH   record HASH as the SHA-256 of file NAME
#   drop-option NAME   remove the recorded option NAME
#   reverse-keys       the same content, its keys in reverse order, on one line
import json, sys

path, edit, args = sys.argv[1], sys.argv[2], sys.argv[3:]
m = json.load(open(path))
if edit == "sha256":
    name, fake = args
    for f in m["files"]:
        if f["name"] == name:
            f["sha256"] = fake
    json.dump(m, open(path, "w"), indent=2)
elif edit == "drop-option":
    m["options"] = [o for o in m["options"] if o["option"] != args[0]]
    json.dump(m, open(path, "w"), indent=2)
elif edit == "reverse-keys":
    json.dump(dict(reversed(list(m.items()))), open(path, "w"), indent=None, sort_keys=False)
else:
    sys.exit("manifest_edit.py: unknown edit " + edit)
