"""Pausing Python's cyclic garbage collector while bulk work makes many small objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block; it resumes, as it was, afterwards.

    Loading 100,000 items, or tokenising their texts and making a scan's pairs, creates
    hundreds of thousands of lists, tuples and objects that live on. Each collection they set
    off walks every object the process holds, again and again as they pile up: half of a
    detection run's load, 3 to 7 s of a 100,000-item index build and scan. None of them form
    cycles worth collecting early.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
