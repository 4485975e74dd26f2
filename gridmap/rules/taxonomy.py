"""Incident taxonomy (事件部件分类): 大类/小类 with codes, responsible department, staged limits.

A city classifies every report into a subclass (小类) of a major class (大类), as 数字城管
(GB/T 30428) does with its 部件 and 事件 classes; social governance adds 矛盾纠纷, 安全隐患,
民生服务 and more. Each subclass names the department that handles it, its urgency, and the
hours allowed for each stage of the loop, counted in working hours (工作时) or calendar hours
(自然时).

This module is the rule only (no files, no storage): :func:`parse_rows` checks rows as a CSV or
JSON file holds them and builds a :class:`Taxonomy`; :mod:`gridmap.taxonomy` reads files and
ships the default table. The workflow takes a subclass's limits through
:class:`gridmap.rules.workflow.TimeLimits` (the one home of deadline arithmetic), which asks
:meth:`Taxonomy.state_hours` and :meth:`Taxonomy.basis`.

>>> tax = parse_rows([{"major_code": "S01", "major_name": "矛盾纠纷", "kind": "social",
...     "code": "S0101", "name": "邻里纠纷", "department": "司法所", "verify_hours": "1",
...     "register_hours": "1", "dispatch_hours": "2", "handle_hours": "48",
...     "follow_up_hours": "24", "basis": "working", "urgency": "normal"}], "t.csv")
>>> tax.subclass("S0101").department, tax.state_hours("S0101", "reported")
('司法所', 2.0)
>>> tax.find("邻里纠纷").code
'S0101'
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gridmap.errors import InputError, Problem

# The stages a subclass gives hours for, in the order of the loop.
STAGES = ("verify", "register", "dispatch", "handle", "follow_up")
STAGE_NAMES = {
    "verify": "核实",
    "register": "立案",
    "dispatch": "派遣",
    "handle": "处置",
    "follow_up": "回访",
}
# Which workflow state each stage's hours count against (gridmap.rules.workflow.STATES):
# verifying and registering both happen before a report is accepted (受理立案); 'dispatched'
# (the department's response) and 'resolved' (on-site check) keep the workflow's own limits.
STATE_STAGES: dict[str, tuple[str, ...]] = {
    "reported": ("verify", "register"),
    "accepted": ("dispatch",),
    "handling": ("handle",),
    "returned": ("handle",),  # rework gets the handling time again
    "verified": ("follow_up",),  # 回访 before closing
}
BASES = {"working": "工作时", "calendar": "自然时"}
URGENCIES = {"normal": "一般", "urgent": "紧急", "critical": "特急"}
KINDS = {"component": "部件", "event": "事件", "social": "社会治理"}
COLUMNS = (
    "major_code",
    "major_name",
    "kind",
    "code",
    "name",
    "department",
    *(f"{stage}_hours" for stage in STAGES),
    "basis",
    "urgency",
)
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
MAX_NAME = 100
MAX_HOURS = 24 * 366  # a year: anything longer is a typo


@dataclass(frozen=True)
class Major:
    """A major class (大类)."""

    code: str
    name: str
    kind: str  # component | event | social


@dataclass(frozen=True)
class Subclass:
    """A subclass (小类): what a report is classified as."""

    code: str
    name: str
    major_code: str
    department: str
    limits: Mapping[str, float]  # stage -> hours
    basis: str  # working | calendar
    urgency: str  # normal | urgent | critical

    def as_json(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "major_code": self.major_code,
            "department": self.department,
            "limits": dict(self.limits),
            "basis": self.basis,
            "basis_name": BASES[self.basis],
            "urgency": self.urgency,
            "urgency_name": URGENCIES[self.urgency],
        }


@dataclass(frozen=True)
class Taxonomy:
    """The whole table; look subclasses up by code (:meth:`subclass`) or code or name
    (:meth:`find`)."""

    majors: tuple[Major, ...]
    subclasses: tuple[Subclass, ...]
    _by_code: Mapping[str, Subclass] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {s.code: s for s in self.subclasses})

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self._by_code)

    def subclass(self, code: str) -> Subclass:
        """The subclass with ``code`` (KeyError when there is none)."""
        return self._by_code[code]

    def find(self, value: str) -> Subclass | None:
        """The subclass whose code or name is ``value`` (None when none is)."""
        if value in self._by_code:
            return self._by_code[value]
        return next((s for s in self.subclasses if s.name == value), None)

    def major(self, code: str) -> Major:
        return next(m for m in self.majors if m.code == code)

    def state_hours(self, code: str, state: str) -> float | None:
        """Hours ``code`` allows in workflow ``state``; None when the taxonomy does not set
        that state's limit (the workflow's default applies)."""
        stages = STATE_STAGES.get(state)
        if stages is None or code not in self._by_code:
            return None
        limits = self._by_code[code].limits
        return float(sum(limits[stage] for stage in stages))

    def basis(self, code: str) -> str:
        """How ``code``'s hours are counted: ``working`` or ``calendar``."""
        found = self._by_code.get(code)
        return found.basis if found else "calendar"

    def as_json(self) -> dict:
        """``{"majors": [{code, name, kind, kind_name, subclasses: [...]}], "stages": ...}``."""
        return {
            "stages": [{"code": s, "name": STAGE_NAMES[s]} for s in STAGES],
            "majors": [
                {
                    "code": m.code,
                    "name": m.name,
                    "kind": m.kind,
                    "kind_name": KINDS[m.kind],
                    "subclasses": [s.as_json() for s in self.subclasses if s.major_code == m.code],
                }
                for m in self.majors
            ],
        }

    def rows(self) -> list[dict[str, str]]:
        """The table as rows of :data:`COLUMNS` (what :func:`parse_rows` reads back)."""
        majors = {m.code: m for m in self.majors}
        out = []
        for s in self.subclasses:
            major = majors[s.major_code]
            row = {
                "major_code": major.code,
                "major_name": major.name,
                "kind": major.kind,
                "code": s.code,
                "name": s.name,
                "department": s.department,
            }
            row.update({f"{stage}_hours": f"{s.limits[stage]:g}" for stage in STAGES})
            row.update({"basis": s.basis, "urgency": s.urgency})
            out.append(row)
        return out


