"""The field page's use cases (网格员移动端): my tasks, and what is at a point.

Like every service: no SQL, no Flask (``web/api/field.py`` is the door). Who may act on what is
:func:`gridmap.rules.workflow.allowed_actions`; which grid holds a point is the edge rule
(:func:`gridmap.services.locating.locate`); a field token's grids scope both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gridmap.rules.workflow import (
    ACTIONS,
    FIELD_ACTIONS,
    allowed_actions,
    in_own_grids,
    role_at_least,
    utc_now,
)
from gridmap.services.locating import locate
from gridmap.services.loop import Caller, queue
from gridmap.store import Incident, IncidentFilter, Location, Store
from gridmap.store.loop import StaffMember

# The states field staff can act in (start from dispatched or returned, resolve from handling).
TASK_STATES: tuple[str, ...] = tuple(
    dict.fromkeys(s for action in sorted(FIELD_ACTIONS) for s in ACTIONS[action][0])
)
MAX_TASKS = 200


@dataclass(frozen=True)
class Task:
    """An open incident the caller can act on now, with the actions they may take."""

    incident: Incident
    actions: tuple[str, ...]
    department: str | None
    photos: int


def my_tasks(
    store: Store, caller: Caller, now: datetime | None = None, limit: int = MAX_TASKS
) -> list[Task]:
    """The incidents ``caller`` can start or resolve now, the soonest deadline first (no
    deadline last): field staff within their grids, a department its queue, a dispatcher
    everything waiting in the field's states.

    >>> TASK_STATES
    ('handling', 'dispatched', 'returned')
    """
    moment = now or utc_now()
    if caller.role == "department":
        records = queue(store, caller.department or "", now=moment) if caller.department else []
    elif caller.role == "field":
        found: dict[int, Incident] = {}
        for prefix in caller.grids:
            flt = IncidentFilter(statuses=TASK_STATES, grid=prefix)
            for record in store.incidents(flt, now=moment):
                found[record.id] = record
        records = list(found.values())
    else:  # a dispatcher: the newest waiting ones (the command center has the full view)
        flt = IncidentFilter(statuses=TASK_STATES)
        records = store.incidents(flt, limit=limit * 10, now=moment)
    loops = store.incident_loops([r.id for r in records]) if records else {}
    tasks = []
    for record in records:
        department = loops[record.id].department
        actions = allowed_actions(
            record.status,
            caller.role,
            record.grid_code,
            caller.grids,
            department,
            caller.department,
        )
        if actions:
            tasks.append((record, tuple(actions), department))
    tasks.sort(key=lambda t: (t[0].due_at is None, t[0].due_at or "", t[0].id))
    tasks = tasks[:limit]
    counts = store.photo_counts([t[0].id for t in tasks]) if tasks else {}
    return [Task(r, a, d, counts.get(r.id, 0)) for r, a, d in tasks]


@dataclass(frozen=True)
class Place:
    """What is at a point: its grid and divisions, whether it is one of the caller's grids
    (``mine``: the caller may report and check in there) and the staff covering the grid."""

    location: Location
    mine: bool
    staff: list[StaffMember]


def place_at(store: Store, caller: Caller, lon: float, lat: float) -> Place | None:
    """The place at an EPSG:4490 point under the current version (None: outside every grid,
    or nothing published)."""
    version = store.current_version()
    if version is None:
        return None
    location = locate(store, version.id, lon, lat)
    if location is None or location.grid_code is None:
        return None
    mine = role_at_least(caller.role, "field") and (
        caller.role != "field" or in_own_grids(location.grid_code, caller.grids)
    )
    return Place(location, mine, store.staff(location.grid_code))


def grid_boxes(store: Store, version_id: int) -> dict[str, tuple[float, float, float, float]]:
    """code -> bounding box (EPSG:4490) of every grid (comprehensive and exclusive) of a
    version; the web door keeps it per version."""
    out = {}
    for feature in store.layer_geometries(version_id, ("grid", "exclusive")):
        if feature.code:
            out[feature.code] = tuple(float(v) for v in feature.geometry.bounds)
    return out


def own_grids(
    boxes: dict[str, tuple[float, float, float, float]], caller: Caller
) -> tuple[list[str], tuple[float, float, float, float] | None]:
    """The grid codes a caller covers (field staff: under their grids; anyone else: none, as
    they cover no grid of their own) and the box around them (None: no grid).

    >>> own_grids({"330402001001001": (1, 2, 3, 4), "330402002001001": (5, 6, 7, 8)},
    ...           Caller("网格员", "field", ("330402001",)))
    (['330402001001001'], (1, 2, 3, 4))
    """
    if caller.role != "field":
        return [], None
    codes = sorted(c for c in boxes if in_own_grids(c, caller.grids))
    if not codes:
        return [], None
    w = min(boxes[c][0] for c in codes)
    s = min(boxes[c][1] for c in codes)
    e = max(boxes[c][2] for c in codes)
    n = max(boxes[c][3] for c in codes)
    return codes, (w, s, e, n)
