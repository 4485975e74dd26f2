"""Open311 GeoReport v2 over the same incidents: services, requests (GET/POST), one request.

Services are generated from the incident taxonomy (each subclass, grouped by its 大类, then the
built-in types); ``services/<code>.json`` is a service's definition with its attributes. A
request is an incident (status ``open`` until it is closed or rejected; ``expected_datetime``
from the subclass's time limits). POST needs ``api_key`` (a token of role field or higher; field
tokens only inside their grids). Reading requests needs a viewer token (``api_key`` or Bearer):
they hold residents' addresses and descriptions; the setting ``OPEN311_PUBLIC_READS`` (default
off, as government deployments keep them private) makes them public as the spec expects.
Only the JSON format is served; errors are GeoReport's ``[{"code", "description"}]``.
"""

from __future__ import annotations

import math
from datetime import timedelta

from flask import Blueprint, current_app, jsonify, request

from gridmap.rules import labels
from gridmap.rules.taxonomy import STAGE_NAMES, STAGES, URGENCIES
from gridmap.rules.workflow import FINAL_STATES, OPEN_STATES, iso, utc_now
from gridmap.rules.workflow import parse_iso as parse_time
from gridmap.services.reporting import Report, ReportError, take_report
from gridmap.store import Incident, IncidentFilter, NotFound
from web import geocoding
from web.api import current_version, datum, incident_types, store
from web.auth import require_user
from web.datum import point_to_storage
from web.errors import ApiError

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
MAX_RESULTS = 1000


def _agency() -> str:
    version = current_version(required=False)
    city = version.city if version else ""
    return (city or current_app.config["CITY"] or "") + "城市运行管理中心"


def _request_json(record: Incident) -> dict:
    lon, lat = datum().to_display(record.lon, record.lat)
    closed = record.status in FINAL_STATES
    return {
        "service_request_id": str(record.id),
        "status": "closed" if closed else "open",
        "status_notes": labels.label("states", record.status),
        "service_name": incident_types().get(record.type, record.type),
        "service_code": record.type,
        "description": record.description,
        "agency_responsible": _agency(),
        "service_notice": "",
        "requested_datetime": record.created_at,
        "updated_datetime": record.updated_at,
        "expected_datetime": record.expected_at,
        "address": record.address,
        "address_id": "",
        "zipcode": "",
        "lat": round(lat, 7),
        "long": round(lon, 7),
        "media_url": "",
    }


def _service(code: str) -> dict:
    taxonomy = store().taxonomy()
    name = incident_types()[code]
    limits = store().time_limits
    if code in taxonomy:
        sub = taxonomy.subclass(code)
        basis = "工作时" if sub.basis == "working" else "小时"
        stages = "，".join(f"{STAGE_NAMES[s]} {sub.limits[s]:g}" for s in STAGES)
        return {
            "service_code": code,
            "service_name": name,
            "description": (
                f"{name}：{sub.department}负责，{URGENCIES[sub.urgency]}；时限（{basis}）{stages}"
            ),
            "metadata": True,
            "type": "realtime",
            "keywords": f"{name},{taxonomy.major(sub.major_code).name},{sub.department}",
            "group": taxonomy.major(sub.major_code).name,
        }
    return {
        "service_code": code,
        "service_name": name,
        "description": f"{name}（处置时限 {limits.hours(code, 'handling'):g} 小时）",
        "metadata": False,  # built-in types: no definition advertised
        "type": "realtime",
        "keywords": name,
        "group": "城市管理",
    }


@bp.get("/services.json")
def services():
    """Every incident type as a GeoReport service (public, as the spec has it)."""
    return jsonify([_service(code) for code in incident_types()])


# Attributes a requester may give with any service (GeoReport "service definition").
ATTRIBUTES = ("channel",)


@bp.get("/services/<code>.json")
def service_definition(code: str):
    """A service's definition: the attributes a request of it may carry (public)."""
    if code not in incident_types():
        raise ApiError(404, f"no service {code!r}")
    return jsonify(
        {
            "service_code": code,
            "attributes": [
                {
                    "variable": True,
                    "code": "channel",
                    "datatype": "singlevaluelist",
                    "required": False,
                    "datatype_description": "上报渠道（默认 open311）",
                    "order": 1,
                    "description": "上报渠道",
                    "values": [{"key": k, "name": v} for k, v in labels.CHANNELS.items()],
                }
            ],
        }
    )


