"""The loop's views: the taxonomy, duplicate reports and splitting them off.

Thin doors over :mod:`gridmap.services.loop` and the store; rules live in
:mod:`gridmap.rules.taxonomy` and :mod:`gridmap.rules.duplicates`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict

from flask import Response, jsonify, request

from gridmap.rules import labels
from gridmap.rules import staff as staff_rules
from gridmap.rules.escalation import LoopRuleError, level_name
from gridmap.rules.workflow import allowed_actions
from gridmap.services.evaluation import evaluate, to_csv, to_xlsx
from gridmap.services.loop import (
    Caller,
    caller_of,
    check_department,
    check_in,
    department_token_for,
    escalate_overdue,
    queue,
    split_duplicate,
)
from gridmap.services.reporting import ReportError
from gridmap.services.staff import field_token, workload
from gridmap.store import IncidentDetail, NotFound
from web.api import bp, json_body, number_field, point_json, store
from web.auth import User, require_user, requires
from web.datum import point_to_storage
from web.errors import ApiError


def caller(user: User) -> Caller:
    return caller_of(store(), user.id, user.name, user.role, user.grids)


def loop_json(detail: IncidentDetail, user: User | None) -> dict:
    """The loop's part of a full incident: department, escalation, follow-ups, and the
    actions the caller may take (a department's token: on incidents dispatched to it)."""
    record, loop = detail.incident, detail.loop
    me = caller(user) if user else None
    department = store().department(loop.department) if loop.department else None
    return {
        "department": loop.department,
        "department_name": department.name if department else None,
        "escalation_level": loop.escalation_level,
        "escalation_level_name": level_name(loop.escalation_level),
        "follow_ups": [asdict(f) for f in detail.follow_ups],
        "allowed_actions": (
            allowed_actions(
                record.status, me.role, record.grid_code, me.grids, loop.department, me.department
            )
            if me
            else []
        ),
    }


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
    from web.api.incidents import incident_json

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


# -- departments ------------------------------------------------------------------------------


def _department_json(department) -> dict:
    return {"code": department.code, "name": department.name, "level": department.level}


@bp.get("/departments")
@requires("viewer")
def departments():
    """Every department incidents can be dispatched to."""
    return jsonify({"departments": [_department_json(d) for d in store().departments()]})


@bp.post("/departments")
def add_department():
    """Add a department ``{code, name, level}`` (admin)."""
    require_user("admin")
    body = json_body()
    try:
        code, name, level = check_department(body.get("code"), body.get("name"), body.get("level"))
        store().add_department(code, name, level)
    except LoopRuleError as error:
        raise ApiError(400, error.message, field=error.field) from None
    except ValueError as error:
        raise ApiError(409, str(error), field="code") from None
    response = jsonify(_department_json(store().department(code)))
    response.status_code = 201
    return response


def _department_or_404(code: str):
    found = store().department(code)
    if found is None or found.code != code:
        raise ApiError(404, f"no department {code!r}", field="code")
    return found


@bp.post("/departments/<code>/tokens")
def department_token(code: str):
    """Issue a token of role ``department`` bound to this department (admin); shown once."""
    require_user("admin")
    department = _department_or_404(code)
    body = json_body() if request.data else {}
    name = body.get("name") or department.name
    if not isinstance(name, str) or len(name) > 100:
        raise ApiError(400, "name must be text of at most 100 characters", field="name")
    token = department_token_for(store(), department.code, name)
    response = jsonify({"token": token, "name": name, "department": department.code})
    response.status_code = 201
    return response


@bp.get("/departments/<code>/queue")
def department_queue(code: str):
    """Open incidents dispatched to this department, the soonest deadline first (the
    department's own token, or dispatcher and up)."""
    from web.api.incidents import incident_json

    user = require_user("viewer")
    department = _department_or_404(code)
    me = caller(user)
    if not (user.at_least("dispatcher") or me.department == department.code):
        raise ApiError(403, "only this department or a dispatcher sees its queue")
    records = queue(store(), department.code)
    return jsonify(
        {
            "department": _department_json(department),
            "count": len(records),
            "incidents": [incident_json(r, user, full=False) for r in records],
        }
    )


# -- escalation sweep -----------------------------------------------------------------------------


def start_sweeper(app) -> None:
    """Escalate overdue incidents every ``ESCALATION_SWEEP_SECONDS`` in a daemon thread, so an
    incident becoming overdue produces a live event without a request. ``gridmap serve`` sets
    60; an app built without the setting (tests, embedding) does not sweep."""
    seconds = float(app.config.get("ESCALATION_SWEEP_SECONDS", 0))
    if seconds <= 0:
        return
    target = app.extensions["gridmap_store"]
    stop = threading.Event()
    app.extensions["gridmap_sweeper_stop"] = stop

    def run() -> None:
        while not stop.wait(seconds):
            try:
                escalate_overdue(target)
            except Exception:  # noqa: BLE001 - a busy or unreachable store: try next round
                logging.getLogger("gridmap.loop").exception("escalation sweep failed")
            finally:
                target.close()

    threading.Thread(target=run, name="gridmap-escalation", daemon=True).start()


# -- grid staff ------------------------------------------------------------------------------


def _staff_json(member) -> dict:
    return {
        "id": member.id,
        "name": member.name,
        "role": member.role,
        "role_name": staff_rules.ROLES.get(member.role, member.role),
        "phone": member.phone,
        "grids": list(member.grids),
    }


@bp.get("/staff")
@requires("viewer")
def staff():
    """Grid staff, all or those covering ``grid`` (a grid, micro-grid or division code)."""
    grid = request.args.get("grid") or None
    if grid is not None and (not grid.isdigit() or len(grid) > 21):
        raise ApiError(400, "grid must be a grid or division code (digits)", field="grid")
    members = store().staff(grid)
    return jsonify(
        {"grid": grid, "count": len(members), "staff": [_staff_json(m) for m in members]}
    )


@bp.get("/staff/workload")
@requires("viewer")
def staff_workload():
    """Households per full-time staff member, per grid or community (``level``)."""
    level = request.args.get("level", "grid")
    if level not in ("grid", "community"):
        raise ApiError(400, "level must be grid or community", field="level")
    rows = [asdict(w) for w in workload(store(), level)]
    return jsonify({"level": level, "units": rows})


@bp.post("/staff/<int:staff_id>/token")
def staff_token(staff_id: int):
    """Issue a field token covering a staff member's grids (admin); shown once."""
    require_user("admin")
    try:
        token = field_token(store(), staff_id)
    except LookupError as error:
        raise ApiError(404, str(error), field="staff_id") from None
    response = jsonify({"token": token, "staff_id": staff_id})
    response.status_code = 201
    return response


# -- evaluation and patrols ---------------------------------------------------------------------

EXPORTS = {
    "csv": ("text/csv; charset=utf-8", to_csv),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", to_xlsx),
}


@bp.get("/evaluation")
@requires("viewer")
def evaluation_view():
    """考核: indicators per ``level`` (grid, community, street, district, department) for a
    ``period`` (2026, 2026-Q1, 2026-03); ``format`` json (default), csv or xlsx."""
    level = request.args.get("level", "district")
    period = request.args.get("period", "")
    fmt = request.args.get("format", "json")
    if fmt not in ("json", *EXPORTS):
        raise ApiError(400, "format must be json, csv or xlsx", field="format")
    try:
        result = evaluate(store(), level, period)
    except ValueError as error:
        name = "level" if str(error).startswith("level") else "period"
        raise ApiError(400, str(error), field=name) from None
    if fmt == "json":
        return jsonify(result.as_json())
    mimetype, render = EXPORTS[fmt]
    response = Response(render(result), mimetype=mimetype.split(";")[0])
    if ";" in mimetype:
        response.headers["Content-Type"] = mimetype
    filename = f"evaluation-{level}-{result.period}.{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.post("/patrols")
def patrol():
    """Patrol check-in (巡查签到) at ``lon``/``lat`` (``crs`` as for reports); field staff only
    inside their own grids. Counted per grid as patrol coverage."""
    user = require_user("field")
    body = json_body()
    lon, lat = number_field(body, "lon"), number_field(body, "lat")
    crs = body.get("crs")
    if crs is not None and not isinstance(crs, str):
        raise ApiError(400, "crs must be text like wgs84 or gcj02", field="crs")
    try:
        lon, lat = point_to_storage(lon, lat, crs)
    except ValueError as error:
        raise ApiError(400, f"unknown crs: {error}", field="crs") from None
    try:
        done = check_in(store(), user.name, user.role, user.grids, lon, lat)
    except ReportError as error:
        status = {"forbidden": 403, "unavailable": 409, "unlocatable": 422}.get(error.kind, 400)
        raise ApiError(status, error.message, field=error.field) from None
    response = jsonify(asdict(done))
    response.status_code = 201
    return response
