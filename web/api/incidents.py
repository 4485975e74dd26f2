"""Incident views: list (clusters above 2,000), heat map, one incident, report, transition."""

from __future__ import annotations

from flask import jsonify, request

from gridmap.store import IncidentFilter, NotFound
from gridmap.store.sqlite import pixel_degrees
from gridmap.store.workflow import (
    ACTION_NAMES,
    STATE_NAMES,
    IllegalTransition,
    actions_from,
    allowed_actions,
    in_own_grids,
)
from web import geocoding
from web.api import (
    CLUSTER_ABOVE,
    HEAT_MAX_CELLS,
    MAX_ADDRESS,
    MAX_DESCRIPTION,
    MAX_NOTE,
    bp,
    current_version,
    datum,
    incident_filter,
    incident_types,
    json_body,
    number_field,
    parse_zoom,
    point_json,
    store,
    text_field,
    type_code,
)
from web.auth import User, current_user, require_user, requires
from web.datum import point_to_storage
from web.errors import ApiError


def incident_json(record: dict, user: User | None = None, full: bool = False) -> dict:
    """The API's shape of an incident (properties of its GeoJSON feature)."""
    x, y = datum().to_display(record["lon"], record["lat"])
    out = {
        "id": record["id"],
        "type": record["type"],
        "type_name": incident_types().get(record["type"], record["type"]),
        "status": record["status"],
        "status_name": STATE_NAMES.get(record["status"], record["status"]),
        "overdue": bool(record["overdue"]),
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
        "due_at": record["due_at"],
        "grid_code": record["grid_code"],
        "description": record["description"],
        "address": record["address"],
    }
    if full:
        out.update(
            {
                "lon": round(x, 7),
                "lat": round(y, 7),
                "community_code": record["community_code"],
                "street_code": record["street_code"],
                "district_code": record["district_code"],
                "expected_at": record["expected_at"],
                "closed_at": record["closed_at"],
                "rework": record["rework"],
                "reporter": record["reporter"],
                "source": record["source"],
                "history": store().history(record["id"]),
                "allowed_actions": (
                    allowed_actions(record["status"], user.role, record["grid_code"], user.grids)
                    if user
                    else []
                ),
                "action_names": ACTION_NAMES,
            }
        )
    return out


@bp.get("/incidents")
@requires("viewer")
def incidents():
    """Incidents as GeoJSON, or clusters when more than 2,000 match."""
    flt = incident_filter()
    zoom = parse_zoom(request.args.get("zoom"))
    count = store().count_incidents(flt)
    if count > CLUSTER_ABOVE:
        cell = _cell_degrees(flt, zoom, pixels=60)
        features = []
        for lon, lat, n, overdue in store().incident_clusters(flt, cell):
            features.append(
                {
                    "type": "Feature",
                    "geometry": point_json(lon, lat),
                    "properties": {"cluster": True, "count": n, "overdue": int(overdue or 0)},
                }
            )
        return jsonify(
            {"type": "FeatureCollection", "aggregated": True, "count": count, "features": features}
        )
    features = [
        {
            "type": "Feature",
            "id": r["id"],
            "geometry": point_json(r["lon"], r["lat"]),
            "properties": incident_json(r),
        }
        for r in store().incidents(flt)
    ]
    return jsonify(
        {"type": "FeatureCollection", "aggregated": False, "count": count, "features": features}
    )


def _cell_degrees(flt: IncidentFilter, zoom: float | None, pixels: float) -> float:
    if zoom is not None:
        return pixel_degrees(zoom) * pixels
    if flt.bbox is not None:
        return max((flt.bbox[2] - flt.bbox[0]) / 20, 1e-4)
    return pixel_degrees(11) * pixels


@bp.get("/incidents/heat")
@requires("viewer")
def incidents_heat():
    """Heat map points ``[lat, lon, weight]`` aggregated to at most ~5,000 cells."""
    flt = incident_filter()
    zoom = parse_zoom(request.args.get("zoom"))
    cell = _cell_degrees(flt, zoom, pixels=12)
    cells = store().incident_clusters(flt, cell)
    while len(cells) > HEAT_MAX_CELLS:
        cell *= 2
        cells = store().incident_clusters(flt, cell)
    points = []
    for lon, lat, n, _overdue in cells:
        x, y = datum().to_display(lon, lat)
        points.append([round(y, 6), round(x, 6), n])
    return jsonify({"points": points, "cell_degrees": cell})


