"""Storage of published grid versions, the address library, incidents, tokens and sessions.

``open_store(path_or_url)`` is the only entry point the app, the CLI and the services use; it
returns a :class:`~gridmap.store.base.Store` (the protocol every backend implements) and the
records of :mod:`gridmap.store.base`. A path or ``sqlite:///path`` opens the embedded SQLite
backend; ``postgresql://…`` opens PostgreSQL + PostGIS (:mod:`gridmap.store.postgis`, imported
only then). Nothing outside this package imports a backend module.

>>> store = open_store(":memory:")
>>> store.schema_version() >= 3, isinstance(store, Store)
(True, True)
"""

from __future__ import annotations

import importlib
from pathlib import Path

from gridmap.rules.workflow import TimeLimits
from gridmap.store.base import (
    DEFAULT_BUSY_TIMEOUT,
    Address,
    Cluster,
    Event,
    FeatureGeometry,
    HistoryEntry,
    Incident,
    IncidentFilter,
    IncidentPosition,
    Job,
    KpiCounts,
    LayerFeature,
    Location,
    NewFeature,
    NotFound,
    Store,
    StoreBusy,
    Token,
    TokenRecord,
    Version,
)
from gridmap.store.loop import IncidentDetail

DEFAULT_DB = "data/gridmap.sqlite"

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "DEFAULT_DB",
    "Address",
    "Cluster",
    "Event",
    "FeatureGeometry",
    "HistoryEntry",
    "Incident",
    "IncidentDetail",
    "IncidentFilter",
    "IncidentPosition",
    "Job",
    "KpiCounts",
    "LayerFeature",
    "Location",
    "NewFeature",
    "NotFound",
    "Store",
    "StoreBusy",
    "Token",
    "TokenRecord",
    "Version",
    "open_store",
]


def open_store(
    path_or_url: str | Path | None = None,
    time_limits: TimeLimits | None = None,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
) -> Store:
    """Open (creating and migrating when needed) the store at a path or URL.

    ``busy_timeout``: seconds a write waits for another writer before StoreBusy. ValueError
    names an unsupported URL scheme.
    """
    target = str(path_or_url or DEFAULT_DB)
    if target.startswith(("postgresql://", "postgres://")):
        # Imported only here: SQLite users need neither psycopg nor the module.
        postgis = importlib.import_module("gridmap.store.postgis")
        return postgis.open_store(target, time_limits=time_limits, busy_timeout=busy_timeout)
    if target.startswith("sqlite:///"):
        target = target[len("sqlite:///") :]
    elif "://" in target:
        scheme = target.split("://", 1)[0]
        raise ValueError(
            f"unsupported store URL scheme {scheme!r}: use a file path, sqlite:///path "
            "or postgresql://user@host/db"
        )
    from gridmap.store.sqlite import SQLiteStore

    return SQLiteStore(target, time_limits=time_limits, busy_timeout=busy_timeout)
