#!/usr/bin/python3
# manifest_edit.py FILE EDIT [ARG...]: change a checkpoint's crpc.json the
# way someone editing it by hand would:
#   digest NAME HASH   record HASH as the digest of file NAME (the manifest's
#                      "digest": blake3, or sha256 when it names none)
#   old-format         rewrite it as crpc wrote it before it named its digest
#                      (SHA-256 manifests only): format_version 1, no
#                      "digest", resealed
#   drop-option NAME   remove the recorded option NAME
#   reverse-keys       the same content, its keys in reverse order, on one line
#   reseal NAME        record file NAME's size and digest as it is now, and
#                      crpc.json's own checksum ("manifest_blake3", or
#                      "manifest_sha256" where it had that) over the result
#                      (what someone who edited NAME would do to hide it)
#   set KEY VALUE      set the top-level string KEY to VALUE, then reseal
import hashlib, json, os, re, subprocess, sys

path, edit, args = sys.argv[1], sys.argv[2], sys.argv[3:]
m = json.load(open(path))
alg = m.get("digest", "sha256")


def digest_of(p):
    if alg == "sha256":
        return hashlib.sha256(open(p, "rb").read()).hexdigest()
    # Python has no BLAKE3: b3sum, the tool a user would check with
    return subprocess.run(["b3sum", "--no-names", p], check=True, capture_output=True, text=True).stdout.strip()


if edit == "digest":
    name, fake = args
    for f in m["files"]:
        if f["name"] == name:
            f[alg] = fake
    json.dump(m, open(path, "w"), indent=2)
elif edit == "drop-option":
    m["options"] = [o for o in m["options"] if o["option"] != args[0]]
    json.dump(m, open(path, "w"), indent=2)
elif edit == "reverse-keys":
    json.dump(dict(reversed(list(m.items()))), open(path, "w"), indent=None, sort_keys=False)
elif edit in ("reseal", "set", "old-format"):
    if edit == "set":
        m[args[0]] = args[1]
    elif edit == "old-format":
        if alg != "sha256":
            sys.exit("manifest_edit.py: old-format needs a manifest of SHA-256 digests")
        m.pop("digest", None)
        m["format_version"] = 1
    else:
        name = args[0]
        p = os.path.join(os.path.dirname(path), name)
        for f in m["files"]:
            if f["name"] == name:
                f[alg] = digest_of(p)
                f["size"] = os.path.getsize(p)

    # the canonical form crpc hashes: compact, keys sorted, ASCII only, reals
    # as jansson prints them (%.17g, exponent without '+' or leading zeros)
    def real(x):
        t = "%.17g" % x
        if "." not in t and "e" not in t:
            t += ".0"
        return re.sub(r"e([-+]?)0*(\d)", lambda mo: "e" + mo.group(1).replace("+", "") + mo.group(2), t)

    def canon(v):
        if isinstance(v, dict):
            return "{" + ",".join(json.dumps(k) + ":" + canon(v[k]) for k in sorted(v)) + "}"
        if isinstance(v, list):
            return "[" + ",".join(canon(x) for x in v) + "]"
        if isinstance(v, float):
            return real(v)
        return json.dumps(v, ensure_ascii=True)

    # crpc.json's checksum of itself under the key it had: BLAKE3
    # ("manifest_blake3"), or SHA-256 ("manifest_sha256": SHA-256 files, older crpc)
    key = "manifest_blake3" if "manifest_blake3" in m else "manifest_sha256"
    m.pop("manifest_sha256", None)
    m.pop("manifest_blake3", None)
    text = canon(m).encode()
    if key == "manifest_blake3":
        m[key] = subprocess.run(["b3sum", "--no-names", "-"], input=text, check=True,
                                capture_output=True).stdout.decode().strip()
    else:
        m[key] = hashlib.sha256(text).hexdigest()
    json.dump(m, open(path, "w"), indent=2)
else:
    sys.exit("manifest_edit.py: unknown edit " + edit)
