"""Storage of published grid versions, the address library, incidents and tokens.

``open_store(path_or_url)`` is the only entry point the app and the CLI use; it returns a
:class:`~gridmap.store.base.Store` (the protocol every backend implements). Only SQLite exists
today (:mod:`gridmap.store.sqlite`); a ``postgresql://`` URL is where a PostGIS backend would
plug in.

>>> open_store(":memory:").schema_version()
2
"""

from __future__ import annotations

from pathlib import Path

from gridmap.store.base import IncidentFilter, NotFound, Store, Token
from gridmap.store.sqlite import SQLiteStore
from gridmap.store.workflow import TimeLimits

DEFAULT_DB = "data/gridmap.sqlite"

__all__ = ["DEFAULT_DB", "IncidentFilter", "NotFound", "Store", "Token", "open_store"]


def open_store(
    path_or_url: str | Path | None = None, time_limits: TimeLimits | None = None
) -> Store:
    """Open (creating and migrating when needed) the store at a path or ``sqlite:///`` URL."""
    target = str(path_or_url or DEFAULT_DB)
    if target.startswith("sqlite:///"):
        target = target[len("sqlite:///") :]
    elif "://" in target:
        scheme = target.split("://", 1)[0]
        raise ValueError(f"unsupported store URL scheme {scheme!r}: only SQLite paths for now")
    return SQLiteStore(target, time_limits=time_limits)
