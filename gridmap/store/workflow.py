"""The closed incident loop (闭环): states, legal transitions, who may take them, time limits.

Plain Python, no storage and no web: the store records what this module allows, the web layer asks
it what a caller may do.

    reported --accept--> accepted --dispatch--> dispatched --start--> handling --resolve--> resolved
    resolved --verify--> verified --close--> closed
    reported/accepted --reject--> rejected;  resolved --return--> returned --start--> handling

Every step has a time limit per incident type (Jiaxing: 6 h to review a report, 15 h to respond);
an incident whose current step is past its limit is overdue.

>>> next_state("reported", "accept")
'accepted'
>>> next_state("closed", "accept")
Traceback (most recent call last):
...
gridmap.store.workflow.IllegalTransition: cannot 'accept' an incident that is closed
>>> TimeLimits().hours("井盖破损", "reported")
6.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

STATES = (
    "reported",
    "accepted",
    "dispatched",
    "handling",
    "resolved",
    "verified",
    "closed",
    "rejected",
    "returned",
)
STATE_NAMES = {
    "reported": "上报",
    "accepted": "受理立案",
    "dispatched": "已派遣",
    "handling": "处置中",
    "resolved": "已反馈",
    "verified": "已核查",
    "closed": "已结案",
    "rejected": "不予立案",
    "returned": "退回重办",
}
FINAL_STATES = frozenset({"closed", "rejected"})
OPEN_STATES = tuple(s for s in STATES if s not in FINAL_STATES)

# action -> (states it may be taken from, state it leads to)
ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "accept": (("reported",), "accepted"),
    "reject": (("reported", "accepted"), "rejected"),
    "dispatch": (("accepted",), "dispatched"),
    "start": (("dispatched", "returned"), "handling"),
    "resolve": (("handling",), "resolved"),
    "verify": (("resolved",), "verified"),
    "return": (("resolved", "verified"), "returned"),
    "close": (("verified",), "closed"),
}
ACTION_NAMES = {
    "accept": "受理立案",
    "reject": "不予立案",
    "dispatch": "派遣",
    "start": "开始处置",
    "resolve": "处置反馈",
    "verify": "核查通过",
    "return": "退回重办",
    "close": "结案",
}
# Field staff may take these on incidents inside their own grids; everything else needs dispatcher.
FIELD_ACTIONS = frozenset({"start", "resolve"})

ROLES = ("viewer", "field", "dispatcher", "planner", "admin")

# Incident types (事件类型): code -> (name, hours allowed for handling).
INCIDENT_TYPES: dict[str, tuple[str, float]] = {
    "garbage": ("垃圾堆放", 24.0),
    "manhole": ("井盖破损", 12.0),
    "street_vending": ("占道经营", 24.0),
    "noise": ("噪音扰民", 12.0),
    "illegal_building": ("违章搭建", 120.0),
    "fire_hazard": ("消防隐患", 24.0),
    "other": ("其他", 48.0),
}


class IllegalTransition(ValueError):
    """An action that the incident's current state does not allow."""


class UnknownType(ValueError):
    """An incident type that is not configured."""


