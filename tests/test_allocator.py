"""The similarity index's allocator setting: large blocks stay mapped from the OS (glibc)."""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A fresh process: the threshold is process-wide, and glibc moves it as blocks are freed.
# After a 30 MB block is freed, glibc would serve the next 10 MB block from its heap (which
# keeps it once freed); with the fixed threshold it is mapped, as mallinfo2 counts.
_PROBE = """
import ctypes, sys
import numpy as np
from detectors.allocator import map_large_blocks

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(sys.argv[1])
libc.mallinfo2.restype = MallInfo2
map_large_blocks()
map_large_blocks()  # once per process; a second call changes nothing
freed = np.ones(30 << 20, np.uint8)
del freed
before = libc.mallinfo2().hblkhd
held = np.ones(10 << 20, np.uint8)
print((libc.mallinfo2().hblkhd - before) >> 20)
"""


def _glibc() -> str | None:
    name = ctypes.util.find_library("c")
    if name is None or "libc.so" not in name:
        return None
    try:
        ctypes.CDLL(name).mallinfo2  # noqa: B018 - glibc 2.33 and later
    except (OSError, AttributeError):
        return None
    return name


@pytest.mark.skipif(_glibc() is None, reason="needs glibc 2.33+ (mallinfo2)")
def test_large_blocks_are_mapped_after_a_larger_one_is_freed() -> None:
    libc = _glibc()
    assert libc is not None
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, libc],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert int(done.stdout.strip()) >= 10
