#!/usr/bin/env python3
# tests/bench/peak_rss.py OUT CMD [ARG...] - run CMD and write its peak
# resident set size to OUT as "HWM_KIB MAXRSS_KIB": HWM is CMD's own VmHWM
# from /proc/PID/status, read every millisecond while it runs (the high-water
# mark only grows, so the last reading is its peak but for the last
# millisecond); MAXRSS is wait4()'s ru_maxrss, the largest of CMD and the
# children it waited for (CRIU), an upper bound of CMD's own. CMD's exit
# status is this program's. Used by tests/bench/dump_1g.sh.
import os
import sys
import time


def hwm(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: peak_rss.py OUT CMD [ARG...]\n")
        return 2
    out, cmd = sys.argv[1], sys.argv[2:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    peak = 0
    while True:
        wpid, status, ru = os.wait4(pid, os.WNOHANG)
        if wpid == pid:
            break
        peak = max(peak, hwm(pid))
        time.sleep(0.001)
    with open(out, "w") as f:
        f.write("%d %d\n" % (peak, ru.ru_maxrss))
    return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8


if __name__ == "__main__":
    sys.exit(main())
