"""Keeping the server's memory bounded after big decodes.

glibc's malloc raises its mmap threshold after large blocks are freed, so that later large
blocks come from per-thread heaps, which keep freed memory instead of returning it: with
decodes in many request threads, the peak of each thread's heap adds up (8 concurrent
64-megapixel uploads: 1.45 GB instead of 0.56 GB). Fixing the threshold makes every block
of ``threshold`` bytes or more its own mapping, given back to the OS when freed."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3
_done = False


def bound_heap(threshold: int = 4 * 1024 * 1024) -> bool:
    """Make blocks of ``threshold`` bytes or more return to the OS when freed (glibc only;
    elsewhere a no-op). Process-wide and idempotent; returns whether it applied."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _done = bool(mallopt(_M_MMAP_THRESHOLD, threshold))
    if not _done:
        log.debug("mallopt(M_MMAP_THRESHOLD) was refused; memory after big decodes may stay high")
    return _done
