"""Options of the partitioner: size bounds, exclusive-grid criteria, sequence ranges.

>>> PartitionConfig(min_households=300, max_households=500).target_households
400.0
>>> PartitionConfig(min_households=600, max_households=500).validate()  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
gridmap.errors.InputError: options: field min_households: min_households 600 is above ...
"""

from __future__ import annotations

from dataclasses import dataclass

from gridmap.errors import InputError, Problem
from gridmap.model import SITE_CATEGORIES

# Sequence ranges of the 3-digit grid sequence: comprehensive grids first, exclusive grids apart.
COMPREHENSIVE_RANGE = (1, 499)
EXCLUSIVE_RANGE = (501, 999)

# Every named kind of premises (government, enterprise, industrial park, hospital, school, mall,
# park); "other" only when a planner asks for it.
DEFAULT_EXCLUSIVE_CATEGORIES = tuple(c for c in SITE_CATEGORIES if c != "other")


@dataclass(frozen=True)
class PartitionConfig:
    """Everything the partitioner can be told. Bounds are hard: a grid outside them is flagged."""

    min_households: int = 300
    max_households: int = 500
    max_population: int | None = 2500
    max_area_km2: float | None = None
    # Exclusive grids: a site qualifies when its category is listed and it is big enough by
    # area or by headcount (after small touching sites of one category are merged).
    exclusive_categories: tuple[str, ...] = DEFAULT_EXCLUSIVE_CATEGORIES
    exclusive_min_area_m2: float = 20_000.0
    exclusive_min_headcount: int = 300
    merge_small_sites_m2: float = (
        20_000.0  # sites below this area merge with touching same-category
    )
    merge_gap_m: float = 5.0  # sites closer than this count as touching
    exclusive_ratio_limit: float = 0.25  # warn when exclusive / comprehensive exceeds it
    # Blocks holding more households than this are cut into address cells. None: max - min,
    # the width of the band, so that a sweep over units always has a cut position inside it
    # (whole blocks keep grid edges on streets; the cuts still prefer barriers). Where the band
    # is still missed, the community is redone with cells for blocks above min / 2.
    split_households: int | None = None
    # Cutting along barriers is preferred: a shared edge lying on a barrier costs this fraction.
    barrier_edge_cost: float = 0.25
    # Micro-grids (微网格): every comprehensive grid cut into whole buildings of [min, max]
    # households (None: no micro-grids).
    micro_households: tuple[int, int] | None = (30, 150)
    workers: int = 0  # 0: one per core (at most 2 by default), 1: no subprocesses
    repair: bool = False  # make invalid polygons valid instead of rejecting them

    @property
    def unit_split_households(self) -> int:
        if self.split_households is not None:
            return self.split_households
        return max(1, self.max_households - self.min_households)

    @property
    def target_households(self) -> float:
        return (self.min_households + self.max_households) / 2.0

    def validate(self) -> PartitionConfig:
        """Raise InputError naming each bad option; return self when all are fine."""
        problems = []

        def bad(name: str, message: str) -> None:
            problems.append(Problem("options", message, field=name))

        if self.min_households < 0:
            bad("min_households", f"min_households {self.min_households} is negative")
        if self.max_households < 1:
            bad("max_households", f"max_households {self.max_households} must be at least 1")
        if self.min_households > self.max_households:
            bad(
                "min_households",
                f"min_households {self.min_households} is above max_households "
                f"{self.max_households}",
            )
        if self.max_population is not None and self.max_population < 1:
            bad("max_population", f"max_population {self.max_population} must be at least 1")
        if self.max_area_km2 is not None and not self.max_area_km2 > 0:
            bad("max_area_km2", f"max_area_km2 {self.max_area_km2} must be positive")
        unknown = sorted(set(self.exclusive_categories) - set(SITE_CATEGORIES))
        if unknown:
            bad("exclusive_categories", f"unknown site categories {', '.join(unknown)}")
        if self.micro_households is not None:
            low, high = self.micro_households
            if not 0 <= low <= high or high < 1:
                bad("micro_households", f"micro_households {low}-{high} is not a band")
        if not 0 <= self.barrier_edge_cost <= 1:
            bad("barrier_edge_cost", "barrier_edge_cost must be within 0-1")
        if problems:
            raise InputError(problems)
        return self
