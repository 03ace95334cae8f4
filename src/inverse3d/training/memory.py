"""Keeping freed CPU memory for reuse during training.

A training step on the CPU allocates and frees the same large temporaries (activations of a few hundred MB) every
step. glibc's malloc serves requests above its mmap threshold with fresh ``mmap`` calls and gives them back with
``munmap`` when freed (the threshold adapts, but only up to 32 MiB), so each step pays for the kernel zeroing and
faulting in those pages again. ``keep_freed_memory`` tells malloc, with ``mallopt``, to take every block from its
heap (``M_MMAP_MAX`` = 0) and to keep up to ``threshold_bytes`` of freed memory at the heap's top
(``M_TRIM_THRESHOLD``), so that the next step reuses the pages of the last; the process's resident memory then stays
near its peak instead of shrinking between steps. The effect is that of starting Python with ``MALLOC_MMAP_MAX_=0``
and ``MALLOC_TRIM_THRESHOLD_`` set, but from inside a running process. It does nothing where the C library is not glibc (macOS, Windows, musl) or on failure.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory"]

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

_done = False


def keep_freed_memory(threshold_bytes: int = 1 << 30) -> bool:
    """Asks glibc's malloc to serve every block from its heap and to keep up to ``threshold_bytes`` of freed memory
    for reuse (module docstring). Returns True when the settings took effect, False where they do not apply.
    Calling it again does nothing."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success
    value = int(min(threshold_bytes, 2**31 - 1))
    ok = mallopt(_M_TRIM_THRESHOLD, value) == 1 and mallopt(_M_MMAP_MAX, 0) == 1
    _done = ok
    return ok
