"""Reads that hold still for one web request, read once per request.

Several steps of one request ask the store the same question: a report asks for the current
grid version (the service, then the geocoder) and for the taxonomy's revision (the service,
its deadlines, the answer's type names). Between :meth:`RequestMemo.remember` and
:meth:`RequestMemo.forget` (the web app calls them around each request) a thread's first answer
to each such read is kept and reused; any write in between (a transaction begun by this thread)
drops what was kept, so a request that publishes, activates or loads a taxonomy reads the new
state afterwards; a write that cannot change them (reporting an incident) keeps them
(:meth:`RequestMemo._reads_kept`). Outside a request nothing is kept.

>>> class Demo(RequestMemo):
...     reads = 0
...     def answer(self):
...         self.reads += 1
...         return 42
>>> demo = Demo()
>>> demo.remember()
>>> demo._memoized("answer", demo.answer), demo._memoized("answer", demo.answer), demo.reads
(42, 42, 1)
>>> demo._forget_reads()  # a write
>>> demo._memoized("answer", demo.answer), demo.reads
(42, 2)
>>> demo.forget()
>>> demo._memoized("answer", demo.answer), demo.reads
(42, 3)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class RequestMemo:
    """Mixin of the stores: per-thread memo of request-stable reads (see module)."""

    _memo_local: threading.local | None = None
    _memo_lock = threading.Lock()

    def _memo(self) -> dict | None:
        local = self._memo_local
        return None if local is None else getattr(local, "reads", None)

    def remember(self) -> None:
        """Keep this thread's request-stable reads until :meth:`forget`."""
        if self._memo_local is None:
            with self._memo_lock:
                if self._memo_local is None:
                    self._memo_local = threading.local()
        self._memo_local.reads = {}

    def forget(self) -> None:
        """Stop keeping reads in this thread (the end of a request)."""
        if self._memo_local is not None:
            self._memo_local.reads = None

    def _forget_reads(self) -> None:
        """A write is starting: what was kept may change."""
        memo = self._memo()
        if memo:
            memo.clear()

    @contextmanager
    def _reads_kept(self) -> Iterator[None]:
        """Around a write that cannot change any kept read (an incident's own rows: not the
        versions, not the taxonomy): what was kept before it is kept after it."""
        memo = self._memo()
        kept = dict(memo) if memo else {}
        try:
            yield
        finally:
            memo = self._memo()
            if memo is not None:
                memo.update(kept)

    def _memoized(self, key: str, read: Callable[[], T]) -> T:
        memo = self._memo()
        if memo is None:
            return read()
        if key not in memo:
            memo[key] = read()
        return memo[key]
