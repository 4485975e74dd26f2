"""Grid staff (网格力量): roles, who counts as full-time, and the workload rule.

Daqing staffs each grid "1+3+N": a grid head, full-time grid staff, a grid police officer and a
supervisor, plus part-timers; a building head (楼道长) looks after one building or stairwell.
Workload is households per full-time staff member (专职网格员) of a grid or community.

>>> role_code("专职网格员"), role_code("grid_head")
('full_time', 'grid_head')
>>> households_per_staff(1200, 3)
400.0
>>> households_per_staff(1200, 0) is None
True
"""

from __future__ import annotations

import re

ROLES: dict[str, str] = {
    "grid_head": "网格长",
    "full_time": "专职网格员",
    "part_time": "兼职网格员",
    "police": "网格警务员",
    "supervisor": "网格督导员",
    "building_head": "楼道长",
}
FULL_TIME = frozenset({"full_time"})
PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,18}[0-9]$")
GRID_CODE = re.compile(r"^[0-9]{15}([0-9]{1,6})?$")  # a grid, or a micro-grid under it (微网格)
GRID_DIGITS = 15


def role_code(value: str) -> str | None:
    """The role code of a role given as code or Chinese name (None when unknown)."""
    value = value.strip()
    if value in ROLES:
        return value
    return next((code for code, name in ROLES.items() if name == value), None)


def grid_of(code: str) -> str:
    """The grid a grid or micro-grid code lies in (a field token covers whole grids)."""
    return code[:GRID_DIGITS]


def households_per_staff(households: int, full_time: int) -> float | None:
    """The workload figure: households per full-time member (None without one)."""
    return round(households / full_time, 1) if full_time else None
