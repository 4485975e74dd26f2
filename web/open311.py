"""Open311 GeoReport v2 over the same incidents: services, requests (GET/POST), one request.

Services are the incident types; a request is an incident (status ``open`` until it is closed or
rejected; ``expected_datetime`` from the type's time limits). POST needs ``api_key`` (a token of
role field or higher; field tokens only inside their grids). Reading requests needs a viewer
token (``api_key`` or Bearer): they hold residents' addresses and descriptions.
Only the JSON format is served; errors are GeoReport's ``[{"code", "description"}]``.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, jsonify

from gridmap.rules import labels
from gridmap.rules.workflow import (
    FINAL_STATES,
    HANDLING_HOURS,
    INCIDENT_TYPES,
    OPEN_STATES,
    iso,
    utc_now,
)
from gridmap.services.reporting import Report, ReportError, take_report
from gridmap.store import Incident, IncidentFilter, NotFound
from web import geocoding
from web.api import current_version, datum, store
from web.auth import require_user
from web.datum import point_to_storage
from web.errors import ApiError
from web.schema import MAX_ID, Open311Query, Open311RequestIn, parse_form, parse_query

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
        "service_name": labels.label("types", record.type),
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


@bp.get("/services.json")
def services():
    """The incident types as GeoReport services (public, as the spec has it)."""
    return jsonify(
        [
            {
                "service_code": code,
                "service_name": labels.TYPES[code],
                "description": f"{labels.TYPES[code]}（处置时限 {HANDLING_HOURS[code]:g} 小时）",
                "metadata": False,
                "type": "realtime",
                "keywords": labels.TYPES[code],
                "group": "城市管理",
            }
            for code in INCIDENT_TYPES
        ]
    )


@bp.get("/requests/<int:request_id>.json")
def one_request(request_id: int):
    require_user("viewer")
    try:
        record = store().incident(request_id)
    except NotFound:
        raise ApiError(404, f"no service request {request_id}") from None
    return jsonify([_request_json(record)])


@bp.get("/requests.json")
def list_requests():
    """Requests filtered by service_request_id, service_code, status, start_date, end_date."""
    require_user("viewer")
    args = parse_query(Open311Query)
    if args.service_request_id:
        records = []
        for value in args.service_request_id:
            if value > MAX_ID:  # no such request (and no such integer in the store)
                continue
            try:
                records.append(store().incident(value))
            except NotFound:
                continue
        return jsonify([_request_json(r) for r in records])
    codes = tuple(args.service_code)
    statuses: tuple[str, ...] = ()
    wanted = set(args.status)
    if wanted == {"open"}:
        statuses = OPEN_STATES
    elif wanted == {"closed"}:
        statuses = tuple(sorted(FINAL_STATES))
    since, until = args.start_date, args.end_date
    if since is None:  # the spec's default window: the last 90 days (at most 1000 requests)
        since = iso(utc_now() - timedelta(days=90))
    flt = IncidentFilter(statuses=statuses, types=codes, since=since, until=until)
    records = store().incidents(flt, limit=MAX_RESULTS)
    return jsonify([_request_json(r) for r in records])


@bp.post("/requests.json")
def create_request():
    """Create a service request (form-encoded as in the spec, or JSON)."""
    user = require_user("field")
    values = parse_form(Open311RequestIn)
    code = values.service_code
    lon = lat = None
    if values.lat is not None and values.long is not None:
        lon, lat = point_to_storage(values.long, values.lat, "wgs84")  # GeoReport is WGS84
    address = values.address_string
    # GeoReport makes the description optional: the type's name stands in.
    description = values.description or labels.TYPES[code]
    report = Report(
        type=code, description=description, lon=lon, lat=lat, address=address, source="open311"
    )
    try:
        record = take_report(store(), report, user, geocoding.places())
    except ReportError as error:
        # GeoReport errors are 400 (or 403 for a key that may not report there).
        status = {"forbidden": 403, "unavailable": 409}.get(error.kind, 400)
        name = {"address": "address_string", "lon": "lat and long"}.get(error.field or "")
        message = error.message if name is None else f"{name}: {error.message}"
        raise ApiError(status, message) from None
    response = jsonify(
        [{"service_request_id": str(record.id), "service_notice": "", "account_id": None}]
    )
    response.status_code = 201
    return response
