#!/usr/bin/python3
# restore_inherit_socket.py CRPC DIR INO: crpc restore DIR with one end of a
# new socketpair as fd 3 standing in for the tree's socket INO
# (--inherit-fd fd[3]:socket:[INO]). Prints crpc's output and "inode N", the
# inode of the replacement; exits with crpc's status.
import os, socket, subprocess, sys
crpc, ckpt, ino = sys.argv[1:]
a, b = socket.socketpair()
os.dup2(a.fileno(), 3)
os.set_inheritable(3, True)
r = subprocess.run([crpc, "restore", "--inherit-fd", "fd[3]:socket:[%s]" % ino, ckpt],
                   pass_fds=(3,), capture_output=True, text=True)
print(r.stdout, r.stderr)
print("inode", os.fstat(3).st_ino)
sys.exit(r.returncode)
