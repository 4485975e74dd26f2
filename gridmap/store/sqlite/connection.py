"""SQLite connections: one per thread, WAL journal, FULL sync, foreign keys, a busy timeout.

A writer that meets another writer's lock waits up to ``busy_timeout`` seconds (SQLite's own
busy handler) and then raises :class:`~gridmap.store.base.StoreBusy` (nothing written), which the
web app turns into 503 with ``Retry-After``.

>>> pool = Connections(":memory:", busy_timeout=1.0)
>>> with pool.transaction() as tx:
...     _ = tx.execute("CREATE TABLE t (x)")
>>> pool.connect().execute("SELECT count(*) FROM t").fetchone()[0]
0
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# DEFAULT_BUSY_TIMEOUT: long enough that a writer holding the lock for 12 s (a big publish step,
# a backup) does not turn a report into an error; short enough that a stuck lock answers within
# a client's request timeout.
from gridmap.store.base import DEFAULT_BUSY_TIMEOUT, StoreBusy


def _is_busy(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


class Connections:
    """Per-thread connections to one SQLite file (``:memory:``: one shared connection)."""

    def __init__(self, path: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT):
        if not math.isfinite(busy_timeout) or busy_timeout < 0:
            raise ValueError("busy timeout must be a number of seconds >= 0")
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._memory: sqlite3.Connection | None = None
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)

    def connect(self) -> sqlite3.Connection:
        if self.path == ":memory:":  # one shared connection (doctests, quick checks)
            if self._memory is None:
                self._memory = sqlite3.connect(":memory:", check_same_thread=False)
                self._setup(self._memory)
            return self._memory
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            self._setup(conn)
            self._local.conn = conn
        return conn

    def _setup(self, conn: sqlite3.Connection) -> None:
        conn.isolation_level = None  # explicit BEGIN/COMMIT in transaction()
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:  # another process is switching it right now
            if not _is_busy(error):
                raise
        # FULL: a committed (acknowledged) incident survives a power cut, not just a crash.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): writers queue for the lock, up to the
        busy timeout, then StoreBusy. Nested use joins the outer transaction."""
        conn = self.connect()
        if conn.in_transaction:
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if _is_busy(error):
                raise StoreBusy(
                    f"the database stayed locked for {self.busy_timeout:g} s",
                    retry_after=max(1, math.ceil(self.busy_timeout / 2)),
                ) from None
            raise
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(error, sqlite3.OperationalError) and _is_busy(error):
                raise StoreBusy(str(error)) from None
            raise
