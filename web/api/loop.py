"""The loop's views: the taxonomy, duplicate reports and splitting them off.

Thin doors over :mod:`gridmap.services.loop` and the store; rules live in
:mod:`gridmap.rules.taxonomy` and :mod:`gridmap.rules.duplicates`.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import jsonify

from gridmap.rules import labels
from gridmap.services.loop import split_duplicate
from gridmap.store import NotFound
from web.api import bp, point_json, store
from web.api.incidents import incident_json
from web.auth import require_user, requires
from web.errors import ApiError


@bp.get("/taxonomy")
@requires("viewer")
def taxonomy():
    """The incident taxonomy: 大类 with their 小类 (department, staged limits, urgency)."""
    answer = store().taxonomy().as_json()
    answer["channels"] = [{"code": c, "name": n} for c, n in labels.CHANNELS.items()]
    return jsonify(answer)


def _incident_or_404(incident_id: int):
    try:
        return store().incident(incident_id)
    except NotFound as error:
        raise ApiError(404, str(error), field="id") from None


@bp.get("/incidents/<int:incident_id>/duplicates")
@requires("viewer")
def duplicates(incident_id: int):
    """The reports linked to an incident as its duplicates."""
    _incident_or_404(incident_id)
    items = []
    for report in store().duplicates(incident_id):
        item = asdict(report)
        item["geometry"] = point_json(report.lon, report.lat)
        item["channel_name"] = labels.label("channels", report.source)
        del item["lon"], item["lat"]
        items.append(item)
    return jsonify({"incident_id": incident_id, "count": len(items), "duplicates": items})


@bp.post("/incidents/<int:incident_id>/duplicates/<int:duplicate_id>/split")
def split(incident_id: int, duplicate_id: int):
    """Split a linked report off into an incident of its own (dispatcher)."""
    user = require_user("dispatcher")
    _incident_or_404(incident_id)
    try:
        done = split_duplicate(store(), incident_id, duplicate_id, user.name)
    except NotFound as error:
        raise ApiError(404, str(error), field="duplicate_id") from None
    body = incident_json(done.incident, user, full=True) | {"split_from": incident_id}
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = f"/api/incidents/{done.incident.id}"
    return response


def openapi_paths(op, path_param) -> dict:
    """This module's paths for ``/openapi.json`` (``op``/``path_param``: its helpers)."""
    incident = path_param("incident_id", "integer")
    return {
        "/api/taxonomy": {
            "get": op("Incident taxonomy: major classes, subclasses, limits, channels", "viewer")
        },
        "/api/incidents/{incident_id}/duplicates": {
            "get": op("Reports linked to an incident as duplicates", "viewer", [incident])
        },
        "/api/incidents/{incident_id}/duplicates/{duplicate_id}/split": {
            "post": op(
                "Split a duplicate report off into its own incident",
                "dispatcher",
                [incident, path_param("duplicate_id", "integer")],
                ok="201",
            )
        },
        "/open311/v2/services/{code}.json": {
            "get": op("GeoReport v2 service definition (attributes)", None, [path_param("code")])
        },
    }
