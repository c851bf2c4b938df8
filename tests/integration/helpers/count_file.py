"""count_file.write_count(PATH, N): N into the file PATH for the tests' readers.

The value goes into PATH.tmp0 or PATH.tmp1 (by N's parity: never the one
PATH is at the moment), which are never removed, is linked as PATH.new and
renamed over PATH: a reader never sees a partial value. Both files are made
at their full size before PATH first appears, and each value is written
over the old one in place (no truncation, padded to 10 characters), so a
file has the same size at every moment: a counter checkpointed while it
held one open finds it again at restore even after the original, left
running, went on (CRIU refuses a file whose size changed since the dump).
"""
import os

_ready = set()


def _put(name, n):
    fd = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"%10d\n" % n, 0)
    finally:
        os.close(fd)


def write_count(path, n):
    if path not in _ready:
        for k in (0, 1):
            _put("%s.tmp%d" % (path, k), n)
        _ready.add(path)
    tmp = "%s.tmp%d" % (path, n % 2)
    _put(tmp, n)
    try:
        os.unlink(path + ".new")
    except FileNotFoundError:
        pass
    os.link(tmp, path + ".new")
    os.replace(path + ".new", path)
