"""The SQLite schema as an ordered list of migrations.

Each migration is applied once, in order, inside one transaction; ``schema_version`` records which
ones ran. Add a new entry at the end to change the schema: never edit one that has shipped.

>>> [number for number, _ in MIGRATIONS]
[1, 2, 3, 4, 6, 7]
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from gridmap.rules.workflow import iso, utc_now
from gridmap.store import zorder

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            note TEXT NOT NULL DEFAULT '',
            city TEXT NOT NULL DEFAULT '',
            published_at TEXT NOT NULL,
            published_by TEXT NOT NULL DEFAULT '',
            is_current INTEGER NOT NULL DEFAULT 0,
            bounds TEXT NOT NULL,          -- JSON [w, s, e, n]
            summary TEXT NOT NULL DEFAULT '{}'
        );
        -- Every map feature of a version: admin units, grids, exclusive grids, roads.
        CREATE TABLE features (
            id INTEGER PRIMARY KEY,
            version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
            layer TEXT NOT NULL,
            code TEXT,
            name TEXT,
            props TEXT NOT NULL,           -- JSON object of the layer's properties
            geom TEXT NOT NULL,            -- WKB hex, full precision, EPSG:4490
            minx REAL NOT NULL, miny REAL NOT NULL, maxx REAL NOT NULL, maxy REAL NOT NULL
        );
        CREATE INDEX features_layer ON features(version_id, layer, code);
        -- Display geometry simplified for one zoom band (GeoJSON text, rounded coordinates).
        CREATE TABLE feature_geoms (
            feature_id INTEGER NOT NULL REFERENCES features(id) ON DELETE CASCADE,
            band INTEGER NOT NULL,
            geojson TEXT NOT NULL,
            PRIMARY KEY (feature_id, band)
        ) WITHOUT ROWID;
        CREATE VIRTUAL TABLE feature_rtree USING rtree(id, minx, maxx, miny, maxy);
        -- The standard address library of a version (the geocoder is built from it).
        CREATE TABLE addresses (
            version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
            address_id TEXT NOT NULL,
            address TEXT NOT NULL,
            lon REAL NOT NULL,
            lat REAL NOT NULL,
            households INTEGER NOT NULL DEFAULT 0,
            population INTEGER NOT NULL DEFAULT 0,
            community_code TEXT,
            grid_code TEXT,
            components TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (version_id, address_id)
        );
        CREATE INDEX addresses_text ON addresses(version_id, address);
        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            type TEXT NOT NULL,
            description TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT '',
            lon REAL NOT NULL,
            lat REAL NOT NULL,
            grid_code TEXT,
            community_code TEXT,
            street_code TEXT,
            district_code TEXT,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,      -- ISO 8601 UTC, 'YYYY-MM-DDTHH:MM:SSZ' (sorts as text)
            updated_at TEXT NOT NULL,
            due_at TEXT,                   -- deadline of the current step; NULL once finished
            expected_at TEXT,              -- deadline of the whole loop (Open311 expected_datetime)
            closed_at TEXT,
            late_steps INTEGER NOT NULL DEFAULT 0,
            rework INTEGER NOT NULL DEFAULT 0,
            reporter TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT 'api',
            version_id INTEGER REFERENCES versions(id) ON DELETE SET NULL
        );
        CREATE INDEX incidents_status ON incidents(status, due_at);
        CREATE INDEX incidents_created ON incidents(created_at);
        CREATE INDEX incidents_grid ON incidents(grid_code);
        CREATE VIRTUAL TABLE incident_rtree USING rtree(id, minx, maxx, miny, maxy);
        -- Every state change of every incident (creation included); the live stream reads it.
        CREATE TABLE incident_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
            event TEXT NOT NULL,           -- created | transition
            action TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            late INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX incident_events_incident ON incident_events(incident_id, id);
        CREATE TABLE tokens (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            grids TEXT NOT NULL DEFAULT '[]', -- JSON list of grid/division code prefixes
            token_hash TEXT NOT NULL UNIQUE,  -- sha256 hex of the token; the token is never stored
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        """,
    ),
    (
        2,
        # Covering indexes: KPIs per level (and the grid layer's open/overdue/closure rate)
        # aggregate from the index alone instead of reading every incident row.
        """
        CREATE INDEX incidents_kpi_grid
            ON incidents(grid_code, status, due_at, late_steps, rework);
        CREATE INDEX incidents_kpi_community
            ON incidents(community_code, status, due_at, late_steps, rework);
        CREATE INDEX incidents_kpi_street
            ON incidents(street_code, status, due_at, late_steps, rework);
        CREATE INDEX incidents_kpi_district
            ON incidents(district_code, status, due_at, late_steps, rework);
        """,
    ),
    (
        3,
        # Reports keep the geocoder's match level and whether the point is approximate (an area
        # such as a road or a compound, not a door); incidents keep their location under every
        # grid version (KPIs under any version, re-homing on publish/activate); server-side
        # sessions (logout revokes); a generic cache of bytes (vector tiles filled at publish).
        """
        ALTER TABLE incidents ADD COLUMN match_level TEXT NOT NULL DEFAULT '';
        ALTER TABLE incidents ADD COLUMN approximate INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE incident_locations (
            version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
            incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
            grid_code TEXT,
            community_code TEXT,
            street_code TEXT,
            district_code TEXT,
            PRIMARY KEY (version_id, incident_id)
        ) WITHOUT ROWID;
        CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,       -- sha256 hex of the session id
            token_id INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            ended_at TEXT
        );
        CREATE INDEX sessions_token ON sessions(token_id);
        CREATE TABLE blobs (
            key TEXT PRIMARY KEY,           -- e.g. tiles/v3/1/wgs84/grid/12/3421/1663
            value BLOB NOT NULL
        ) WITHOUT ROWID;
        """,
    ),
    (
        4,
        # Background jobs (a planner's partition run, a clerk's batch geocoding); their input
        # and output files are blobs under jobs/<id>/.
        """
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            owner TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'queued',
            progress REAL NOT NULL DEFAULT 0,
            message TEXT NOT NULL DEFAULT '',
            params TEXT NOT NULL DEFAULT '{}',
            summary TEXT NOT NULL DEFAULT '{}',
            error TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT
        );
        CREATE INDEX jobs_kind ON jobs(kind, id);
        CREATE INDEX jobs_status ON jobs(status);
        """,
    ),
    (
        6,  # (5 is the photos mixin's: gridmap.store.photos.PHOTO_MIGRATION)
        # The map's incident clusters read these columns of every incident in a wide view: from
        # this index instead of the whole rows (text and all), 138 -> 80 ms at 100,000.
        """
        CREATE INDEX incidents_map ON incidents(lon, lat, status, due_at);
        """,
    ),
    (
        7,
        # Each incident's Z-order key (gridmap.store.zorder), computed by SQLite from lon
        # and lat (so no insert can leave it out) and indexed with what a cluster reads: a map
        # view is then counted one quadtree cell at a time instead of sorted whole.
        f"""
        ALTER TABLE incidents ADD COLUMN zkey INTEGER
            GENERATED ALWAYS AS ({zorder.KEY_SQL}) VIRTUAL;
        CREATE INDEX incidents_z ON incidents(zkey, lon, lat, status, due_at);
        """,
    ),
]


