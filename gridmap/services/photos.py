"""Photos of incidents: check an upload by its content, store it, serve it to whom may see it.

Like every service: no SQL, no Flask. The door (``web/api/photos.py``) hands over the bytes and
the caller; the limits and the access rule are :mod:`gridmap.rules.photos`. The type is read
from the content with Pillow (a text file named ``.jpg`` is refused whatever its name or the
declared type says), the picture is decoded in full (a truncated or corrupt file is refused),
and the pixel count is bounded before decoding (a decompression bomb is refused).

>>> import io
>>> from PIL import Image
>>> buffer = io.BytesIO()
>>> Image.new("RGB", (4, 3), "red").save(buffer, "PNG")
>>> check_photo(buffer.getvalue())
Checked(media_type='image/png', width=4, height=3)
>>> check_photo(b"GIF89a not really")
Traceback (most recent call last):
...
gridmap.services.photos.PhotoError: not a JPEG, PNG or WebP picture
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, UnidentifiedImageError

from gridmap.rules.photos import (
    MAX_PHOTO_BYTES,
    MAX_PHOTO_PIXELS,
    MAX_PHOTOS_PER_INCIDENT,
    MEDIA_TYPES,
    may_see,
)
from gridmap.rules.workflow import iso, utc_now
from gridmap.services.loop import Caller
from gridmap.store import NotFound, Store
from gridmap.store.photos import Photo


class PhotoError(ValueError):
    """Why a photo was refused or not shown. ``kind``: ``invalid`` (empty, corrupt),
    ``unsupported`` (not a JPEG/PNG/WebP picture), ``too_large`` (bytes or pixels),
    ``forbidden`` (the caller may not see this incident's photos), ``not_found``,
    ``conflict`` (the incident has its maximum number of photos)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Checked:
    """What the content of an accepted upload is."""

    media_type: str
    width: int
    height: int


def check_photo(data: bytes, max_bytes: int = MAX_PHOTO_BYTES) -> Checked:
    """The media type and size of an upload, read from its content; PhotoError otherwise."""
    if not data:
        raise PhotoError("invalid", "the photo is empty")
    if len(data) > max_bytes:
        raise PhotoError(
            "too_large", f"the photo is {len(data):,} bytes; at most {max_bytes:,} are accepted"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=tuple(MEDIA_TYPES)) as image:
                kind, (width, height) = image.format, image.size
                if width * height > MAX_PHOTO_PIXELS:
                    raise PhotoError(
                        "too_large",
                        f"the picture is {width}x{height} pixels; at most "
                        f"{MAX_PHOTO_PIXELS:,} pixels are accepted",
                    )
                image.load()  # decode it all: a truncated or corrupt file fails here
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoError("too_large", "the picture has too many pixels") from None
    except UnidentifiedImageError:
        raise PhotoError("unsupported", "not a JPEG, PNG or WebP picture") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise PhotoError("invalid", f"the picture is damaged: {error}") from None
    return Checked(MEDIA_TYPES[kind], width, height)


def _incident_access(store: Store, incident_id: int, viewer: Caller) -> None:
    try:
        incident = store.incident(incident_id)
    except NotFound:
        raise PhotoError("not_found", f"no incident {incident_id}") from None
    loop = store.incident_loops([incident_id])[incident_id]
    if not may_see(
        viewer.role, viewer.grids, viewer.department, incident.grid_code, loop.department
    ):
        raise PhotoError(
            "forbidden",
            "photos are shown to dispatchers, the incident's grid staff and its department only",
        )


def add_photo(
    store: Store,
    incident_id: int,
    data: bytes,
    viewer: Caller,
    at: datetime | None = None,
    max_bytes: int = MAX_PHOTO_BYTES,
) -> tuple[Photo, bool]:
    """Check and store a photo of an incident; ``(photo, created)``. The same bytes sent again
    (a retry on a slow connection) answer the photo already stored (``created`` False)."""
    checked = check_photo(data, max_bytes)
    _incident_access(store, incident_id, viewer)
    digest = hashlib.sha256(data).hexdigest()
    existing = store.photos(incident_id)
    for photo in existing:
        if photo.sha256 == digest:
            return photo, False
    if len(existing) >= MAX_PHOTOS_PER_INCIDENT:
        raise PhotoError(
            "conflict", f"incident {incident_id} has {MAX_PHOTOS_PER_INCIDENT} photos already"
        )
    photo_id = store.add_photo(
        incident_id,
        data,
        media_type=checked.media_type,
        width=checked.width,
        height=checked.height,
        sha256=digest,
        uploaded_by=viewer.name,
        at=iso(at or utc_now()),
    )
    return store.photo(photo_id), True


def incident_photos(store: Store, incident_id: int, viewer: Caller) -> list[Photo]:
    """The photos of an incident, for a caller who may see them."""
    _incident_access(store, incident_id, viewer)
    return store.photos(incident_id)


def photo_for(store: Store, photo_id: int, viewer: Caller) -> tuple[Photo, bytes]:
    """A photo and its bytes, for a caller who may see its incident's photos."""
    try:
        photo = store.photo(photo_id)
    except NotFound:
        raise PhotoError("not_found", f"no photo {photo_id}") from None
    _incident_access(store, photo.incident_id, viewer)
    return photo, store.photo_data(photo_id)
