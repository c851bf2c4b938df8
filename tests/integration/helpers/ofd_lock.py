#!/usr/bin/python3
# ofd_lock.py READY [--lock START:LEN] [--fork] FILE...: open every FILE
# read-write and keep it open; with --lock, take an OFD write lock
# (F_OFD_SETLK) on bytes START to START+LEN-1 of each; with --fork, dup the
# first file's fd and fork a child that shares the open files (and so shows
# the same locks in its fdinfo). Then write "PID CHILD_PID" (0 without a
# child) to READY and sleep until killed.
import fcntl
import os
import struct
import sys
import time


def ofd_write_lock(fd, start, length):
    # struct flock on 64-bit Linux: short l_type, short l_whence, off_t
    # l_start, off_t l_len, pid_t l_pid (0 for OFD locks), padded to 32 bytes
    fl = struct.pack("@hhqqi", fcntl.F_WRLCK, os.SEEK_SET, start, length, 0)
    fl += bytes(32 - len(fl))
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, fl)


def main():
    args = sys.argv[1:]
    ready, args = args[0], args[1:]
    lock = None
    fork = False
    while args and args[0].startswith("--"):
        if args[0] == "--lock":
            start, length = args[1].split(":")
            lock = (int(start), int(length))
            args = args[2:]
        elif args[0] == "--fork":
            fork = True
            args = args[1:]
        else:
            sys.exit("ofd_lock.py: unknown option " + args[0])
    fds = [os.open(f, os.O_RDWR | os.O_CREAT, 0o600) for f in args]
    if lock:
        for fd in fds:
            ofd_write_lock(fd, *lock)
    child = 0
    if fork:
        fds.append(os.dup(fds[0]))
        child = os.fork()
        if child == 0:
            while True:
                time.sleep(1)
    with open(ready + ".tmp", "w") as f:
        f.write("%d %d\n" % (os.getpid(), child))
    os.rename(ready + ".tmp", ready)
    while True:
        time.sleep(1)


main()