class _Problems:
    """Collects problems of one source, each naming its row and field."""

    def __init__(self, source: str):
        self.source = source
        self.items: list[Problem] = []

    def add(self, message: str, row: int | None = None, field: str | None = None) -> None:
        self.items.append(Problem(self.source, message, row=row, field=field))


def _text(row: Mapping, name: str, number: int, problems: _Problems, limit: int = MAX_NAME) -> str:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        problems.add("is missing", number, name)
        return ""
    if not isinstance(value, str):
        problems.add(f"must be text, not {value!r}", number, name)
        return ""
    value = value.strip()
    if len(value) > limit:
        problems.add(f"is longer than {limit} characters", number, name)
    return value


def _hours(row: Mapping, name: str, number: int, problems: _Problems) -> float:
    value = row.get(name)
    if value is None or value == "":
        problems.add("is missing", number, name)
        return 0.0
    try:
        if isinstance(value, bool):
            raise ValueError
        hours = float(value)
    except (TypeError, ValueError):
        problems.add(f"must be a number of hours, not {value!r}", number, name)
        return 0.0
    if not math.isfinite(hours) or hours <= 0 or hours > MAX_HOURS:
        problems.add(
            f"must be more than 0 and at most {MAX_HOURS} hours, not {value!r}", number, name
        )
        return 0.0
    return hours


def _choice(
    row: Mapping, name: str, allowed: Mapping[str, str], number: int, problems: _Problems
) -> str:
    value = row.get(name)
    if isinstance(value, str):
        value = value.strip()
        for code, label in allowed.items():  # the Chinese name is accepted as well
            if value in (code, label):
                return code
    choices = ", ".join(f"{c} ({n})" for c, n in allowed.items())
    problems.add(f"must be one of {choices}, not {value!r}", number, name)
    return next(iter(allowed))


