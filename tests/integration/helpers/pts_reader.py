#!/usr/bin/python3
# pts_reader.py FD DIR: FD is a pty master. Write its pty index to
# DIR/pts.index, then copy what the terminal's programs print to DIR/pts.out
# until the terminal goes away.
import fcntl
import os
import struct
import sys
import termios

# _IOR('T', 0x30, unsigned int); the termios module may not have it
TIOCGPTN = getattr(termios, "TIOCGPTN", 0x80045430)

fd, tmp = int(sys.argv[1]), sys.argv[2]
index = struct.unpack("I", fcntl.ioctl(fd, TIOCGPTN, b"\0" * 4))[0]
with open(tmp + "/pts.index.tmp", "w") as f:
    f.write("%d\n" % index)
os.rename(tmp + "/pts.index.tmp", tmp + "/pts.index")
with open(tmp + "/pts.out", "ab", buffering=0) as out:
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: no slave left
            break
        if not data:
            break
        out.write(data)