def up_to_date(conn: sqlite3.Connection, table: str, migrations: Sequence[tuple[int, str]]) -> bool:
    """Whether ``table`` records every migration (a read: opening takes no write lock)."""
    present = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
    ).fetchone()
    if not present:
        return False
    done = {row[0] for row in conn.execute(f"SELECT version FROM {table}")}
    return done >= {number for number, _ in migrations}


def apply(tx: sqlite3.Connection, table: str, migrations: Sequence[tuple[int, str]]) -> None:
    """Run, inside the caller's transaction, every migration ``table`` does not record yet."""
    tx.execute(f"CREATE TABLE IF NOT EXISTS {table} (version INTEGER PRIMARY KEY, applied_at TEXT)")
    done = {row[0] for row in tx.execute(f"SELECT version FROM {table}")}
    for number, script in migrations:
        if number in done:
            continue
        for statement in statements(script):
            tx.execute(statement)
        tx.execute(f"INSERT INTO {table} VALUES (?, ?)", (number, iso(utc_now())))


def statements(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3 runs one per execute)."""
    parts, current = [], []
    for line in script.splitlines():
        current.append(line)
        if sqlite3.complete_statement("\n".join(current)):
            parts.append("\n".join(current).strip())
            current = []
    return [p for p in parts if p.strip(" ;\n")]
