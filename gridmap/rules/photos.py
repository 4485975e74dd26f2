"""Photos of incidents (现场照片): what is accepted and who may see them, defined once.

The photo service (:mod:`gridmap.services.photos`) checks uploads against these limits and asks
:func:`may_see` before storing or serving a photo; ``GET /api/meta`` sends the limits to the
field page (which shrinks a photo before sending it, but never decides what is accepted).

>>> may_see("field", ("330402001",), None, "330402001002007", None)
True
>>> may_see("field", ("330402002",), None, "330402001002007", None)
False
>>> may_see("department", (), "sw", "330402001002007", "sw")
True
>>> may_see("viewer", (), None, "330402001002007", None)
False
"""

from __future__ import annotations

from gridmap.rules.workflow import in_own_grids, role_at_least

MAX_PHOTO_BYTES = 5 * 1024 * 1024  # a phone's full-size JPEG fits; the page sends ~0.3 MB
MAX_PHOTO_PIXELS = 40_000_000  # past this a "photo" is a decompression bomb, not a picture
MAX_PHOTOS_PER_INCIDENT = 9
# Pillow's format name -> the media type the photo is stored and served as.
MEDIA_TYPES: dict[str, str] = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def may_see(
    role: str,
    grids: tuple[str, ...],
    own_department: str | None,
    grid_code: str | None,
    department: str | None,
) -> bool:
    """Whether a caller may see (and add) the photos of an incident in ``grid_code`` handled by
    ``department``: dispatchers and above; field staff of the incident's grid; the department
    it was dispatched to. Viewers (a wall screen, a visitor's token) never see them."""
    if role_at_least(role, "dispatcher"):
        return True
    if role == "department":
        return department is not None and department == own_department
    if role == "field":
        return in_own_grids(grid_code, grids)
    return False


def limits() -> dict[str, object]:
    """The photo limits a client shows (``GET /api/meta``)."""
    return {
        "max_bytes": MAX_PHOTO_BYTES,
        "max_pixels": MAX_PHOTO_PIXELS,
        "max_per_incident": MAX_PHOTOS_PER_INCIDENT,
        "media_types": sorted(MEDIA_TYPES.values()),
    }
