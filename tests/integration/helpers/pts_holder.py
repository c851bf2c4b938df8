#!/usr/bin/python3
# pts_holder.py DIR: open a pty, start a counter whose controlling terminal
# is the pty's slave (a session of its own), keep the master open and drain
# it until DIR/stop appears. The counter writes its value to DIR/w.count and
# "tick N" lines to the terminal. Its PID goes to DIR/child.pid.
import fcntl
import os
import sys
import termios
import time

tmp = sys.argv[1]
master, slave = os.openpty()
pid = os.fork()
if pid == 0:
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.closerange(3, 65536)
    loop = ('i=0; printf "%10d\\n" 0 >"$0.tmp0"; printf "%10d\\n" 0 >"$0.tmp1"; '
            'while :; do t="$0.tmp$((i % 2))"; printf "%10d\\n" $i 1<>"$t"; rm -f "$0.new"; ln "$t" "$0.new"; mv -f "$0.new" "$0"; '
            'echo "tick $i"; i=$((i+1)); sleep 0.05; done')
    os.execv("/bin/bash", ["bash", "-c", loop, tmp + "/w.count"])
os.close(slave)
with open(tmp + "/child.pid.tmp", "w") as f:
    f.write("%d\n" % pid)
os.rename(tmp + "/child.pid.tmp", tmp + "/child.pid")
os.set_blocking(master, False)
while not os.path.exists(tmp + "/stop"):
    try:
        os.read(master, 65536)
    except OSError:  # nothing to read, or EIO once the slave side is gone
        pass
    try:
        os.waitpid(pid, os.WNOHANG)  # reap the counter once it has gone
    except ChildProcessError:
        pass
    time.sleep(0.05)
