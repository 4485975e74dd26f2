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
from dataclasses import dataclass, fields

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
    values = {f.name: getattr(counts, f.name) for f in fields(counts) if f.name in COUNTS}
    values["closure_rate"] = closure_rate(counts)
    values["on_time_rate"] = on_time_rate(counts)
    return {name: values[name] for name in INDICATORS}
