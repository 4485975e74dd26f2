"""The JSON API under ``/api/`` (see notes/WEB_API.md): blueprint ``bp`` and request helpers.

Views only parse and check the request, call a service (:mod:`gridmap.services`) or the store
protocol and shape the answer; the store owns SQL, :mod:`gridmap.rules` owns every rule and label
(``GET /api/meta`` sends them to the browser). The views live beside this
module: :mod:`.layers` (config, layers, geocoding), :mod:`.incidents` (incidents and their loop),
:mod:`.kpi` (KPIs and grids), :mod:`.versions` (published grid versions), :mod:`.meta` (rules
and labels) and
:mod:`web.stream` (live events).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from flask import Blueprint, Response, current_app, g, request

from gridmap.rules import labels
from gridmap.rules.taxonomy import type_names
from gridmap.rules.workflow import iso, parse_iso
from gridmap.services.reporting import incident_type
from gridmap.store import IncidentFilter, Store, Version
from web.auth import check_cross_site_write
from web.errors import ApiError
from web.schema import IncidentQuery, parse_query

bp = Blueprint("api", __name__, url_prefix="/api")
bp.before_request(check_cross_site_write)

# Bodies larger than the app's MAX_CONTENT_LENGTH (1 MB of JSON), per endpoint: a publish's or
# a plan's files, a CSV of addresses, a photo. endpoint -> the limit in bytes, from the config.
UPLOAD_LIMITS: dict[str, Callable[[Mapping], int]] = {}
FORM_MARGIN = 64 * 1024  # a multipart form's own bytes beside its file


def allow_upload(endpoint: str, limit: Callable[[Mapping], int]) -> None:
    """Let POSTs to ``endpoint`` carry up to ``limit(app.config)`` bytes (werkzeug answers 413,
    as JSON, past it, before the body is read)."""
    UPLOAD_LIMITS[endpoint] = limit


@bp.before_app_request
def _upload_limit():
    limit = UPLOAD_LIMITS.get(request.endpoint or "")
    if limit is not None and request.method == "POST":
        request.max_content_length = limit(current_app.config)


CLUSTER_ABOVE = 2000
HEAT_MAX_CELLS = 5000
SHIFT_CACHE_LIMIT = 300_000  # shifted geometry texts kept (10,000 grids x 5 bands x 6 layers)
LAYERS = tuple(labels.LAYERS)


# -- helpers ---------------------------------------------------------------------------------


def store() -> Store:
    return current_app.extensions["gridmap_store"]


def datum():
    return current_app.extensions["gridmap_datum"]


NO_VERSION = "no grid version is published yet: run `gridmap publish` first"


def current_version(required: bool = True) -> Version | None:
    version = store().current_version()
    if version is None and required:
        raise ApiError(409, NO_VERSION)
    return version


def json_body() -> dict:
    """The request's JSON object; 400 naming the problem otherwise."""
    if not request.data:
        raise ApiError(400, "request body must be a JSON object")
    try:
        data = current_app.json.loads(request.get_data(as_text=True))
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
    """The incident filters of the query string (``web.schema.IncidentQuery``)."""
    query = parse_query(IncidentQuery)
    taxonomy = store().taxonomy() if query.type else None
    try:
        types = tuple(dict.fromkeys(incident_type(t, taxonomy) for t in query.type))
    except ValueError as error:  # ReportError: not a subclass or built-in type
        raise ApiError(400, str(error), field="type") from None
    # The loop's filters (field): a department's incidents, escalated (督办) or not.
    ids, not_ids = None, ()
    if query.department is not None:
        found = store().department(query.department)
        if found is None or found.code != query.department:
            raise ApiError(400, f"unknown department {query.department!r}", field="department")
    if query.department is not None or query.escalated:
        ids = tuple(store().loop_incident_ids(query.department, True if query.escalated else None))
    if query.escalated is False:
        not_ids = tuple(store().loop_incident_ids(escalated=True))
    return IncidentFilter(
        bbox=storage_bbox(query.bbox),
        statuses=tuple(query.status),
        types=types,
        since=query.since,
        until=query.until,
        grid=query.grid,
        channels=tuple(query.channel),
        ids=ids,
        not_ids=not_ids,
    )


def storage_bbox(bbox: tuple[float, float, float, float] | None):
    """A parsed display-datum bbox (``web.schema.BBox``) in the storage datum."""
    return datum().bbox_from_display(bbox) if bbox is not None else None


def incident_types() -> dict[str, str]:
    """code -> name of the configured incident types: the taxonomy's subclasses and the
    built-in types (once per request)."""
    if "gridmap_types" not in g:
        g.gridmap_types = type_names(store().taxonomy())
    return g.gridmap_types


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


def json_response(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="application/json")


# Register the views on bp (they import the helpers above).
import web.api.batch  # noqa: E402,F401  (clerk: batch geocoding)
import web.api.plans  # noqa: E402,F401  (planner workspace, issue 9)
from web import stream  # noqa: E402,F401  (registers /api/stream on bp)
from web.api import (  # noqa: E402,F401
    field,  # field: the field page's tasks and places
    incidents,
    kpi,
    layers,
    loop,
    meta,
    photos,  # field: photos of incidents
    versions,
)
