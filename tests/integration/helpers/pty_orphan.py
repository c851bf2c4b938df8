#!/usr/bin/python3
"""pty_orphan.py READY: a process whose terminal has lost its master.

Forks a child that starts a session, opens a new pty's slave twice, makes it
its controlling terminal and counts; the parent closes the master (nobody
holds it any more), writes "CHILD_PID" into READY and exits. The child
ignores SIGHUP and writes an increasing counter into READY.count every 50 ms
(opening the file each time), so a test can tell that it carries on after a
restore.
"""
import fcntl
import os
import signal
import sys
import termios
import time

from count_file import write_count

ready = sys.argv[1]
master, slave = os.openpty()
name = os.ttyname(slave)
os.close(slave)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.close(master)
    os.setsid()
    s1 = os.open(name, os.O_RDWR)
    os.open(name, os.O_RDWR)
    fcntl.ioctl(s1, termios.TIOCSCTTY, 1)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for fd in (0, 1, 2):
        os.dup2(os.open("/dev/null", os.O_RDWR), fd)
    os.write(w, b"x")
    os.close(w)
    count = 0
    while True:
        write_count(ready + ".count", count)
        count += 1
        time.sleep(0.05)
os.close(w)
os.read(r, 1)
os.close(master)  # the last holder of the master: the slave is orphaned
with open(ready + ".tmp", "w") as f:
    f.write("%d\n" % pid)
os.rename(ready + ".tmp", ready)
