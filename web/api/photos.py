"""Photo views: add a photo to an incident (multipart), list its photos, serve one.

Thin doors over :mod:`gridmap.services.photos`: the limits, the check by content and who may
see a photo live there and in :mod:`gridmap.rules.photos`. A photo is served with its checked
media type, ``nosniff`` and a CSP that runs nothing, so even a crafted file could not act as a
page; answers are private to the browser (they sit behind a login).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Response, current_app, jsonify, request

from gridmap.rules.photos import MAX_PHOTO_BYTES
from gridmap.services.photos import PhotoError, add_photo, incident_photos, photo_for
from gridmap.store.photos import Photo
from web.api import FORM_MARGIN, allow_upload, bp, store
from web.api.loop import caller
from web.auth import require_user
from web.errors import ApiError

PHOTO_STATUS = {
    "invalid": 400,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "too_large": 413,
    "unsupported": 415,
}
FIELD = "photo"  # the multipart field holding the file


def photo_json(photo: Photo) -> dict:
    return photo.as_json() | {"url": f"/api/photos/{photo.id}"}


def _max_bytes(config: Mapping | None = None) -> int:
    config = current_app.config if config is None else config
    return int(config.get("PHOTO_MAX_BYTES", MAX_PHOTO_BYTES))


# The app's 1 MB body limit is for JSON; a photo may be larger (the form's few text fields fit
# in the margin).
allow_upload("api.upload_photo", lambda config: _max_bytes(config) + FORM_MARGIN)


@bp.post("/incidents/<int:incident_id>/photos")
def upload_photo(incident_id: int):
    """Attach a photo (JPEG, PNG or WebP; multipart field ``photo``) to an incident: its
    reporter's grid staff, dispatchers, or the department it was dispatched to."""
    user = require_user("field")
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, f"send the photo as multipart/form-data, field {FIELD}", field=FIELD)
    upload = request.files.get(FIELD)
    if upload is None:
        raise ApiError(400, f"missing file field {FIELD}", field=FIELD)
    data = upload.read(_max_bytes() + 1)
    try:
        photo, created = add_photo(store(), incident_id, data, caller(user), max_bytes=_max_bytes())
    except PhotoError as error:
        raise ApiError(PHOTO_STATUS[error.kind], error.message, field=FIELD) from None
    response = jsonify(photo_json(photo))
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/api/photos/{photo.id}"
    return response


@bp.get("/incidents/<int:incident_id>/photos")
def list_photos(incident_id: int):
    """The photos of an incident (for those who may see them)."""
    user = require_user("field")
    try:
        photos = incident_photos(store(), incident_id, caller(user))
    except PhotoError as error:
        raise ApiError(PHOTO_STATUS[error.kind], error.message, field="id") from None
    return jsonify(
        {
            "incident_id": incident_id,
            "count": len(photos),
            "photos": [photo_json(p) for p in photos],
        }
    )


@bp.get("/photos/<int:photo_id>")
def photo(photo_id: int):
    """One photo's bytes, as its checked media type (for those who may see it)."""
    user = require_user("field")
    try:
        record, data = photo_for(store(), photo_id, caller(user))
    except PhotoError as error:
        raise ApiError(PHOTO_STATUS[error.kind], error.message, field="id") from None
    response = Response(data, mimetype=record.media_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="photo-{record.id}"'
    # Private: only this browser may keep it (behind a login); the bytes of an id never change.
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.set_etag(record.sha256[:32])
    return response.make_conditional(request)
