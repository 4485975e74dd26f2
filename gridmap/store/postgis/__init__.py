"""The PostgreSQL + PostGIS backend: ``open_store("postgresql://user@host:port/db")``.

One package like :mod:`gridmap.store.sqlite`: :mod:`.migrations` holds the schema,
:mod:`.store` the :class:`PostGISStore` (psycopg 3, a connection pool, plain SQL). Run the
contract suite against it with ``.ci/pg-cluster run make test`` (see the README).
"""

from __future__ import annotations

from gridmap.rules.workflow import TimeLimits
from gridmap.store.base import DEFAULT_BUSY_TIMEOUT
from gridmap.store.postgis.store import PostGISStore

__all__ = ["PostGISStore", "open_store"]


def open_store(
    url: str, time_limits: TimeLimits | None = None, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
) -> PostGISStore:
    """Open (migrating when needed) the PostGIS store at a ``postgresql://`` URL; ValueError
    with the reason when the server cannot be reached or the schema cannot be created."""
    if url.startswith("postgres://"):  # libpq takes both spellings; keep one in messages
        url = "postgresql://" + url[len("postgres://") :]
    return PostGISStore(url, time_limits=time_limits, busy_timeout=busy_timeout)
