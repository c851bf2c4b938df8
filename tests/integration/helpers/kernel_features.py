#!/usr/bin/python3
"""Probe the running kernel for what CRIU's FEATURE_CHECK reports.

Prints one JSON object {"mem_track": B, "lazy_pages": B, "pidfd_store": B}
where B is true/false when the probe could tell, null when it could not.
The probes do what CRIU's kerndat does, independently of CRIU:
  mem_track    soft-dirty tracking: after clear_refs 4, a write to a page
               must set bit 55 of its /proc/self/pagemap entry
  lazy_pages   the userfaultfd() system call works
  pidfd_store  pidfd_open() and pidfd_getfd() work
"""
import ctypes
import errno
import json
import mmap
import os
import platform
import struct

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
X86_64 = platform.machine() == "x86_64"
SYS_userfaultfd, SYS_pidfd_open, SYS_pidfd_getfd = 323, 434, 438


def soft_dirty():
    page = mmap.PAGESIZE
    m = mmap.mmap(-1, page, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        m[0:1] = b"x"
        addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("4")
        except OSError:
            return None
        m[0:1] = b"y"
        with open("/proc/self/pagemap", "rb") as f:
            f.seek(addr // page * 8)
            (entry,) = struct.unpack("<Q", f.read(8))
        if not entry & (1 << 63):
            return None  # page not present: cannot tell
        return bool(entry & (1 << 55))
    finally:
        # the ctypes view must be gone before the map is closed
        import gc

        gc.collect()
        try:
            m.close()
        except BufferError:
            pass


def syscall_works(nr, *args):
    r = libc.syscall(nr, *args)
    if r >= 0:
        return r
    e = ctypes.get_errno()
    if e in (errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    return None


def userfaultfd():
    if not X86_64:
        return None
    fd = syscall_works(SYS_userfaultfd, os.O_CLOEXEC | os.O_NONBLOCK)
    if fd is None or fd is False:
        return fd
    os.close(fd)
    return True


def pidfd():
    if not X86_64:
        return None
    pfd = syscall_works(SYS_pidfd_open, os.getpid(), 0)
    if pfd is None or pfd is False:
        return pfd
    try:
        fd = syscall_works(SYS_pidfd_getfd, pfd, 0, 0)
        if fd is None or fd is False:
            return fd
        os.close(fd)
        return True
    finally:
        os.close(pfd)


print(json.dumps({"mem_track": soft_dirty(), "lazy_pages": userfaultfd(), "pidfd_store": pidfd()}))
