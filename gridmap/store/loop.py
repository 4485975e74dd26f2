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
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gridmap.rules.taxonomy import Taxonomy, from_json
from gridmap.rules.workflow import TimeLimits


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


class TaxonomyLimits:
    """Mixin: ``time_limits`` = the overrides a store was opened with, over its taxonomy.

    The backend provides ``_taxonomy_revision() -> str | None`` (None: nothing loaded) and
    ``_taxonomy_text() -> str``; the parsed taxonomy is cached per revision, so a taxonomy
    loaded by another process (``gridmap taxonomy load`` while the server runs) takes effect
    at the next call.
    """

    _base_limits: TimeLimits
    _taxonomy_cache: tuple[str, Taxonomy] | None = None

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

        revision = self._taxonomy_revision()
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
