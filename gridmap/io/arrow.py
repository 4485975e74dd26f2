"""Arrow memory: pandas 3 keeps text columns in Arrow buffers, so their allocator matters.

Arrow's default pool (mimalloc or jemalloc) keeps freed memory cached for reuse; after a reader
has gone through a multi-million-row file chunk by chunk, that cache held as much again as the
data itself (RSS 590 MB for 90 MB of live Arrow buffers on the 2M-address city). The system
allocator hands freed memory back (``release_unused`` trims it), so the peak of a command is its
data, not its history.
"""

from __future__ import annotations


def use_system_allocator() -> None:
    """Make the system allocator Arrow's default pool (once, before big reads)."""
    try:
        import pyarrow as pa
    except ImportError:  # pandas without pyarrow: nothing to tune
        return
    pa.set_memory_pool(pa.system_memory_pool())


def release_unused() -> None:
    """Give memory freed by Arrow buffers back to the operating system (malloc_trim)."""
    try:
        import pyarrow as pa
    except ImportError:
        return
    pa.default_memory_pool().release_unused()
