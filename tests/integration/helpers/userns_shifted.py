#!/usr/bin/env python3
# userns_shifted.py BASE COMMAND...: run COMMAND as uid and gid 0 of a new
# user namespace whose ids 0-65535 are BASE-BASE+65535 outside (what
# rootless engines and `--map-users` give), without newuidmap: a child
# makes the namespace, this process (root outside) writes its maps, then the
# child becomes its uid 0 and execs COMMAND. Waits for it; its exit status.
import ctypes
import os
import sys

CLONE_NEWUSER = 0x10000000
# nothing the test runner left open reaches the namespace's tasks (their
# uid 0 could not open it again at a restore)
os.closerange(3, 65536)
base = int(sys.argv[1])
cmd = sys.argv[2:]
libc = ctypes.CDLL(None, use_errno=True)
made_r, made_w = os.pipe()
go_r, go_w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(made_r)
    os.close(go_w)
    if libc.unshare(CLONE_NEWUSER) != 0:
        os._exit(111)
    os.write(made_w, b"u")
    os.close(made_w)
    if os.read(go_r, 1) != b"g":
        os._exit(112)
    os.setgroups([])
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    os.execvp(cmd[0], cmd)
os.close(made_w)
os.close(go_r)
if os.read(made_r, 1) == b"u":
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{pid}/{name}", "w") as m:
            m.write(f"0 {base} 65536\n")
    os.write(go_w, b"g")
os.close(go_w)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
