"""The PostgreSQL + PostGIS store: a psycopg 3 connection pool, plain SQL, PostGIS geometry.

:class:`PostGISStore` implements :class:`gridmap.store.base.Store` over a database named by a
``postgresql://`` URL. Many processes and threads may write at once: every write is one short
transaction; row locks order the writers of one incident. The live stream's readers never
skip an event: a writer of events holds the event lock *shared* from before its event ids are
drawn until it commits, and a reader takes it exclusively for one statement to learn the
highest id whose transaction has finished (every lower id has too), then reads up to there
(see :meth:`PostGISStore._event_horizon`). Writers do not wait for each other, so their
commits share WAL flushes (an exclusive lock held to commit, as before, made every report wait
for the previous one's flush). A write that waits for a row lock or a pooled connection
longer than ``busy_timeout`` seconds raises
:class:`~gridmap.store.base.StoreBusy` (the web app answers 503 with ``Retry-After``); nothing is
half-written.

Geometry lives in PostGIS columns with GiST indexes; the bbox and point-candidate queries run in
the database. Which grid holds a point is decided by :mod:`gridmap.rules.grid_index` over the
candidates this store returns, exactly as for SQLite: one rule, no SQL copy of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import secrets
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields, replace
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import shapely
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from gridmap.rules import kpi as kpi_rules
from gridmap.rules import workflow
from gridmap.rules.display import BANDS, band_for_zoom, pixel_degrees
from gridmap.rules.kpi import KpiCounts, StateCounts
from gridmap.rules.workflow import FINAL_STATES, TimeLimits, parse_iso, utc_now
from gridmap.store import zorder
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
    LayerFeature,
    Location,
    NewFeature,
    NotFound,
    StoreBusy,
    Token,
    TokenRecord,
    Version,
)
from gridmap.store.loop import FollowUp, IncidentDetail, IncidentLoop
from gridmap.store.memo import RequestMemo
from gridmap.store.postgis.jobs import PostGISJobs
from gridmap.store.postgis.loop import (
    FOLLOW_UP_COLUMNS,
    LOOP_COLUMNS,
    PostGISLoop,
    iso_text,
)
from gridmap.store.postgis.migrations import MIGRATIONS
from gridmap.store.postgis.photos import PostGISPhotos

SRID = 4490
ADMIN_LEVELS = ("district", "street", "community")
LEVEL_COLUMNS = {
    "grid": "grid_code",
    "community": "community_code",
    "street": "street_code",
    "district": "district_code",
}
POOL_SIZE = int(os.environ.get("GRIDMAP_PG_POOL_SIZE", "20"))
POOL_WAIT_SECONDS = 30.0
# Key of the transaction-level advisory lock that orders incident event ids (any constant).
EVENT_LOCK = 0x67726964  # "grid"
MIGRATION_LOCK = 0x6D696772  # "migr"

# the final states as an SQL list: closed, rejected
_FINAL = ", ".join(f"'{state}'" for state in sorted(FINAL_STATES))


def _iso_sql(column: str) -> str:
    """:func:`iso_text` of a timestamptz column, named as the column."""
    return f"{iso_text(column)} AS {column.rsplit('.', 1)[-1]}"


def hash_secret(value: str) -> str:
    """sha256 hex of a token or session id: what the store keeps instead of the value.

    >>> hash_secret("abc")[:12]
    'ba7816bf8f01'
    """
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def redact_url(url: str) -> str:
    """The URL without its password (for messages and logs).

    >>> redact_url("postgresql://gm:s3cret@db.example:5432/grid")
    'postgresql://gm:***@db.example:5432/grid'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _row_id(value: int, what: str) -> int:
    """An id a bigint can hold; anything else names no row (NotFound, not a driver error)."""
    if not 0 < value < 2**63:
        raise NotFound(f"no {what} {value}")
    return value


_INCIDENT_COLUMNS = ", ".join(
    [
        "i.id",
        "i.type",
        "i.description",
        "i.address",
        "i.lon",
        "i.lat",
        "i.grid_code",
        "i.community_code",
        "i.street_code",
        "i.district_code",
        "i.status",
        _iso_sql("i.created_at"),
        _iso_sql("i.updated_at"),
        _iso_sql("i.due_at"),
        _iso_sql("i.expected_at"),
        _iso_sql("i.closed_at"),
        "i.late_steps",
        "i.rework",
        "i.reporter",
        "i.source",
        "i.version_id",
    ]
)
_OVERDUE = f"(i.status NOT IN ({_FINAL}) AND i.due_at IS NOT NULL AND i.due_at < %(now)s)"
# the fields of HistoryEntry, in order, from incident_events
_HISTORY_COLUMNS = f"to_state, action, actor, {iso_text('at')}, note, late"
_HISTORY_SQL = f"SELECT {_HISTORY_COLUMNS} FROM incident_events WHERE incident_id = %s ORDER BY id"
_INCIDENT_SELECT = (
    f"SELECT {_INCIDENT_COLUMNS}, {_OVERDUE} AS overdue, i.match_level, i.approximate "
    "FROM incidents i"
)
_INCIDENT_FIELDS = len(fields(Incident))
# An incident's full view in one statement: its row, then history, linked duplicates, loop
# state and follow-ups as JSON arrays of each record's fields (one statement costs the server
# and psycopg about a fifth of what five did: a report's answer is read this way).
_DETAIL_SQL = f"""{_INCIDENT_SELECT.removesuffix(" FROM incidents i")},
(SELECT json_agg(json_build_array({_HISTORY_COLUMNS}) ORDER BY e.id)
    FROM incident_events e WHERE e.incident_id = i.id),
(SELECT count(*) FROM duplicate_reports d WHERE d.incident_id = i.id AND d.split_into IS NULL),
(SELECT json_build_array({LOOP_COLUMNS}) FROM incident_loop l WHERE l.incident_id = i.id),
(SELECT json_agg(json_build_array({FOLLOW_UP_COLUMNS}) ORDER BY f.id)
    FROM follow_ups f WHERE f.incident_id = i.id)
FROM incidents i WHERE i.id = %(id)s"""


