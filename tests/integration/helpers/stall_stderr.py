#!/usr/bin/python3
"""Run crpc -v and kill CRIU while it waits for crpc's answer to a notification.

crpc -v prints each CRIU notification on stderr from its notify callback,
before it answers CRIU. This helper gives crpc a one-page pipe as stderr and
keeps that pipe full with NUL bytes written through a descriptor of its own,
so every write crpc makes to stderr blocks until the helper lets it through.
It lets crpc's writes through one at a time. Whenever crpc is blocked in a
write and CRIU's log shows --log-line (CRIU logs "Running <name> scripts"
right before it sends that notification), CRIU has sent the notification
and waits for an answer that crpc, stuck printing it, cannot give: the
helper then kills the CRIU worker (its PID from crpc's "worker pid N" line)
with SIGKILL, lets crpc go on and waits for it.

Writes crpc's stdout and stderr (padding removed) to the given files, the
killed CRIU PID to --criu-pid-file, and exits with crpc's exit code
(128+N if signal N ended it). Exits 100 on a setup problem (CRIU never got
to the notification), with the reason on stderr.
"""
import argparse
import fcntl
import glob
import os
import re
import select
import signal
import subprocess
import sys
import time

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
SETUP_FAILED = 100


class Stall:
    def __init__(self, cmd, stdout_path):
        self.rfd, wfd = os.pipe()
        fcntl.fcntl(wfd, F_SETPIPE_SZ, 4096)
        # A second open file description of the write end: non-blocking for
        # the helper, while the command's stderr stays blocking.
        self.pad = os.open("/proc/self/fd/%d" % wfd, os.O_WRONLY | os.O_NONBLOCK)
        os.set_blocking(self.rfd, False)
        self.data = b""
        self.fill()
        with open(stdout_path, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=wfd)
        os.close(wfd)

    def fill(self):
        """Write NULs until not even one more byte fits."""
        size = 4096
        while size >= 1:
            try:
                os.write(self.pad, b"\0" * size)
            except BlockingIOError:
                size //= 2

    def drain(self):
        """Read what the pipe holds; returns the command's bytes."""
        got = b""
        while True:
            try:
                chunk = os.read(self.rfd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            got += chunk
        got = got.replace(b"\0", b"")
        self.data += got
        return got

    def blocked_in_write(self):
        """Whether a thread of the command sits in write(2) on a full pipe
        (crpc prints from helper threads too, e.g. while CRIU starts)."""
        pid = self.proc.pid
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            return False
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                    nr = f.read().split()[0]
                with open("/proc/%d/task/%s/wchan" % (pid, tid)) as f:
                    wchan = f.read()
            except (OSError, IndexError):
                continue
            if nr == "1" and "pipe_write" in wchan:
                return True
        return False

    def release_one(self, deadline):
        """Let the blocked write through, then make the pipe full again."""
        before = len(self.data)
        while time.monotonic() < deadline:
            self.drain()
            if len(self.data) > before or self.proc.poll() is not None:
                break
            select.select([self.rfd], [], [], 0.001)
        self.fill()

    def text(self):
        return self.data.decode(errors="replace")


def die(st, msg):
    print("stall_stderr: " + msg, file=sys.stderr)
    if st is not None:
        if st.proc.poll() is None:
            st.proc.kill()
            st.proc.wait()
        st.drain()
        print("stall_stderr: the command's stderr so far:\n" + st.text(), file=sys.stderr)
    sys.exit(SETUP_FAILED)


def log_has(pattern, regex):
    # a glob: crpc dump writes into DIR.crpc-tmp-XXXXXX until the dump is complete
    for path in glob.glob(pattern):
        try:
            with open(path, "r", errors="replace") as f:
                if regex.search(f.read()) is not None:
                    return True
        except FileNotFoundError:
            pass
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True, help="CRIU log file to watch (a glob)")
    ap.add_argument("--log-line", required=True, help="regex of the CRIU log line to wait for")
    ap.add_argument("--criu-pid-file", required=True)
    ap.add_argument("--stdout", required=True)
    ap.add_argument("--stderr", required=True)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        die(None, "no command given")
    log_re = re.compile(a.log_line, re.M)

    st = Stall(cmd, a.stdout)
    deadline = time.monotonic() + a.timeout
    writes = 0
    while True:
        if time.monotonic() > deadline:
            die(st, "timed out before CRIU logged %r" % a.log_line)
        if st.proc.poll() is not None:
            die(st, "the command ended (exit %d) before CRIU logged %r" % (st.proc.returncode, a.log_line))
        if not st.blocked_in_write():
            time.sleep(0.001)
            continue
        if log_has(a.log, log_re):
            break
        st.release_one(deadline)
        writes += 1

    m = re.search(r"worker pid (\d+)", st.text())
    if not m:
        die(st, "crpc did not print the CRIU worker pid (is -v given?)")
    criu_pid = int(m.group(1))
    try:
        with open("/proc/%d/cmdline" % criu_pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        argv = []
    # CRIU renames itself ("criu: dump --rpc -t PID") once it works on a request
    if b"criu" not in b" ".join(argv):
        die(st, "PID %d is not CRIU: %r" % (criu_pid, argv))
    with open(a.criu_pid_file, "w") as f:
        f.write("%d\n" % criu_pid)
    os.kill(criu_pid, signal.SIGKILL)

    # let the command go on: read its stderr until it closes it
    os.close(st.pad)
    os.set_blocking(st.rfd, True)
    while True:
        if time.monotonic() > deadline + 10:
            os.set_blocking(st.rfd, False)
            die(st, "the command did not end after CRIU was killed")
        r, _, _ = select.select([st.rfd], [], [], 0.2)
        if not r:
            continue
        chunk = os.read(st.rfd, 65536)
        if not chunk:
            break
        st.data += chunk.replace(b"\0", b"")
    rc = st.proc.wait()
    with open(a.stderr, "wb") as f:
        f.write(st.data)
    sys.stderr.write("stall_stderr: let %d writes through, killed CRIU %d at %r\n" % (writes, criu_pid, a.log_line))
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
