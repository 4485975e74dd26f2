"""Partition one community: units, exclusive grids, comprehensive grids, flags, host grids.

Runs in a worker process; takes and returns plain picklable data. Geometry stays in EPSG:4490
lon/lat throughout, so grids are unions of units cut from the community's own vertices and tile
it exactly; metres (for balancing) come from a local scale, reported figures from ``measure``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import shapely

from gridmap.partition import keep
from gridmap.partition.config import PartitionConfig
from gridmap.partition.coverage import Coverage, measure
from gridmap.partition.micro import split_grid
from gridmap.partition.regionalize import Bounds, regionalize
from gridmap.partition.units import Units, build_units, connected_pieces, locate, union_faces

# At most this many more staying grids are released, one at a time, when the released land's
# whole units cannot meet the bounds (each try rebuilds the community's units).
_MORE_NEIGHBOURS = 2


@dataclass
class CommunityTask:
    code: str
    geometry: object  # shapely (Multi)Polygon
    barriers: list
    sites: list  # ExclusiveSite
    points: np.ndarray  # (n, 2) distinct address points
    households: np.ndarray
    population: np.ndarray
    previous: list = field(default_factory=list)  # [PreviousGrid] of this community
    buildings: np.ndarray | None = None  # building id of each point (-1: the point alone)


@dataclass
class GridDraft:
    """A grid before codes: geometry, kind, totals, flags, and what codes need to know."""

    geometry: object
    kind: str
    households: int
    population: int
    flags: list[str]
    site_id: str = ""
    site_category: str = ""
    host: int = -1  # index of the host comprehensive grid among this community's drafts
    previous_overlap: dict = field(default_factory=dict)  # previous grid code -> households
    code: str = ""  # an earlier grid this one is, unchanged (it keeps code and geometry)
    locked: bool = False
    micro: list = field(default_factory=list)  # MicroDraft (comprehensive grids)
    micro_coverage: Coverage | None = None  # how the micro-grids cover this grid


@dataclass
class CommunityResult:
    code: str
    grids: list[GridDraft]
    point_grid: np.ndarray  # draft index of each input point
    units: int
    split_blocks: int
    inner_length_m: float  # boundary length between different grids
    inner_barrier_m: float  # of which on a barrier
    micro_s: float = 0.0  # CPU seconds spent on micro-grids
    coverage: Coverage | None = None  # how the grids cover the community (for the checks)


@dataclass
class _Attempt:
    units: Units
    owner: np.ndarray  # earlier grid (candidate) holding each unit, -1 for none
    stays: np.ndarray  # bool per candidate: kept unchanged
    labels: np.ndarray  # region of each unit regionalised now, -1 for the others
    excess: float  # bound violation above what no grouping of these units can avoid
    forced: frozenset = frozenset()  # earlier grids released beyond what keep.decide chose


def bounds_of(config: PartitionConfig) -> Bounds:
    return Bounds(
        min_households=config.min_households,
        max_households=config.max_households,
        max_population=math.inf if config.max_population is None else config.max_population,
        max_area_m2=math.inf if config.max_area_km2 is None else config.max_area_km2 * 1e6,
    )


def partition_community(task: CommunityTask, config: PartitionConfig) -> CommunityResult:
    """Earlier grids that stay -> units -> exclusive and comprehensive regions -> drafts."""
    bounds = bounds_of(config)
    kept, site_of = keep.candidates(task.geometry, task.previous, task.sites)
    split_above = config.unit_split_households
    attempt = _attempt(task, config, bounds, kept, split_above)
    if attempt.excess > 1e-9:
        # Whole blocks may be too coarse to reach the band: cut every block holding more than
        # half the floor into address cells and keep whichever attempt breaks the bounds less.
        finer_threshold = max(config.min_households / 2.0, 1.0)
        if finer_threshold < config.unit_split_households:
            finer = _attempt(task, config, bounds, kept, finer_threshold)
            if finer.excess < attempt.excess - 1e-9:
                attempt, split_above = finer, finer_threshold
    for _ in range(_MORE_NEIGHBOURS):
        # The released grids' totals allowed the band but their whole units did not (a grid short
        # of a few households beside a neighbour whose border blocks are big): release the
        # staying grid that borders the grid still out of bounds most, and try again.
        if attempt.excess <= 1e-9:
            break
        extra = _next_neighbour(attempt, kept, bounds)
        if extra < 0:
            break
        wider = _attempt(task, config, bounds, kept, split_above, attempt.forced | {extra})
        if wider.excess >= attempt.excess - 1e-9:
            break
        attempt = wider
    result = _drafts(task, bounds, attempt, kept, site_of)
    if config.micro_households is not None:
        started = time.process_time()  # CPU time: wall time on a busy machine would overstate it
        _micro_grids(task, result, config.micro_households)
        result.micro_s = time.process_time() - started
    # measured here, on the worker, for the checks the client runs once every community is in
    if result.grids:
        result.coverage = measure([draft.geometry for draft in result.grids], task.geometry)
    return result


def _micro_grids(task: CommunityTask, result: CommunityResult, band) -> None:
    buildings = task.buildings
    if buildings is None:
        buildings = np.arange(len(task.points))
    for r, draft in enumerate(result.grids):
        if draft.kind != "comprehensive":
            continue
        mine = np.flatnonzero(result.point_grid == r)
        draft.micro = split_grid(
            draft.geometry,
            task.points[mine],
            task.households[mine],
            task.population[mine],
            buildings[mine],
            band,
        )
        if draft.micro:
            draft.micro_coverage = measure([m.geometry for m in draft.micro], draft.geometry)


def _attempt(task, config, bounds, kept, split_above, forced=frozenset()) -> _Attempt:
    units = build_units(
        task.geometry,
        task.barriers,
        [site.geometry for site in task.sites],
        task.points,
        task.households,
        task.population,
        split_above=split_above,
        outlines=[grid.geometry for grid in kept],
    )
    owner = keep.owners(units.geometries, [grid.geometry for grid in kept])
    units.site[owner >= 0] = -1  # an earlier grid holds its land (a kept site's too)
    stays = keep.decide(units, owner, kept, bounds, units.site < 0, forced)
    held = owner >= 0
    held[held] = stays[owner[held]]
    _keep_main_site_pieces(units)
    free = (units.site < 0) & ~held
    # Released earlier grids are the starting regions of their land (moved, not re-cut).
    start = np.where(owner >= 0, owner, -1)
    labels = _labels(config, bounds, units, free, start)
    comprehensive = labels >= 0
    count = int(labels.max()) + 1 if comprehensive.any() else 0
    hh, pop, area = (
        np.bincount(labels[comprehensive], weights=w[comprehensive], minlength=count)
        for w in (units.households, units.population, units.area_m2)
    )
    violation = float(np.sum(bounds.violation(hh, pop, area))) if count else 0.0
    excess = violation - _unavoidable(units, labels, bounds)
    return _Attempt(units, owner, stays, labels, excess, frozenset(forced))


def _next_neighbour(attempt: _Attempt, kept, bounds) -> int:
    """The staying, unlocked comprehensive earlier grid sharing the longest edge with a piece of
    land cut now that holds a region out of bounds (-1: none)."""
    units, labels, owner, stays = attempt.units, attempt.labels, attempt.owner, attempt.stays
    cut = np.flatnonzero(labels >= 0)
    if not len(cut):
        return -1
    count = int(labels.max()) + 1
    totals = [
        np.bincount(labels[cut], weights=w[cut], minlength=count)
        for w in (units.households, units.population, units.area_m2)
    ]
    bad_region = np.asarray(bounds.violation(*totals)) > 0
    # the connected pieces of the land cut now that hold such a region
    _, piece = connected_pieces(units, cut)
    ei, ej = units.edge_i, units.edge_j
    bad_piece = np.zeros(piece.max() + 1, bool)
    bad_piece[piece[bad_region[labels[cut]]]] = True
    troubled = np.zeros(len(units), bool)
    troubled[cut] = bad_piece[piece]
    best, best_length = -1, 0.0
    for near, far in ((ei, ej), (ej, ei)):
        across = troubled[near] & (owner[far] >= 0)
        for k in np.unique(owner[far][across]).tolist():
            grid = kept[k]
            if not stays[k] or grid.locked or grid.kind != "comprehensive":
                continue
            length = float(units.edge_length[across & (owner[far] == k)].sum())
            if length > best_length:
                best, best_length = k, length
    return best


def _keep_main_site_pieces(units: Units) -> None:
    """A site cut in pieces (by another, overlapping site) keeps its biggest piece only; the
    other pieces become ordinary land, so every exclusive grid is one polygon."""
    for s in np.unique(units.site[units.site >= 0]):
        faces = np.flatnonzero(units.site == s)
        if len(faces) <= 1:
            continue
        count, piece = connected_pieces(units, faces)
        if count > 1:
            area = np.bincount(piece, weights=units.area_m2[faces])
            main = int(np.argmax(area))
            units.site[faces[piece != main]] = -1


def _absorb_empty_pieces(region: np.ndarray, donors, receivers, units: Units) -> np.ndarray:
    """Donor regions holding no household that border a receiver region join it.

    Donors are the comprehensive regions cut now, receivers the exclusive grids drawn now. Such a
    region is land cut off by a site (a strip between a campus and the boundary); as a grid of its
    own it would only be a flagged, empty grid.
    """
    ri, rj = region[units.edge_i], region[units.edge_j]
    households = np.bincount(region, weights=units.households, minlength=len(donors))
    for r in np.flatnonzero(donors & (households[: len(donors)] == 0)):
        touching = ((ri == r) & receivers[rj]) | ((rj == r) & receivers[ri])
        if not touching.any():
            continue
        other = np.where(ri[touching] == r, rj[touching], ri[touching])
        shared = np.bincount(other, weights=units.edge_length[touching])
        region[region == r] = int(np.argmax(shared))
        ri, rj = region[units.edge_i], region[units.edge_j]
    return region


def _unavoidable(units: Units, labels: np.ndarray, bounds: Bounds) -> float:
    """Violation no grouping can avoid: a connected piece whose totals fit no region count.

    Retrying with finer units cannot help below it, so a retry runs only above it.
    """
    free = np.flatnonzero(labels >= 0)
    if len(free) == 0:
        return 0.0
    pieces, piece = connected_pieces(units, free)
    total = 0.0
    for values in zip(
        *(
            np.bincount(piece, weights=w[free], minlength=pieces)
            for w in (units.households, units.population, units.area_m2)
        ),
        np.bincount(piece, minlength=pieces),
        strict=True,
    ):
        h, p, a, n = (float(v) for v in values)
        low = max(1, int(h // bounds.max_households))
        high = max(low, min(int(n), int(h // max(bounds.min_households, 1)) + 1))
        total += min(float(bounds.violation(h, p, a, k)) for k in range(low, high + 1))
    return total


def _labels(config, bounds, units: Units, free: np.ndarray, start=None) -> np.ndarray:
    """Region label of each ``free`` unit (comprehensive land no earlier grid keeps), else -1.

    ``start``: the released earlier grid holding each unit (-1: none). When any free unit has
    one, the regionaliser starts from those grids and moves units between them until they meet
    the bounds (with headroom), instead of cutting the land afresh: a grid that left the band
    gives or takes a few units from its released neighbour, and both stay recognisable.
    """
    labels = np.full(len(units), -1, np.int64)
    free = np.flatnonzero(free)
    if len(free) == 0:
        return labels
    initial = None
    if start is not None and (start[free] >= 0).any():
        initial = start[free]
    position = np.full(len(units), -1, np.int64)
    position[free] = np.arange(len(free))
    keep_edge = (position[units.edge_i] >= 0) & (position[units.edge_j] >= 0)
    cost = units.edge_length * np.where(units.on_barrier, config.barrier_edge_cost, 1.0)
    labels[free] = regionalize(
        units.x[free],
        units.y[free],
        units.households[free],
        units.population[free],
        units.area_m2[free],
        position[units.edge_i[keep_edge]],
        position[units.edge_j[keep_edge]],
        cost[keep_edge],
        bounds,
        initial=initial,
    )
    return labels


@dataclass
class _Region:
    kind: str
    grid: int = -1  # the earlier grid it is, unchanged (index among the kept candidates)
    site: int = -1  # the site it stands for (exclusive)


def _regions(task, attempt: _Attempt, kept, site_of) -> tuple[np.ndarray, list[_Region]]:
    """Region of every unit: regions cut now, kept comprehensive grids, then exclusive grids."""
    units, labels, owner, stays = attempt.units, attempt.labels, attempt.owner, attempt.stays
    region = labels.copy()
    meta = [_Region("comprehensive") for _ in range(int(labels.max()) + 1 if len(labels) else 0)]
    present = np.bincount(owner[owner >= 0], minlength=len(kept)) > 0
    for r, k in _same_land(labels, owner, stays).items():
        if kept[k].kind == "comprehensive":
            meta[r].grid = k  # cut again to the very same land: it is that grid, unchanged
    for kind in ("comprehensive", "exclusive"):
        if kind == "exclusive":
            for s in range(len(task.sites)):
                faces = np.flatnonzero(units.site == s)
                if s in site_of or len(faces) == 0:
                    continue
                region[faces] = len(meta)
                meta.append(_Region("exclusive", site=s))
        for k, grid in enumerate(kept):
            if grid.kind == kind and stays[k] and present[k]:
                region[owner == k] = len(meta)
                site = next((s for s, c in site_of.items() if c == k), -1)
                meta.append(_Region(kind, grid=k, site=site))
    donors = np.array([m.kind == "comprehensive" and m.grid < 0 for m in meta], bool)
    receivers = np.array([m.kind == "exclusive" and m.grid < 0 for m in meta], bool)
    if receivers.any() and len(task.points):
        region = _absorb_empty_pieces(region, donors, receivers, units)
    alive = np.unique(region)
    mapping = np.full(len(meta), -1, np.int64)
    mapping[alive] = np.arange(len(alive))
    return mapping[region], [meta[r] for r in alive]


def _same_land(labels: np.ndarray, owner: np.ndarray, stays: np.ndarray) -> dict[int, int]:
    """Regions cut now holding exactly the land of one released earlier grid: region -> grid.

    >>> labels = np.array([0, 0, 1, 1, 1, -1])
    >>> owner = np.array([0, 0, 1, 1, 2, 3])
    >>> _same_land(labels, owner, np.array([False, False, False, True]))
    {0: 0}
    """
    cut = labels >= 0
    if not cut.any() or len(stays) == 0:
        return {}
    released = np.flatnonzero(~stays)
    size = np.bincount(owner[owner >= 0], minlength=len(stays))
    out = {}
    for r in np.unique(labels[cut]):
        holders = np.unique(owner[labels == r])
        if len(holders) == 1 and holders[0] >= 0 and holders[0] in released:
            k = int(holders[0])
            if int((labels == r).sum()) == int(size[k]):
                out[int(r)] = k
    return out


def _drafts(task, bounds, attempt: _Attempt, kept, site_of) -> CommunityResult:
    units = attempt.units
    region, meta = _regions(task, attempt, kept, site_of)
    n_comp = sum(m.kind == "comprehensive" for m in meta)
    locked = np.array([m.grid >= 0 and kept[m.grid].locked for m in meta], bool)
    ri, rj = region[units.edge_i], region[units.edge_j]
    beside_lock = np.zeros(len(meta), bool)
    crossing = ri != rj
    beside_lock[ri[crossing & locked[rj]]] = True
    beside_lock[rj[crossing & locked[ri]]] = True
    drafts: list[GridDraft] = []
    geoms = units.geometries
    hh_cap = bounds.max_households
    for r, m in enumerate(meta):
        members = np.flatnonzero(region == r)
        earlier = kept[m.grid] if m.grid >= 0 else None
        geometry = earlier.geometry if earlier is not None else union_faces(geoms[members])
        hh = int(units.households[members].sum())
        pop = int(units.population[members].sum())
        if m.kind == "comprehensive":
            flags = _flags(bounds, hh, pop, float(units.area_m2[members].sum()))
            single = units.address_points[members] <= 1
            if "above_max" in flags and (single & (units.households[members] > hh_cap)).any():
                flags.append("indivisible_building")
            if hh == 0 and len(task.points) == 0:
                flags.append("no_addresses")
            if flags and beside_lock[r] and not locked[r]:
                flags.append("beside_lock")
            draft = GridDraft(geometry, "comprehensive", hh, pop, flags)
        elif m.site >= 0:
            site = task.sites[m.site]
            flags = ["site_clipped"] if site.clipped else []
            draft = GridDraft(geometry, "exclusive", hh, pop, flags, site.site_id, site.category)
        else:  # a locked exclusive grid whose site is gone
            draft = GridDraft(
                geometry, "exclusive", hh, pop, [], earlier.site_id, earlier.site_category
            )
        if earlier is not None:
            draft.code, draft.locked = earlier.code, earlier.locked
        drafts.append(draft)
    # Host of each exclusive grid: the comprehensive grid sharing the longest edge with it.
    for r in range(n_comp, len(meta)):
        touching = ((ri == r) & (rj < n_comp) & (rj >= 0)) | ((rj == r) & (ri < n_comp) & (ri >= 0))
        if touching.any():
            other = np.where(ri[touching] == r, rj[touching], ri[touching])
            shared = np.bincount(other, weights=units.edge_length[touching], minlength=n_comp)
            drafts[r].host = int(np.argmax(shared))
            # a kept exclusive grid keeps its host while that grid stays and still borders it;
            # a released host is followed to the grid holding most of its land now (the one that
            # inherits its code when units only moved between it and a neighbour)
            earlier = kept[meta[r].grid].host if meta[r].grid >= 0 else ""
            same = [q for q in np.flatnonzero(shared > 0) if earlier and drafts[q].code == earlier]
            released = [k for k, g in enumerate(kept) if earlier and g.code == earlier]
            if not same and released and not attempt.stays[released[0]]:
                land = attempt.owner == released[0]
                if land.any():
                    heir = np.bincount(region[land], weights=units.area_m2[land], minlength=n_comp)
                    q = int(np.argmax(heir[:n_comp]))
                    same = [q] if shared[q] > 0 and heir[q] > 0 else []
            if same:
                drafts[r].host = int(same[0])
        elif n_comp:
            drafts[r].host = 0 if n_comp == 1 else -1
        if drafts[r].host < 0:
            drafts[r].flags.append("no_host")
    # Earlier grids each new grid overlaps, in households (for stable codes).
    if task.previous:
        prev_geoms = np.array([grid.geometry for grid in task.previous], dtype=object)
        where = locate(task.points, prev_geoms)
        inside = shapely.intersects(prev_geoms[where], shapely.points(task.points))
        point_region = region[units.point_unit]
        for p in np.flatnonzero(inside):
            overlap = drafts[point_region[p]].previous_overlap
            code = task.previous[where[p]].code
            overlap[code] = overlap.get(code, 0) + int(task.households[p])
    between = ri != rj
    return CommunityResult(
        code=task.code,
        grids=drafts,
        point_grid=region[units.point_unit],
        units=len(units),
        split_blocks=units.split_blocks,
        inner_length_m=float(units.edge_length[between].sum()),
        inner_barrier_m=float(units.edge_length[between & units.on_barrier].sum()),
    )


def _flags(bounds: Bounds, households: int, population: int, area: float) -> list[str]:
    flags = []
    if households < bounds.min_households:
        flags.append("below_min")
    if households > bounds.max_households:
        flags.append("above_max")
    if population > bounds.max_population:
        flags.append("above_max_population")
    if area > bounds.max_area_m2:
        flags.append("above_max_area")
    return flags
