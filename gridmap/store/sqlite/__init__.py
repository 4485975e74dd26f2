"""The embedded SQLite backend (the default: ``make demo`` needs no server).

``connection`` (per-thread connections, busy timeout), ``migrations`` (the schema), ``store``
(:class:`SQLiteStore`, every query).
"""

from gridmap.store.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
