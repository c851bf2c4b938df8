#!/usr/bin/python3
# pstree_zombie_tids.py PSTREE_IMG ZOMBIE: print the thread ids CRIU wrote in
# the pstree.img entry of the zombie ZOMBIE, and rewrite that entry with every
# thread id that fits in 31 bits replaced by 0xDEADBEEF (what an uninitialised
# thread list can hold).
import struct, sys
path, zombie = sys.argv[1], int(sys.argv[2])

def varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i

def enc(v):
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        out.append(c | (0x80 if v else 0))
        if not v:
            return bytes(out)

b = open(path, "rb").read()
out, i = bytearray(b[:8]), 8  # two magic numbers
while i < len(b):
    (size,) = struct.unpack("<I", b[i:i + 4])
    m, i = b[i + 4:i + 4 + size], i + 4 + size
    fields, j = [], 0
    while j < len(m):
        key, j = varint(m, j)
        if key & 7 == 0:
            v, j = varint(m, j)
            fields.append([key >> 3, v])
        elif key & 7 == 2:  # packed repeated
            n, j = varint(m, j)
            sub, j, q = m[j:j + n], j + n, 0
            while q < len(sub):
                v, q = varint(sub, q)
                fields.append([key >> 3, v])
        else:
            sys.exit("unexpected wire type in pstree.img")
    pid = [v for f, v in fields if f == 1][0]
    if pid == zombie:
        tids = [v for f, v in fields if f == 5]
        print("CRIU wrote thread ids %s for zombie %d" % (tids, zombie))
        for fv in fields:
            if fv[0] == 5 and fv[1] <= 0x7FFFFFFF:
                fv[1] = 0xDEADBEEF
    body = b"".join(enc(f << 3) + enc(v) for f, v in fields)
    out += struct.pack("<I", len(body)) + body
open(path, "wb").write(out)
