"""The field page's views (``/field``, 网格员移动端): my tasks and what is at a point.

Thin doors over :mod:`gridmap.services.field`; the page reports with ``POST /api/incidents``,
acts with ``POST /api/incidents/<id>/transition``, checks in with ``POST /api/patrols``, adds
photos with ``POST /api/incidents/<id>/photos`` and looks addresses up with ``GET /api/geocode``.
A field token's grids scope every answer.
"""

from __future__ import annotations

from flask import current_app, jsonify

from gridmap.services.field import grid_boxes, my_tasks, own_grids, place_at
from web.api import bp, current_version, datum, store
from web.api.incidents import incident_json
from web.api.loop import _staff_json, caller
from web.auth import require_user
from web.datum import point_to_storage
from web.errors import ApiError
from web.schema import LocateQuery, parse_query


@bp.get("/field/tasks")
def field_tasks():
    """My tasks: the incidents I can start or resolve now, the soonest deadline first (field
    staff: within their grids; a department: its queue)."""
    user = require_user("field")
    tasks = my_tasks(store(), caller(user))
    items = []
    for task in tasks:
        item = incident_json(task.incident, user)
        x, y = datum().to_display(task.incident.lon, task.incident.lat)
        item |= {
            "lon": round(x, 7),
            "lat": round(y, 7),
            "allowed_actions": list(task.actions),
            "department": task.department,
            "photos": task.photos,
            "rework": task.incident.rework,
        }
        items.append(item)
    return jsonify({"count": len(items), "grids": list(user.grids), "tasks": items})


@bp.get("/locate")
def locate_point():
    """The grid (and community, street, district) holding ``lon``/``lat`` (``crs``), its
    staff, and whether the caller may report and check in there (``mine``)."""
    user = require_user("field")
    point = parse_query(LocateQuery)
    try:  # ``crs`` as for reports: wgs84 (GPS, the default), gcj02 (a tap on a GCJ-02 map), ...
        lon, lat = point_to_storage(point.lon, point.lat, point.crs)
    except ValueError as error:
        raise ApiError(400, f"unknown crs: {error}", field="crs") from None
    place = place_at(store(), caller(user), lon, lat)
    if place is None:
        raise ApiError(404, "the point is in no grid of the published version", field="lon")
    loc = place.location
    names = _names()
    x, y = datum().to_display(lon, lat)
    return jsonify(
        {
            "point": [round(x, 7), round(y, 7)],  # on the map (display datum): a GPS fix too
            "grid_code": loc.grid_code,
            "community_code": loc.community_code,
            "community_name": names.get(loc.community_code or ""),
            "street_code": loc.street_code,
            "street_name": names.get(loc.street_code or ""),
            "district_code": loc.district_code,
            "district_name": names.get(loc.district_code or ""),
            "mine": place.mine,
            "staff": [_staff_json(m) for m in place.staff],
        }
    )


def _names() -> dict[str, str]:
    """code -> name of the current version's divisions (kept per version)."""
    version = current_version()
    cache = current_app.extensions["gridmap_cache"]
    key = ("field_names", version.id)
    if key not in cache:
        for old in [k for k in cache if isinstance(k, tuple) and k[0] == key[0]]:
            del cache[old]
        cache[key] = store().names(version.id)
    return cache[key]


@bp.get("/field/grids")
def field_grids():
    """My grids: the codes of the grids my token covers and the box around them (display
    datum), for the field page to highlight and fit (field staff; others cover none)."""
    user = require_user("field")
    version = current_version()
    cache = current_app.extensions["gridmap_cache"]
    key = ("field_grid_boxes", version.id)
    if key not in cache:
        for old in [k for k in cache if isinstance(k, tuple) and k[0] == key[0]]:
            del cache[old]
        cache[key] = grid_boxes(store(), version.id)
    codes, box = own_grids(cache[key], caller(user))
    bbox = None
    if box is not None:
        w, s = datum().to_display(box[0], box[1])
        e, n = datum().to_display(box[2], box[3])
        bbox = [round(v, 7) for v in (w, s, e, n)]
    return jsonify({"prefixes": list(user.grids), "grids": codes, "bbox": bbox})
