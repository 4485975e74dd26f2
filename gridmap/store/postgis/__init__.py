"""The PostgreSQL + PostGIS backend: ``open_store("postgresql://user@host:port/db")``.

One package like :mod:`gridmap.store.sqlite`: :mod:`.migrations` holds the schema,
:mod:`.store` the :class:`PostGISStore` (psycopg 3, a connection pool, plain SQL). Run the
contract suite against it with ``.ci/pg-cluster run make test`` (see the README).
"""

from gridmap.store.postgis.store import PostGISStore

__all__ = ["PostGISStore"]
