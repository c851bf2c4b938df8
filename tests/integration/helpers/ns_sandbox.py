#!/usr/bin/env python3
# The init of a sandbox made by unshare or bubblewrap (PID 1 of its own PID
# namespace): it sets up what a checkpoint must carry over and keeps counters
# going in DIR, the test's private directory:
#   init.count  the init's own loop
#   tcp.count   round trips of a TCP connection over the sandbox's loopback,
#               between two of its processes
#   zl.count    a process in the session of a leader that has exited and
#               stays a zombie (the init does not reap it)
# Optional set-up, by flag: --ipc (a SysV shared memory segment and message
# queue), --tmpfs (a tmpfs mounted on DIR/tm holding DIR/tm/hello),
# --hostname NAME. DIR/ready holds "key value" lines once all is set up.
import os
import socket
import subprocess
import sys
import time

# nothing the test runner left open reaches the sandbox but stdin, stdout, stderr
os.closerange(3, 65536)

args = sys.argv[1:]
d = args[0]
flags = args[1:]


def put(name, v):
    tmp = os.path.join(d, name + ".tmp")
    with open(tmp, "w") as f:
        f.write(str(v))
    os.rename(tmp, os.path.join(d, name))


def loop(name):
    i = 0
    while True:
        put(name + ".count", i)
        i += 1
        time.sleep(0.05)


# The mount namespace is a copy of the machine's: leave out the mounts other
# programs make and remove again (under /tmp and /run, namespace files), which
# a restore could not bind back once they are gone outside (those of the
# test's own directory stay).
mounts = []
with open("/proc/self/mountinfo") as f:
    for line in f:
        w = line.split()
        mp = w[4].encode().decode("unicode_escape")
        fstype = w[w.index("-") + 1]
        if fstype == "nsfs" or mp.startswith(("/tmp/", "/run/", "/var/")):
            mounts.append(mp)
for mp in sorted(set(mounts), key=len, reverse=True):
    # the test's own directory and what the test mounted there stay
    if not d.startswith(mp + "/") and mp != d and not mp.startswith(d + "/"):
        subprocess.run(["umount", "-l", mp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

ready = []
subprocess.run(["ip", "link", "set", "lo", "up"], check=False,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if "--hostname" in flags:
    name = flags[flags.index("--hostname") + 1]
    socket.sethostname(name)
    ready.append("hostname " + name)
if "--ipc" in flags:
    for kind, opt in (("shm", "-M"), ("msg", "-Q")):
        out = subprocess.run(["ipcmk", opt] + (["8192"] if opt == "-M" else []),
                             check=True, capture_output=True, text=True).stdout
        ready.append("%s %s" % (kind, out.split(":")[-1].strip()))
if "--tmpfs" in flags:
    tm = os.path.join(d, "tm")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "crpc-ns-test", tm], check=True)
    with open(os.path.join(tm, "hello"), "w") as f:
        f.write("inside the sandbox\n")
    ready.append("tmpfs " + tm)

# a session leader that exits and stays a zombie, its child carrying on
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        loop("zl")
    os._exit(0)

# a TCP connection over the sandbox's loopback
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]
if os.fork() == 0:
    conn, _ = srv.accept()
    srv.close()
    while True:
        b = conn.recv(64)
        if not b:
            os._exit(1)
        conn.sendall(b)
if os.fork() == 0:
    srv.close()
    c = socket.create_connection(("127.0.0.1", port))
    n = 0
    while True:
        c.sendall(b"%d\n" % n)
        if not c.recv(64):
            os._exit(1)
        put("tcp.count", n)
        n += 1
        time.sleep(0.05)
srv.close()
ready.append("port %d" % port)
put("ready", "\n".join(ready) + "\n")
loop("init")
