"""The SQLite store: one file, WAL journal, foreign keys, migrations, R*Tree bbox indexes.

Everything the web app reads or writes goes through :class:`SQLiteStore`; SQL lives here and
nowhere else, so another backend (PostgreSQL + PostGIS) only has to provide the same methods.
Each thread gets its own connection (SQLite connections must not cross threads).

>>> store = SQLiteStore(":memory:")
>>> store.schema_version()
2
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import shapely

from gridmap.store import workflow
from gridmap.store.base import IncidentFilter, NotFound, Token
from gridmap.store.schema import MIGRATIONS
from gridmap.store.workflow import FINAL_STATES, TimeLimits, iso, utc_now

# Zoom bands: a band serves every zoom up to its number; geometry simplified to ~1 pixel there.
BANDS = (9, 11, 13, 15, 99)
ADMIN_LEVELS = ("district", "street", "community")
LAYERS = ("district", "street", "community", "grid", "exclusive", "roads")
_FINAL = tuple(sorted(FINAL_STATES))
# An incident query wider than this (about 5 km) holds a large share of the table: scanning it
# beats collecting ids from the R*Tree first (measured 30 ms vs 370 ms at 100,000 incidents).
WIDE_VIEW_DEGREES = 0.05


def band_for_zoom(zoom: float | None) -> int:
    """The stored zoom band serving ``zoom`` (None: full detail).

    >>> band_for_zoom(10), band_for_zoom(16), band_for_zoom(None)
    (11, 99, 99)
    """
    if zoom is None:
        return BANDS[-1]
    return next(b for b in BANDS if zoom <= b)


def pixel_degrees(zoom: float) -> float:
    """Width of one 256-px web map tile pixel in degrees of longitude at ``zoom``."""
    return 360.0 / (256 * 2**zoom)


def hash_token(token: str) -> str:
    """sha256 hex of a token: what the store keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _row_id(value: int, what: str) -> int:
    """An id SQLite can hold; anything else names no row (NotFound, not an OverflowError)."""
    if not 0 < value < 2**63:
        raise NotFound(f"no {what} {value}")
    return value


def _where(flt: IncidentFilter) -> tuple[str, list]:
    """SQL condition and parameters of an incident filter (table alias ``i``)."""
    clauses, params = ["1=1"], []
    bbox = flt.bbox
    if bbox is not None and max(bbox[2] - bbox[0], bbox[3] - bbox[1]) > WIDE_VIEW_DEGREES:
        # A wide view holds much of the table: a plain scan beats collecting R*Tree ids.
        w, s, e, n = bbox
        clauses.append("i.lon BETWEEN ? AND ? AND i.lat BETWEEN ? AND ?")
        params += [w, e, s, n]
    elif bbox is not None:
        w, s, e, n = bbox
        clauses.append(
            "i.id IN (SELECT id FROM incident_rtree WHERE minx <= ? AND maxx >= ? "
            "AND miny <= ? AND maxy >= ?)"
        )
        params += [e, w, n, s]
    if flt.statuses:
        # Unary + keeps SQLite off the status index: for the common statuses a scan of the
        # table is several times faster than index lookups, and never much slower.
        clauses.append(f"+i.status IN ({','.join('?' * len(flt.statuses))})")
        params += list(flt.statuses)
    if flt.types:
        clauses.append(f"i.type IN ({','.join('?' * len(flt.types))})")
        params += list(flt.types)
    if flt.since:
        clauses.append("i.created_at >= ?")
        params.append(flt.since)
    if flt.until:
        clauses.append("i.created_at <= ?")
        params.append(flt.until)
    if flt.grid:
        clauses.append("i.grid_code LIKE ?")
        params.append(flt.grid.replace("%", "").replace("_", "") + "%")
    return " AND ".join(clauses), params


def _overdue_sql(now: str) -> tuple[str, list]:
    return f"(i.status NOT IN {_FINAL!r} AND i.due_at IS NOT NULL AND i.due_at < ?)", [now]


