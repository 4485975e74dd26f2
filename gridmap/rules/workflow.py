"""The closed incident loop (闭环): states, legal transitions, who may take them, time limits.

Plain Python, no storage and no web: every backend records what this module decides
(:func:`plan_transition`, :func:`opening_deadlines`), the web layer asks it what a caller may do,
and ``GET /api/meta`` sends it to the browser. Chinese names are in :mod:`gridmap.rules.labels`.

    reported --accept--> accepted --dispatch--> dispatched --start--> handling --resolve--> resolved
    resolved --verify--> verified --close--> closed
    reported/accepted --reject--> rejected;  resolved --return--> returned --start--> handling
    dispatched --decline--> accepted (a department sends it back); closing needs a follow-up

Every step has a time limit per incident type (Jiaxing: 6 h to review a report, 15 h to respond),
in calendar hours or in working hours (:func:`add_hours`: office sessions on working days, the
public holidays and 调休 make-up workdays included, :class:`WorkCalendar`); an incident whose
current step is past its limit is overdue.

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

import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

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
    # A department sends back an incident dispatched to it that is not its business (退单).
    "decline": (("dispatched",), "accepted"),
}
# Field staff may take these on incidents inside their own grids; everything else needs dispatcher.
FIELD_ACTIONS = frozenset({"start", "resolve"})
# A department may take these on incidents dispatched to it: accept by starting (签收), send back,
# report it handled.
DEPARTMENT_ACTIONS = frozenset({"start", "decline", "resolve"})
# Actions that hand the incident to a department (dispatch) or need a follow-up record (close).
NEEDS_DEPARTMENT = frozenset({"dispatch"})
NEEDS_FOLLOW_UP = frozenset({"close"})

ROLES = ("viewer", "field", "department", "dispatcher", "planner", "admin")

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
    state: str,
    role: str,
    grid_code: str | None = None,
    own_grids: tuple[str, ...] = (),
    department: str | None = None,
    own_department: str | None = None,
) -> list[str]:
    """The actions a caller with ``role`` (and ``own_grids`` for field staff, ``own_department``
    for a department) may take now on an incident in ``grid_code`` handled by ``department``.

    >>> allowed_actions("dispatched", "field", "330402001002007", ("330402001002",))
    ['start']
    >>> allowed_actions("dispatched", "field", "330411001001001", ("330402001002",))
    []
    >>> allowed_actions("dispatched", "department", department="sw", own_department="sw")
    ['start', 'decline']
    """
    legal = actions_from(state)
    if role_at_least(role, "dispatcher"):
        return legal
    if role == "department" and department is not None and department == own_department:
        return [a for a in legal if a in DEPARTMENT_ACTIONS]
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


# Working hours (工作时) of a government office, China Standard Time (UTC+8, no DST): morning and
# afternoon sessions on working days (工作日, :class:`WorkCalendar`).
CHINA = timezone(timedelta(hours=8))
WORK_SESSIONS: tuple[tuple[time, time], ...] = (
    (time(9, 0), time(12, 0)),
    (time(13, 0), time(18, 0)),
)
WORK_DAYS = frozenset(range(5))  # Monday=0 .. Friday=4
# A file naming more days (a year the package does not cover yet, a local holiday): CSV with the
# columns date (YYYY-MM-DD), kind (holiday or workday) and an optional name.
HOLIDAYS_ENV = "GRIDMAP_HOLIDAYS"
DAY_KINDS = {"holiday": "法定节假日", "workday": "调休上班"}


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days: Monday to Friday, except public holidays (法定节假日), plus the
    make-up workdays (调休上班) that fall on a weekend. ``years``: the years whose holidays are
    known; a day of another year counts as Monday to Friday only.

    >>> cal = WorkCalendar(frozenset({date(2026, 10, 1)}), frozenset({date(2026, 10, 10)}),
    ...                    frozenset({2026}))
    >>> cal.is_workday(date(2026, 10, 1)), cal.is_workday(date(2026, 10, 10))  # Thu, Sat
    (False, True)
    >>> cal.covers(date(2027, 1, 1))
    False
    """

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day not in self.holidays and day.weekday() in WORK_DAYS

    def covers(self, day: date) -> bool:
        """True when the holidays of ``day``'s year are known."""
        return day.year in self.years

    def merged(self, other: WorkCalendar) -> WorkCalendar:
        """This calendar with ``other``'s days on top (a day ``other`` names wins)."""
        named = other.holidays | other.workdays
        return WorkCalendar(
            (self.holidays - named) | other.holidays,
            (self.workdays - named) | other.workdays,
            self.years | other.years,
        )


def parse_calendar(rows: Iterable[Mapping[str, str]], name: str) -> WorkCalendar:
    """A calendar from rows {date, kind (holiday|workday), name}; ValueError names the row.

    A year named in the rows counts as known (:meth:`WorkCalendar.covers`).

    >>> cal = parse_calendar([{"date": "2027-01-01", "kind": "holiday"}], "h.csv")
    >>> cal.is_workday(date(2027, 1, 1)), cal.covers(date(2027, 6, 1))
    (False, True)
    >>> parse_calendar([{"date": "2027-02-30", "kind": "holiday"}], "h.csv")
    Traceback (most recent call last):
    ...
    ValueError: h.csv: row 2: field date: '2027-02-30' is not a date YYYY-MM-DD
    """
    holidays: set[date] = set()
    workdays: set[date] = set()
    for number, row in enumerate(rows, start=2):
        text = (row.get("date") or "").strip()
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{name}: row {number}: field date: {text!r} is not a date YYYY-MM-DD"
            ) from None
        kind = (row.get("kind") or "").strip()
        if kind not in DAY_KINDS:
            raise ValueError(
                f"{name}: row {number}: field kind: must be holiday or workday, not {kind!r}"
            )
        (holidays if kind == "holiday" else workdays).add(day)
    years = frozenset(d.year for d in holidays | workdays)
    return WorkCalendar(frozenset(holidays), frozenset(workdays), years)