# Taken (shared) by every writer of incident events, held to its commit (see _event_lock).
_SHARED_EVENT_LOCK = f"SELECT pg_advisory_xact_lock_shared({EVENT_LOCK})"
# A report in one statement. Its rows are drawn from the CTE before them, so the shared event lock
# is held before the incident, and then its event, draws an id; the foreign key of
# incident_locations is checked at the end of the statement, when the incident row exists.
_CREATE_CTES = f"""
WITH locked AS ({_SHARED_EVENT_LOCK}),
created AS (
    INSERT INTO incidents (type, description, address, lon, lat, grid_code, community_code,
        street_code, district_code, status, created_at, updated_at, due_at, expected_at,
        reporter, source, version_id, match_level, approximate)
    SELECT %(type)s, %(description)s, %(address)s, %(lon)s, %(lat)s, %(grid)s, %(community)s,
        %(street)s, %(district)s, 'reported', %(at)s, %(at)s, %(due)s, %(expected)s, %(actor)s,
        %(source)s, %(version)s, %(level)s, %(approximate)s
    FROM locked RETURNING id),
logged AS (
    INSERT INTO incident_events (incident_id, event, action, from_state, to_state, actor, at)
    SELECT id, 'created', 'report', NULL, 'reported', %(actor)s, %(at)s FROM created)"""
# where it is under its version, for that version's KPIs
_PLACED_CTE = """,
placed AS (
    INSERT INTO incident_locations (version_id, incident_id, grid_code, community_code,
        street_code, district_code)
    SELECT %(version)s, id, %(grid)s, %(community)s, %(street)s, %(district)s FROM created)"""
_CREATE_UNVERSIONED_SQL = f"{_CREATE_CTES}\nSELECT id FROM created"
_CREATE_SQL = f"{_CREATE_CTES}{_PLACED_CTE}\nSELECT id FROM created"


