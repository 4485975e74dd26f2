"""The JSON API under ``/api/`` (see notes/WEB_API.md): config, layers, incidents, KPIs, geocoding.

Views only parse and check the request, call the store and shape the answer; the store owns SQL,
:mod:`gridmap.store.workflow` owns the rules of the incident loop.
"""

from __future__ import annotations

import csv
import io
import json
import math

from flask import Blueprint, Response, current_app, jsonify, request

from gridmap.store import IncidentFilter, NotFound
from gridmap.store.publish import DECIMALS
from gridmap.store.sqlite import LAYERS, band_for_zoom, pixel_degrees
from gridmap.store.workflow import (
    ACTION_NAMES,
    INCIDENT_TYPES,
    STATE_NAMES,
    STATES,
    IllegalTransition,
    actions_from,
    allowed_actions,
    in_own_grids,
    iso,
    parse_iso,
    utc_now,
)
from web import geocoding
from web.auth import User, check_cross_site_write, current_user, require_user, requires
from web.datum import point_to_storage
from web.errors import ApiError

bp = Blueprint("api", __name__, url_prefix="/api")
bp.before_request(check_cross_site_write)

MAX_DESCRIPTION = 4000
MAX_ADDRESS = 500
MAX_NOTE = 4000
MAX_QUERY = 200
CLUSTER_ABOVE = 2000
HEAT_MAX_CELLS = 5000
SHIFT_CACHE_LIMIT = 300_000  # shifted geometry texts kept (10,000 grids x 5 bands x 6 layers)
LAYER_TITLES = {
    "district": "区",
    "street": "街道/镇",
    "community": "社区/村",
    "grid": "综合网格",
    "exclusive": "专属网格",
    "roads": "道路",
}
KPI_LEVELS = ("grid", "community", "street", "district")


# -- helpers ---------------------------------------------------------------------------------


def store():
    return current_app.extensions["gridmap_store"]


def datum():
    return current_app.extensions["gridmap_datum"]


def current_version(required: bool = True) -> dict | None:
    version = store().current_version()
    if version is None and required:
        raise ApiError(409, "no grid version is published yet: run `gridmap publish`")
    return version


