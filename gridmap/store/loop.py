"""What a store adds for the closed loop as cities run it: taxonomy, departments, duplicates.

Records and the :class:`LoopStore` protocol every backend fills (SQLite:
:mod:`gridmap.store.sqlite.loop`), plus :class:`TaxonomyLimits`, the backend-independent part:
a store's ``time_limits`` are the configured overrides over the taxonomy the store holds (the
shipped default until a city loads its own), so every deadline the workflow computes follows the
taxonomy without the backend knowing any rule.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from gridmap.rules.taxonomy import Taxonomy, from_json
from gridmap.rules.workflow import TimeLimits
from gridmap.store.base import HistoryEntry, Incident


@dataclass(frozen=True)
class DuplicateReport:
    """A report linked to an open incident as its duplicate instead of opening another."""

    id: int
    incident_id: int
    description: str
    address: str
    lon: float
    lat: float
    reporter: str
    source: str
    at: str


@dataclass(frozen=True)
class Department:
    """A functional department (职能部门) incidents are dispatched to."""

    code: str
    name: str
    level: str  # the administrative level it answers at: district | city


@dataclass(frozen=True)
class IncidentLoop:
    """What the loop adds to an incident: its department and escalation level."""

    incident_id: int
    department: str | None  # department code
    escalation_level: int  # 0 community, 1 street, 2 district, 3 city
    escalated_due: str | None  # the deadline whose passing was escalated last


@dataclass(frozen=True)
class FollowUp:
    """A follow-up (回访) of a handled incident: by phone or visit, satisfied or not."""

    id: int
    incident_id: int
    method: str
    satisfied: bool
    note: str
    actor: str
    at: str


@dataclass(frozen=True)
class IncidentDetail:
    """One incident with everything its full view shows: history, linked duplicates, loop
    state and follow-ups, read together (PostGIS: one round trip instead of five)."""

    incident: Incident
    history: list[HistoryEntry]
    duplicates: int  # duplicate reports linked and not split off
    loop: IncidentLoop
    follow_ups: list[FollowUp]


@dataclass(frozen=True)
class StaffMember:
    """A member of grid staff (网格长, 专职网格员, ...) and the grid or micro-grid codes they
    cover."""

    id: int
    name: str
    role: str
    phone: str
    grids: tuple[str, ...]


@dataclass(frozen=True)
class Overdue:
    """An open incident past its current deadline that has not been escalated for it yet."""

    incident_id: int
    status: str
    due_at: str
    escalation_level: int


@runtime_checkable
class LoopStore(Protocol):
    """The loop's storage methods (beside :class:`gridmap.store.base.Store`)."""

    def taxonomy(self) -> Taxonomy:
        """The stored taxonomy, or the shipped default when none was loaded."""

    def save_taxonomy(self, taxonomy: Taxonomy, actor: str = "") -> None:
        """Replace the taxonomy (deadlines of steps entered from now on follow it)."""

    def add_duplicate(
        self,
        incident_id: int,
        *,
        description: str,
        address: str,
        lon: float,
        lat: float,
        reporter: str,
        source: str,
        at: str,
    ) -> int:
        """Link a report to ``incident_id`` as a duplicate; returns the report's id."""

    def duplicates(self, incident_id: int) -> list[DuplicateReport]:
        """The duplicate reports still linked to an incident, oldest first."""

    def duplicate_counts(self, incident_ids: list[int]) -> dict[int, int]:
        """incident id -> how many duplicate reports are linked (absent: none)."""

    def unlink_duplicate(self, duplicate_id: int, split_into: int) -> DuplicateReport:
        """Mark a duplicate report as split off into incident ``split_into`` (NotFound when
        no linked duplicate has that id)."""

    # departments
    def add_department(self, code: str, name: str, level: str = "district") -> None:
        """Add a department (ValueError when the code or name exists)."""

    def departments(self) -> list[Department]: ...
    def department(self, code_or_name: str) -> Department | None: ...
    def bind_token_department(self, token_id: int, code: str) -> None: ...
    def token_department(self, token_id: int) -> str | None: ...

    # the loop's state of incidents
    def incident_loops(self, incident_ids: list[int]) -> dict[int, IncidentLoop]:
        """Loop state of incidents (every id given is in the answer)."""

    def incident_detail(self, incident_id: int, now: datetime | None = None) -> IncidentDetail:
        """The incident and all its full view shows (NotFound when there is none); the same
        as asking :meth:`incident`, ``history``, :meth:`duplicate_counts`,
        :meth:`incident_loops` and :meth:`follow_ups` one by one."""

    def set_department(self, incident_id: int, code: str | None) -> None: ...
    def loop_incident_ids(
        self, department: str | None = None, escalated: bool | None = None
    ) -> list[int]:
        """Ids of incidents handled by ``department`` and/or escalated at least once."""

    def add_follow_up(
        self, incident_id: int, method: str, satisfied: bool, note: str, actor: str, at: str
    ) -> int: ...
    def follow_ups(self, incident_id: int) -> list[FollowUp]: ...
    def overdue_unescalated(self, now: str) -> list[Overdue]:
        """Open incidents whose current deadline passed before ``now`` and was not escalated."""

    def record_escalation(
        self, incident_id: int, due_at: str, level: int, at: str, note: str
    ) -> bool:
        """Raise the level and write an 'escalated' event (False when someone else already
        escalated this deadline: nothing written)."""

    # grid staff
    def replace_staff(self, members: list[StaffMember]) -> int:
        """Replace every staff member (ids are assigned here); returns how many."""

    def staff(self, grid: str | None = None) -> list[StaffMember]:
        """Staff covering ``grid`` (a grid, micro-grid or division code), or everyone."""

    # patrols and evaluation
    def add_patrol(self, actor: str, lon: float, lat: float, location, at: str) -> int:
        """Record a patrol check-in at a located point."""

    def patrolled_grids(self, since: str, until: str) -> list[str]:
        """Grid codes with at least one check-in in [since, until)."""

    def evaluation_counts(self, level: str, since: str, until: str) -> list:
        """:class:`gridmap.rules.kpi.EvaluationCounts` per unit of ``level`` (grid, community,
        street, district or department) of incidents reported in [since, until); ``grids`` and
        ``patrolled_grids`` are left 0 (the evaluation service fills them)."""


