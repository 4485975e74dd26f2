"""Admission in turn: at most N requests run the app at once, the others wait in arrival order.

Why: the app runs on Python threads that take turns on one interpreter lock. With 32 worker
threads and 50 clients, 32 requests ran side by side, each a little at a time: the lock changed
hands far more often (about 30% more CPU per report) and who got it next was luck, so some
answers waited far longer than others. Letting a few run and queueing the rest in order keeps
the threads that run busy and the waits even. Measured with 50 clients reporting at once on
SQLite: p95 227 -> 163 ms at the same throughput (see ``gridmap serve --active``).

Reads (GET, HEAD, OPTIONS) and writes are admitted apart: writers waiting for a busy database
(up to ``--busy-timeout``) never hold up the map's reads. Only the app call counts: an answer
being sent, a file download or an event stream (whose body is produced while it is sent) holds
no turn, so live viewers never use up the turns.

>>> gate = TurnGate(1)
>>> with gate:
...     gate.active
1
>>> gate.active
0
"""

from __future__ import annotations

import threading
from collections import deque

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TurnGate:
    """A counting gate that admits waiters strictly in arrival order (no barging).

    ``threading.Semaphore`` wakes a waiter when a turn frees up, but a thread arriving at that
    moment may take the turn first, again and again: under load that starves the early ones.
    Here a freed turn is handed to the oldest waiter directly.
    """

    def __init__(self, turns: int) -> None:
        if turns < 1:
            raise ValueError("a gate needs at least one turn")
        self._free = turns
        self._lock = threading.Lock()
        self._waiting: deque[threading.Lock] = deque()
        self.active = 0

    def __enter__(self) -> TurnGate:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                self.active += 1
                return self
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        turn.acquire()  # released by __exit__ of the request whose turn this takes over
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()  # the turn passes on; active is unchanged
            else:
                self._free += 1
                self.active -= 1


class Admission:
    """WSGI middleware: ``turns`` reads and ``turns`` writes run the app at once, in order."""

    def __init__(self, app, turns: int) -> None:
        self.app = app
        self.reads = TurnGate(turns)
        self.writes = TurnGate(turns)

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET").upper()
        with self.reads if method in READ_METHODS else self.writes:
            return self.app(environ, start_response)