def _moment(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_iso(value)


def _token_record(row: tuple | None) -> Token | None:
    """A ``_TOKEN_SQL`` row as a Token (None: no such live token)."""
    return Token(row[0], row[1], row[2], tuple(row[3])) if row else None


def _where(flt: IncidentFilter, params: dict) -> str:
    """SQL condition of an incident filter (table alias ``i``); fills ``params``."""
    clauses = ["true"]
    if flt.bbox is not None:
        params["w"], params["s"], params["e"], params["n"] = flt.bbox
        # the GiST index finds the candidates (its boxes are float4, rounded outwards); the
        # exact test keeps a point 1e-6 degrees outside the view out, as the clusters do
        clauses.append(
            f"i.geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, {SRID}) "
            "AND i.lon BETWEEN %(w)s AND %(e)s AND i.lat BETWEEN %(s)s AND %(n)s"
        )
    if flt.statuses:
        params["statuses"] = list(flt.statuses)
        clauses.append("i.status = ANY(%(statuses)s)")
    if flt.types:
        params["types"] = list(flt.types)
        clauses.append("i.type = ANY(%(types)s)")
    if flt.since:
        params["since"] = _moment(flt.since)
        clauses.append("i.created_at >= %(since)s")
    if flt.until:
        params["until"] = _moment(flt.until)
        clauses.append("i.created_at <= %(until)s")
    if flt.grid:
        params["grid"] = re.sub(r"[%_\\]", "", flt.grid) + "%"
        clauses.append("i.grid_code LIKE %(grid)s")
    if flt.channels:
        params["channels"] = list(flt.channels)
        clauses.append("i.source = ANY(%(channels)s)")
    if flt.ids is not None:
        params["ids"] = [int(i) for i in flt.ids]
        clauses.append("i.id = ANY(%(ids)s::bigint[])")
    if flt.not_ids:
        params["not_ids"] = [int(i) for i in flt.not_ids]
        clauses.append("NOT (i.id = ANY(%(not_ids)s::bigint[]))")
    return " AND ".join(clauses)


class PostGISStore(
    PostGISLoop, PostGISJobs, PostGISPhotos, RequestMemo
):  # loop, jobs, photos, memo
    """Grid versions, the address library, incidents and their history, tokens, sessions, blobs
    in PostgreSQL + PostGIS. Opening it migrates the schema when needed.

    ``url`` is a libpq URL (``postgresql://user:password@host:port/db?options=...``); the
    database must have the postgis extension or let this role create it.
    """

    def __init__(
        self,
        url: str,
        time_limits: TimeLimits | None = None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        self.url = redact_url(url)
        self.time_limits = time_limits or TimeLimits()
        self.busy_timeout = busy_timeout
        self._conninfo = url
        self._local = threading.local()
        self.migrate()  # on a connection of its own: a bad URL fails here, at once and clearly
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(POOL_SIZE, 2),
            kwargs={"autocommit": True},
            configure=self._configure,
            name="gridmap",
            # waiting for a free connection is not waiting for another writer: a pool this
            # short of connections should be made larger, not answer 503 at once
            timeout=max(busy_timeout, POOL_WAIT_SECONDS),
            max_idle=60,
            num_workers=1,
            open=False,
        )
        self._pool.open()
        # An app or a test that forgets close() must not leak the pool's connections.
        self._finalizer = weakref.finalize(self, self._pool.close)

    # -- connections ---------------------------------------------------------------------------

    def _configure(self, conn: psycopg.Connection) -> None:
        """Every pooled connection: UTC, and lock waits bounded (then StoreBusy, not a hang)."""
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute(f"SET lock_timeout = '{int(self.busy_timeout * 1000)}ms'")

    def dispose(self) -> None:
        """Close the pool: every connection of this store (the store is unusable after)."""
        self._finalizer()

    def close(self) -> None:
        """Release this thread's connection. Connections go back to the pool after every call
        already, so there is nothing to do; :meth:`dispose` closes the pool."""

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        """This thread's open transaction, or a pooled connection for one call."""
        tx = getattr(self._local, "tx", None)
        if tx is not None:
            yield tx
            return
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as error:
            raise StoreBusy(
                "no free database connection: all are busy (GRIDMAP_PG_POOL_SIZE)"
            ) from error
        except psycopg.errors.LockNotAvailable as error:
            raise StoreBusy(
                f"the database stayed locked by another writer for over {self.busy_timeout:g} s"
            ) from error
        except psycopg.OperationalError as error:
            if isinstance(error, psycopg.errors.QueryCanceled | psycopg.errors.AdminShutdown):
                raise StoreBusy(str(error).strip()) from error
            if getattr(error, "sqlstate", None) is None:  # the connection itself failed
                raise StoreBusy(f"database unreachable: {str(error).strip()}") from error
            raise

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """BEGIN ... COMMIT (ROLLBACK on error) on one connection; nested use joins it."""
        tx = getattr(self._local, "tx", None)
        if tx is not None:
            yield tx
            return
        self._forget_reads()  # a request's kept reads (gridmap.store.memo) may change
        try:
            with self._conn() as conn, conn.transaction():
                self._local.tx = conn
                try:
                    yield conn
                finally:
                    self._local.tx = None
        finally:
            self._forget_reads()

    @contextmanager
    def _write(self) -> Iterator[psycopg.Connection]:
        """A write transaction sent as a pipeline: BEGIN, the statements and COMMIT travel
        together and the server answers once, unless a result is read midway (a report is one
        round trip instead of six). Inside :meth:`transaction` it joins that transaction."""
        tx = getattr(self._local, "tx", None)
        if tx is not None:
            yield tx
            return
        self._forget_reads()
        try:
            with self._conn() as conn, conn.pipeline(), conn.transaction():
                self._local.tx = conn
                try:
                    yield conn
                finally:
                    self._local.tx = None
        finally:
            self._forget_reads()

    def migrate(self) -> None:
        """Apply every migration not yet recorded in ``schema_version`` (under a lock, so two
        processes opening a new database at once do not both create it)."""
        try:
            conn = psycopg.connect(self._conninfo, connect_timeout=10)
        except psycopg.Error as error:
            raise ValueError(
                f"cannot connect to PostgreSQL at {self.url}: {str(error).strip()}"
            ) from None
        with conn, conn.transaction():
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema())::int)",
                (MIGRATION_LOCK,),
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL)"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
            for number, script in MIGRATIONS:
                if number in done:
                    continue
                try:
                    conn.execute(script)
                except psycopg.errors.InsufficientPrivilege as error:
                    raise ValueError(
                        f"{self.url}: migration {number} needs a privilege this role lacks "
                        f"({str(error).strip()}); e.g. CREATE EXTENSION postgis as a superuser"
                    ) from None
                conn.execute("INSERT INTO schema_version VALUES (%s, now())", (number,))

    def schema_version(self) -> int:
        with self._conn() as conn:
            return conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]

    # -- meta ----------------------------------------------------------------------------------

    def secret_key(self) -> str:
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO meta VALUES ('secret_key', %s) ON CONFLICT (key) DO NOTHING",
                (secrets.token_hex(32),),
            )
            return tx.execute("SELECT value FROM meta WHERE key = 'secret_key'").fetchone()[0]

    # -- grid versions -------------------------------------------------------------------------

    def add_version(
        self,
        *,
        note: str,
        city: str,
        bounds: tuple[float, float, float, float],
        features: Iterable[NewFeature],
        addresses: Iterable[Address],
        summary: Mapping[str, int],
        published_by: str = "",
        make_current: bool = True,
    ) -> int:
        """Store a whole version in one transaction (features and addresses by COPY)."""
        features = list(features)
        with self.transaction() as tx:
            version_id = tx.execute(
                "INSERT INTO versions (note, city, published_at, published_by, bounds, summary) "
                "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (note, city, utc_now(), published_by, list(bounds), Jsonb(dict(summary))),
            ).fetchone()[0]
            ids = [
                r[0]
                for r in tx.execute(
                    "SELECT nextval(pg_get_serial_sequence('features', 'id')) "
                    "FROM generate_series(1, %s)",
                    (len(features),),
                )
            ]
            # hex EWKB carries the SRID the geometry(…, 4490) columns insist on
            geoms = shapely.set_srid(np.array([f.geometry for f in features], dtype=object), SRID)
            ewkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
            with tx.cursor() as cur:
                with cur.copy(
                    "COPY features (id, version_id, layer, code, name, props, geom) FROM STDIN"
                ) as copy:
                    for fid, feature, hexwkb in zip(ids, features, ewkb, strict=True):
                        copy.write_row(
                            (
                                fid,
                                version_id,
                                feature.layer,
                                feature.code,
                                feature.name,
                                _json(feature.props),
                                hexwkb,
                            )
                        )
                with cur.copy("COPY feature_geoms (feature_id, band, geojson) FROM STDIN") as copy:
                    for fid, feature in zip(ids, features, strict=True):
                        for band, text in feature.display.items():
                            copy.write_row((fid, band, text))
                with cur.copy(
                    "COPY addresses (version_id, address_id, address, lon, lat, households, "
                    "population, community_code, grid_code, components) FROM STDIN"
                ) as copy:
                    for a in addresses:
                        copy.write_row(
                            (
                                version_id,
                                a.address_id,
                                a.address,
                                a.lon,
                                a.lat,
                                a.households,
                                a.population,
                                a.community_code,
                                a.grid_code,
                                _json(a.components),
                            )
                        )
            if make_current:
                self._make_current(tx, version_id)
        return version_id

    @staticmethod
    def _make_current(tx: psycopg.Connection, version_id: int) -> None:
        # One activation or publication at a time (they would both set a current version), and
        # two statements: the unique "one current" index is checked row by row.
        tx.execute("LOCK TABLE versions IN SHARE ROW EXCLUSIVE MODE")
        tx.execute(
            "UPDATE versions SET is_current = false WHERE is_current AND id <> %s", (version_id,)
        )
        tx.execute("UPDATE versions SET is_current = true WHERE id = %s", (version_id,))

    def set_current(self, version_id: int) -> None:
        _row_id(version_id, "grid version")
        with self.transaction() as tx:
            found = tx.execute("SELECT id FROM versions WHERE id = %s", (version_id,)).fetchone()
            if not found:
                raise NotFound(f"no grid version {version_id}")
            self._make_current(tx, version_id)

    _VERSION_SQL = (
        "SELECT id, note, city, "
        + _iso_sql("published_at")
        + ", published_by, is_current, bounds, summary FROM versions"
    )

    @classmethod
    def _versions_sql(cls, where: str = "") -> str:
        return f"{cls._VERSION_SQL} {where} ORDER BY id"

    def _versions(self, where: str = "", params: tuple = ()) -> list[Version]:
        with self._conn() as conn:
            rows = conn.execute(self._versions_sql(where), params).fetchall()
        return self._version_records(rows)

    @staticmethod
    def _version_records(rows: list[tuple]) -> list[Version]:
        return [
            Version(
                id=r[0],
                note=r[1],
                city=r[2],
                published_at=r[3],
                published_by=r[4],
                current=r[5],
                bounds=tuple(r[6]),
                summary=r[7],
            )
            for r in rows
        ]

    def versions(self) -> list[Version]:
        return self._versions()

    def version(self, version_id: int) -> Version:
        _row_id(version_id, "grid version")
        found = self._versions("WHERE id = %s", (version_id,))
        if not found:
            raise NotFound(f"no grid version {version_id}")
        return found[0]

    def current_version(self) -> Version | None:
        return self._memoized("current_version", self._current_version)

    def _current_version(self) -> Version | None:
        found = self._versions("WHERE is_current")
        return found[0] if found else None

    @staticmethod
    def _layer_sql(
        columns: str,
        version_id: int,
        layer: str,
        bbox: tuple[float, float, float, float] | None,
        zoom: float | None,
    ) -> tuple[str, dict]:
        """A layer's query and its parameters. Run it unprepared (``prepare=False``): the plan
        depends on the view. psycopg prepares a statement after five runs, and PostgreSQL then
        settles on one generic plan for every bbox. That plan expects one feature in the view,
        so a city-wide view walked the GiST index and sorted 10,000 rows: 22-29 ms where a plan
        for the actual view takes 12 ms (a third of the grid layer's p95)."""
        params: dict = {
            "band": band_for_zoom(zoom),
            "version": version_id,
            "layer": layer,
            "min": pixel_degrees(zoom) if zoom is not None else 0.0,
        }
        query = (
            f"SELECT {columns} FROM features f "
            "JOIN feature_geoms g ON g.feature_id = f.id AND g.band = %(band)s "
            "WHERE f.version_id = %(version)s AND f.layer = %(layer)s AND f.extent >= %(min)s"
        )
        if bbox is not None:
            params["w"], params["s"], params["e"], params["n"] = bbox
            query += f" AND f.geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, {SRID})"
        return query + " ORDER BY f.id", params

    def layer_features(
        self,
        version_id: int,
        layer: str,
        bbox: tuple[float, float, float, float] | None,
        zoom: float | None,
    ) -> list[LayerFeature]:
        """Features of a layer meeting ``bbox`` (GiST), at ``zoom``'s band, sub-pixel ones left
        out."""
        query, params = self._layer_sql(
            "f.id, f.code, f.name, f.props, g.geojson", version_id, layer, bbox, zoom
        )
        with self._conn() as conn, conn.cursor(row_factory=class_row(LayerFeature)) as cur:
            return cur.execute(query, params, prepare=False).fetchall()

    def layer_feature_ids(
        self,
        version_id: int,
        layer: str,
        bbox: tuple[float, float, float, float] | None,
        zoom: float | None,
    ) -> list[int]:
        query, params = self._layer_sql("f.id", version_id, layer, bbox, zoom)
        # One array, not a row per id: a city view's 10,000 ids cost psycopg 0.9 ms of CPU
        # this way against 5.8 ms as 10,000 rows (and the database less time sending them).
        # Never prepared (see _layer_sql).
        with self._conn() as conn:
            return conn.execute(f"SELECT ARRAY({query})", params, prepare=False).fetchone()[0]

    def feature(self, version_id: int, layer: str, code: str) -> LayerFeature | None:
        with self._conn() as conn, conn.cursor(row_factory=class_row(LayerFeature)) as cur:
            return cur.execute(
                "SELECT f.id, f.code, f.name, f.props, g.geojson FROM features f "
                "JOIN feature_geoms g ON g.feature_id = f.id AND g.band = %s "
                "WHERE f.version_id = %s AND f.layer = %s AND f.code = %s ORDER BY f.id LIMIT 1",
                (BANDS[-1], version_id, layer, code),
            ).fetchone()

    def names(self, version_id: int) -> dict[str, str]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT code, name FROM features WHERE version_id = %s AND layer = ANY(%s)",
                (version_id, list(ADMIN_LEVELS)),
            ).fetchall()
        return {code: name for code, name in rows}

    def _geometries(self, where: str, params: tuple) -> list[FeatureGeometry]:
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT layer, code, props, ST_AsBinary(geom) FROM features WHERE {where} "
                "ORDER BY id",
                params,
            ).fetchall()
        geoms = shapely.from_wkb([bytes(r[3]) for r in rows]) if rows else []
        return [FeatureGeometry(r[0], r[1], r[2], g) for r, g in zip(rows, geoms, strict=True)]

    def layer_geometries(self, version_id: int, layers: tuple[str, ...]) -> list[FeatureGeometry]:
        return self._geometries("version_id = %s AND layer = ANY(%s)", (version_id, list(layers)))

    def candidate_features(
        self, version_id: int, layers: tuple[str, ...], lon: float, lat: float
    ) -> list[FeatureGeometry]:
        """Features of ``layers`` whose bounding box holds the point (GiST ``&&``)."""
        return self._geometries(
            f"version_id = %s AND layer = ANY(%s) AND geom && ST_SetSRID(ST_Point(%s, %s), {SRID})",
            (version_id, list(layers), lon, lat),
        )

    _ADDRESS_SQL = (
        "SELECT address_id, address, lon, lat, households, population, community_code, "
        "grid_code, components FROM addresses"
    )

    def _addresses(self, where: str, params: tuple) -> list[Address]:
        with self._conn() as conn, conn.cursor(row_factory=class_row(Address)) as cur:
            return cur.execute(f"{self._ADDRESS_SQL} WHERE {where}", params).fetchall()

    def addresses(self, version_id: int) -> list[Address]:
        return self._addresses("version_id = %s ORDER BY address_id", (version_id,))

    def find_address(self, version_id: int, text: str) -> Address | None:
        found = self._addresses(
            "version_id = %s AND address = %s ORDER BY address_id LIMIT 1",
            (version_id, text.strip()),
        )
        return found[0] if found else None

    def random_addresses(self, version_id: int, count: int, seed: int) -> list[Address]:
        rows = self._addresses(
            "version_id = %s AND grid_code IS NOT NULL ORDER BY address_id", (version_id,)
        )
        rng = random.Random(seed)
        return [rng.choice(rows) for _ in range(count)] if rows else []

    # -- incidents -----------------------------------------------------------------------------

    @staticmethod
    def _event_lock(tx: psycopg.Connection) -> None:
        """Taken (shared) before a transaction draws event ids, held to its commit: a reader's
        :meth:`_event_horizon` waits for such transactions to finish (see module)."""
        tx.execute(_SHARED_EVENT_LOCK)

    def _event_horizon(self) -> int:
        """The highest event id such that every transaction that drew an id up to it has
        finished (committed or rolled back): none holds the event lock while this one holds it
        exclusively, and ids are drawn in increasing order, so a later writer draws higher ids.
        Held for one statement; writers arriving meanwhile queue behind it for that long."""
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (EVENT_LOCK,))
            return conn.execute("SELECT coalesce(max(id), 0) FROM incident_events").fetchone()[0]

    def create_incident(
        self,
        *,
        type: str,
        description: str,
        lon: float,
        lat: float,
        location: Location,
        actor: str,
        address: str = "",
        source: str = "api",
        version_id: int | None = None,
        at: datetime | None = None,
        match_level: str = "",
        approximate: bool = False,
    ) -> int:
        moment = at or utc_now()
        due, expected = workflow.opening_deadlines(type, moment, self.time_limits)
        values = {
            "type": type,
            "description": description,
            "address": address,
            "lon": lon,
            "lat": lat,
            "grid": location.grid_code,
            "community": location.community_code,
            "street": location.street_code,
            "district": location.district_code,
            "at": moment,
            "due": due,
            "expected": expected,
            "actor": actor,
            "source": source,
            "version": version_id,
            "level": match_level,
            "approximate": approximate,
        }
        sql = _CREATE_SQL if version_id is not None else _CREATE_UNVERSIONED_SQL
        # One statement, its own transaction: a report is one round trip. It changes no read a
        # request keeps (gridmap.store.memo), and a plain connection leaves them kept.
        with self._conn() as conn:
            return conn.execute(sql, values).fetchone()[0]

    def transition(
        self, incident_id: int, action: str, actor: str, note: str = "", at: datetime | None = None
    ) -> Incident:
        moment = at or utc_now()
        _row_id(incident_id, "incident")
        with self._write() as tx:
            row = tx.execute(
                f"SELECT status, type, {_iso_sql('due_at')} FROM incidents WHERE id = %s "
                "FOR UPDATE",
                (incident_id,),
            ).fetchone()
            if row is None:
                raise NotFound(f"no incident {incident_id}")
            step = workflow.plan_transition(
                row[0], row[1], row[2], action, moment, self.time_limits
            )
            tx.execute(
                "UPDATE incidents SET status = %s, updated_at = %s, due_at = %s, "
                "late_steps = late_steps + %s, rework = rework + %s, closed_at = %s WHERE id = %s",
                (
                    step.to_state,
                    moment,
                    step.due_at,
                    int(step.late),
                    int(step.rework),
                    step.closed_at,
                    incident_id,
                ),
            )
            self._event_lock(tx)
            tx.execute(
                "INSERT INTO incident_events (incident_id, event, action, from_state, to_state, "
                "actor, at, note, late) VALUES (%s, 'transition', %s, %s, %s, %s, %s, %s, %s)",
                (
                    incident_id,
                    action,
                    step.from_state,
                    step.to_state,
                    actor,
                    moment,
                    note,
                    step.late,
                ),
            )
        return self.incident(incident_id)

    def _incidents(self, where: str, params: dict, tail: str = "") -> list[Incident]:
        with self._conn() as conn, conn.cursor(row_factory=class_row(Incident)) as cur:
            return cur.execute(f"{_INCIDENT_SELECT} WHERE {where} {tail}", params).fetchall()

    def incident(self, incident_id: int, now: datetime | None = None) -> Incident:
        _row_id(incident_id, "incident")
        found = self._incidents("i.id = %(id)s", {"id": incident_id, "now": now or utc_now()})
        if not found:
            raise NotFound(f"no incident {incident_id}")
        return found[0]

    def history(self, incident_id: int) -> list[HistoryEntry]:
        with self._conn() as conn:
            return [HistoryEntry(*r) for r in conn.execute(_HISTORY_SQL, (incident_id,))]

    def incident_detail(self, incident_id: int, now: datetime | None = None) -> IncidentDetail:
        _row_id(incident_id, "incident")
        self._ensure_loop()
        with self._conn() as conn:
            row = conn.execute(_DETAIL_SQL, {"id": incident_id, "now": now or utc_now()}).fetchone()
        if row is None:
            raise NotFound(f"no incident {incident_id}")
        history, duplicates, loop, follow_ups = row[_INCIDENT_FIELDS:]
        return IncidentDetail(
            Incident(*row[:_INCIDENT_FIELDS]),
            [HistoryEntry(*entry) for entry in history or ()],
            duplicates,
            IncidentLoop(*loop) if loop else IncidentLoop(incident_id, None, 0, None),
            [FollowUp(*entry) for entry in follow_ups or ()],
        )

    def count_incidents(self, flt: IncidentFilter, limit: int | None = None) -> int:
        params: dict = {}
        where = _where(flt, params)
        query = f"SELECT count(*) FROM incidents i WHERE {where}"
        if limit is not None:
            params["limit"] = max(int(limit), 0)
            query = (
                f"SELECT count(*) FROM (SELECT 1 FROM incidents i WHERE {where} LIMIT %(limit)s) n"
            )
        with self._conn() as conn:
            return conn.execute(query, params).fetchone()[0]

    def incidents(
        self,
        flt: IncidentFilter,
        limit: int | None = None,
        offset: int = 0,
        now: datetime | None = None,
    ) -> list[Incident]:
        params: dict = {"now": now or utc_now()}
        where = _where(flt, params)
        tail = "ORDER BY i.id DESC"
        if limit is not None:
            tail += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return self._incidents(where, params, tail)

    def incident_clusters(
        self, flt: IncidentFilter, cell_degrees: float, now: datetime | None = None
    ) -> list[Cluster]:
        cells = zorder.view_cells(flt.bbox, cell_degrees)
        if cells is not None:
            return self._clusters_by_cell(flt, cells, now)
        params: dict = {"now": now or utc_now(), "cell": cell_degrees}
        where = _where(flt, params)
        with self._conn() as conn, conn.cursor(row_factory=class_row(Cluster)) as cur:
            return cur.execute(
                f"SELECT avg(i.lon) AS lon, avg(i.lat) AS lat, count(*) AS count, "
                f"count(*) FILTER (WHERE {_OVERDUE}) AS overdue FROM incidents i WHERE {where} "
                "GROUP BY floor((i.lon + 180) / %(cell)s), floor((i.lat + 90) / %(cell)s)",
                params,
            ).fetchall()

    def _clusters_by_cell(
        self, flt: IncidentFilter, cells: list[tuple[int, int]], now: datetime | None
    ) -> list[Cluster]:
        """Clusters of quadtree cells, each one range of the covering Z-order index (migration
        7) read without touching the table: 100,000 incidents at zoom 12, 148 -> 36 ms against
        a GROUP BY over every row's geometry. The bbox is exact (lon/lat), not PostGIS's box."""
        params: dict = {"now": now or utc_now()}
        where = _where(replace(flt, bbox=None), params)
        params["w"], params["s"], params["e"], params["n"] = flt.bbox
        params["first"], params["last"] = [c[0] for c in cells], [c[1] for c in cells]
        sql = (
            "SELECT a.lon, a.lat, a.count, a.overdue "
            "FROM unnest(%(first)s::bigint[], %(last)s::bigint[]) AS c(first, last) "
            "CROSS JOIN LATERAL (SELECT avg(i.lon) AS lon, avg(i.lat) AS lat, count(*) AS count, "
            f"count(*) FILTER (WHERE {_OVERDUE}) AS overdue FROM incidents i "
            "WHERE i.zkey BETWEEN c.first AND c.last AND i.lon BETWEEN %(w)s AND %(e)s "
            f"AND i.lat BETWEEN %(s)s AND %(n)s AND {where}) a WHERE a.count > 0"
        )
        with self._conn() as conn, conn.cursor(row_factory=class_row(Cluster)) as cur:
            return cur.execute(sql, params).fetchall()

    def events_since(
        self, last_id: int, limit: int = 500, now: datetime | None = None
    ) -> list[Event]:
        last = min(max(last_id, 0), 2**63 - 1)
        horizon = self._event_horizon()
        if horizon <= last:
            return []
        with self._conn() as conn, conn.cursor(row_factory=class_row(Event)) as cur:
            return cur.execute(
                f"SELECT e.id AS event_id, e.incident_id, e.event, e.to_state AS status, "
                f"i.status AS current_status, i.type, i.lon, i.lat, i.grid_code, "
                f"{_OVERDUE} AS overdue, {_iso_sql('e.at')} FROM incident_events e "
                "JOIN incidents i ON i.id = e.incident_id "
                "WHERE e.id > %(last)s AND e.id <= %(horizon)s ORDER BY e.id LIMIT %(limit)s",
                {"now": now or utc_now(), "last": last, "horizon": horizon, "limit": limit},
            ).fetchall()

    def last_event_id(self) -> int:
        return self._event_horizon()

    def kpis(
        self,
        level: str,
        now: datetime | None = None,
        code: str | None = None,
        codes: Iterable[str] | None = None,
        version_id: int | None = None,
    ) -> list[KpiCounts]:
        column = LEVEL_COLUMNS[level]
        params: dict = {"now": now or utc_now()}
        if version_id is None:
            source, unit = "incidents i", f"i.{column}"
        else:
            params["version"] = version_id
            source = (
                "incidents i JOIN incident_locations l "
                "ON l.incident_id = i.id AND l.version_id = %(version)s"
            )
            unit = f"l.{column}"
        where = [f"{unit} IS NOT NULL"]
        if code is not None:
            params["code"] = code
            where.append(f"{unit} = %(code)s")
        if codes is not None:
            params["codes"] = list(codes)
            where.append(f"{unit} = ANY(%(codes)s)")
        # Counts per (unit, state) only: gridmap.rules.kpi.fold decides what is open, closed,
        # rejected or overdue, for both stores.
        query = (
            f"SELECT {unit}, i.status, count(*), count(*) FILTER (WHERE i.late_steps = 0), "
            "count(*) FILTER (WHERE i.due_at < %(now)s), coalesce(sum(i.rework), 0)::bigint "
            f"FROM {source} WHERE {' AND '.join(where)} GROUP BY {unit}, i.status"
        )
        with self._conn() as conn:
            return kpi_rules.fold(map(StateCounts._make, conn.execute(query, params)))

    # -- incidents across grid versions ----------------------------------------------------------

    def incident_positions(
        self, open_only: bool = False, missing_version: int | None = None
    ) -> list[IncidentPosition]:
        where, params = ["true"], {}
        if open_only:
            where.append(f"i.status NOT IN ({_FINAL})")
        if missing_version is not None:
            params["version"] = missing_version
            where.append(
                "NOT EXISTS (SELECT 1 FROM incident_locations l WHERE l.version_id = %(version)s "
                "AND l.incident_id = i.id)"
            )
        with self._conn() as conn, conn.cursor(row_factory=class_row(IncidentPosition)) as cur:
            return cur.execute(
                "SELECT i.id, i.lon, i.lat, i.status, i.grid_code FROM incidents i "
                f"WHERE {' AND '.join(where)} ORDER BY i.id",
                params,
            ).fetchall()

    def save_locations(
        self,
        version_id: int,
        locations: Iterable[tuple[int, Location]],
        rehome: bool = False,
        actor: str = "",
    ) -> int:
        """Record locations under a version (COPY into a temporary table, then set-based SQL);
        with ``rehome`` move the incidents there and log a 'rehomed' entry where the grid
        changed. Returns how many changed grid."""
        moment = utc_now()
        with self.transaction() as tx:
            tx.execute(
                "CREATE TEMPORARY TABLE new_locations (incident_id bigint PRIMARY KEY, "
                'grid_code text COLLATE "C", community_code text COLLATE "C", '
                'street_code text COLLATE "C", district_code text COLLATE "C") '
                "ON COMMIT DROP"
            )
            with tx.cursor() as cur, cur.copy("COPY new_locations FROM STDIN") as copy:
                for incident_id, loc in locations:
                    copy.write_row(
                        (
                            incident_id,
                            loc.grid_code,
                            loc.community_code,
                            loc.street_code,
                            loc.district_code,
                        )
                    )
            tx.execute(
                "INSERT INTO incident_locations (version_id, incident_id, grid_code, "
                "community_code, street_code, district_code) "
                "SELECT %s, n.incident_id, n.grid_code, n.community_code, n.street_code, "
                "n.district_code FROM new_locations n JOIN incidents i ON i.id = n.incident_id "
                "ON CONFLICT (version_id, incident_id) DO UPDATE SET "
                "grid_code = excluded.grid_code, community_code = excluded.community_code, "
                "street_code = excluded.street_code, district_code = excluded.district_code",
                (version_id,),
            )
            if not rehome:
                return 0
            moved = tx.execute(
                "WITH old AS (SELECT i.id, i.grid_code, i.status FROM incidents i "
                "JOIN new_locations n ON n.incident_id = i.id ORDER BY i.id FOR UPDATE OF i), "
                "upd AS (UPDATE incidents i SET grid_code = n.grid_code, "
                "community_code = n.community_code, street_code = n.street_code, "
                "district_code = n.district_code, version_id = %s "
                "FROM new_locations n WHERE n.incident_id = i.id RETURNING i.id) "
                "SELECT old.id, old.grid_code, n.grid_code, old.status FROM old "
                "JOIN new_locations n ON n.incident_id = old.id "
                "WHERE old.grid_code IS DISTINCT FROM n.grid_code ORDER BY old.id",
                (version_id,),
            ).fetchall()
            if moved:
                self._event_lock(tx)
                with tx.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO incident_events (incident_id, event, action, from_state, "
                        "to_state, actor, at, note) VALUES (%s, 'rehomed', 'rehome', %s, %s, "
                        "%s, %s, %s)",
                        [
                            (
                                incident_id,
                                status,
                                status,
                                actor,
                                moment,
                                f"{old or '-'} → {new or '-'}（版本 {version_id}）",
                            )
                            for incident_id, old, new, status in moved
                        ],
                    )
            return len(moved)

    # -- tokens and sessions -------------------------------------------------------------------

    def create_token(self, role: str, name: str = "", grids: Iterable[str] = ()) -> str:
        if role not in workflow.ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(workflow.ROLES)}")
        token = secrets.token_urlsafe(32)
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO tokens (name, role, grids, token_hash, created_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                (name or role, role, list(grids), hash_secret(token), utc_now()),
            )
        return token

    _TOKEN_SQL = (
        "SELECT t.id, t.name, t.role, t.grids FROM tokens t WHERE {} AND t.revoked_at IS NULL"
    )

    def _token(self, where: str, params: tuple) -> Token | None:
        with self._conn() as conn:
            return _token_record(conn.execute(self._TOKEN_SQL.format(where), params).fetchone())

    def check_token(self, token: str) -> Token | None:
        where, params = "t.token_hash = %s", (hash_secret(token),)
        memo = self._memo()
        if memo is None or "current_version" in memo:
            return self._token(where, params)
        # A web request's first read (gridmap.store.memo): the token, the current version and
        # the taxonomy's revision in one statement, one round trip instead of three; the two
        # kept are what current_version() and taxonomy() would read.
        self._ensure_loop()
        first_read = (
            f"SELECT tk.*, cv.*, ({self._REVISION_SQL}) FROM (SELECT 1) AS one "
            f"LEFT JOIN ({self._TOKEN_SQL.format(where)}) AS tk ON true "
            f"LEFT JOIN ({self._versions_sql('WHERE is_current')} LIMIT 1) AS cv ON true"
        )
        with self._conn() as conn:
            row = conn.execute(first_read, params).fetchone()
        versions_from = len(fields(Token))
        revision_at = versions_from + len(fields(Version))
        token_row, version_row = row[:versions_from], row[versions_from:revision_at]
        revision = row[revision_at]
        current = self._version_records([version_row]) if version_row[0] is not None else []
        memo["current_version"] = current[0] if current else None
        memo["taxonomy_revision"] = revision
        return _token_record(token_row if token_row[0] is not None else None)

    def token_by_id(self, token_id: int) -> Token | None:
        if not 0 < token_id < 2**63:
            return None
        return self._token("t.id = %s", (token_id,))

    def tokens(self) -> list[TokenRecord]:
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT id, name, role, grids, {_iso_sql('created_at')}, "
                f"{_iso_sql('revoked_at')} FROM tokens ORDER BY id"
            ).fetchall()
        return [TokenRecord(r[0], r[1], r[2], tuple(r[3]), r[4], r[5]) for r in rows]

    def revoke_token(self, token_id: int) -> None:
        _row_id(token_id, "active token")
        moment = utc_now()
        with self.transaction() as tx:
            cur = tx.execute(
                "UPDATE tokens SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
                (moment, token_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no active token {token_id}")
            tx.execute(
                "UPDATE sessions SET ended_at = %s WHERE token_id = %s AND ended_at IS NULL",
                (moment, token_id),
            )

    def create_session(self, token_id: int) -> str:
        session_id = secrets.token_urlsafe(32)
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO sessions (id_hash, token_id, created_at) VALUES (%s, %s, %s)",
                (hash_secret(session_id), token_id, utc_now()),
            )
        return session_id

    def check_session(self, session_id: str) -> Token | None:
        return self._token(
            "t.id = (SELECT s.token_id FROM sessions s WHERE s.id_hash = %s "
            "AND s.ended_at IS NULL)",
            (hash_secret(session_id),),
        )

    def end_session(self, session_id: str) -> None:
        with self.transaction() as tx:
            tx.execute(
                "UPDATE sessions SET ended_at = %s WHERE id_hash = %s AND ended_at IS NULL",
                (utc_now(), hash_secret(session_id)),
            )

    # -- blobs ---------------------------------------------------------------------------------

    def get_blob(self, key: str) -> bytes | None:
        with self._conn() as conn:
            row = conn.execute("SELECT value FROM blobs WHERE key = %s", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def put_blobs(self, items: Iterable[tuple[str, bytes]]) -> None:
        with self.transaction() as tx, tx.cursor() as cur:
            cur.executemany(
                "INSERT INTO blobs (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [(key, bytes(value)) for key, value in items],
            )

    def drop_blobs(self, prefix: str) -> int:
        with self.transaction() as tx:
            # a key range, not LIKE: the primary key answers it and % or _ mean nothing special
            return tx.execute(
                "DELETE FROM blobs WHERE key >= %s AND key < %s", (prefix, prefix + "\U0010ffff")
            ).rowcount


def _json(value: Mapping) -> str:
    return json.dumps(dict(value), ensure_ascii=False, separators=(",", ":"))
