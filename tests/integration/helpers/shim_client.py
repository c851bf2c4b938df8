#!/usr/bin/python3
# A small CRIU RPC client that misbehaves on purpose, to drive the crpc shim
# (`SHIM swrk N`) the way a real client (runc, go-criu) would, and then not.
#
# Usage: shim_client.py MODE SHIM [ARGS...]; prints one JSON line with what
# happened (the replies it got, the shim's exit status, how long it took).
#
# Modes:
#   close-at NAME PID DIR     DUMP PID into DIR with notifications; answer
#                             them until NAME, then close the socket there
#   garbage                   send bytes that are no criu_req
#   hangup                    close the socket after 0.3 s without a request
#   garbage-ack NAME PID DIR  DUMP with notifications; answer NAME with garbage
#   workdir PID DIR WORKDIR   DUMP (leave running) with images_dir_fd and
#                             work_dir_fd: CRIU's log must land in WORKDIR
#   inherit                   VERSION with keep_open, then report whether the
#                             CRIU the shim started holds the client's fd 9
#   exe                       VERSION with keep_open, then report which program
#                             the shim's process runs and its children's
#   version                   VERSION without keep_open (as go-criu sends it):
#                             the reply's bytes (raw, hex) and the CRIUs the
#                             shim started (criu_started: PIDs from its
#                             verbose lines)
#   cgroup DIR                move the shim into the cgroup DIR after 0.3 s (as
#                             runc does before a restore, once the shim started
#                             its CRIU ahead), then VERSION with keep_open, and
#                             report the cgroups of the CRIU that answered
import json
import os
import socket
import subprocess
import sys
import time

T_EMPTY, T_DUMP, T_NOTIFY, T_VERSION = 0, 1, 6, 10


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def fv(num, value):
    return varint(num << 3) + varint(value)


def fb(num, data):
    return varint((num << 3) | 2) + varint(len(data)) + data


def read_varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def parse(buf):
    fields, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = read_varint(buf, i)
        elif wt == 2:
            ln, i = read_varint(buf, i)
            val, i = buf[i:i + ln], i + ln
        elif wt == 5:
            val, i = buf[i:i + 4], i + 4
        elif wt == 1:
            val, i = buf[i:i + 8], i + 8
        else:
            raise ValueError("wire type %d" % wt)
        fields.setdefault(num, []).append(val)
    return fields


def resp_summary(data):
    if not data:
        return {"eof": True}
    try:
        f = parse(data)
    except (ValueError, IndexError):
        return {"undecodable": len(data)}
    out = {"type": f.get(1, [None])[0], "success": bool(f.get(2, [0])[0])}
    if 5 in f:
        n = parse(f[5][0])
        out["notify"] = n.get(1, [b""])[0].decode(errors="replace")
    if 9 in f:
        out["errmsg"] = f[9][0].decode(errors="replace")
    return out


def dump_req(pid, dirfd, notify=True, leave_running=False, workdir_fd=None):
    opts = fv(1, dirfd) + fv(2, pid) + fv(9, 4) + fb(10, b"dump.log")
    if leave_running:
        opts += fv(3, 1)
    if notify:
        opts += fv(12, 1)
    if workdir_fd is not None:
        opts += fv(17, workdir_fd)
    return fv(1, T_DUMP) + fb(2, opts)


def ack(ok=True):
    return fv(1, T_NOTIFY) + fv(3, 1 if ok else 0)