class TaxonomyLimits:
    """Mixin: ``time_limits`` = the overrides a store was opened with, over its taxonomy.

    The backend provides ``_taxonomy_revision() -> str | None`` (None: nothing loaded) and
    ``_taxonomy_text() -> str``; the parsed taxonomy is cached per revision, so a taxonomy
    loaded by another process (``gridmap taxonomy load`` while the server runs) takes effect
    at the next call.
    """

    _base_limits: TimeLimits
    _taxonomy_cache: tuple[str, Taxonomy] | None = None
    _memoized: Callable  # gridmap.store.memo.RequestMemo (both stores)

    @property
    def time_limits(self) -> TimeLimits:
        return self._base_limits.with_taxonomy(self.taxonomy())

    @time_limits.setter
    def time_limits(self, value: TimeLimits) -> None:
        self._base_limits = value

    def _taxonomy_revision(self) -> str | None:  # pragma: no cover - backends
        raise NotImplementedError

    def _taxonomy_text(self) -> str:  # pragma: no cover - backends
        raise NotImplementedError

    def taxonomy(self) -> Taxonomy:
        from gridmap.taxonomy import default

        # once per web request (gridmap.store.memo): a report asks three times
        revision = self._memoized("taxonomy_revision", self._taxonomy_revision)
        if revision is None:
            return default()
        cached = self._taxonomy_cache
        if cached is not None and cached[0] == revision:
            return cached[1]
        taxonomy = from_json(json.loads(self._taxonomy_text()))
        with _CACHE_LOCK:
            self._taxonomy_cache = (revision, taxonomy)
        return taxonomy


_CACHE_LOCK = threading.Lock()


def taxonomy_json(taxonomy: Taxonomy) -> str:
    """The text a backend keeps for a taxonomy."""
    return json.dumps(taxonomy.as_json(), ensure_ascii=False, separators=(",", ":"))