def json_body() -> dict:
    """The request's JSON object; 400 naming the problem otherwise."""
    if not request.data:
        raise ApiError(400, "request body must be a JSON object")
    try:
        data = json.loads(request.get_data(as_text=True))
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, f"malformed JSON: {error}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    return data


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``w,s,e,n`` in the display datum -> storage bbox; 400 when malformed."""
    if not text:
        return None
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise ApiError(400, "bbox must be w,s,e,n (four numbers)", field="bbox") from None
    if not all(math.isfinite(v) for v in (w, s, e, n)) or w > e or s > n:
        raise ApiError(400, "bbox must be w,s,e,n with w <= e and s <= n", field="bbox")
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= 90 and -90 <= n <= 90):
        raise ApiError(400, "bbox is outside lon -180..180 / lat -90..90", field="bbox")
    return datum().bbox_from_display((w, s, e, n))


def parse_zoom(text: str | None) -> float | None:
    if text in (None, ""):
        return None
    try:
        zoom = float(text)
    except ValueError:
        raise ApiError(400, "zoom must be a number 0-24", field="zoom") from None
    if not 0 <= zoom <= 24:
        raise ApiError(400, "zoom must be a number 0-24", field="zoom")
    return zoom


def parse_time(name: str) -> str | None:
    text = request.args.get(name)
    if not text:
        return None
    try:
        return iso(parse_iso(text))
    except ValueError:
        raise ApiError(400, f"{name} must be an ISO 8601 time", field=name) from None


def parse_list(name: str, allowed) -> tuple[str, ...]:
    text = request.args.get(name, "")
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    for value in values:
        if value not in allowed:
            raise ApiError(
                400, f"unknown {name} {value!r}; one of {', '.join(allowed)}", field=name
            )
    return values


def incident_filter() -> IncidentFilter:
    grid = request.args.get("grid") or None
    if grid is not None and not grid.isdigit():
        raise ApiError(400, "grid must be a grid or division code (digits)", field="grid")
    return IncidentFilter(
        bbox=parse_bbox(request.args.get("bbox")),
        statuses=parse_list("status", STATES),
        types=parse_list("type", tuple(incident_types())),
        since=parse_time("since"),
        until=parse_time("until"),
        grid=grid,
    )


def incident_types() -> dict[str, str]:
    """code -> name of the configured incident types."""
    return {code: name for code, (name, _hours) in INCIDENT_TYPES.items()}


def type_code(value) -> str:
    """An incident type given as its code or its Chinese name -> code; 400 otherwise."""
    types = incident_types()
    if isinstance(value, str):
        if value in types:
            return value
        for code, name in types.items():
            if value == name:
                return code
    raise ApiError(400, f"unknown incident type {value!r}; one of {', '.join(types)}", field="type")


def text_field(data: dict, name: str, limit: int, required: bool) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(400, f"missing field {name}", field=name)
        return ""
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be text", field=name)
    if len(value) > limit:
        raise ApiError(400, f"{name} is longer than {limit} characters", field=name)
    return value.strip()


def number_field(data: dict, name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ApiError(400, f"{name} must be a number", field=name)
    try:
        number = float(value)
    except ValueError:
        raise ApiError(400, f"{name} must be a number", field=name) from None
    if not math.isfinite(number):
        raise ApiError(400, f"{name} must be a finite number", field=name)
    return number


def point_json(lon: float, lat: float) -> dict:
    x, y = datum().to_display(lon, lat)
    return {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]}


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


def kpi_rows(level: str, code: str | None = None) -> list[dict]:
    """KPI rows of a level with names and rates (rates null when there is nothing to rate)."""
    version = current_version(required=False)
    names = store().names(version["id"]) if version else {}
    rows = []
    for r in store().kpis(level, code=code):
        valid = r["total"] - r["rejected"]
        rows.append(
            {
                "code": r["code"],
                "name": names.get(r["code"], r["code"]),
                "total": r["total"],
                "open": r["open"],
                "closed": r["closed"],
                "rejected": r["rejected"],
                "closure_rate": round(r["closed"] / valid, 4) if valid else None,
                "on_time_rate": round(r["closed_on_time"] / r["closed"], 4)
                if r["closed"]
                else None,
                "overdue": r["overdue"],
                "rework": r["rework"],
            }
        )
    return rows


def grid_stats() -> dict[str, tuple[int, int, float | None]]:
    """grid_code -> (open, overdue, closure_rate), cached until the next event or minute."""
    key = ("grid_stats", store().last_event_id(), iso(utc_now())[:16])
    cache = current_app.extensions["gridmap_cache"]
    if cache.get("grid_stats_key") != key:
        stats = {r["code"]: (r["open"], r["overdue"], r["closure_rate"]) for r in kpi_rows("grid")}
        cache["grid_stats"] = stats
        cache["grid_stats_key"] = key
    return cache["grid_stats"]


def json_response(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="application/json")


# -- endpoints -------------------------------------------------------------------------------


@bp.get("/config")
@requires("viewer")
def config():
    """Everything the map page needs to start: city, extent, base map, layers, types, user."""
    user = current_user()
    version = current_version(required=False)
    cfg = current_app.config
    bounds = version["bounds"] if version else None
    if bounds:
        w, s = datum().to_display(bounds[0], bounds[1])
        e, n = datum().to_display(bounds[2], bounds[3])
        view = {"center": [(s + n) / 2, (w + e) / 2], "bounds": [[s, w], [n, e]]}
    else:
        view = {"center": None, "bounds": None}
    return jsonify(
        {
            "city": (version or {}).get("city") or cfg["CITY"],
            **view,
            "basemap": {
                "url": cfg["BASEMAP_URL"],
                "datum": datum().name,
                "attribution": cfg["BASEMAP_ATTRIBUTION"],
            },
            "datum": datum().name,
            "layers": [{"name": n, "title": LAYER_TITLES[n]} for n in LAYERS],
            "incident_types": [{"code": c, "name": n} for c, n in incident_types().items()],
            "statuses": [{"code": s, "name": STATE_NAMES[s]} for s in STATES],
            "actions": [{"code": a, "name": n} for a, n in ACTION_NAMES.items()],
            "user": user.as_json(),
            "version": (
                {
                    "id": version["id"],
                    "note": version["note"],
                    "published_at": version["published_at"],
                }
                if version
                else None
            ),
        }
    )


@bp.get("/layers/<name>")
@requires("viewer")
def layer(name: str):
    """GeoJSON of one layer meeting the bbox, simplified for the zoom."""
    if name not in LAYERS:
        raise ApiError(404, f"unknown layer {name!r}; one of {', '.join(LAYERS)}", field="name")
    bbox = parse_bbox(request.args.get("bbox"))
    zoom = parse_zoom(request.args.get("zoom"))
    version = current_version(required=False)
    if version is None:
        return jsonify({"type": "FeatureCollection", "features": []})
    rows = store().layer_features(version["id"], name, bbox, zoom)
    geometries = _display_geometries(rows, band_for_zoom(zoom))
    stats = grid_stats() if name in ("grid", "exclusive") else {}
    parts = []
    for (fid, code, _name, props, _geom), geometry in zip(rows, geometries, strict=True):
        if name in ("grid", "exclusive"):
            open_, overdue, rate = stats.get(code, (0, 0, None))
            extra = f'"open":{open_},"overdue":{overdue},"closure_rate":{json.dumps(rate)}'
            props = f"{props[:-1]},{extra}}}"
        parts.append(f'{{"type":"Feature","id":{fid},"properties":{props},"geometry":{geometry}}}')
    head = f'{{"type":"FeatureCollection","layer":{json.dumps(name)},"version":{version["id"]}'
    return json_response(f'{head},"features":[{",".join(parts)}]}}')


def _display_geometries(rows: list[tuple], band: int) -> list[str]:
    """Stored geometry texts in the display datum; shifted ones are cached per feature and band
    (shifting every grid of a city view on each pan would cost more than the query)."""
    if datum().identity:
        return [r[4] for r in rows]
    cache = current_app.extensions["gridmap_cache"].setdefault("shifted", {})
    missing = [r for r in rows if (r[0], band) not in cache]
    if missing:
        if len(cache) > SHIFT_CACHE_LIMIT:
            cache.clear()
        shifted = datum().geojson_to_display([r[4] for r in missing], DECIMALS[band])
        cache.update({(r[0], band): text for r, text in zip(missing, shifted, strict=True)})
    return [cache[(r[0], band)] for r in rows]


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


@bp.get("/geocode")
@requires("viewer")
def geocode():
    """Match a free-text address against the library; the grid it falls in."""
    query = (request.args.get("q") or "").strip()
    if not query:
        raise ApiError(400, "q is empty", field="q")
    if len(query) > MAX_QUERY:
        raise ApiError(400, f"q is longer than {MAX_QUERY} characters", field="q")
    version = current_version()
    found = geocoding.match(version["id"], query)
    lon = lat = None
    if found.lon is not None:
        lon, lat = (round(v, 7) for v in datum().to_display(found.lon, found.lat))
    grid = None
    if found.grid_code:
        layer_name = "grid"
        feature = store().feature(version["id"], "grid", found.grid_code)
        if feature is None:
            layer_name = "exclusive"
            feature = store().feature(version["id"], "exclusive", found.grid_code)
        if feature is not None:
            geometry = datum().geojson_to_display([feature["geometry"]])[0]
            grid = {
                "type": "Feature",
                "properties": feature["props"] | {"layer": layer_name},
                "geometry": json.loads(geometry),
            }
    return jsonify(
        {
            "match": {
                "query": query,
                "level": found.level,
                "confidence": round(float(found.confidence), 4),
                "address_id": found.address_id,
                "address": found.address,
                "lon": lon,
                "lat": lat,
                "grid_code": found.grid_code,
            },
            "grid": grid,
        }
    )


@bp.get("/kpi")
@requires("viewer")
def kpi():
    """KPIs per grid, community, street or district, as JSON or CSV."""
    level = request.args.get("level", "grid")
    if level not in KPI_LEVELS:
        raise ApiError(400, f"level must be one of {', '.join(KPI_LEVELS)}", field="level")
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ApiError(400, "format must be json or csv", field="format")
    rows = kpi_rows(level)
    if fmt == "json":
        return jsonify({"level": level, "rows": rows})
    buffer = io.StringIO()
    columns = ["code", "name", "total", "open", "closed", "rejected", "closure_rate"]
    columns += ["on_time_rate", "overdue", "rework"]
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        # A spreadsheet would run a cell starting with = + - @ as a formula: quote it as text.
        writer.writerow({k: _csv_safe(row[k]) for k in columns})
    return Response(
        "\ufeff" + buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=kpi_{level}.csv"},
    )


def _csv_safe(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return "" if value is None else value


@bp.get("/grids/<code>")
@requires("viewer")
def grid(code: str):
    """One grid's properties, KPIs and geometry."""
    version = current_version()
    feature = store().feature(version["id"], "grid", code) or store().feature(
        version["id"], "exclusive", code
    )
    if feature is None:
        raise ApiError(404, f"no grid {code} in the current version", field="code")
    rows = kpi_rows("grid", code=code)
    empty = {"total": 0, "open": 0, "closed": 0, "rejected": 0, "closure_rate": None}
    empty |= {"on_time_rate": None, "overdue": 0, "rework": 0}
    kpis = {k: v for k, v in (rows[0] if rows else empty).items() if k not in ("code", "name")}
    geometry = json.loads(datum().geojson_to_display([feature["geometry"]])[0])
    return jsonify(feature["props"] | {"kpi": kpis, "geometry": geometry})