def main():
    mode, shim = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    extra = {}
    pass_fds = [theirs.fileno()]
    if mode == "inherit":
        r, w = os.pipe()
        os.dup2(w, 9)
        os.close(w)
        pass_fds.append(9)
        extra["pipe"] = os.readlink("/proc/self/fd/9")
    t0 = time.monotonic()
    # the shim's (and CRIU's) stdout, to see that the shim writes nothing there
    out_r, out_w = os.pipe()
    env = dict(os.environ)
    if mode == "version":
        vfile = "%s/shim-client-verbose.%d" % (os.environ.get("TMPDIR", "/tmp"), os.getpid())
        env["CRPC_SHIM_VERBOSE"] = vfile
    shim_p = subprocess.Popen([shim, "swrk", str(theirs.fileno())], pass_fds=pass_fds,
                              stdin=subprocess.DEVNULL, stdout=out_w, env=env)
    os.close(out_w)
    theirs.close()
    ours.settimeout(30)
    got = []

    def recv():
        try:
            data = ours.recv(1 << 20)
        except (ConnectionResetError, socket.timeout) as e:
            got.append({"error": type(e).__name__})
            return None
        s = resp_summary(data)
        got.append(s)
        return s

    if mode == "hangup":
        time.sleep(0.3)  # the CRIU the shim starts ahead is up by now
    elif mode == "garbage":
        ours.send(b"\xff\xff\xff\xff")
        recv()
        recv()  # then EOF
    elif mode in ("close-at", "garbage-ack"):
        name, pid, d = args[0], int(args[1]), args[2]
        dirfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        ours.send(dump_req(pid, dirfd))
        while True:
            s = recv()
            if not s or s.get("type") != T_NOTIFY:
                break
            if s.get("notify") == name:
                if mode == "close-at":
                    ours.close()
                    ours = None
                else:
                    ours.send(b"\x08\xff\xff\xff\xff\xff\xff")
                    recv()
                    recv()
                break
            ours.send(ack(True))
    elif mode == "workdir":
        pid, d, wd = int(args[0]), args[1], args[2]
        dirfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        wdfd = os.open(wd, os.O_RDONLY | os.O_DIRECTORY)
        ours.send(dump_req(pid, dirfd, notify=False, leave_running=True, workdir_fd=wdfd))
        recv()
    elif mode == "version":
        ours.send(fv(1, T_VERSION))
        data = ours.recv(1 << 20)
        got.append(resp_summary(data))
        extra["raw"] = [data.hex()]
    elif mode in ("inherit", "exe", "cgroup"):
        if mode == "cgroup":
            time.sleep(0.3)  # the CRIU the shim starts ahead is up by now
            with open(os.path.join(args[0], "cgroup.procs"), "w") as f:
                f.write("%d\n" % shim_p.pid)
            with open("/proc/%d/cgroup" % shim_p.pid) as f:
                extra["shim_cgroups"] = f.read()
        ours.send(fv(1, T_VERSION) + fv(4, 1))
        recv()
        kids = []
        for task in os.listdir("/proc/%d/task" % shim_p.pid):
            with open("/proc/%d/task/%s/children" % (shim_p.pid, task)) as f:
                kids += f.read().split()
        if mode == "cgroup":
            extra["criu_cgroups"] = []
            for k in kids:
                with open("/proc/%s/cgroup" % k) as f:
                    extra["criu_cgroups"].append(f.read())
        elif mode == "inherit":
            extra["criu_fd9"] = [os.readlink("/proc/%s/fd/9" % k) if os.path.exists("/proc/%s/fd/9" % k)
                                 else None for k in kids]
        else:
            extra["exe"] = os.readlink("/proc/%d/exe" % shim_p.pid)
            extra["children_exe"] = [os.readlink("/proc/%s/exe" % k) for k in kids]
    else:
        sys.exit("unknown mode " + mode)
    if ours is not None:
        ours.close()
    try:
        rc = shim_p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        shim_p.kill()
        rc = "timeout"
    seconds = round(time.monotonic() - t0, 3)
    if mode == "version":
        try:
            with open(vfile) as f:
                lines = f.read().splitlines()
            os.unlink(vfile)
        except FileNotFoundError:
            lines = []
        extra["criu_started"] = [l.split("(pid ", 1)[1].split(")", 1)[0] for l in lines
                                 if "] started " in l and "(pid " in l]
    os.set_blocking(out_r, False)
    try:
        stdout = os.read(out_r, 65536).decode(errors="replace")
    except BlockingIOError:
        stdout = ""
    print(json.dumps({"replies": got, "shim_exit": rc, "seconds": seconds, "stdout": stdout,
                      **extra}))


if __name__ == "__main__":
    main()