def parse_rows(rows: Iterable[Mapping], source: str, first_row: int = 2) -> Taxonomy:
    """Check every row and build the taxonomy; InputError lists every problem at once, each
    naming ``source``, the row (``first_row`` is the number of the first one: 2 for a CSV file
    under its header) and the field.

    >>> parse_rows([{"code": "x"}], "t.csv")
    Traceback (most recent call last):
    ...
    gridmap.errors.InputError: t.csv: row 2: field major_code: is missing
    ...
    """
    problems = _Problems(source)
    majors: dict[str, Major] = {}
    subclasses: dict[str, Subclass] = {}
    count = 0
    for number, row in enumerate(rows, start=first_row):
        count += 1
        if not isinstance(row, Mapping):
            problems.add(f"must be an object with the fields {', '.join(COLUMNS)}", number)
            continue
        major_code = _text(row, "major_code", number, problems)
        major_name = _text(row, "major_name", number, problems)
        kind = _choice(row, "kind", KINDS, number, problems)
        code = _text(row, "code", number, problems)
        name = _text(row, "name", number, problems)
        department = _text(row, "department", number, problems)
        limits = {stage: _hours(row, f"{stage}_hours", number, problems) for stage in STAGES}
        basis = _choice(row, "basis", BASES, number, problems)
        urgency = _choice(row, "urgency", URGENCIES, number, problems)
        for label, value in (("major_code", major_code), ("code", code)):
            if value and not CODE_PATTERN.match(value):
                problems.add(
                    f"{value!r} must be letters, digits, _ or - (at most 32, starting with a "
                    "letter or digit)",
                    number,
                    label,
                )
        if code and major_code and (not code.startswith(major_code) or code == major_code):
            problems.add(
                f"{code!r} must start with its major_code {major_code!r} and be longer",
                number,
                "code",
            )
        if code in subclasses:
            problems.add(f"{code!r} appears twice", number, "code")
        if major_code and major_name:
            known = majors.get(major_code)
            if known is None:
                majors[major_code] = Major(major_code, major_name, kind)
            elif (known.name, known.kind) != (major_name, kind):
                problems.add(
                    f"{major_code!r} is named {major_name!r} ({kind}) here but "
                    f"{known.name!r} ({known.kind}) in an earlier row",
                    number,
                    "major_name",
                )
        if code and code not in subclasses:
            subclasses[code] = Subclass(code, name, major_code, department, limits, basis, urgency)
    if count == 0:
        problems.add(f"holds no rows (expected the columns {', '.join(COLUMNS)})")
    names: dict[str, str] = {}
    for sub in subclasses.values():
        if sub.name and sub.name in names:
            problems.add(
                f"subclass name {sub.name!r} is used by both {names[sub.name]} and {sub.code} "
                "(a name must identify one subclass)",
                field="name",
            )
        names[sub.name] = sub.code
    if problems.items:
        raise InputError(problems.items)
    return Taxonomy(tuple(majors.values()), tuple(subclasses.values()))


def from_json(data: Mapping) -> Taxonomy:
    """A taxonomy from its :meth:`Taxonomy.as_json` form (as the store keeps it)."""
    rows = []
    for major in data["majors"]:
        for sub in major["subclasses"]:
            row = {
                "major_code": major["code"],
                "major_name": major["name"],
                "kind": major["kind"],
                "code": sub["code"],
                "name": sub["name"],
                "department": sub["department"],
                "basis": sub["basis"],
                "urgency": sub["urgency"],
            }
            row.update({f"{s}_hours": sub["limits"][s] for s in STAGES})
            rows.append(row)
    return parse_rows(rows, "stored taxonomy")


def type_names(taxonomy: Taxonomy | None) -> dict[str, str]:
    """code -> Chinese name of every incident type: the taxonomy's subclasses, then the
    built-in types of :data:`gridmap.rules.workflow.INCIDENT_TYPES` (still accepted).

    >>> names = type_names(None)
    >>> names["garbage"]
    '垃圾堆放'
    """
    from gridmap.rules.labels import TYPES
    from gridmap.rules.workflow import INCIDENT_TYPES

    names = {s.code: s.name for s in taxonomy.subclasses} if taxonomy is not None else {}
    for code in INCIDENT_TYPES:
        names.setdefault(code, TYPES.get(code, code))
    return names


def resolve_type(value: object, taxonomy: Taxonomy | None) -> str | None:
    """The incident type code ``value`` names (a subclass or built-in type, by code or Chinese
    name), or None.

    >>> resolve_type("垃圾堆放", None), resolve_type("nonsense", None)
    ('garbage', None)
    """
    if not isinstance(value, str):
        return None
    names = type_names(taxonomy)
    if value in names:
        return value
    return next((code for code, name in names.items() if name == value), None)
