"""Pausing Python's cyclic garbage collector while a batch builds many acyclic objects.

A geocoded batch is one ``Answer`` per query, each a handful of objects (two matches, a place,
its anchors) that hold no cycles: reference counting frees them. The cyclic collector does not
know that. It runs whenever enough new objects have piled up, and each run of its oldest
generation walks every object still alive. While 100,000 answers accumulate it walks them over
and over: unpickling them into one list took about four times as long with the collector on.
On ``--scheduler`` the client pays this while its workers wait for it, on a machine whose cores
the workers share.

>>> import gc
>>> with paused():
...     gc.isenabled()
False
>>> gc.isenabled()
True

A pause inside a block that already turned the collector off leaves it off:

>>> gc.disable()
>>> with paused():
...     pass
>>> gc.isenabled()
False
>>> gc.enable()
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """Run the block with the cyclic collector off, and turn it back on after only if it was on.

    Only for blocks of bounded length that create acyclic data: garbage with cycles made inside
    is collected after the block, not during it. Nested and concurrent pauses are safe: the
    collector comes back on when the outermost block that turned it off ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
