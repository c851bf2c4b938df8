#!/usr/bin/python3
"""sample_proc.py PID COUNTER_FILE OUT STOP_FILE [INTERVAL_S]

Every INTERVAL_S (default 0.002) append a line "TIME STATE VALUE" to OUT:
TIME in seconds since the start, STATE the state letter of PID from
/proc/PID/stat ("-" when the PID is gone), VALUE the content of
COUNTER_FILE ("-" when unreadable). Stops when STOP_FILE exists; writes
"ready" to OUT.ready once the first sample is out.
"""
import os
import sys
import time


def state(pid):
    try:
        with open("/proc/%s/stat" % pid, "rb") as f:
            s = f.read()
    except OSError:
        return "-"
    i = s.rfind(b") ")
    return s[i + 2:i + 3].decode() if i >= 0 else "?"


def value(path):
    try:
        with open(path) as f:
            v = f.read().strip()
        return v or "-"
    except OSError:
        return "-"


def main():
    pid, counter, out, stop = sys.argv[1:5]
    interval = float(sys.argv[5]) if len(sys.argv) > 5 else 0.002
    t0 = time.monotonic()
    first = True
    with open(out, "w", buffering=1) as f:
        while not os.path.exists(stop):
            f.write("%.4f %s %s\n" % (time.monotonic() - t0, state(pid), value(counter)))
            if first:
                f.flush()
                with open(out + ".ready", "w") as r:
                    r.write("ready\n")
                first = False
            time.sleep(interval)


main()