def _require_reader() -> None:
    """Request reads: public with OPEN311_PUBLIC_READS, else a viewer token."""
    if not current_app.config.get("OPEN311_PUBLIC_READS", False):
        require_user("viewer")


@bp.get("/requests/<int:request_id>.json")
def one_request(request_id: int):
    _require_reader()
    try:
        record = store().incident(request_id)
    except NotFound:
        raise ApiError(404, f"no service request {request_id}") from None
    return jsonify([_request_json(record)])


@bp.get("/requests.json")
def list_requests():
    """Requests filtered by service_request_id, service_code, status, start_date, end_date."""
    _require_reader()
    args = request.args
    ids = [v.strip() for v in args.get("service_request_id", "").split(",") if v.strip()]
    if ids:
        records = []
        for value in ids:
            if not value.isdigit():
                raise ApiError(400, f"service_request_id {value!r} is not a number")
            try:
                records.append(store().incident(int(value)))
            except NotFound:
                continue
        return jsonify([_request_json(r) for r in records])
    codes = tuple(v for v in args.get("service_code", "").split(",") if v)
    for code in codes:
        if code not in incident_types():
            raise ApiError(400, f"unknown service_code {code!r}")
    statuses: tuple[str, ...] = ()
    status = args.get("status", "")
    if status:
        wanted = set(status.split(","))
        if not wanted <= {"open", "closed"}:
            raise ApiError(400, "status must be open or closed")
        if wanted == {"open"}:
            statuses = OPEN_STATES
        elif wanted == {"closed"}:
            statuses = tuple(sorted(FINAL_STATES))
    since = until = None
    try:
        if args.get("start_date"):
            since = iso(parse_time(args["start_date"]))
        if args.get("end_date"):
            until = iso(parse_time(args["end_date"]))
    except ValueError:
        raise ApiError(400, "start_date/end_date must be ISO 8601 (w3c) times") from None
    if since is None:  # the spec's default window: the last 90 days (at most 1000 requests)
        since = iso(utc_now() - timedelta(days=90))
    flt = IncidentFilter(statuses=statuses, types=codes, since=since, until=until)
    records = store().incidents(flt, limit=MAX_RESULTS)
    return jsonify([_request_json(r) for r in records])


@bp.post("/requests.json")
def create_request():
    """Create a service request (form-encoded as in the spec, or JSON)."""
    user = require_user("field")
    data = request.get_json(silent=True) if request.is_json else None
    values = data if isinstance(data, dict) else request.form.to_dict()
    if request.is_json and not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    code = values.get("service_code")
    if not code:
        raise ApiError(400, "service_code is required")
    if code not in incident_types():
        raise ApiError(400, f"unknown service_code {code!r}")
    lon = lat = None
    if values.get("lat") not in (None, "") and values.get("long") not in (None, ""):
        try:
            lat, lon = float(values["lat"]), float(values["long"])
        except (TypeError, ValueError):
            raise ApiError(400, "lat and long must be numbers") from None
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise ApiError(400, "lat and long must be finite numbers")
        lon, lat = point_to_storage(lon, lat, "wgs84")  # the spec's coordinates are WGS84
    address = values.get("address_string") or ""
    if lon is None and not (isinstance(address, str) and address.strip()):
        raise ApiError(400, "a location is required: lat and long, or address_string")
    description = values.get("description") or ""
    if isinstance(description, str) and not description.strip():
        description = incident_types()[code]  # GeoReport makes the description optional
    given_channel = values.get("attribute[channel]") or ""
    report = Report(
        type=code,
        description=description,
        lon=lon,
        lat=lat,
        address=address,
        source="open311",
        channel=given_channel if isinstance(given_channel, str) else "?",
    )
    try:
        taken = take_report(store(), report, user, geocoding.places())
    except ReportError as error:
        # GeoReport errors are 400 (or 403 for a key that may not report there).
        status = {"forbidden": 403, "unavailable": 409}.get(error.kind, 400)
        name = {"address": "address_string", "lon": "lat and long"}.get(error.field or "")
        message = error.message if name is None else f"{name}: {error.message}"
        raise ApiError(status, message) from None
    # A duplicate joins the open request it repeats: that one's id is the answer.
    notice = "" if taken.duplicate_of is None else f"与请求 {taken.duplicate_of} 重复，已合并"
    response = jsonify(
        [
            {
                "service_request_id": str(taken.incident.id),
                "service_notice": notice,
                "account_id": None,
            }
        ]
    )
    response.status_code = 201
    return response