def role_at_least(role: str, needed: str) -> bool:
    """True when ``role`` ranks at least ``needed`` (viewer < field < dispatcher < planner < admin).

    >>> role_at_least("planner", "dispatcher"), role_at_least("field", "dispatcher")
    (True, False)
    """
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def next_state(state: str, action: str) -> str:
    """The state ``action`` leads to from ``state``; raises IllegalTransition when not allowed."""
    if action not in ACTIONS:
        raise IllegalTransition(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    sources, target = ACTIONS[action]
    if state not in sources:
        raise IllegalTransition(f"cannot {action!r} an incident that is {state}")
    return target


def actions_from(state: str) -> list[str]:
    """Every action legal from ``state`` (whoever takes it).

    >>> actions_from("resolved")
    ['verify', 'return']
    """
    return [action for action, (sources, _) in ACTIONS.items() if state in sources]


def in_own_grids(grid_code: str | None, prefixes: list[str] | tuple[str, ...]) -> bool:
    """True when ``grid_code`` lies under one of the caller's grid or division codes.

    >>> in_own_grids("330402001002007", ["330402001"]), in_own_grids(None, ["330402"])
    (True, False)
    """
    return bool(grid_code) and any(grid_code.startswith(p) for p in prefixes)


def allowed_actions(
    state: str, role: str, grid_code: str | None = None, own_grids: tuple[str, ...] = ()
) -> list[str]:
    """The actions a caller with ``role`` (and ``own_grids`` for field staff) may take now.

    >>> allowed_actions("dispatched", "field", "330402001002007", ("330402001002",))
    ['start']
    >>> allowed_actions("dispatched", "field", "330411001001001", ("330402001002",))
    []
    """
    legal = actions_from(state)
    if role_at_least(role, "dispatcher"):
        return legal
    if role == "field" and in_own_grids(grid_code, own_grids):
        return [a for a in legal if a in FIELD_ACTIONS]
    return []


# Default hours allowed in each state before the next step is due (Jiaxing: review 6 h, respond
# 15 h). "handling" is per type (INCIDENT_TYPES); None means no deadline.
DEFAULT_STEP_HOURS: dict[str, float | None] = {
    "reported": 6.0,  # review and register (受理立案)
    "accepted": 2.0,  # dispatch
    "dispatched": 15.0,  # respond: start handling
    "handling": None,  # per type
    "resolved": 24.0,  # verify on site (核查)
    "verified": 6.0,  # close the case (结案)
    "returned": 15.0,  # start the rework
}


@dataclass(frozen=True)
class TimeLimits:
    """Hours allowed per incident type and step; ``overrides`` is ``{type: {state: hours}}``.

    A ``"*"`` type in ``overrides`` applies to every type.

    >>> TimeLimits({"*": {"reported": 2}}).hours("noise", "reported")
    2.0
    >>> TimeLimits().hours("illegal_building", "handling")
    120.0
    """

    overrides: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.overrides, Mapping):
            raise ValueError("time limits must be {incident type or '*': {state: hours}}")
        for kind, steps in self.overrides.items():
            if kind != "*" and kind not in INCIDENT_TYPES:
                raise ValueError(f"time limits: unknown incident type {kind!r}")
            if not isinstance(steps, Mapping):
                raise ValueError(f"time limits for {kind!r} must map states to hours")
            for state, hours in steps.items():
                if state not in OPEN_STATES:
                    raise ValueError(f"time limits for {kind!r}: {state!r} is not an open state")
                if hours is not None and (
                    isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0
                ):
                    raise ValueError(f"time limits for {kind!r}.{state}: hours must be > 0")

    def hours(self, incident_type: str, state: str) -> float | None:
        for key in (incident_type, "*"):
            if state in self.overrides.get(key, {}):
                value = self.overrides[key][state]
                return None if value is None else float(value)
        if state == "handling":
            return INCIDENT_TYPES.get(incident_type, INCIDENT_TYPES["other"])[1]
        return DEFAULT_STEP_HOURS.get(state)

    def due(self, incident_type: str, state: str, since: datetime) -> datetime | None:
        """The deadline of ``state`` entered at ``since`` (None for final states)."""
        if state in FINAL_STATES:
            return None
        hours = self.hours(incident_type, state)
        return None if hours is None else since + timedelta(hours=hours)

    def total_hours(self, incident_type: str) -> float:
        """Hours from report to closure when every step takes its full limit (no rework)."""
        path = ("reported", "accepted", "dispatched", "handling", "resolved", "verified")
        return sum(self.hours(incident_type, s) or 0.0 for s in path)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 text that sorts as time does.

    >>> iso(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    '2026-01-02T03:04:05Z'
    """
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"  # %Y drops leading zeros on glibc


def parse_iso(text: str) -> datetime:
    """Parse ISO 8601 (``Z`` or offset; naive means UTC); raises ValueError.

    >>> iso(parse_iso("2026-01-02T11:04:05+08:00"))
    '2026-01-02T03:04:05Z'
    """
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59-23:59: a real date, but not in UTC
        raise ValueError(f"{text!r} is outside the years 1-9999 in UTC") from None
