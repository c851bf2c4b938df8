#!/usr/bin/python3
"""py_counter.py DIR NAME [MIB [SOCKET]]

Write 0, 1, 2, ... every 50 ms into DIR/NAME.count (count_file.py),
holding MIB MiB (default 0) of memory with every page touched, and with SOCKET a datagram socket
connected to that UNIX socket. Runs until killed.
"""
import os
import socket
import sys
import time

from count_file import write_count

d, name = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) << 20 if len(sys.argv) > 3 else 0
data = bytearray(n)
data[::4096] = b"\x07" * (n // 4096)
if len(sys.argv) > 4:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.connect(sys.argv[4])
path = os.path.join(d, name + ".count")
i = 0
while True:
    write_count(path, i)
    i += 1
    time.sleep(0.05)
