"""The PostgreSQL side of :class:`gridmap.store.photos.PhotoStore`: photos of incidents as
``bytea``.

A mixin :class:`PostGISStore` inherits; the same table as :mod:`gridmap.store.sqlite.photos`
with PostgreSQL types, migration 5 of the store's schema (recorded in ``schema_version``),
applied at the first photo call under the core migrations' advisory lock.
"""

from __future__ import annotations

import threading

from gridmap.rules.workflow import parse_iso
from gridmap.store.base import NotFound
from gridmap.store.photos import PHOTO_MIGRATION, Photo

PHOTO_MIGRATIONS: list[tuple[int, str]] = [
    (
        PHOTO_MIGRATION,
        """
        CREATE TABLE incident_photos (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            incident_id bigint NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
            media_type text NOT NULL,
            size integer NOT NULL,
            width integer NOT NULL,
            height integer NOT NULL,
            sha256 text NOT NULL,
            uploaded_by text NOT NULL DEFAULT '',
            uploaded_at timestamptz NOT NULL,
            data bytea NOT NULL
        );
        CREATE INDEX incident_photos_incident ON incident_photos (incident_id, id);
        """,
    ),
]

_COLUMNS = (
    "id, incident_id, media_type, size, width, height, sha256, uploaded_by, "
    "to_char(uploaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
)


class PostGISPhotos:
    """Photo table and queries for :class:`gridmap.store.postgis.store.PostGISStore`."""

    _photos_migrated = False
    _photos_lock = threading.Lock()

    def _ensure_photos(self) -> None:
        if self._photos_migrated:
            return
        from gridmap.store.postgis.store import MIGRATION_LOCK

        with self._photos_lock, self.transaction() as tx:
            # the core migrations' lock: both write schema_version
            tx.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema())::int)",
                (MIGRATION_LOCK,),
            )
            done = {r[0] for r in tx.execute("SELECT version FROM schema_version")}
            for number, script in PHOTO_MIGRATIONS:
                if number not in done:
                    tx.execute(script)
                    tx.execute("INSERT INTO schema_version VALUES (%s, now())", (number,))
        self._photos_migrated = True

    def _photo_rows(self, sql: str, params=()) -> list[tuple]:
        self._ensure_photos()
        with self._conn() as conn:
            return conn.execute(sql, params).fetchall()

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
        self._ensure_photos()
        with self.transaction() as tx:
            if not tx.execute("SELECT 1 FROM incidents WHERE id = %s", (incident_id,)).fetchone():
                raise NotFound(f"no incident {incident_id}")
            row = tx.execute(
                "INSERT INTO incident_photos (incident_id, media_type, size, width, height, "
                "sha256, uploaded_by, uploaded_at, data) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    incident_id,
                    media_type,
                    len(data),
                    width,
                    height,
                    sha256,
                    uploaded_by,
                    parse_iso(at),
                    data,
                ),
            ).fetchone()
        return int(row[0])

    def photos(self, incident_id: int) -> list[Photo]:
        rows = self._photo_rows(
            f"SELECT {_COLUMNS} FROM incident_photos WHERE incident_id = %s ORDER BY id",
            (incident_id,),
        )
        return [Photo(*row) for row in rows]

    def photo(self, photo_id: int) -> Photo:
        rows = self._photo_rows(
            f"SELECT {_COLUMNS} FROM incident_photos WHERE id = %s", (photo_id,)
        )
        if not rows:
            raise NotFound(f"no photo {photo_id}")
        return Photo(*rows[0])

    def photo_data(self, photo_id: int) -> bytes:
        rows = self._photo_rows("SELECT data FROM incident_photos WHERE id = %s", (photo_id,))
        if not rows:
            raise NotFound(f"no photo {photo_id}")
        return bytes(rows[0][0])

    def photo_counts(self, incident_ids: list[int]) -> dict[int, int]:
        if not incident_ids:
            return {}
        rows = self._photo_rows(
            "SELECT incident_id, count(*) FROM incident_photos "
            "WHERE incident_id = ANY(%s) GROUP BY incident_id",
            ([int(i) for i in incident_ids],),
        )
        return {int(i): int(n) for i, n in rows}
