"""Keeping the similarity index's large temporary arrays out of the C heap (glibc only).

glibc's malloc serves a block from its heap unless the block is larger than a threshold, and
it raises that threshold (up to 32 MiB) each time a larger mapped block is freed. Building
and scanning 100,000 items makes and frees hundreds of arrays of 1 to 100 MB, so after the
first few most come from the heap, which fragments and keeps what it was given. Measured at
100,000 generated items (`python bench/similarity_bench.py --part scan 100000`, three runs
each, alternating): the full scan peaked at 1,186-1,260 MB that way and at 950-962 MB with
the threshold fixed at 4 MiB, for about 5% more time (12.6-13.6 s against 13.4-14.1 s: pages
are mapped and zeroed afresh); the duplicates detector (`--detector`) at 1,328 MB instead of
1,508 MB, in the same 15.7 s. `MALLOC_MMAP_THRESHOLD_=131072` (glibc's starting value) gave
936 MB for 10% more time.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os

log = logging.getLogger(__name__)

MMAP_THRESHOLD = 4 << 20
"""Blocks at least this large (bytes) are mapped from the OS, and unmapped when freed."""
_M_MMAP_THRESHOLD = -3
"""glibc's `mallopt` parameter number for the threshold (malloc.h)."""


def glibc() -> ctypes.CDLL | None:
    """This process's C library when it is glibc (its symbols, `mallopt` among them), else None."""
    try:
        # Only glibc answers this name: macOS and musl raise ValueError, Windows has no confstr.
        os.confstr("CS_GNU_LIBC_VERSION")
        return ctypes.CDLL(None)
    except (AttributeError, ValueError, OSError):
        return None


@functools.cache
def map_large_blocks() -> None:
    """Fix glibc's mmap threshold at `MMAP_THRESHOLD` for this process (once; no-op elsewhere).

    Process-wide, and meant to be: gapbot is the program, and every large array it makes
    is a temporary of the matcher's. Without glibc (macOS, Windows, musl) nothing changes.
    """
    libc = glibc()
    if libc is None:
        return
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused; the heap keeps glibc's dynamic threshold")
