"""Load a city's departments (职能部门) from a CSV file: code, name, level.

A city has a few dozen departments; ``gridmap department import FILE.csv`` checks the whole file
(UTF-8 or GBK) with :func:`gridmap.services.loop.check_department`, names every problem with its
row and field, and stores nothing unless every row is valid. Departments already in the store
(same code) are left as they are, so importing a file again adds only the new ones.

>>> rows = parse_departments("code,name,level\\nwater,水务集团,city\\n".encode(), "d.csv")
>>> rows[0].code, rows[0].level
('water', 'city')
"""

from __future__ import annotations

from dataclasses import dataclass

from gridmap.errors import InputError, Problem
from gridmap.io.encoding import small_csv
from gridmap.rules.escalation import LoopRuleError
from gridmap.services.loop import check_department
from gridmap.store import Store

COLUMNS = ("code", "name", "level")
MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class DepartmentRow:
    code: str
    name: str
    level: str


def parse_departments(data: bytes, name: str) -> list[DepartmentRow]:
    """Check a departments CSV; InputError names file, row and field of every problem."""
    reader = small_csv(data, name, max_bytes=MAX_BYTES, required=COLUMNS[:2])
    problems: list[Problem] = []
    rows: list[DepartmentRow] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(reader, start=2):
        values = {k: (row.get(k) or "").strip() for k in COLUMNS}
        try:
            code, title, level = check_department(
                values["code"], values["name"], values["level"] or None
            )
        except LoopRuleError as error:
            problems.append(Problem(name, error.message, row=number, field=error.field))
            continue
        if code in seen:
            problems.append(
                Problem(name, f"code {code!r} repeats row {seen[code]}", row=number, field="code")
            )
            continue
        seen[code] = number
        rows.append(DepartmentRow(code, title, level))
    if not rows and not problems:
        problems.append(Problem(name, f"holds no rows (expected the columns {', '.join(COLUMNS)})"))
    if problems:
        raise InputError(problems)
    return rows


def import_departments(store: Store, data: bytes, name: str) -> int:
    """Add the file's departments that the store lacks (all or nothing); returns how many."""
    rows = parse_departments(data, name)
    existing = {d.code for d in store.departments()}
    names = {d.name: d.code for d in store.departments()}
    clashes = [
        Problem(name, f"name {r.name!r} belongs to department {names[r.name]!r}", field="name")
        for r in rows
        if r.code not in existing and r.name in names
    ]
    if clashes:
        raise InputError(clashes)
    added = 0
    with store.transaction():
        for row in rows:
            if row.code not in existing:
                store.add_department(row.code, row.name, row.level)
                added += 1
    return added


__all__ = ["COLUMNS", "DepartmentRow", "import_departments", "parse_departments"]
