"""Memory policy for big reads: freed memory goes back to the system, so the peak of a command
is its data, not its history.

Arrow: pandas 3 keeps text columns in Arrow buffers. Arrow's default pool (mimalloc or
jemalloc) keeps freed memory cached for reuse; after a reader has gone through a
multi-million-row file chunk by chunk, that cache held as much again as the data itself (RSS
590 MB for 90 MB of live Arrow buffers on the 2M-address city). The system allocator hands
freed memory back (``release_unused`` trims it).

glibc: a block of at least ``M_MMAP_THRESHOLD`` bytes is mapped on its own and unmapped when
freed; smaller ones come from the heap, which rarely shrinks. glibc raises that threshold each
time such a block is freed (up to 32 MB), so after the first few temporaries of a 2M-row
column (16 MB each) every later one stays in the heap for good: partitioning the 2M city held
~90 MB of freed temporaries that way. A fixed 1 MB threshold keeps big arrays mapped (and given
back when freed), while small objects keep the fast heap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # mallopt parameter (glibc malloc.h)
MMAP_THRESHOLD_BYTES = 1 << 20


def use_system_allocator() -> None:
    """Make the system allocator Arrow's default pool, and on glibc give blocks of 1 MB and more
    back to the system when freed (once, before big reads)."""
    try:
        import pyarrow as pa
    except ImportError:  # pandas without pyarrow: nothing to tune
        pass
    else:
        pa.set_memory_pool(pa.system_memory_pool())
    fixed_mmap_threshold()


def fixed_mmap_threshold() -> bool:
    """On glibc, a fixed ``M_MMAP_THRESHOLD`` (see the module); False where there is none.
    Cheap and import-free: the partitioner's worker processes call it as they start."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    return bool(mallopt and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def release_unused() -> None:
    """Give memory freed by Arrow buffers back to the operating system (malloc_trim)."""
    try:
        import pyarrow as pa
    except ImportError:
        return
    pa.default_memory_pool().release_unused()
