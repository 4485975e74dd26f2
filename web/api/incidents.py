"""Incident views: list (clusters above 2,000), heat map, one incident, report, transition."""

from __future__ import annotations

from dataclasses import asdict

from flask import jsonify

from gridmap.rules import labels
from gridmap.rules.display import pixel_degrees, quadtree_cell
from gridmap.services.incidents import ActionError, act
from gridmap.services.reporting import Report, ReportError, take_report
from gridmap.store import Incident, IncidentDetail, IncidentFilter, NotFound
from web import geocoding
from web.api import (
    CLUSTER_ABOVE,
    HEAT_MAX_CELLS,
    bp,
    datum,
    incident_filter,
    incident_types,
    point_json,
    store,
)
from web.api.loop import caller, loop_json
from web.auth import User, current_user, require_user, requires
from web.datum import point_to_storage
from web.errors import ApiError
from web.schema import IncidentIn, TransitionIn, ViewQuery, parse_json, parse_query

# How each reason a report or an action is refused answers over the JSON API.
REPORT_STATUS = {"invalid": 400, "unlocatable": 422, "forbidden": 403, "unavailable": 409}
ACTION_STATUS = {"not_found": 404, "illegal": 409, "forbidden": 403, "invalid": 400}


def incident_json(record: Incident, user: User | None = None, full: bool = False) -> dict:
    """The API's shape of an incident (properties of its GeoJSON feature); ``full``: its
    :func:`detail_json`, read afresh in one store call."""
    if full:
        return detail_json(store().incident_detail(record.id), user)
    return {
        "id": record.id,
        "type": record.type,
        "type_name": incident_types().get(record.type, record.type),
        "status": record.status,
        "status_name": labels.label("states", record.status),
        "overdue": record.overdue,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "due_at": record.due_at,
        "grid_code": record.grid_code,
        "description": record.description,
        "address": record.address,
        "approximate": record.approximate,
    }


def detail_json(detail: IncidentDetail, user: User | None = None) -> dict:
    """One incident in full: position, codes, history, duplicates, loop and the actions the
    caller may take."""
    record = detail.incident
    x, y = datum().to_display(record.lon, record.lat)
    return incident_json(record) | {
        "lon": round(x, 7),
        "lat": round(y, 7),
        "community_code": record.community_code,
        "street_code": record.street_code,
        "district_code": record.district_code,
        "expected_at": record.expected_at,
        "closed_at": record.closed_at,
        "rework": record.rework,
        "reporter": record.reporter,
        "source": record.source,
        "match_level": record.match_level,
        "history": [asdict(h) for h in detail.history],
        "duplicates": detail.duplicates,
        **loop_json(detail, user),
        "action_names": labels.ACTIONS,
    }


@bp.get("/incidents")
@requires("viewer")
def incidents():
    """Incidents as GeoJSON, or clusters when more than 2,000 match."""
    flt = incident_filter()
    zoom = parse_query(ViewQuery).zoom
    # Counting stops past the threshold: above it the clusters hold every match, and their
    # counts add up to the total (one pass over the incidents instead of two).
    count = store().count_incidents(flt, limit=CLUSTER_ABOVE + 1)
    if count > CLUSTER_ABOVE:
        cell = _cell_degrees(flt, zoom, pixels=60)
        clusters = store().incident_clusters(flt, cell)
        count = sum(c.count for c in clusters)
        features = []
        for c in clusters:
            features.append(
                {
                    "type": "Feature",
                    "geometry": point_json(c.lon, c.lat),
                    "properties": {"cluster": True, "count": c.count, "overdue": c.overdue},
                }
            )
        return jsonify(
            {"type": "FeatureCollection", "aggregated": True, "count": count, "features": features}
        )
    features = [
        {
            "type": "Feature",
            "id": r.id,
            "geometry": point_json(r.lon, r.lat),
            "properties": incident_json(r),
        }
        for r in store().incidents(flt)
    ]
    return jsonify(
        {"type": "FeatureCollection", "aggregated": False, "count": count, "features": features}
    )


