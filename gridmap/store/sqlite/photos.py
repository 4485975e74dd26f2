"""The SQLite side of :class:`gridmap.store.photos.PhotoStore`: photos of incidents as BLOBs.

A mixin :class:`SQLiteStore` inherits. Its table is migration 5 of the store's schema
(recorded in ``schema_version`` like the core's), applied at the first photo call of a store
object: the core's migrations have run by then (the table refers to incidents).

>>> from gridmap.store.sqlite import SQLiteStore
>>> store = SQLiteStore(":memory:")
>>> store.photo_counts([1, 2])
{}
"""

from __future__ import annotations

import sqlite3

from gridmap.store.base import NotFound
from gridmap.store.photos import PHOTO_MIGRATION, Photo

PHOTO_MIGRATIONS: list[tuple[int, str]] = [
    (
        PHOTO_MIGRATION,
        # Photos of incidents (现场照片): the bytes and what the photo service checked.
        """
        CREATE TABLE incident_photos (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
            media_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            uploaded_by TEXT NOT NULL DEFAULT '',
            uploaded_at TEXT NOT NULL,
            data BLOB NOT NULL
        );
        CREATE INDEX incident_photos_incident ON incident_photos(incident_id, id);
        """,
    ),
]

_COLUMNS = "id, incident_id, media_type, size, width, height, sha256, uploaded_by, uploaded_at"


class SQLitePhotos:
    """Photo table and queries for :class:`gridmap.store.sqlite.SQLiteStore`."""

    _photos_migrated = False

    def _photo_conn(self) -> sqlite3.Connection:
        if not self._photos_migrated:
            from gridmap.store.sqlite import migrations

            if not migrations.up_to_date(self.conn, "schema_version", PHOTO_MIGRATIONS):
                with self.transaction() as tx:
                    migrations.apply(tx, "schema_version", PHOTO_MIGRATIONS)
            self._photos_migrated = True
        return self.conn

    def add_photo(
        self,
        incident_id: int,
        data: bytes,
        *,
        media_type: str,
        width: int,
        height: int,
        sha256: str,
        uploaded_by: str,
        at: str,
    ) -> int:
        self._photo_conn()
        with self.transaction() as tx:
            if not tx.execute("SELECT 1 FROM incidents WHERE id = ?", (incident_id,)).fetchone():
                raise NotFound(f"no incident {incident_id}")
            cursor = tx.execute(
                "INSERT INTO incident_photos (incident_id, media_type, size, width, height, "
                "sha256, uploaded_by, uploaded_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    incident_id,
                    media_type,
                    len(data),
                    width,
                    height,
                    sha256,
                    uploaded_by,
                    at,
                    sqlite3.Binary(data),
                ),
            )
            return int(cursor.lastrowid)

    def photos(self, incident_id: int) -> list[Photo]:
        rows = self._photo_conn().execute(
            f"SELECT {_COLUMNS} FROM incident_photos WHERE incident_id = ? ORDER BY id",
            (incident_id,),
        )
        return [Photo(*row) for row in rows]

    def photo(self, photo_id: int) -> Photo:
        row = (
            self._photo_conn()
            .execute(f"SELECT {_COLUMNS} FROM incident_photos WHERE id = ?", (photo_id,))
            .fetchone()
        )
        if row is None:
            raise NotFound(f"no photo {photo_id}")
        return Photo(*row)

    def photo_data(self, photo_id: int) -> bytes:
        row = (
            self._photo_conn()
            .execute("SELECT data FROM incident_photos WHERE id = ?", (photo_id,))
            .fetchone()
        )
        if row is None:
            raise NotFound(f"no photo {photo_id}")
        return bytes(row[0])

    def photo_counts(self, incident_ids: list[int]) -> dict[int, int]:
        if not incident_ids:
            self._photo_conn()
            return {}
        rows = self._photo_conn().execute(
            "SELECT incident_id, count(*) FROM incident_photos "
            "WHERE incident_id IN (SELECT value FROM json_each(?)) GROUP BY incident_id",
            ("[" + ",".join(str(int(i)) for i in incident_ids) + "]",),
        )
        return {int(i): int(n) for i, n in rows}
