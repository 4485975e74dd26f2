"""Evaluation (考核): indicators per unit and period, and their CSV/XLSX tables.

Counts come from the store, formulas from :mod:`gridmap.rules.kpi` (``EVALUATION``), grids and
patrol coverage from the current version; this module only puts them together and lays them
out with Chinese headers.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, replace

from gridmap.rules import kpi
from gridmap.store import Store

UNIT_DIGITS = {"grid": 15, "community": 12, "street": 9, "district": 6}
HEADERS = {"code": "单位代码", "name": "单位名称"}


@dataclass(frozen=True)
class Evaluation:
    """An evaluation: level, period, its bounds, each unit's indicators, and the total."""

    level: str
    period: str
    since: str
    until: str
    units: list[dict]
    total: dict

    def as_json(self) -> dict:
        return {
            "level": self.level,
            "period": self.period,
            "since": self.since,
            "until": self.until,
            "indicators": kpi.EVALUATION,
            "units": self.units,
            "total": self.total,
        }


def evaluate(store: Store, level: str, period: str) -> Evaluation:
    """Every unit of ``level`` with incidents or grids in the period (ValueError: bad level or
    period)."""
    if level not in kpi.EVALUATION_LEVELS:
        raise ValueError(f"level must be one of {', '.join(kpi.EVALUATION_LEVELS)}")
    since, until = kpi.period_bounds(period)
    counts = {c.code: c for c in store.evaluation_counts(level, since, until)}
    version = store.current_version()
    names: dict[str, str] = {}
    if level == "department":
        names = {d.code: d.name for d in store.departments()}
        for code in names:
            counts.setdefault(code, kpi.evaluation_total([], code))
    elif version is not None:
        digits = UNIT_DIGITS[level]
        names = store.names(version.id)
        grids: dict[str, int] = defaultdict(int)
        for feature in store.layer_geometries(version.id, ("grid",)):
            grids[feature.code[:digits]] += 1
            names.setdefault(feature.code, feature.props.get("name") or feature.code)
        patrolled: dict[str, int] = defaultdict(int)
        for code in store.patrolled_grids(since, until):
            patrolled[code[:digits]] += 1
        for unit, number in grids.items():
            base = counts.get(unit) or kpi.evaluation_total([], unit)
            counts[unit] = replace(base, grids=number, patrolled_grids=patrolled[unit])
    units = [
        {"code": code, "name": names.get(code, code), **kpi.evaluation(counts[code])}
        for code in sorted(counts)
    ]
    total = kpi.evaluation(kpi.evaluation_total(counts.values()))
    return Evaluation(level, period, since, until, units, total)


def table(result: Evaluation) -> tuple[list[str], list[list]]:
    """Header (Chinese) and rows, the total last (合计)."""
    keys = list(kpi.EVALUATION)
    header = [HEADERS["code"], HEADERS["name"], *(kpi.EVALUATION[k]["name"] for k in keys)]
    rows = [[u["code"], u["name"], *(u[k] for k in keys)] for u in result.units]
    rows.append(["", "合计", *(result.total[k] for k in keys)])
    return header, rows


def to_csv(result: Evaluation) -> bytes:
    """UTF-8 CSV with a byte-order mark (Excel opens it with the Chinese intact)."""
    header, rows = table(result)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(result: Evaluation) -> bytes:
    """An Excel workbook: one sheet, Chinese headers, rates as percentages."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    header, rows = table(result)
    book = Workbook()
    sheet = book.active
    sheet.title = f"考核 {result.period}"
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    rate_columns = {
        i + 3 for i, key in enumerate(kpi.EVALUATION) if key.endswith(("_rate", "_coverage"))
    }
    for row in rows:
        sheet.append(row)
    for column in rate_columns:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            cell.number_format = "0.00%"
    sheet.freeze_panes = "C2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
