"""Give freed memory back to the operating system after large requests.

glibc's malloc serves a large block from its own mapping (``mmap``) and unmaps it when freed —
until a large block is freed, after which it raises its threshold up to 32 MB so that blocks of
that size come from the heap, which it rarely gives back. A server that has answered a wave of
8 MB uploads then keeps its peak RSS for good (1.5 GB after 200 concurrent uploads). Fixing the
threshold at 1 MB turns the dynamic adjustment off: bodies and decoded images are mapped and
unmapped, and the soak test (tests/serve/test_floods.py) sees RSS return near its start.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20


def return_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (no-op elsewhere); True if they were set."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, 4 * MMAP_THRESHOLD))