def china_calendar() -> WorkCalendar:
    """China's public holidays and make-up workdays as the State Council publishes them (the
    ``chinese-calendar`` package, 2004 to its last release's year), with the days of the file
    named by ``$GRIDMAP_HOLIDAYS`` on top. Read once per file name (every deadline asks)."""
    return _china_calendar(os.environ.get(HOLIDAYS_ENV) or "")


@functools.lru_cache(maxsize=4)
def _china_calendar(path: str) -> WorkCalendar:
    from chinese_calendar import constants

    known = set(constants.holidays) | set(constants.workdays)
    calendar = WorkCalendar(
        frozenset(constants.holidays),
        frozenset(constants.workdays),
        frozenset(range(min(d.year for d in known), max(d.year for d in known) + 1)),
    )
    if path:
        import csv

        try:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                calendar = calendar.merged(parse_calendar(csv.DictReader(handle), path))
        except OSError as error:
            raise ValueError(f"{path}: cannot read the holiday file: {error.strerror}") from None
    return calendar


def add_hours(
    since: datetime, hours: float, basis: str = "calendar", calendar: WorkCalendar | None = None
) -> datetime:
    """``since`` plus ``hours`` of calendar time, or of working time (``basis="working"``:
    only the hours of :data:`WORK_SESSIONS` on the working days of ``calendar`` count; default
    :func:`china_calendar`).

    >>> friday_5pm = datetime(2026, 3, 6, 9, tzinfo=UTC)  # 17:00 in Beijing
    >>> iso(add_hours(friday_5pm, 2, "working"))  # 1 h on Friday, 1 h on Monday morning
    '2026-03-09T02:00:00Z'
    >>> iso(add_hours(friday_5pm, 2))
    '2026-03-06T11:00:00Z'
    >>> before_national_day = datetime(2026, 9, 30, 9, tzinfo=UTC)  # Wednesday 17:00
    >>> iso(add_hours(before_national_day, 2, "working"))  # 1 h, then 1 h on 8 October
    '2026-10-08T02:00:00Z'
    """
    if basis == "calendar":
        return since + timedelta(hours=hours)
    if basis != "working":
        raise ValueError(f"unknown hours basis {basis!r}; working or calendar")
    calendar = calendar or china_calendar()
    left = timedelta(hours=hours)
    local = since.astimezone(CHINA)
    day = local.date()
    while True:
        if calendar.is_workday(day):
            for start, end in WORK_SESSIONS:
                open_at = datetime.combine(day, start, CHINA)
                close_at = datetime.combine(day, end, CHINA)
                begin = max(open_at, local)
                if begin >= close_at:
                    continue
                if begin + left <= close_at:
                    return (begin + left).astimezone(UTC)
                left -= close_at - begin
        day += timedelta(days=1)


@dataclass(frozen=True)
class TimeLimits:
    """Hours allowed per incident type and step; ``overrides`` is ``{type: {state: hours}}``.

    A ``"*"`` type in ``overrides`` applies to every type. With a ``taxonomy``
    (:class:`gridmap.rules.taxonomy.Taxonomy`) its subclasses are incident types too: their
    stages set the limits of the states they cover, counted in working or calendar hours.

    >>> TimeLimits({"*": {"reported": 2}}).hours("noise", "reported")
    2.0
    >>> TimeLimits().hours("illegal_building", "handling")
    120.0
    """

    overrides: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    taxonomy: Any = None  # gridmap.rules.taxonomy.Taxonomy | None
    calendar: WorkCalendar | None = None  # working days of working-hour limits (None: China's)

    def __post_init__(self) -> None:
        if not isinstance(self.overrides, Mapping):
            raise ValueError("time limits must be {incident type or '*': {state: hours}}")
        for kind, steps in self.overrides.items():
            if kind != "*" and not self.known(kind):
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

    def known(self, incident_type: str) -> bool:
        """A configured type: a built-in one or a subclass of the taxonomy."""
        return incident_type in HANDLING_HOURS or (
            self.taxonomy is not None and incident_type in self.taxonomy
        )

    def with_taxonomy(self, taxonomy: Any) -> TimeLimits:
        """These overrides over another taxonomy."""
        return TimeLimits(self.overrides, taxonomy, self.calendar)

    def hours(self, incident_type: str, state: str) -> float | None:
        for key in (incident_type, "*"):
            if state in self.overrides.get(key, {}):
                value = self.overrides[key][state]
                return None if value is None else float(value)
        if self.taxonomy is not None and incident_type in self.taxonomy:
            hours = self.taxonomy.state_hours(incident_type, state)
            if hours is not None:
                return hours
        if state == "handling":
            return HANDLING_HOURS.get(incident_type, HANDLING_HOURS["other"])
        return DEFAULT_STEP_HOURS.get(state)

    def basis(self, incident_type: str) -> str:
        """``working`` or ``calendar``: how this type's hours are counted."""
        if self.taxonomy is not None and incident_type in self.taxonomy:
            return self.taxonomy.basis(incident_type)
        return "calendar"

    def due(self, incident_type: str, state: str, since: datetime) -> datetime | None:
        """The deadline of ``state`` entered at ``since`` (None for final states)."""
        if state in FINAL_STATES:
            return None
        hours = self.hours(incident_type, state)
        if hours is None:
            return None
        return add_hours(since, hours, self.basis(incident_type), self.calendar)

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
    expected = add_hours(
        moment, limits.total_hours(incident_type), limits.basis(incident_type), limits.calendar
    )
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
