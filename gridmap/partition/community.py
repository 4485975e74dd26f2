"""Partition one community: units, exclusive grids, comprehensive grids, flags, host grids.

Runs in a worker process; takes and returns plain picklable data. Geometry stays in EPSG:4490
lon/lat throughout, so grids are unions of units cut from the community's own vertices and tile
it exactly; metres (for balancing) come from a local scale, reported figures from ``measure``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridmap.partition.config import PartitionConfig
from gridmap.partition.regionalize import Bounds, regionalize
from gridmap.partition.units import Units, build_units, locate


@dataclass
class CommunityTask:
    code: str
    geometry: object  # shapely (Multi)Polygon
    barriers: list
    sites: list  # ExclusiveSite
    points: np.ndarray  # (n, 2) distinct address points
    households: np.ndarray
    population: np.ndarray
    previous: list = field(default_factory=list)  # [(grid_code, kind, polygon)]


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


@dataclass
class CommunityResult:
    code: str
    grids: list[GridDraft]
    point_grid: np.ndarray  # draft index of each input point
    units: int
    split_blocks: int
    inner_length_m: float  # boundary length between different grids
    inner_barrier_m: float  # of which on a barrier


def bounds_of(config: PartitionConfig) -> Bounds:
    return Bounds(
        min_households=config.min_households,
        max_households=config.max_households,
        max_population=math.inf if config.max_population is None else config.max_population,
        max_area_m2=math.inf if config.max_area_km2 is None else config.max_area_km2 * 1e6,
    )


def partition_community(task: CommunityTask, config: PartitionConfig) -> CommunityResult:
    """Units -> exclusive regions -> comprehensive regions -> drafts (retrying finer if needed)."""
    bounds = bounds_of(config)
    site_polygons = [site.geometry for site in task.sites]
    attempt = _attempt(task, config, bounds, site_polygons, config.unit_split_households)
    if attempt[1] > 1e-9:
        # Whole blocks may be too coarse to reach the band: cut every block holding more than
        # half the floor into address cells and keep whichever attempt breaks the bounds less.
        finer_threshold = max(config.min_households / 2.0, 1.0)
        if finer_threshold < config.unit_split_households:
            finer = _attempt(task, config, bounds, site_polygons, finer_threshold)
            if finer[1] < attempt[1] - 1e-9:
                attempt = finer
    units, _, labels = attempt
    return _drafts(task, config, bounds, units, labels)


def _attempt(task, config, bounds, site_polygons, split_above):
    units = build_units(
        task.geometry,
        task.barriers,
        site_polygons,
        task.points,
        task.households,
        task.population,
        split_above=split_above,
    )
    _keep_main_site_pieces(units)
    labels = _labels(task, config, bounds, units)
    comprehensive = labels >= 0
    count = int(labels.max()) + 1 if comprehensive.any() else 0
    hh = np.bincount(
        labels[comprehensive], weights=units.households[comprehensive], minlength=count
    )
    pop = np.bincount(
        labels[comprehensive], weights=units.population[comprehensive], minlength=count
    )
    area = np.bincount(labels[comprehensive], weights=units.area_m2[comprehensive], minlength=count)
    violation = float(np.sum(bounds.violation(hh, pop, area))) if count else 0.0
    return units, violation - _unavoidable(units, labels, bounds), labels


def _keep_main_site_pieces(units: Units) -> None:
    """A site cut in pieces (by another, overlapping site) keeps its biggest piece only; the
    other pieces become ordinary land, so every exclusive grid is one polygon."""
    for s in np.unique(units.site[units.site >= 0]):
        faces = np.flatnonzero(units.site == s)
        if len(faces) <= 1:
            continue
        position = np.full(len(units), -1, np.int64)
        position[faces] = np.arange(len(faces))
        keep = (position[units.edge_i] >= 0) & (position[units.edge_j] >= 0)
        graph = coo_matrix(
            (
                np.ones(int(keep.sum())),
                (position[units.edge_i[keep]], position[units.edge_j[keep]]),
            ),
            shape=(len(faces), len(faces)),
        )
        count, piece = connected_components(graph, directed=False)
        if count > 1:
            area = np.bincount(piece, weights=units.area_m2[faces])
            main = int(np.argmax(area))
            units.site[faces[piece != main]] = -1


def _absorb_empty_pieces(region: np.ndarray, n_comp: int, units: Units) -> np.ndarray:
    """Comprehensive regions holding no household that border an exclusive grid join it.

    Such a region is land cut off by a site (a strip between a campus and the boundary); as a
    grid of its own it would only be a flagged, empty grid.
    """
    ri, rj = region[units.edge_i], region[units.edge_j]
    households = np.bincount(region, weights=units.households, minlength=region.max() + 1)
    for r in range(n_comp):
        if households[r] > 0:
            continue
        touching = ((ri == r) & (rj >= n_comp)) | ((rj == r) & (ri >= n_comp))
        if not touching.any():
            continue
        other = np.where(ri[touching] == r, rj[touching], ri[touching])
        shared = np.bincount(other, weights=units.edge_length[touching])
        region[region == r] = int(np.argmax(shared))
        ri, rj = region[units.edge_i], region[units.edge_j]
    # renumber: comprehensive regions first, then exclusive, order kept
    kept = np.unique(region)
    comprehensive = kept[kept < n_comp]
    mapping = np.full(region.max() + 1, -1, np.int64)
    mapping[kept] = np.arange(len(kept))
    return mapping[region], len(comprehensive)


def _unavoidable(units: Units, labels: np.ndarray, bounds: Bounds) -> float:
    """Violation no grouping can avoid: a connected piece whose totals fit no region count.

    Retrying with finer units cannot help below it, so a retry runs only above it.
    """
    free = np.flatnonzero(labels >= 0)
    if len(free) == 0:
        return 0.0
    position = np.full(len(units), -1, np.int64)
    position[free] = np.arange(len(free))
    keep = (position[units.edge_i] >= 0) & (position[units.edge_j] >= 0)
    graph = coo_matrix(
        (np.ones(int(keep.sum())), (position[units.edge_i[keep]], position[units.edge_j[keep]])),
        shape=(len(free), len(free)),
    )
    pieces, piece = connected_components(graph, directed=False)
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


def _labels(task, config, bounds, units: Units) -> np.ndarray:
    """Region label of each comprehensive unit (-1 for units inside exclusive sites)."""
    labels = np.full(len(units), -1, np.int64)
    free = np.flatnonzero(units.site < 0)
    if len(free) == 0:
        return labels
    position = np.full(len(units), -1, np.int64)
    position[free] = np.arange(len(free))
    keep = (position[units.edge_i] >= 0) & (position[units.edge_j] >= 0)
    cost = units.edge_length * np.where(units.on_barrier, config.barrier_edge_cost, 1.0)
    initial = None
    previous = [(code, geom) for code, kind, geom in task.previous if kind == "comprehensive"]
    if previous:
        prev_geoms = np.array([geom for _, geom in previous], dtype=object)
        inner = shapely.get_coordinates(shapely.point_on_surface(units.geometries[free]))
        where = locate(inner, prev_geoms)  # nearest when outside all: keep only true hits
        inside = shapely.intersects(prev_geoms[where], shapely.points(inner))
        initial = np.where(inside, where, -1)
    labels[free] = regionalize(
        units.x[free],
        units.y[free],
        units.households[free],
        units.population[free],
        units.area_m2[free],
        position[units.edge_i[keep]],
        position[units.edge_j[keep]],
        cost[keep],
        bounds,
        initial=initial,
    )
    return labels


def _drafts(task, config, bounds, units: Units, labels: np.ndarray) -> CommunityResult:
    n_comp = int(labels.max()) + 1 if (labels >= 0).any() else 0
    # Exclusive regions: one per site, its faces (a site cut in pieces keeps its biggest piece).
    region = labels.copy()
    site_region = {}
    for s in range(len(task.sites)):
        faces = np.flatnonzero(units.site == s)
        if len(faces) == 0:
            continue
        site_region[s] = n_comp + len(site_region)
        region[faces] = site_region[s]
    if site_region and len(task.points):
        region, new_comp = _absorb_empty_pieces(region, n_comp, units)
        site_region = {s: r - n_comp + new_comp for s, r in site_region.items()}
        n_comp = new_comp
    drafts: list[GridDraft] = []
    total_regions = n_comp + len(site_region)
    geoms = units.geometries
    hh_cap = bounds.max_households
    for r in range(total_regions):
        members = np.flatnonzero(region == r)
        geometry = _union(geoms[members])
        hh = int(units.households[members].sum())
        pop = int(units.population[members].sum())
        if r < n_comp:
            flags = _flags(bounds, hh, pop, float(units.area_m2[members].sum()))
            single = units.address_points[members] <= 1
            if "above_max" in flags and (single & (units.households[members] > hh_cap)).any():
                flags.append("indivisible_building")
            if hh == 0 and len(task.points) == 0:
                flags.append("no_addresses")
            drafts.append(GridDraft(geometry, "comprehensive", hh, pop, flags))
        else:
            s = next(k for k, v in site_region.items() if v == r)
            site = task.sites[s]
            flags = ["site_clipped"] if site.clipped else []
            drafts.append(
                GridDraft(geometry, "exclusive", hh, pop, flags, site.site_id, site.category)
            )
    # Host of each exclusive grid: the comprehensive grid sharing the longest edge with it.
    ri, rj = region[units.edge_i], region[units.edge_j]
    for r in range(n_comp, total_regions):
        touching = ((ri == r) & (rj < n_comp) & (rj >= 0)) | ((rj == r) & (ri < n_comp) & (ri >= 0))
        if touching.any():
            other = np.where(ri[touching] == r, rj[touching], ri[touching])
            shared = np.bincount(other, weights=units.edge_length[touching], minlength=n_comp)
            drafts[r].host = int(np.argmax(shared))
        elif n_comp:
            drafts[r].host = 0 if n_comp == 1 else -1
        if drafts[r].host < 0:
            drafts[r].flags.append("no_host")
    # Earlier grids each new grid overlaps, in households (for stable codes).
    if task.previous:
        prev_geoms = np.array([geom for _, _, geom in task.previous], dtype=object)
        where = locate(task.points, prev_geoms)
        inside = shapely.intersects(prev_geoms[where], shapely.points(task.points))
        point_region = region[units.point_unit]
        for p in np.flatnonzero(inside):
            overlap = drafts[point_region[p]].previous_overlap
            code = task.previous[where[p]][0]
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


def _union(faces: np.ndarray):
    """One polygon from edge-matched faces (coverage union is exact and fast for them)."""
    if len(faces) == 1:
        return faces[0]
    merged = shapely.coverage_union_all(faces)
    if merged.geom_type != "Polygon" or not merged.is_valid:
        merged = shapely.union_all(faces)
    return merged
