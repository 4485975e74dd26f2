"""Which earlier grids stay exactly as they were (minimal change, locks).

A re-partition with ``--previous`` starts from the earlier grids of each community. An earlier
grid that still fits (inside the community, clear of the exclusive sites that are new or changed,
overlapping no other earlier grid) is a *candidate*; its outline is noded into the units, so every
unit lies in exactly one candidate or in none. A candidate *stays* (same code, same geometry, byte
for byte) when it is locked, when it is an exclusive grid still holding most of its site, when its
households, population and area are within the bounds now, or when its households and population
are what the earlier layer recorded (nothing in it changed) and the earlier layer flagged it too
(out of the bounds then as now; a grid that met the bounds of its day and misses today's was
made under other bounds, and is redone). Everything else is *released*
together with the land no candidate covers, and only that is regionalised again, starting from
the released grids (``community._labels``: units move between them rather than the land being cut
afresh, so a grid that left the band and the neighbour released with it keep their codes and most
of their land; one cut again to the very same land keeps its earlier geometry). Where a released
piece cannot meet the band on its own, the neighbouring grid that lets it (or helps most) is
released too, one at a time; a locked grid is never released.

>>> import shapely
>>> left = PreviousGrid("330402001001001", "comprehensive", shapely.box(0, 0, 1, 1), 400, 900)
>>> kept, site_of = candidates(shapely.box(0, 0, 2, 1), [left], [])
>>> [g.code for g in kept], site_of
(['330402001001001'], {})
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gridmap.partition.regionalize import Bounds
from gridmap.partition.units import connected_pieces

# Overlaps and overhangs below this share of a grid's area are rounding, not a change.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class PreviousGrid:
    """One grid of the earlier layer, as far as keeping it is concerned."""

    code: str
    kind: str
    geometry: object  # shapely Polygon, EPSG:4490
    households: int | None = None  # as recorded in the earlier layer (None: not recorded)
    population: int | None = None
    site_id: str = ""
    site_category: str = ""
    host: str = ""  # host grid code of an exclusive grid
    locked: bool = False
    # Whether the earlier layer flagged it (None: the layer has no flags column). An unflagged
    # grid met the bounds of its day; out of today's bounds with the same households, the bounds
    # changed (a planner's new band), so it is redone rather than kept as it was.
    flagged: bool | None = None


def candidates(community, previous: list[PreviousGrid], sites: list) -> tuple[list, dict]:
    """Earlier grids that can stay geometrically, and site index -> candidate of kept sites.

    ``sites``: the community's exclusive sites (``ExclusiveSite``). Locked grids always pass
    (``inputs`` has already refused a lock reaching outside its community or overlapping another).
    """
    tolerance_area = _TOLERANCE * community.area
    usable: list[PreviousGrid] = []
    for grid in previous:
        geometry = grid.geometry
        if grid.locked:
            usable.append(grid)
            continue
        if geometry.geom_type != "Polygon" or not geometry.is_valid:
            continue
        overhang = shapely.area(shapely.difference(geometry, community))
        if overhang > _TOLERANCE * geometry.area + tolerance_area * 1e-3:
            continue
        usable.append(grid)
    # An exclusive grid stays with its site: the same site_id, the site still inside it.
    site_grid: dict[int, PreviousGrid] = {}
    by_id = {site.site_id: s for s, site in enumerate(sites)}
    chosen: list[PreviousGrid] = []
    for grid in usable:
        if grid.kind != "exclusive":
            chosen.append(grid)
            continue
        s = by_id.get(grid.site_id)
        if s is None:
            if grid.locked:
                chosen.append(grid)
            continue
        # It holds the site's main piece: a site cut by another, overlapping site keeps only its
        # biggest piece as its grid (the other pieces are ordinary land).
        others = [g.geometry for g in usable if g.kind == "exclusive" and g is not grid]
        site = sites[s].geometry
        own = shapely.difference(site, shapely.union_all(others)) if others else site
        inside = shapely.area(shapely.intersection(own, grid.geometry))
        if grid.locked or inside > 0.5 * shapely.area(own):
            site_grid[s] = grid
            chosen.append(grid)
    # A comprehensive grid may not take land from a site that has no kept grid of its own.
    open_sites = [site.geometry for s, site in enumerate(sites) if s not in site_grid]
    kept = []
    for grid in chosen:
        if grid.kind == "comprehensive" and not grid.locked and open_sites:
            shared = shapely.area(shapely.intersection(grid.geometry, open_sites))
            if (shared > _TOLERANCE * grid.geometry.area).any():
                continue
        kept.append(grid)
    # Earlier grids that overlap each other cannot both stay: drop the unlocked ones.
    if len(kept) > 1:
        geoms = np.array([g.geometry for g in kept], dtype=object)
        left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        left, right = left[left < right], right[left < right]
        shared = shapely.area(shapely.intersection(geoms[left], geoms[right]))
        smaller = np.minimum(shapely.area(geoms[left]), shapely.area(geoms[right]))
        clash = shared > _TOLERANCE * smaller
        drop = {int(k) for k in np.r_[left[clash], right[clash]] if not kept[int(k)].locked}
        kept = [g for k, g in enumerate(kept) if k not in drop]
    position = {id(g): k for k, g in enumerate(kept)}
    site_of = {s: position[id(g)] for s, g in site_grid.items() if id(g) in position}
    return kept, site_of


def owners(faces: np.ndarray, polygons: list) -> np.ndarray:
    """Index of the polygon holding each face (more than half its area), -1 for none.

    The faces were cut along the polygons' outlines, so a face lies in one polygon or in none;
    an interior point decides, and the area share decides where that point is within rounding of
    an outline (a sliver).
    """
    result = np.full(len(faces), -1, np.int64)
    if not len(faces) or not polygons:
        return result
    geoms = np.asarray(polygons, dtype=object)
    anchors = shapely.point_on_surface(faces)
    tree = shapely.STRtree(geoms)
    face, poly = tree.query(anchors, predicate="intersects")
    near = shapely.dwithin(shapely.boundary(geoms[poly]), anchors[face], 1e-9)
    sure = ~near
    result[face[sure]] = poly[sure]
    unsure = np.unique(face[near])
    unsure = unsure[result[unsure] < 0]
    if len(unsure):
        f, p = tree.query(faces[unsure], predicate="intersects")
        share = shapely.area(shapely.intersection(faces[unsure][f], geoms[p]))
        share = share / np.maximum(shapely.area(faces[unsure][f]), 1e-300)
        for k in np.flatnonzero(share > 0.5):
            result[unsure[f[k]]] = p[k]
    return result


def decide(
    units,
    owner: np.ndarray,
    grids: list[PreviousGrid],
    bounds: Bounds,
    free_land: np.ndarray,
    forced=(),
) -> np.ndarray:
    """Which candidates stay (bool per candidate); see the module docstring.

    ``free_land``: units that are comprehensive land if not held by a staying candidate;
    ``forced``: candidates released whatever they hold (never a locked or exclusive one).
    """
    n = len(grids)
    stays = np.zeros(n, bool)
    if n == 0:
        return stays
    held = owner >= 0
    h = np.bincount(owner[held], weights=units.households[held], minlength=n)
    p = np.bincount(owner[held], weights=units.population[held], minlength=n)
    a = np.bincount(owner[held], weights=units.area_m2[held], minlength=n)
    present = np.bincount(owner[held], minlength=n) > 0
    for k, grid in enumerate(grids):
        if not present[k]:
            continue
        unchanged = (
            grid.households is not None
            and grid.population is not None
            and int(round(h[k])) == grid.households
            and int(round(p[k])) == grid.population
        )
        fits = float(bounds.violation(float(h[k]), float(p[k]), float(a[k]))) == 0.0
        kept_as_was = unchanged and grid.flagged is not False
        stays[k] = grid.locked or grid.kind == "exclusive" or fits or kept_as_was
        if k in forced and not grid.locked and grid.kind == "comprehensive":
            stays[k] = False
    _grow(units, owner, grids, bounds, free_land, stays, (h, p, a))
    return stays


def _grow(units, owner, grids, bounds: Bounds, free_land, stays, totals) -> None:
    """Release neighbours of released pieces that cannot meet the bounds alone."""
    h, p, a = totals
    for _ in range(4 * len(grids) + 1):
        held = owner >= 0
        held[held] = stays[owner[held]]
        pool = free_land & ~held
        if not pool.any():
            return
        idx = np.flatnonzero(pool)
        count, piece = connected_pieces(units, idx)
        ei, ej = units.edge_i, units.edge_j
        released = False
        for c in range(count):
            members = idx[piece == c]
            totals_c = tuple(
                float(v[members].sum()) for v in (units.households, units.population, units.area_m2)
            )
            need = _least_violation(bounds, *totals_c, len(members))
            if need <= 0:
                continue
            # neighbouring staying candidates this piece could take in
            in_piece = np.zeros(len(units), bool)
            in_piece[members] = True
            cross = in_piece[ei] != in_piece[ej]
            other = np.where(in_piece[ei[cross]], ej[cross], ei[cross])
            lengths = units.edge_length[cross]
            holder = owner[other]
            ok = (holder >= 0) & free_land[other]
            best, best_key = None, None
            for k in np.unique(holder[ok]):
                k = int(k)
                if not stays[k] or grids[k].locked or grids[k].kind != "comprehensive":
                    continue
                merged = _least_violation(
                    bounds,
                    totals_c[0] + h[k],
                    totals_c[1] + p[k],
                    totals_c[2] + a[k],
                    len(members) + int((owner == k).sum()),
                )
                own = float(bounds.violation(float(h[k]), float(p[k]), float(a[k])))
                if merged >= need + own - 1e-12:
                    continue  # taking it in would not help
                shared = float(lengths[holder == k].sum())
                key = (merged > 0, merged, -shared, k)
                if best_key is None or key < best_key:
                    best, best_key = k, key
            if best is not None:
                stays[best] = False
                released = True
                break  # pieces changed: look again
        if not released:
            return


def _least_violation(bounds: Bounds, h: float, p: float, a: float, units: int) -> float:
    """The smallest bound violation any number of regions (1..units) of these totals must have."""
    low = max(1, int(h // max(bounds.max_households, 1)))
    high = max(low, min(units, int(h // max(bounds.min_households, 1)) + 1))
    return min(float(bounds.violation(h, p, a, k)) for k in range(low, high + 1))