def _cell_degrees(flt: IncidentFilter, zoom: float | None, pixels: float) -> float:
    """About ``pixels`` screen pixels at ``zoom`` (or a 20th of the view), as a quadtree cell."""
    if zoom is not None:
        wanted = pixel_degrees(zoom) * pixels
    elif flt.bbox is not None:
        wanted = max((flt.bbox[2] - flt.bbox[0]) / 20, 1e-4)
    else:
        wanted = pixel_degrees(11) * pixels
    return quadtree_cell(wanted)


@bp.get("/incidents/heat")
@requires("viewer")
def incidents_heat():
    """Heat map points ``[lat, lon, weight]`` aggregated to at most ~5,000 cells."""
    flt = incident_filter()
    zoom = parse_query(ViewQuery).zoom
    cell = _cell_degrees(flt, zoom, pixels=12)
    cells = store().incident_clusters(flt, cell)
    while len(cells) > HEAT_MAX_CELLS:
        cell *= 2
        cells = store().incident_clusters(flt, cell)
    points = []
    for c in cells:
        x, y = datum().to_display(c.lon, c.lat)
        points.append([round(y, 6), round(x, 6), c.count])
    return jsonify({"points": points, "cell_degrees": cell})


@bp.get("/incidents/<int:incident_id>")
@requires("viewer")
def incident(incident_id: int):
    """One incident with its history and the actions the caller may take."""
    try:
        detail = store().incident_detail(incident_id)
    except NotFound as error:
        raise ApiError(404, str(error), field="id") from None
    return jsonify(detail_json(detail, current_user()))


@bp.post("/incidents")
def create_incident():
    """Report an incident at a point or an address; the grid is assigned here."""
    user = require_user("field")
    body = parse_json(IncidentIn)
    lon, lat = body.lon, body.lat
    if lon is not None or lat is not None:
        if lon is None or lat is None:
            raise ApiError(400, "give both lon and lat", field="lat" if lat is None else "lon")
        try:
            lon, lat = point_to_storage(lon, lat, body.crs)
        except ValueError as error:
            raise ApiError(400, f"unknown crs: {error}", field="crs") from None
    # ``category``: a taxonomy subclass code or name; ``type`` (a built-in type) still works.
    type_field = "category" if body.category is not None else "type"
    category = body.category if body.category is not None else body.type
    if category is None:
        raise ApiError(400, "missing field category (or type)", field="type")
    report = Report(
        type=category,
        description=body.description,
        lon=lon,
        lat=lat,
        address=body.address,
        source="api",
        channel=body.channel or "",
    )
    try:
        taken = take_report(store(), report, user, geocoding.places())
    except ReportError as error:
        field = type_field if error.field == "type" else error.field
        raise ApiError(REPORT_STATUS[error.kind], error.message, field=field) from None
    # take_report has committed: the answer acknowledges a durable record.
    record = taken.incident
    answer = detail_json(taken.detail, user)
    if taken.duplicate_of is not None:  # linked to an open incident, not opened again
        answer |= {"duplicate_of": taken.duplicate_of, "duplicate_id": taken.duplicate_id}
    response = jsonify(answer)
    response.status_code = 200 if taken.duplicate_of is not None else 201
    response.headers["Location"] = f"/api/incidents/{record.id}"
    return response


@bp.post("/incidents/<int:incident_id>/transition")
def transition(incident_id: int):
    """Take one workflow action (accept, dispatch, start, resolve, verify, return, close, ...);
    ``department`` with dispatch, ``follow_up`` {method, satisfied, note} with close."""
    user = require_user("field")
    body = parse_json(TransitionIn)
    try:
        record = act(
            store(),
            incident_id,
            body.action,
            caller(user),
            body.note,
            body.department,
            body.follow_up,
        )
    except ActionError as error:
        raise ApiError(ACTION_STATUS[error.kind], error.message, field=error.field) from None
    return jsonify(incident_json(record, user, full=True))
