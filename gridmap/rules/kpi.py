"""Every indicator (考核指标) of the incident loop, defined once.

Backends only count (:class:`gridmap.store.base.KpiCounts`); the rates are computed here, for a
unit and for any sum of units (the city is the sum of its districts, so its rate always lies
between theirs), and ``GET /api/meta`` sends the definitions to the page, which keeps no copy.

>>> a = KpiCounts("330402", total=100, open=40, closed=55, rejected=5, closed_on_time=50,
...               overdue=3, rework=2)
>>> b = KpiCounts("330411", total=10, open=2, closed=8, rejected=0, closed_on_time=8,
...               overdue=0, rework=0)
>>> closure_rate(a), closure_rate(b), closure_rate(total([a, b]))
(0.5789, 0.8, 0.6)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from gridmap.rules.workflow import FINAL_STATES

DECIMALS = 4
COUNTS = ("total", "open", "closed", "rejected", "closed_on_time", "overdue", "rework")

# code -> (Chinese name, formula in words): what /api/meta sends to the page.
INDICATORS: dict[str, dict[str, str]] = {
    "total": {"name": "事件总数", "formula": "上报的事件数"},
    "open": {"name": "在办", "formula": "未结案且未不予立案的事件数"},
    "closed": {"name": "已结案", "formula": "状态为已结案的事件数"},
    "rejected": {"name": "不予立案", "formula": "状态为不予立案的事件数"},
    "closure_rate": {
        "name": "结案率",
        "formula": "已结案 ÷ (事件总数 − 不予立案)",
    },
    "on_time_rate": {
        "name": "按时结案率",
        "formula": "各环节均未超时的已结案数 ÷ 已结案",
    },
    "overdue": {"name": "超时", "formula": "在办且当前环节已过时限的事件数"},
    "rework": {"name": "返工", "formula": "退回重办的次数"},
}


@dataclass(frozen=True)
class KpiCounts:
    """Raw counts of one unit, as a backend counts them (rates are computed here, never there)."""

    code: str
    total: int
    open: int
    closed: int
    rejected: int
    closed_on_time: int  # closed with no step past its limit
    overdue: int  # open and past the current step's limit
    rework: int  # returns (退回重办)


class StateCounts(NamedTuple):
    """What a backend counts per unit and incident state, all it computes in SQL; :func:`fold`
    turns these into :class:`KpiCounts`, so which states are open, closed or rejected and what
    is overdue are decided here once, for both stores. (A named tuple: a city has ~60,000 of
    them per request, five times cheaper to make than frozen dataclasses.)"""

    code: str
    status: str
    incidents: int
    on_time: int  # with no step past its limit (late_steps = 0)
    past_due: int  # whose current deadline lies before now (due_at < now)
    rework: int  # returns (退回重办), summed


def fold(rows: Iterable[StateCounts]) -> list[KpiCounts]:
    """KpiCounts per unit, in code order, from counts per (unit, state).

    Open is any state but the final ones; overdue is open and past due
    (:func:`gridmap.rules.workflow.is_overdue`); on time counts only among the closed.

    >>> (g1,) = fold([StateCounts("g1", "closed", 3, 2, 0, 1),
    ...               StateCounts("g1", "handling", 2, 2, 1, 0),
    ...               StateCounts("g1", "rejected", 1, 1, 0, 0)])
    >>> g1.total, g1.open, g1.closed, g1.rejected, g1.closed_on_time, g1.overdue, g1.rework
    (6, 2, 3, 1, 2, 1, 1)
    """
    units: dict[str, dict[str, int]] = {}
    for row in rows:
        sums = units.get(row.code)
        if sums is None:
            sums = units[row.code] = dict.fromkeys(COUNTS, 0)
        sums["total"] += row.incidents
        sums["rework"] += row.rework or 0
        if row.status not in FINAL_STATES:
            sums["open"] += row.incidents
            sums["overdue"] += row.past_due or 0
        elif row.status == "closed":
            sums["closed"] += row.incidents
            sums["closed_on_time"] += row.on_time or 0
        elif row.status == "rejected":
            sums["rejected"] += row.incidents
    return [KpiCounts(code=code, **units[code]) for code in sorted(units)]


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, DECIMALS) if denominator else None


def closure_rate(counts: KpiCounts) -> float | None:
    """closed / (total - rejected): a rejected report is no case to close. None when nothing
    is left to rate."""
    return _rate(counts.closed, counts.total - counts.rejected)


def on_time_rate(counts: KpiCounts) -> float | None:
    """closed with no step past its limit / closed."""
    return _rate(counts.closed_on_time, counts.closed)


def total(rows: Iterable[KpiCounts], code: str = "") -> KpiCounts:
    """The counts of several units together (their rates come from these sums, never from
    averaging the units' rates)."""
    sums = dict.fromkeys(COUNTS, 0)
    for row in rows:
        for name in COUNTS:
            sums[name] += getattr(row, name)
    return KpiCounts(code=code, **sums)


def empty(code: str) -> KpiCounts:
    """A unit without incidents."""
    return KpiCounts(code=code, **dict.fromkeys(COUNTS, 0))


def indicators(counts: KpiCounts) -> dict:
    """Every count and rate of a unit, in the order of :data:`INDICATORS`."""
    values = {name: getattr(counts, name) for name in COUNTS}  # (dataclasses.fields: 3x slower)
    values["closure_rate"] = closure_rate(counts)
    values["on_time_rate"] = on_time_rate(counts)
    return {name: values[name] for name in INDICATORS}


# == Evaluation (考核) of the closed loop ==========================================================
# Added by the loop work (issue 12), kept apart from the live KPIs above: indicators per grid,
# community, street, district or department over a month, quarter or year, each formula once.
# Backends count (EvaluationCounts); the rates are computed here and nowhere else.

EVALUATION_LEVELS = ("grid", "community", "street", "district", "department")
EVALUATION_COUNTS = (
    "reported",
    "registered",
    "handled",
    "handled_on_time",
    "closed",
    "reworked",
    "follow_ups",
    "satisfied",
    "handling_hours",
    "grids",
    "patrolled_grids",
)
# code -> {name, formula}: the README and GET /api/meta carry these words.
EVALUATION: dict[str, dict[str, str]] = {
    "reported": {"name": "上报数", "formula": "考核期内上报的事件数"},
    "registered": {"name": "立案数", "formula": "其中受理立案的事件数"},
    "closed": {"name": "结案数", "formula": "其中已结案的事件数"},
    "registration_rate": {"name": "立案率", "formula": "立案数 ÷ 上报数"},
    "on_time_rate": {
        "name": "按期处置率",
        "formula": "处置环节均未超时的已处置事件数 ÷ 已处置事件数",
    },
    "closure_rate": {"name": "结案率", "formula": "结案数 ÷ 立案数"},
    "rework_rate": {"name": "返工率", "formula": "退回重办过的已处置事件数 ÷ 已处置事件数"},
    "satisfaction_rate": {"name": "回访满意率", "formula": "满意的回访数 ÷ 回访数"},
    "patrol_coverage": {
        "name": "巡查覆盖率",
        "formula": "考核期内有巡查签到的网格数 ÷ 网格数（部门无此项）",
    },
    "average_handling_hours": {
        "name": "平均处置时长（小时）",
        "formula": "已结案事件从上报到结案的小时数之和 ÷ 结案数",
    },
}


@dataclass(frozen=True)
class EvaluationCounts:
    """Raw counts of one unit over one period (incidents reported in the period)."""

    code: str
    reported: int
    registered: int  # accepted (立案) at some point
    handled: int  # resolved (处置反馈) at least once
    handled_on_time: int  # handled, and no resolve came after its deadline
    closed: int
    reworked: int  # handled incidents sent back at least once
    follow_ups: int
    satisfied: int
    handling_hours: float  # sum over closed incidents of report -> close hours
    grids: int  # grids in the unit (0 for departments)
    patrolled_grids: int  # of which patrolled in the period


def evaluation(counts: EvaluationCounts) -> dict:
    """Every indicator of a unit, in the order of :data:`EVALUATION`.

    >>> c = EvaluationCounts("330402", reported=10, registered=8, handled=6, handled_on_time=3,
    ...     closed=4, reworked=1, follow_ups=4, satisfied=3, handling_hours=100.0, grids=5,
    ...     patrolled_grids=4)
    >>> e = evaluation(c)
    >>> e["registration_rate"], e["on_time_rate"], e["closure_rate"], e["rework_rate"]
    (0.8, 0.5, 0.5, 0.1667)
    >>> e["satisfaction_rate"], e["patrol_coverage"], e["average_handling_hours"]
    (0.75, 0.8, 25.0)
    """
    return {
        "reported": counts.reported,
        "registered": counts.registered,
        "closed": counts.closed,
        "registration_rate": _rate(counts.registered, counts.reported),
        "on_time_rate": _rate(counts.handled_on_time, counts.handled),
        "closure_rate": _rate(counts.closed, counts.registered),
        "rework_rate": _rate(counts.reworked, counts.handled),
        "satisfaction_rate": _rate(counts.satisfied, counts.follow_ups),
        "patrol_coverage": _rate(counts.patrolled_grids, counts.grids),
        "average_handling_hours": (
            round(counts.handling_hours / counts.closed, 1) if counts.closed else None
        ),
    }


def evaluation_total(rows: Iterable[EvaluationCounts], code: str = "") -> EvaluationCounts:
    """Several units together (rates from the sums, never averages of rates)."""
    sums: dict[str, float] = dict.fromkeys(EVALUATION_COUNTS, 0)
    for row in rows:
        for name in EVALUATION_COUNTS:
            sums[name] += getattr(row, name)
    return EvaluationCounts(code=code, **sums)


def period_bounds(period: str) -> tuple[str, str]:
    """(since, until) UTC ISO text of a period ``2026``, ``2026-Q1`` or ``2026-03``, in China
    Standard Time (a month starts at 00:00 in Beijing); ValueError when malformed.

    >>> period_bounds("2026-03")
    ('2026-02-28T16:00:00Z', '2026-03-31T16:00:00Z')
    >>> period_bounds("2026-Q4")[1], period_bounds("2026")[0]
    ('2026-12-31T16:00:00Z', '2025-12-31T16:00:00Z')
    """
    from datetime import datetime

    from gridmap.rules.workflow import CHINA, iso

    text = period.strip() if isinstance(period, str) else ""
    parts = text.split("-")
    try:
        year = int(parts[0])
        if len(parts[0]) != 4 or not 2000 <= year <= 2100 or len(parts) > 2:
            raise ValueError
        if len(parts) == 1:
            first, months = 1, 12
        elif parts[1][:1].upper() == "Q" and len(parts[1]) == 2:
            quarter = int(parts[1][1])
            if not 1 <= quarter <= 4:
                raise ValueError
            first, months = 3 * quarter - 2, 3
        elif len(parts[1]) == 2:
            first, months = int(parts[1]), 1
            if not 1 <= first <= 12:
                raise ValueError
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"period must be YYYY, YYYY-Qn or YYYY-MM, not {period!r}") from None
    end_month = first + months
    start = datetime(year, first, 1, tzinfo=CHINA)
    end = datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=CHINA)
    return iso(start), iso(end)
