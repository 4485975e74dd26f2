"""The closed incident loop (闭环): states, legal transitions, who may take them, time limits.

Plain Python, no storage and no web: every backend records what this module decides
(:func:`plan_transition`, :func:`opening_deadlines`), the web layer asks it what a caller may do,
and ``GET /api/meta`` sends it to the browser. Chinese names are in :mod:`gridmap.rules.labels`.

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
gridmap.rules.workflow.IllegalTransition: cannot 'accept' an incident that is closed
>>> TimeLimits().hours("manhole", "reported")
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
# Field staff may take these on incidents inside their own grids; everything else needs dispatcher.
FIELD_ACTIONS = frozenset({"start", "resolve"})

ROLES = ("viewer", "field", "dispatcher", "planner", "admin")

# Hours allowed for handling (处置) per incident type; names are in gridmap.rules.labels.TYPES.
HANDLING_HOURS: dict[str, float] = {
    "garbage": 24.0,
    "manhole": 12.0,
    "street_vending": 24.0,
    "noise": 12.0,
    "illegal_building": 120.0,
    "fire_hazard": 24.0,
    "other": 48.0,
}
INCIDENT_TYPES: tuple[str, ...] = tuple(HANDLING_HOURS)


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
# 15 h). "handling" is per type (HANDLING_HOURS); None means no deadline.
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
            if kind != "*" and kind not in HANDLING_HOURS:
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
            return HANDLING_HOURS.get(incident_type, HANDLING_HOURS["other"])
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


@dataclass(frozen=True)
class Transition:
    """What one workflow action does to an incident; every backend writes exactly this."""

    action: str
    from_state: str
    to_state: str
    due_at: str | None  # deadline of the new state (None when final or unlimited)
    late: bool  # the step it ends ran past its deadline
    closed_at: str | None  # set when the new state is final
    rework: bool  # a return (退回重办) counts one rework


def plan_transition(
    state: str,
    incident_type: str,
    due_at: str | None,
    action: str,
    moment: datetime,
    limits: TimeLimits,
) -> Transition:
    """The effect of ``action`` at ``moment`` on an incident in ``state`` whose current step is
    due at ``due_at`` (IllegalTransition when the state forbids it).

    >>> t = plan_transition("reported", "noise", "2026-01-01T06:00:00Z", "accept",
    ...                     datetime(2026, 1, 1, 7, tzinfo=UTC), TimeLimits())
    >>> t.to_state, t.late, t.due_at
    ('accepted', True, '2026-01-01T09:00:00Z')
    """
    target = next_state(state, action)
    at = iso(moment)
    return Transition(
        action=action,
        from_state=state,
        to_state=target,
        due_at=iso(limits.due(incident_type, target, moment)),
        late=due_at is not None and at > due_at,
        closed_at=at if target in FINAL_STATES else None,
        rework=action == "return",
    )


def opening_deadlines(
    incident_type: str, moment: datetime, limits: TimeLimits
) -> tuple[str | None, str]:
    """(due_at of the first step, expected_at of the whole loop) of a report made at ``moment``.

    >>> opening_deadlines("noise", datetime(2026, 1, 1, tzinfo=UTC), TimeLimits())
    ('2026-01-01T06:00:00Z', '2026-01-03T17:00:00Z')
    """
    due = limits.due(incident_type, "reported", moment)
    expected = moment + timedelta(hours=limits.total_hours(incident_type))
    return iso(due), iso(expected)


def is_overdue(state: str, due_at: str | None, now: str) -> bool:
    """Open and past the current step's deadline (``now`` as ISO text). Backends compute the
    same condition in their queries; the contract suite checks they agree.

    >>> is_overdue("handling", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    True
    >>> is_overdue("closed", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    False
    """
    return state not in FINAL_STATES and due_at is not None and due_at < now


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
