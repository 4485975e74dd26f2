"""SQLite connections: one per thread for reads, one writer with group commit; WAL journal, FULL
sync, foreign keys, a busy timeout.

Every write commits with ``synchronous=FULL``: when a write method returns, its rows are on the
disk (they survive a power cut, not just a crash). That costs a flush of the WAL per commit,
and SQLite writes one transaction at a time, so a server whose threads each commit their own
report runs at one flush per report (and, left to SQLite's busy handler, which polls with
sleeps growing to 100 ms, far slower: p95 of a report 1.3 s at 50 concurrent clients).

So the writers of one store object share a single write connection and take turns on it
(**group commit**): each runs its statements inside a savepoint of the open transaction; when
it is done and others are queued, it hands the connection on and waits; the last of the queue
(or the 64th) commits for all of them. Each caller returns only after the COMMIT that holds its
rows, so every acknowledgement is still durable, but one flush serves everyone who queued while
the previous one ran. A caller whose statements fail rolls back to its savepoint (only its own
work); a COMMIT that fails fails every caller of that batch (nothing of theirs was written).

Another process's writer is waited for up to ``busy_timeout`` seconds (tried again every 0.2 to
2 ms, not at SQLite's busy handler's 1 to 100 ms steps: see ``_Writer._begin``), as is the turn
on the writer; then :class:`~gridmap.store.base.StoreBusy` (nothing written),
which the web app turns into 503 with ``Retry-After``.

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
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

# DEFAULT_BUSY_TIMEOUT: long enough that a writer holding the lock for 12 s (a big publish step,
# a backup) does not turn a report into an error; short enough that a stuck lock answers within
# a client's request timeout.
from gridmap.store.base import DEFAULT_BUSY_TIMEOUT, StoreBusy

# Most callers one COMMIT serves: bounds how long the first of a batch waits for the others.
MAX_BATCH = 64


def _is_busy(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


class Connections:
    """Per-thread read connections to one SQLite file and its group-committing writer
    (``:memory:``: one shared connection, plain transactions)."""

    def __init__(self, path: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT):
        if not math.isfinite(busy_timeout) or busy_timeout < 0:
            raise ValueError("busy timeout must be a number of seconds >= 0")
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._memory: sqlite3.Connection | None = None
        self._memory_lock = threading.RLock()
        self._writer = _Writer(self) if path != ":memory:" else None
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)

    def connect(self) -> sqlite3.Connection:
        """This thread's connection: inside a write transaction, the writer's."""
        if self.path == ":memory:":  # one shared connection (doctests, quick checks)
            if self._memory is None:
                self._memory = sqlite3.connect(":memory:", check_same_thread=False)
                self._setup(self._memory)
            return self._memory
        tx = getattr(self._local, "tx", None)
        if tx is not None:
            return tx
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.open()
            self._local.conn = conn
        return conn

    def open(self, shared: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=not shared,
        )
        self._setup(conn)
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
        """Close this thread's read connection (the writer's stays with the store)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def dispose(self) -> None:
        """Close this thread's connection and the writer's."""
        self.close()
        if self._writer is not None:
            self._writer.close()

    def busy(self) -> StoreBusy:
        return StoreBusy(
            f"the database stayed locked for {self.busy_timeout:g} s",
            retry_after=max(1, math.ceil(self.busy_timeout / 2)),
        )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed (durably) when the block ends; ROLLBACK of this
        block's work on error. Writers queue for their turn up to the busy timeout, then
        StoreBusy. Nested use joins the outer transaction."""
        if self._writer is None:
            with self._memory_transaction() as conn:
                yield conn
            return
        tx = getattr(self._local, "tx", None)
        if tx is not None:
            yield tx
            return
        with self._writer.turn() as conn:
            self._local.tx = conn
            try:
                yield conn
            finally:
                self._local.tx = None

    @contextmanager
    def _memory_transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.connect()
        with self._memory_lock:
            if conn.in_transaction:
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise


class _Batch:
    """One open transaction of the group commit: the callers whose work it holds wait on
    ``done``; ``error`` is the COMMIT's failure (None: committed)."""

    __slots__ = ("callers", "done", "error")

    def __init__(self) -> None:
        self.callers = 0
        self.done = threading.Event()
        self.error: BaseException | None = None


class _Waiter:
    """A thread queued for its turn on the writer; ``granted`` is set under the writer's lock
    when the connection is handed to it."""

    __slots__ = ("granted", "wake")

    def __init__(self) -> None:
        self.granted = False
        self.wake = threading.Event()


