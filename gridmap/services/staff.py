"""Grid staff: import a roster, issue a member's field token, workload per grid and community."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from gridmap.errors import InputError, Problem
from gridmap.io.encoding import small_csv
from gridmap.rules import staff as rules
from gridmap.store import Store
from gridmap.store.loop import StaffMember

COLUMNS = ("name", "role", "phone", "grids")
MAX_BYTES = 10 * 1024 * 1024


def parse_roster(data: bytes, name: str, known_grids: set[str] | None) -> list[StaffMember]:
    """Check a roster CSV (UTF-8 or GBK): name, role (code or 网格长/专职网格员/...), phone, grids
    (grid or micro-grid codes separated by ``;``, ``、`` or spaces). ``known_grids``: the grid
    codes of the current version (a code outside them is an error); None skips that check."""
    reader = small_csv(data, name, max_bytes=MAX_BYTES, required=COLUMNS)
    problems: list[Problem] = []
    members = []
    for number, row in enumerate(reader, start=2):
        person = (row.get("name") or "").strip()
        if not person or len(person) > 50:
            problems.append(Problem(name, "must be 1-50 characters", row=number, field="name"))
        role = rules.role_code(row.get("role") or "")
        if role is None:
            choices = ", ".join(rules.ROLES.values())
            problems.append(
                Problem(
                    name, f"must be one of {choices}, not {row.get('role')!r}", number, None, "role"
                )
            )
        phone = (row.get("phone") or "").strip()
        if phone and not rules.PHONE.match(phone):
            problems.append(
                Problem(name, f"{phone!r} is not a phone number", number, None, "phone")
            )
        codes = [
            c
            for c in (row.get("grids") or "").replace("、", ";").replace(" ", ";").split(";")
            if c.strip()
        ]
        if not codes:
            problems.append(Problem(name, "names no grid", row=number, field="grids"))
        for code in codes:
            code = code.strip()
            if not rules.GRID_CODE.match(code):
                problems.append(
                    Problem(
                        name,
                        f"{code!r} is not a 15-digit grid or micro-grid code",
                        number,
                        None,
                        "grids",
                    )
                )
            elif known_grids is not None and rules.grid_of(code) not in known_grids:
                problems.append(
                    Problem(
                        name,
                        f"grid {rules.grid_of(code)} is not in the current version",
                        number,
                        None,
                        "grids",
                    )
                )
        members.append(
            StaffMember(
                0, person, role or "", phone, tuple(dict.fromkeys(c.strip() for c in codes))
            )
        )
    if not members and not problems:
        problems.append(Problem(name, f"holds no rows (expected the columns {', '.join(COLUMNS)})"))
    if problems:
        raise InputError(problems)
    return members


def import_roster(store: Store, data: bytes, name: str) -> int:
    """Check a roster and replace the store's staff with it (nothing stored on a problem)."""
    version = store.current_version()
    known = None
    if version is not None:
        known = {f.code for f in store.layer_geometries(version.id, ("grid", "exclusive"))}
    return store.replace_staff(parse_roster(data, name, known))


def field_token(store: Store, staff_id: int) -> str:
    """A field token for a staff member covering their grids (whole grids for micro-grids)."""
    member = next((m for m in store.staff() if m.id == staff_id), None)
    if member is None:
        raise LookupError(f"no staff member {staff_id}")
    grids = tuple(dict.fromkeys(rules.grid_of(code) for code in member.grids))
    return store.create_token("field", member.name, grids)


@dataclass(frozen=True)
class Workload:
    """Households per full-time staff member of one grid or community."""

    code: str
    households: int
    full_time: int
    staff: int
    households_per_full_time: float | None


def workload(store: Store, level: str = "grid") -> list[Workload]:
    """The workload of every grid (``level="grid"``) or community of the current version."""
    if level not in ("grid", "community"):
        raise ValueError("level must be grid or community")
    version = store.current_version()
    if version is None:
        return []
    digits = 15 if level == "grid" else 12
    households: dict[str, int] = defaultdict(int)
    for feature in store.layer_geometries(version.id, ("grid",)):
        households[feature.code[:digits]] += 0
    for address in store.addresses(version.id):
        if address.grid_code:
            households[address.grid_code[:digits]] += address.households
    full: dict[str, set[int]] = defaultdict(set)
    everyone: dict[str, set[int]] = defaultdict(set)
    for member in store.staff():
        for code in member.grids:
            unit = code[:digits]
            everyone[unit].add(member.id)
            if member.role in rules.FULL_TIME:
                full[unit].add(member.id)
    return [
        Workload(
            code,
            households[code],
            len(full[code]),
            len(everyone[code]),
            rules.households_per_staff(households[code], len(full[code])),
        )
        for code in sorted(households)
    ]
