"""What a store adds for photos of incidents: the :class:`Photo` record and the
:class:`PhotoStore` protocol every backend fills (SQLite: :mod:`gridmap.store.sqlite.photos`,
PostGIS: :mod:`gridmap.store.postgis.photos`).

The store keeps the bytes and what the photo service checked (media type by content, pixel
size, a SHA-256 of the bytes); the limits and who may see a photo are rules
(:mod:`gridmap.rules.photos`), checked by :mod:`gridmap.services.photos` before a backend is
asked. The table is migration 5 of the store's schema, applied by the mixin at its first call
(a store that never sees a photo never creates it).

>>> from gridmap.store import open_store
>>> store = open_store(":memory:")
>>> store.photos(1)
[]
>>> store.schema_version() >= 5  # recorded beside the core's (6 on SQLite, 5 on PostGIS)
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

PHOTO_MIGRATION = 5  # the number both backends record in ``schema_version``


@dataclass(frozen=True)
class Photo:
    """A photo attached to an incident (its bytes are read with ``photo_data``)."""

    id: int
    incident_id: int
    media_type: str  # image/jpeg | image/png | image/webp, as the content says
    size: int  # bytes
    width: int
    height: int
    sha256: str
    uploaded_by: str
    uploaded_at: str

    def as_json(self) -> dict:
        return asdict(self)


@runtime_checkable
class PhotoStore(Protocol):
    """The photo methods of a store (beside :class:`gridmap.store.base.Store`)."""

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
        """Store a checked photo of an existing incident; returns its id (NotFound: no such
        incident)."""

    def photos(self, incident_id: int) -> list[Photo]:
        """The photos of an incident, oldest first (none: an empty list)."""

    def photo(self, photo_id: int) -> Photo:
        """One photo's record (NotFound)."""

    def photo_data(self, photo_id: int) -> bytes:
        """One photo's bytes (NotFound)."""

    def photo_counts(self, incident_ids: list[int]) -> dict[int, int]:
        """incident id -> how many photos it has (absent: none)."""