class _Writer:
    """The write connection of one store object and the group commit over it (see module).

    The connection is handed from one writer to the next in arrival order, each waking only
    the thread it hands to: with fifty threads queued, waking them all at each hand-off (a
    shared condition's ``notify_all``) cost more of the interpreter's time than the writes.
    """

    def __init__(self, pool: Connections):
        self.pool = pool
        self.conn: sqlite3.Connection | None = None
        self.lock = threading.Lock()
        self.owner = False  # a thread is running its statements on the connection
        self.queue: deque[_Waiter] = deque()  # threads waiting for their turn, in order
        self.batch = _Batch()  # the open transaction; its callers await its COMMIT

    def close(self) -> None:
        with self.lock:
            if self.conn is not None and not self.owner and not self.batch.callers:
                self.conn.close()
                self.conn = None

    def _take_turn(self) -> None:
        with self.lock:
            if not self.owner and not self.queue:
                self.owner = True
                return
            waiter = _Waiter()
            self.queue.append(waiter)
        waiter.wake.wait(self.pool.busy_timeout)
        with self.lock:
            if waiter.granted:
                return
            self.queue.remove(waiter)  # gave up: never granted, so nothing to hand on
        raise self.pool.busy()

    def _hand_on(self) -> None:
        """(Under the lock.) Give the connection to the first queued writer, or free it."""
        if self.queue:
            waiter = self.queue.popleft()
            waiter.granted = True
            waiter.wake.set()
        else:
            self.owner = False

    @contextmanager
    def turn(self) -> Iterator[sqlite3.Connection]:
        self._take_turn()
        try:
            conn = self.conn
            if conn is None:
                conn = self.conn = self.pool.open(shared=True)
            if not conn.in_transaction:
                self._begin(conn)
            conn.execute("SAVEPOINT writer")
        except BaseException:
            self._release()
            raise
        try:
            yield conn
            conn.execute("RELEASE writer")
        except BaseException as error:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK TO writer")
                    conn.execute("RELEASE writer")
            finally:
                self._release()
            if isinstance(error, sqlite3.OperationalError) and _is_busy(error):
                raise StoreBusy(str(error)) from None
            raise
        with self.lock:
            batch = self.batch
            batch.callers += 1
        self._release()
        batch.done.wait()
        error = batch.error
        if error is None:
            return
        if isinstance(error, sqlite3.OperationalError) and _is_busy(error):
            raise StoreBusy(str(error)) from None
        raise error

    def _begin(self, conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, waiting for a writer of another process in short steps.

        SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ... ms between its tries, so a
        writer of another process (``gridmap serve --workers``, an import) that held the lock
        for two milliseconds could cost this one ten or twenty-five, with every thread queued
        here waiting too. Here the tries come every 0.2 ms at first, at most every 2 ms, until
        the busy timeout; then StoreBusy. (Once BEGIN IMMEDIATE holds the write lock, nothing
        in the transaction waits for another writer, so the statements keep SQLite's handler.)
        """
        deadline = time.monotonic() + self.pool.busy_timeout
        pause = 0.0002
        conn.execute("PRAGMA busy_timeout=0")
        try:
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as error:
                    if not _is_busy(error):
                        raise
                    if time.monotonic() >= deadline:
                        raise self.pool.busy() from None
                time.sleep(pause)
                pause = min(pause * 2, 0.002)
        finally:
            conn.execute(f"PRAGMA busy_timeout={int(self.pool.busy_timeout * 1000)}")

    def _release(self) -> None:
        """The owner is done with its statements: hand the connection to the next queued
        writer while the batch has room, else COMMIT the open transaction for everyone in it
        (or roll back a transaction nobody's work is in) and then hand on."""
        with self.lock:
            open_work = self.batch.callers or (self.conn is not None and self.conn.in_transaction)
            if not open_work or (self.queue and self.batch.callers < MAX_BATCH):
                self._hand_on()
                return
        self._commit()

    def _commit(self) -> None:
        """COMMIT (or ROLLBACK of an empty transaction) as the owner, wake the batch's callers,
        hand on."""
        conn = self.conn
        batch = self.batch
        try:
            if batch.callers:
                conn.execute("COMMIT")
            elif conn.in_transaction:
                conn.execute("ROLLBACK")
        except BaseException as failed:
            batch.error = failed
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
        with self.lock:
            self.batch = _Batch()
            self._hand_on()
        batch.done.set()
