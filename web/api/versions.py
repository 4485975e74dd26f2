"""Published grid versions: list, publish from uploaded files (planner), make one current."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request

from gridmap.services import versions as version_service
from gridmap.store import NotFound
from web.api import allow_upload, bp, store
from web.auth import require_user, requires
from web.errors import ApiError
from web.schema import MAX_NOTE, ExportQuery, parse_query


@bp.get("/versions")
@requires("viewer")
def versions():
    """Every published grid version; the current one is marked."""
    return jsonify({"versions": [v.as_json() for v in store().versions()]})


@bp.post("/versions")
def publish_version():
    """Publish a new grid version from uploaded files (planner): multipart fields ``grids``,
    ``boundaries``, ``addresses`` and optional ``barriers`` (files), ``note`` (text)."""
    user = require_user("planner")
    import tempfile
    from pathlib import Path

    from gridmap.errors import InputError

    note = request.form.get("note", "")
    if len(note) > MAX_NOTE:
        raise ApiError(400, f"note is longer than {MAX_NOTE} characters", field="note")
    with tempfile.TemporaryDirectory(prefix="gridmap-publish-") as folder:
        frames = {}
        for name in ("grids", "boundaries", "addresses", "barriers"):
            upload = request.files.get(name)
            if upload is None or not upload.filename:
                if name == "barriers":
                    frames[name] = None
                    continue
                raise ApiError(400, f"missing file {name}", field=name)
            suffix = Path(upload.filename).suffix.lower()
            if suffix not in (".gpkg", ".geojson", ".json", ".csv"):
                raise ApiError(400, f"{name}: use .gpkg, .geojson or .csv", field=name)
            path = Path(folder) / f"{name}{suffix}"
            upload.save(path)
            try:
                frames[name] = version_service.read_file(name, path)
            except InputError as error:
                message = str(error).replace(str(path), upload.filename)
                raise ApiError(400, f"{name}: {message}", field=name) from None
        try:
            summary = version_service.publish(store(), **frames, note=note, published_by=user.name)
        except InputError as error:
            raise ApiError(400, str(error)) from None
    current_app.extensions["gridmap_cache"].clear()
    response = jsonify(summary)
    response.status_code = 201
    return response


# Grid files and address libraries are bigger than any other request: only this one gets
# PUBLISH_MAX_CONTENT_LENGTH, and only a planner can use it.
allow_upload("api.publish_version", lambda config: config["PUBLISH_MAX_CONTENT_LENGTH"])


@bp.post("/versions/<int:version_id>/activate")
def activate_version(version_id: int):
    """Make an earlier (or later) published version the current one (planner); open incidents
    move into their grids under it, field tokens bound to codes it lacks are listed."""
    user = require_user("planner")
    try:
        activation = version_service.activate(store(), version_id, actor=user.name)
    except NotFound as error:
        raise ApiError(404, str(error), field="id") from None
    current_app.extensions["gridmap_cache"].clear()
    return jsonify({"current": version_id, "activation": activation.as_json()})


@bp.get("/versions/<int:version_id>/export")
@requires("viewer")
def export_version(version_id: int):
    """A version's layers as a file: format gpkg|geojson|shp|csv, one layer or all, Shapefile
    and CSV in UTF-8 or GBK (see gridmap.services.export)."""
    from gridmap.services import export

    query = parse_query(ExportQuery)
    try:
        result = export.export_version(
            store(), version_id, query.format, query.layer, query.encoding
        )
    except NotFound as error:
        raise ApiError(404, str(error), field="id") from None
    response = Response(result.data, mimetype=result.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{result.name}"'
    return response
