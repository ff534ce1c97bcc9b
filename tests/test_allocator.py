"""The similarity index's allocator setting: large blocks stay mapped from the OS (glibc)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from detectors.allocator import glibc

ROOT = Path(__file__).resolve().parent.parent

# A fresh process: the threshold is process-wide, and glibc moves it as blocks are freed.
# After a 30 MB block is freed, glibc would serve the next 10 MB block from its heap (which
# keeps it once freed); with the fixed threshold it is mapped, as mallinfo2 counts.
_PROBE = """
import ctypes
import numpy as np
from detectors.allocator import glibc, map_large_blocks

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = glibc()
libc.mallinfo2.restype = MallInfo2
map_large_blocks()
map_large_blocks()  # once per process; a second call changes nothing
freed = np.ones(30 << 20, np.uint8)
del freed
before = libc.mallinfo2().hblkhd
held = np.ones(10 << 20, np.uint8)
print((libc.mallinfo2().hblkhd - before) >> 20)
"""


_LIBC = glibc()


@pytest.mark.skipif(
    _LIBC is None or not hasattr(_LIBC, "mallinfo2"), reason="needs glibc 2.33+ (mallinfo2)"
)
def test_large_blocks_are_mapped_after_a_larger_one_is_freed() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert int(done.stdout.strip()) >= 10
