"""Storage of published grid versions, the address library, incidents and tokens.

``open_store(path_or_url)`` is the only entry point the app and the CLI use; it returns an object
with the :class:`~gridmap.store.sqlite.SQLiteStore` methods. Only SQLite exists today; a
``postgresql://`` URL is where a PostGIS backend would plug in.

>>> open_store(":memory:").schema_version()
2
"""

from __future__ import annotations

from pathlib import Path

from gridmap.store.sqlite import IncidentFilter, NotFound, SQLiteStore, Token
from gridmap.store.workflow import TimeLimits

DEFAULT_DB = "data/gridmap.sqlite"

Store = SQLiteStore

__all__ = ["DEFAULT_DB", "IncidentFilter", "NotFound", "Store", "Token", "open_store"]


def open_store(path_or_url: str | Path | None = None, time_limits: TimeLimits | None = None):
    """Open (creating and migrating when needed) the store at a path or ``sqlite:///`` URL."""
    target = str(path_or_url or DEFAULT_DB)
    if target.startswith("sqlite:///"):
        target = target[len("sqlite:///") :]
    elif "://" in target:
        scheme = target.split("://", 1)[0]
        raise ValueError(f"unsupported store URL scheme {scheme!r}: only SQLite paths for now")
    return SQLiteStore(target, time_limits=time_limits)