@bp.get("/incidents/<int:incident_id>")
@requires("viewer")
def incident(incident_id: int):
    """One incident with its history and the actions the caller may take."""
    try:
        record = store().incident(incident_id)
    except NotFound as error:
        raise ApiError(404, str(error), field="id") from None
    return jsonify(incident_json(record, current_user(), full=True))


@bp.post("/incidents")
def create_incident():
    """Report an incident at a point or an address; the grid is assigned here."""
    user = require_user("field")
    body = json_body()
    kind = type_code(body.get("type")) if "type" in body else _missing("type")
    description = text_field(body, "description", MAX_DESCRIPTION, required=True)
    version = current_version()
    address = text_field(body, "address", MAX_ADDRESS, required=False)
    if "lon" in body or "lat" in body:
        lon, lat = number_field(body, "lon"), number_field(body, "lat")
        crs = body.get("crs")
        if crs is not None and not isinstance(crs, str):
            raise ApiError(400, "crs must be text like wgs84 or gcj02", field="crs")
        try:
            lon, lat = point_to_storage(lon, lat, crs)
        except ValueError as error:
            raise ApiError(400, f"unknown crs: {error}", field="crs") from None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ApiError(422, "lon/lat out of range", field="lon")
    elif address:
        found = geocoding.match(version["id"], address)
        if found.level == "none" or found.lon is None:
            # The geocoder answers "none" below its review threshold: no guessing a location.
            raise ApiError(422, f"address not found in the library: {address}", field="address")
        lon, lat = found.lon, found.lat
        address = found.address or address
    else:
        raise ApiError(400, "give lon and lat, or an address", field="lon")
    location = store().locate(version["id"], lon, lat)
    if location is None:
        raise ApiError(422, "the point is outside the city", field="lon")
    if not address:  # a point report: name the standard address it is at, when one is close
        address = geocoding.nearest_address(version["id"], lon, lat)
    if user.role == "field" and not in_own_grids(location["grid_code"], user.grids):
        raise ApiError(403, "field staff report only inside their own grids", field="lon")
    incident_id = store().create_incident(
        type=kind,
        description=description,
        lon=lon,
        lat=lat,
        location=location,
        actor=user.name,
        address=address,
        source="api",
        version_id=version["id"],
    )
    # create_incident has committed: the answer acknowledges a durable record.
    response = jsonify(incident_json(store().incident(incident_id), user, full=True))
    response.status_code = 201
    response.headers["Location"] = f"/api/incidents/{incident_id}"
    return response


def _missing(name: str):
    raise ApiError(400, f"missing field {name}", field=name)


@bp.post("/incidents/<int:incident_id>/transition")
def transition(incident_id: int):
    """Take one workflow action (accept, dispatch, start, resolve, verify, return, close, ...)."""
    user = require_user("field")
    body = json_body()
    action = body.get("action")
    if not isinstance(action, str) or not action:
        raise ApiError(400, "missing field action", field="action")
    note = text_field(body, "note", MAX_NOTE, required=False)
    try:
        record = store().incident(incident_id)
    except NotFound as error:
        raise ApiError(404, str(error), field="id") from None
    if action not in actions_from(record["status"]):
        raise ApiError(
            409,
            f"cannot {action!r} an incident that is {record['status']}; "
            f"allowed: {', '.join(actions_from(record['status'])) or 'none'}",
            field="action",
        )
    if action not in allowed_actions(record["status"], user.role, record["grid_code"], user.grids):
        raise ApiError(403, f"role {user.role} may not {action!r} this incident", field="action")
    try:
        record = store().transition(incident_id, action, user.name, note)
    except IllegalTransition as error:  # someone else moved it first
        raise ApiError(409, str(error), field="action") from None
    return jsonify(incident_json(record, user, full=True))
