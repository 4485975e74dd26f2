"""Use cases of the loop beyond taking a report: splitting a duplicate off, taking an action
with departments and follow-ups, escalating what is overdue.

Like every service: no SQL, no Flask; the doors (``web/api/loop.py``, the CLI) call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gridmap.rules import labels
from gridmap.rules.escalation import (
    LoopRuleError,
    level_name,
    next_level,
)
from gridmap.rules.taxonomy import CODE_PATTERN
from gridmap.rules.workflow import (
    FINAL_STATES,
    in_own_grids,
    iso,
    utc_now,
)
from gridmap.services.locating import locate
from gridmap.store import Incident, Location, NotFound, Store


@dataclass(frozen=True)
class Split:
    """A duplicate report split off into its own ``incident`` (``parent``: where it was)."""

    incident: Incident
    parent: int
    duplicate_id: int


def split_duplicate(
    store: Store, incident_id: int, duplicate_id: int, actor: str, at: datetime | None = None
) -> Split:
    """Open the linked duplicate report ``duplicate_id`` of ``incident_id`` as an incident of
    its own (same subclass, its own point, reporter and channel). NotFound when that report is
    not (or no longer) linked to that incident."""
    moment = at or utc_now()
    parent = store.incident(incident_id, now=moment)
    report = next((d for d in store.duplicates(incident_id) if d.id == duplicate_id), None)
    if report is None:
        raise NotFound(f"incident {incident_id} has no linked duplicate report {duplicate_id}")
    version = store.current_version()
    location = None
    if version is not None:
        location = locate(store, version.id, report.lon, report.lat)
    if location is None:  # the grids changed under it: keep the incident's own place
        location = Location(
            parent.grid_code, parent.community_code, parent.street_code, parent.district_code
        )
    with store.transaction():
        new_id = store.create_incident(
            type=parent.type,
            description=report.description,
            lon=report.lon,
            lat=report.lat,
            location=location,
            actor=report.reporter or actor,
            address=report.address,
            source=report.source,
            version_id=version.id if version is not None else None,
            at=moment,
        )
        store.unlink_duplicate(duplicate_id, new_id)
    return Split(store.incident(new_id, now=moment), incident_id, duplicate_id)


# -- who acts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who acts: name, role, grids (field staff) and department (a department's token)."""

    name: str
    role: str
    grids: tuple[str, ...] = ()
    department: str | None = None


def caller_of(store: Store, token_id: int, name: str, role: str, grids) -> Caller:
    """The caller a token stands for (a department token carries its department)."""
    department = store.token_department(token_id) if role == "department" else None
    return Caller(name, role, tuple(grids), department)


# -- escalation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Escalation:
    """One escalation the sweep recorded."""

    incident_id: int
    status: str
    due_at: str
    level: int


def escalate_overdue(store: Store, now: datetime | None = None) -> list[Escalation]:
    """Escalate every open incident whose current deadline passed (once per deadline): one
    level up, recorded as an 'escalated' event that the live stream sends. Safe to run from
    several processes (a deadline is escalated once)."""
    moment = now or utc_now()
    done = []
    for item in store.overdue_unescalated(iso(moment)):
        level = next_level(item.escalation_level)
        note = (
            f"{labels.label('states', item.status)}超过时限（{item.due_at}），"
            f"升级至{level_name(level)}督办"
        )
        if store.record_escalation(item.incident_id, item.due_at, level, iso(moment), note):
            done.append(Escalation(item.incident_id, item.status, item.due_at, level))
    return done


# -- departments ------------------------------------------------------------------------------

DEPARTMENT_LEVELS = ("street", "district", "city")


def check_department(code: object, name: object, level: object = None) -> tuple[str, str, str]:
    """A department's fields checked (LoopRuleError naming the field)."""
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        raise LoopRuleError(
            "code must be 1-32 letters, digits, _ or - (starting with a letter or digit)", "code"
        )
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise LoopRuleError("name must be text of 1-100 characters", "name")
    level = level or "district"
    if level not in DEPARTMENT_LEVELS:
        raise LoopRuleError(f"level must be one of {', '.join(DEPARTMENT_LEVELS)}", "level")
    return code, name.strip(), level


def department_token_for(store: Store, code: str, name: str) -> str:
    """A new token of role ``department`` bound to department ``code`` (shown once)."""
    with store.transaction():
        token = store.create_token("department", name)
        store.bind_token_department(store.check_token(token).id, code)
    return token


def queue(store: Store, code: str, now: datetime | None = None) -> list[Incident]:
    """Open incidents dispatched to department ``code``, the soonest deadline first."""
    moment = now or utc_now()
    records = [store.incident(i, now=moment) for i in store.loop_incident_ids(department=code)]
    open_ = [r for r in records if r.status not in FINAL_STATES]
    return sorted(open_, key=lambda r: (r.due_at or "9999", r.id))


# -- patrols ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckIn:
    """A recorded patrol check-in."""

    id: int
    grid_code: str | None
    at: str


def check_in(
    store: Store,
    actor: str,
    role: str,
    grids: tuple[str, ...],
    lon: float,
    lat: float,
    at: datetime | None = None,
) -> CheckIn:
    """Record a patrol check-in at an EPSG:4490 point (ReportError as for reports: outside the
    city, outside field staff's own grids, nothing published)."""
    import math

    from gridmap.services.reporting import ReportError

    moment = at or utc_now()
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ReportError("invalid", "lon/lat out of range", field="lon")
    version = store.current_version()
    if version is None:
        raise ReportError("unavailable", "no grid version is published yet")
    location = locate(store, version.id, lon, lat)
    if location is None or location.grid_code is None:
        raise ReportError("unlocatable", "the point is in no grid", field="lon")
    if role == "field" and not in_own_grids(location.grid_code, grids):
        raise ReportError("forbidden", "field staff check in only inside their own grids", "lon")
    patrol_id = store.add_patrol(actor, lon, lat, location, iso(moment))
    return CheckIn(patrol_id, location.grid_code, iso(moment))