@bp.get("/versions")
@requires("viewer")
def versions():
    """Every published grid version; the current one is marked."""
    return jsonify({"versions": store().versions()})


@bp.post("/versions")
def publish_version():
    """Publish a new grid version from uploaded files (planner): multipart fields ``grids``,
    ``boundaries``, ``addresses`` and optional ``barriers`` (files), ``note`` (text)."""
    user = require_user("planner")
    import tempfile
    from pathlib import Path

    from gridmap import io as gio
    from gridmap.errors import InputError
    from gridmap.store.publish import publish

    note = request.form.get("note", "")
    if len(note) > MAX_NOTE:
        raise ApiError(400, f"note is longer than {MAX_NOTE} characters", field="note")
    readers = {
        "grids": gio.read_grids,
        "boundaries": gio.read_boundaries,
        "addresses": gio.read_addresses,
        "barriers": gio.read_barriers,
    }
    with tempfile.TemporaryDirectory(prefix="gridmap-publish-") as folder:
        frames = {}
        for name, reader in readers.items():
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
                frames[name] = reader(path)
            except InputError as error:
                raise ApiError(400, f"{name}: {error}", field=name) from None
        try:
            summary = publish(store(), **frames, note=note, published_by=user.name)
        except InputError as error:
            raise ApiError(400, str(error)) from None
    current_app.extensions["gridmap_cache"].clear()
    response = jsonify(summary)
    response.status_code = 201
    return response


@bp.before_app_request
def _allow_large_publish():
    # Grid files and address libraries are bigger than any other request: only this one gets
    # PUBLISH_MAX_CONTENT_LENGTH, and only a planner can use it.
    if request.endpoint == "api.publish_version" and request.method == "POST":
        request.max_content_length = current_app.config["PUBLISH_MAX_CONTENT_LENGTH"]


@bp.post("/versions/<int:version_id>/activate")
@requires("planner")
def activate_version(version_id: int):
    """Make an earlier (or later) published version the current one (planner)."""
    try:
        store().set_current(version_id)
    except NotFound as error:
        raise ApiError(404, str(error), field="id") from None
    current_app.extensions["gridmap_cache"].clear()
    return jsonify({"current": version_id})


from web import stream  # noqa: E402,F401  (registers /api/stream on bp)