class SQLiteStore:
    """Grid versions, admin units, address library, incidents, their history and tokens.

    Every write method commits before it returns (synchronous=FULL). To load many incidents,
    wrap the calls in ``with store.transaction():`` so they share one commit (100x faster).
    """

    def __init__(self, path: str | Path, time_limits: TimeLimits | None = None):
        self.path = str(path)
        self.time_limits = time_limits or TimeLimits()
        self._local = threading.local()
        self._memory_conn: sqlite3.Connection | None = None
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.migrate()

    # -- connections ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.path == ":memory:":  # one shared connection (doctests, quick checks)
            if self._memory_conn is None:
                self._memory_conn = sqlite3.connect(":memory:", check_same_thread=False)
                self._setup(self._memory_conn)
            return self._memory_conn
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            self._setup(conn)
            self._local.conn = conn
        return conn

    @staticmethod
    def _setup(conn: sqlite3.Connection) -> None:
        conn.row_factory = sqlite3.Row
        conn.isolation_level = None  # explicit BEGIN/COMMIT in transaction()
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed (acknowledged) incident survives a power cut, not just a crash.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")

    def close(self) -> None:
        """Close this thread's connection (the next call opens a new one)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        return self._connect()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): writers queue instead of failing.

        Nested use joins the outer transaction (bulk loads commit once per batch).
        """
        conn = self._connect()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def migrate(self) -> None:
        """Apply every migration not yet recorded in ``schema_version``."""
        conn = self._connect()
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version "
            "(version INTEGER PRIMARY KEY, applied_at TEXT)"
        )
        with self.transaction() as tx:
            done = {row[0] for row in tx.execute("SELECT version FROM schema_version")}
            for number, script in MIGRATIONS:
                if number in done:
                    continue
                for statement in _statements(script):
                    tx.execute(statement)
                tx.execute("INSERT INTO schema_version VALUES (?, ?)", (number, iso(utc_now())))

    def schema_version(self) -> int:
        return self.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]

    # -- meta ----------------------------------------------------------------------------------

    def secret_key(self) -> str:
        """A random key kept in the store, so browser sessions survive a server restart."""
        with self.transaction() as tx:
            row = tx.execute("SELECT value FROM meta WHERE key='secret_key'").fetchone()
            if row:
                return row[0]
            value = secrets.token_hex(32)
            tx.execute("INSERT INTO meta VALUES ('secret_key', ?)", (value,))
            return value

    # -- grid versions -------------------------------------------------------------------------

    def add_version(
        self,
        *,
        note: str,
        city: str,
        bounds: tuple[float, float, float, float],
        features: Iterable[dict],
        addresses: Iterable[tuple],
        summary: dict,
        published_by: str = "",
        make_current: bool = True,
    ) -> int:
        """Store a whole version in one transaction; returns its id.

        ``features`` are dicts with layer, code, name, props (dict), wkb (bytes), bbox, geoms
        ({band: geojson text}); ``addresses`` tuples follow the addresses table after version_id.
        """
        with self.transaction() as tx:
            cur = tx.execute(
                "INSERT INTO versions (note, city, published_at, published_by, bounds, summary) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (note, city, iso(utc_now()), published_by, json.dumps(bounds), json.dumps(summary)),
            )
            version_id = cur.lastrowid
            for feature in features:
                minx, miny, maxx, maxy = feature["bbox"]
                fid = tx.execute(
                    "INSERT INTO features (version_id, layer, code, name, props, geom, "
                    "minx, miny, maxx, maxy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        version_id,
                        feature["layer"],
                        feature.get("code"),
                        feature.get("name"),
                        json.dumps(feature["props"], ensure_ascii=False, separators=(",", ":")),
                        feature["wkb"],
                        minx,
                        miny,
                        maxx,
                        maxy,
                    ),
                ).lastrowid
                tx.execute(
                    "INSERT INTO feature_rtree VALUES (?, ?, ?, ?, ?)",
                    (fid, minx, maxx, miny, maxy),
                )
                tx.executemany(
                    "INSERT INTO feature_geoms VALUES (?, ?, ?)",
                    [(fid, band, text) for band, text in feature["geoms"].items()],
                )
            tx.executemany(
                "INSERT INTO addresses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((version_id, *row) for row in addresses),
            )
            if make_current:
                tx.execute("UPDATE versions SET is_current = (id = ?)", (version_id,))
        return version_id

    def set_current(self, version_id: int) -> None:
        _row_id(version_id, "grid version")
        with self.transaction() as tx:
            if not tx.execute("SELECT 1 FROM versions WHERE id=?", (version_id,)).fetchone():
                raise NotFound(f"no grid version {version_id}")
            tx.execute("UPDATE versions SET is_current = (id = ?)", (version_id,))

    def versions(self) -> list[dict]:
        rows = self.conn.execute("SELECT * FROM versions ORDER BY id").fetchall()
        return [_version_dict(r) for r in rows]

    def current_version(self) -> dict | None:
        row = self.conn.execute("SELECT * FROM versions WHERE is_current=1").fetchone()
        return _version_dict(row) if row else None

    def layer_features(
        self,
        version_id: int,
        layer: str,
        bbox: tuple[float, float, float, float] | None,
        zoom: float | None,
    ) -> list[tuple[int, str, str | None, str, str]]:
        """(id, code, name, props JSON, GeoJSON geometry) of features meeting ``bbox``.

        Features smaller than a pixel at ``zoom`` are left out: nobody could see them.
        """
        band = band_for_zoom(zoom)
        min_size = pixel_degrees(zoom) if zoom is not None else 0.0
        sql = (
            "SELECT f.id, f.code, f.name, f.props, g.geojson FROM features f "
            "JOIN feature_geoms g ON g.feature_id = f.id AND g.band = ? "
            "WHERE f.version_id = ? AND f.layer = ? "
            "AND ((f.maxx - f.minx) >= ? OR (f.maxy - f.miny) >= ?)"
        )
        params: list = [band, version_id, layer, min_size, min_size]
        if bbox is not None:
            w, s, e, n = bbox
            # Unlike incidents, the R*Tree wins at every view size here (measured 1.4 ms vs
            # 18 ms for 100 of 10,000 grids, and even at a whole-city view).
            sql += (
                " AND f.id IN (SELECT id FROM feature_rtree WHERE minx <= ? AND maxx >= ? "
                "AND miny <= ? AND maxy >= ?)"
            )
            params += [e, w, n, s]
        return [tuple(r) for r in self.conn.execute(sql, params)]

    def feature(self, version_id: int, layer: str, code: str) -> dict | None:
        row = self.conn.execute(
            "SELECT f.id, f.code, f.name, f.props, g.geojson FROM features f "
            "JOIN feature_geoms g ON g.feature_id = f.id AND g.band = ? "
            "WHERE f.version_id = ? AND f.layer = ? AND f.code = ?",
            (BANDS[-1], version_id, layer, code),
        ).fetchone()
        if row is None:
            return None
        return {"id": row[0], "props": json.loads(row[3]), "geometry": row[4], "name": row[2]}

    def names(self, version_id: int) -> dict[str, str]:
        """code -> name of every admin unit of a version."""
        rows = self.conn.execute(
            "SELECT code, name FROM features WHERE version_id=? AND layer IN (?, ?, ?)",
            (version_id, *ADMIN_LEVELS),
        )
        return {code: name for code, name in rows}

    def locate(self, version_id: int, lon: float, lat: float) -> dict | None:
        """Grid and admin codes of a point, or None when it lies outside every district.

        An exclusive grid wins over the comprehensive grid it sits in.
        """
        rows = self.conn.execute(
            "SELECT f.layer, f.code, f.props, f.geom FROM features f "
            "WHERE f.version_id = ? AND f.layer IN ('district','street','community','grid',"
            "'exclusive') AND f.id IN (SELECT id FROM feature_rtree WHERE minx <= ? AND "
            "maxx >= ? AND miny <= ? AND maxy >= ?)",
            (version_id, lon, lon, lat, lat),
        ).fetchall()
        point = shapely.Point(lon, lat)
        found: dict[str, str] = {}
        for layer, code, _props, wkb in rows:
            if layer in found and layer != "grid":
                continue
            if shapely.from_wkb(wkb).covers(point):
                found[layer] = code
        if "district" not in found:
            return None
        grid = found.get("exclusive") or found.get("grid")
        community = found.get("community") or (grid[:12] if grid else None)
        return {
            "grid_code": grid,
            "community_code": community,
            "street_code": found.get("street") or (community[:9] if community else None),
            "district_code": found["district"],
        }

    def address_rows(self, version_id: int) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM addresses WHERE version_id=? ORDER BY address_id", (version_id,)
        ).fetchall()

    def find_address(self, version_id: int, text: str) -> sqlite3.Row | None:
        """The library address whose standard text is exactly ``text``, or None."""
        return self.conn.execute(
            "SELECT * FROM addresses WHERE version_id=? AND address=?", (version_id, text.strip())
        ).fetchone()

    def random_addresses(self, version_id: int, count: int, seed: int) -> list[sqlite3.Row]:
        rows = self.conn.execute(
            "SELECT * FROM addresses WHERE version_id=? AND grid_code IS NOT NULL "
            "ORDER BY address_id",
            (version_id,),
        ).fetchall()
        import random

        rng = random.Random(seed)
        return [rng.choice(rows) for _ in range(count)] if rows else []

    def layer_wkb(
        self, version_id: int, layers: tuple[str, ...]
    ) -> list[tuple[str, str, str, bytes]]:
        """(layer, code, props JSON, WKB) of every feature of ``layers`` in a version."""
        marks = ",".join("?" * len(layers))
        return [
            tuple(r)
            for r in self.conn.execute(
                f"SELECT layer, code, props, geom FROM features WHERE version_id=? "
                f"AND layer IN ({marks}) ORDER BY id",
                (version_id, *layers),
            )
        ]

    # -- incidents -----------------------------------------------------------------------------

    def create_incident(
        self,
        *,
        type: str,
        description: str,
        lon: float,
        lat: float,
        location: dict,
        actor: str,
        address: str = "",
        source: str = "api",
        version_id: int | None = None,
        at: datetime | None = None,
    ) -> int:
        """Insert a reported incident and its 'created' event; committed when this returns."""
        moment = at or utc_now()
        limits = self.time_limits
        due = limits.due(type, "reported", moment)
        expected = limits.total_hours(type)
        from datetime import timedelta

        with self.transaction() as tx:
            iid = tx.execute(
                "INSERT INTO incidents (type, description, address, lon, lat, grid_code, "
                "community_code, street_code, district_code, status, created_at, updated_at, "
                "due_at, expected_at, reporter, source, version_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'reported', ?, ?, ?, ?, ?, ?, ?)",
                (
                    type,
                    description,
                    address,
                    lon,
                    lat,
                    location.get("grid_code"),
                    location.get("community_code"),
                    location.get("street_code"),
                    location.get("district_code"),
                    iso(moment),
                    iso(moment),
                    iso(due),
                    iso(moment + timedelta(hours=expected)),
                    actor,
                    source,
                    version_id,
                ),
            ).lastrowid
            tx.execute(
                "INSERT INTO incident_rtree VALUES (?, ?, ?, ?, ?)", (iid, lon, lon, lat, lat)
            )
            tx.execute(
                "INSERT INTO incident_events (incident_id, event, action, from_state, to_state, "
                "actor, at, note) VALUES (?, 'created', 'report', NULL, 'reported', ?, ?, '')",
                (iid, actor, iso(moment)),
            )
        return iid

    def transition(
        self, incident_id: int, action: str, actor: str, note: str = "", at: datetime | None = None
    ) -> dict:
        """Take ``action`` on an incident (IllegalTransition if its state forbids it)."""
        moment = at or utc_now()
        _row_id(incident_id, "incident")
        with self.transaction() as tx:
            row = tx.execute("SELECT * FROM incidents WHERE id=?", (incident_id,)).fetchone()
            if row is None:
                raise NotFound(f"no incident {incident_id}")
            target = workflow.next_state(row["status"], action)
            late = int(row["due_at"] is not None and iso(moment) > row["due_at"])
            due = self.time_limits.due(row["type"], target, moment)
            tx.execute(
                "UPDATE incidents SET status=?, updated_at=?, due_at=?, late_steps=late_steps+?, "
                "rework=rework+?, closed_at=? WHERE id=?",
                (
                    target,
                    iso(moment),
                    iso(due),
                    late,
                    int(action == "return"),
                    iso(moment) if target in FINAL_STATES else None,
                    incident_id,
                ),
            )
            tx.execute(
                "INSERT INTO incident_events (incident_id, event, action, from_state, to_state, "
                "actor, at, note, late) VALUES (?, 'transition', ?, ?, ?, ?, ?, ?, ?)",
                (incident_id, action, row["status"], target, actor, iso(moment), note, late),
            )
        return self.incident(incident_id)

    def incident(self, incident_id: int, now: datetime | None = None) -> dict:
        _row_id(incident_id, "incident")
        row = self.conn.execute(
            f"SELECT i.*, {_overdue_sql('?')[0]} AS overdue FROM incidents i WHERE i.id=?",
            (iso(now or utc_now()), incident_id),
        ).fetchone()
        if row is None:
            raise NotFound(f"no incident {incident_id}")
        return _incident_dict(row)

    def history(self, incident_id: int) -> list[dict]:
        rows = self.conn.execute(
            "SELECT to_state, action, actor, at, note, late FROM incident_events "
            "WHERE incident_id=? ORDER BY id",
            (incident_id,),
        )
        return [
            {
                "state": r[0],
                "action": r[1],
                "actor": r[2],
                "at": r[3],
                "note": r[4],
                "late": bool(r[5]),
            }
            for r in rows
        ]

    def count_incidents(self, flt: IncidentFilter) -> int:
        where, params = _where(flt)
        return self.conn.execute(
            f"SELECT COUNT(*) FROM incidents i WHERE {where}", params
        ).fetchone()[0]

    def incidents(
        self, flt: IncidentFilter, limit: int | None = None, offset: int = 0, now=None
    ) -> list[dict]:
        where, params = _where(flt)
        overdue, oparams = _overdue_sql(iso(now or utc_now()))
        sql = f"SELECT i.*, {overdue} AS overdue FROM incidents i WHERE {where} ORDER BY i.id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return [_incident_dict(r) for r in self.conn.execute(sql, oparams + params)]

    def incident_clusters(self, flt: IncidentFilter, cell_degrees: float, now=None) -> list[tuple]:
        """(lon, lat, count, overdue) per square cell of ``cell_degrees``: centroid of members."""
        where, params = _where(flt)
        overdue, oparams = _overdue_sql(iso(now or utc_now()))
        # One integer key per cell: SQLite groups on it much faster than on two expressions.
        key = "CAST((i.lon + 180) / ? AS INTEGER) * 10000000 + CAST((i.lat + 90) / ? AS INTEGER)"
        sql = (
            f"SELECT {key} AS cell, AVG(i.lon), AVG(i.lat), COUNT(*), SUM({overdue}) "
            f"FROM incidents i WHERE {where} GROUP BY cell"
        )
        rows = self.conn.execute(sql, [cell_degrees] * 2 + oparams + params)
        return [tuple(r[1:]) for r in rows]

    def events_since(self, last_id: int, limit: int = 500, now=None) -> list[dict]:
        """Incident events after ``last_id`` (oldest first) with the incident's current state."""
        overdue, oparams = _overdue_sql(iso(now or utc_now()))
        rows = self.conn.execute(
            f"SELECT e.id, e.incident_id, e.event, e.to_state, e.at, i.type, i.lon, i.lat, "
            f"i.grid_code, i.status, {overdue} FROM incident_events e "
            f"JOIN incidents i ON i.id = e.incident_id WHERE e.id > ? ORDER BY e.id LIMIT ?",
            (*oparams, last_id, limit),
        )
        return [
            {
                "event_id": r[0],
                "id": r[1],
                "event": r[2],
                "status": r[3],
                "at": r[4],
                "type": r[5],
                "lon": r[6],
                "lat": r[7],
                "grid_code": r[8],
                "current_status": r[9],
                "overdue": bool(r[10]),
            }
            for r in rows
        ]

    def last_event_id(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM incident_events").fetchone()[0]

    def kpis(
        self,
        level: str,
        now: datetime | None = None,
        code: str | None = None,
        codes: Iterable[str] | None = None,
    ) -> list[dict]:
        """Counts per grid/community/street/district (only ``code`` or ``codes`` when given).

        total, open (not closed/rejected), closed, rejected, closed_on_time (closed with no step
        past its limit), overdue (open and past the current step's limit), rework (returns).
        Units without incidents have no row.
        """
        column = {
            "grid": "grid_code",
            "community": "community_code",
            "street": "street_code",
            "district": "district_code",
        }[level]
        overdue, oparams = _overdue_sql(iso(now or utc_now()))
        sql = (
            f"SELECT i.{column} AS code, COUNT(*) AS total, "
            f"SUM(i.status NOT IN {_FINAL!r}) AS open, "
            f"SUM(i.status = 'closed') AS closed, "
            f"SUM(i.status = 'rejected') AS rejected, "
            f"SUM(i.status = 'closed' AND i.late_steps = 0) AS closed_on_time, "
            f"SUM({overdue}) AS overdue, SUM(i.rework) AS rework "
            f"FROM incidents i WHERE i.{column} IS NOT NULL"
        )
        params = list(oparams)
        if code is not None:
            sql += f" AND i.{column} = ?"
            params.append(code)
        if codes is not None:
            sql += f" AND i.{column} IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(list(codes)))
        sql += f" GROUP BY i.{column} ORDER BY i.{column}"
        return [dict(r) for r in self.conn.execute(sql, params)]

    # -- tokens --------------------------------------------------------------------------------

    def create_token(self, role: str, name: str = "", grids: Iterable[str] = ()) -> str:
        """Store a new token's hash and return the token (shown once, never stored)."""
        if role not in workflow.ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(workflow.ROLES)}")
        token = secrets.token_urlsafe(32)
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO tokens (name, role, grids, token_hash, created_at) VALUES (?,?,?,?,?)",
                (name or role, role, json.dumps(list(grids)), hash_token(token), iso(utc_now())),
            )
        return token

    def check_token(self, token: str) -> Token | None:
        row = self.conn.execute(
            "SELECT id, name, role, grids FROM tokens WHERE token_hash=? AND revoked_at IS NULL",
            (hash_token(token),),
        ).fetchone()
        return _token(row) if row else None

    def token_by_id(self, token_id: int) -> Token | None:
        if not 0 < token_id < 2**63:
            return None
        row = self.conn.execute(
            "SELECT id, name, role, grids FROM tokens WHERE id=? AND revoked_at IS NULL",
            (token_id,),
        ).fetchone()
        return _token(row) if row else None

    def tokens(self) -> list[dict]:
        rows = self.conn.execute(
            "SELECT id, name, role, grids, created_at, revoked_at FROM tokens ORDER BY id"
        )
        return [dict(r) | {"grids": json.loads(r["grids"])} for r in rows]

    def revoke_token(self, token_id: int) -> None:
        _row_id(token_id, "active token")
        with self.transaction() as tx:
            cur = tx.execute(
                "UPDATE tokens SET revoked_at=? WHERE id=? AND revoked_at IS NULL",
                (iso(utc_now()), token_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no active token {token_id}")


def _token(row) -> Token:
    return Token(row[0], row[1], row[2], tuple(json.loads(row[3])))


def _version_dict(row: sqlite3.Row) -> dict:
    return {
        "id": row["id"],
        "note": row["note"],
        "city": row["city"],
        "published_at": row["published_at"],
        "published_by": row["published_by"],
        "current": bool(row["is_current"]),
        "bounds": json.loads(row["bounds"]),
        "summary": json.loads(row["summary"]),
    }


def _incident_dict(row: sqlite3.Row) -> dict:
    record = dict(zip(row.keys(), row, strict=True))
    record["overdue"] = bool(record.get("overdue"))
    return record


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3 runs one per execute)."""
    parts, current = [], []
    for line in script.splitlines():
        current.append(line)
        if sqlite3.complete_statement("\n".join(current)):
            parts.append("\n".join(current).strip())
            current = []
    return [p for p in parts if p.strip(" ;\n")]
