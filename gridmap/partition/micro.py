"""Micro-grids (微网格): whole buildings of one grid grouped under one building head (楼道长).

Every comprehensive grid is cut into the Voronoi cells of its distinct address points (each
point is one unit 单元 of a building; the cells are noded with the grid outline, so they tile the
grid exactly, see ``units``). The cells of one building are joined into one piece, so a building
is never split, unless it alone holds more than the maximum: then its units stay apart, and a
micro-grid is flagged ``indivisible_unit`` only when one unit alone exceeds the maximum. The
pieces are grouped into contiguous micro-grids within [min, max] households by the same
regionaliser as the grids.

>>> import numpy as np, shapely
>>> grid = shapely.box(120.70, 30.70, 120.702, 30.701)
>>> points = np.array([[120.7002 + 0.0004 * k, 30.7005] for k in range(5)])
>>> micro = split_grid(grid, points, np.full(5, 40), np.full(5, 100), np.arange(5), (30, 150))
>>> sorted(m.households for m in micro), round(sum(m.geometry.area for m in micro) / grid.area, 9)
([80, 120], 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridmap.partition.regionalize import Bounds, regionalize
from gridmap.partition.units import build_units, union_faces


@dataclass
class MicroDraft:
    """One micro-grid before its code (grid code + 3 digits, given in reading order)."""

    geometry: object
    households: int
    population: int
    flags: list[str]


def parse_band(text: str) -> tuple[int, int] | None:
    """``"30-150"`` -> (30, 150); ``"off"`` -> None (no micro-grids).

    >>> parse_band("30-150"), parse_band("off")
    ((30, 150), None)
    >>> parse_band("150-30")
    Traceback (most recent call last):
    ...
    ValueError: expected MIN-MAX with 0 <= MIN <= MAX and MAX >= 1 (e.g. 30-150), or off
    """
    if text.strip().lower() in ("off", "none", "no", "0"):
        return None
    low, sep, high = text.partition("-")
    try:
        band = (int(low), int(high))
    except ValueError:
        band = None
    if not sep or band is None or not 0 <= band[0] <= band[1] or band[1] < 1:
        raise ValueError("expected MIN-MAX with 0 <= MIN <= MAX and MAX >= 1 (e.g. 30-150), or off")
    return band


def split_grid(
    grid,
    points: np.ndarray,
    households: np.ndarray,
    population: np.ndarray,
    buildings: np.ndarray,
    band: tuple[int, int],
) -> list[MicroDraft]:
    """Micro-grids of one grid polygon; ``buildings``: building id of each point (-1: alone)."""
    low, high = band
    if len(points) == 0:
        return [MicroDraft(grid, 0, 0, ["below_min"] if low > 0 else [])]
    units = build_units(grid, [], [], points, households, population, split_above=0)
    n = len(units)
    # the building of each cell (cells without a point belong to none)
    building = np.full(n, -1, np.int64)
    building[units.point_unit] = buildings
    totals = {}
    for b, h in zip(buildings.tolist(), households.tolist(), strict=True):
        totals[b] = totals.get(b, 0) + h
    whole = np.array([b >= 0 and totals[b] <= high for b in building.tolist()], bool)
    same = whole[units.edge_i] & (building[units.edge_i] == building[units.edge_j])
    graph = coo_matrix(
        (np.ones(int(same.sum())), (units.edge_i[same], units.edge_j[same])), shape=(n, n)
    )
    count, piece = connected_components(graph, directed=False)
    # pieces: sums, area-weighted centres, and the edges between them
    weights = np.maximum(units.area_m2, 1e-9)
    hh = np.bincount(piece, weights=units.households, minlength=count)
    pop = np.bincount(piece, weights=units.population, minlength=count)
    area = np.bincount(piece, weights=units.area_m2, minlength=count)
    mass = np.bincount(piece, weights=weights, minlength=count)
    x = np.bincount(piece, weights=units.x * weights, minlength=count) / mass
    y = np.bincount(piece, weights=units.y * weights, minlength=count) / mass
    pi, pj = piece[units.edge_i], piece[units.edge_j]
    between = pi != pj
    a, b = np.minimum(pi[between], pj[between]), np.maximum(pi[between], pj[between])
    key, inverse = np.unique(a * count + b, return_inverse=True)
    length = np.bincount(inverse, weights=units.edge_length[between], minlength=len(key))
    labels = regionalize(x, y, hh, pop, area, key // count, key % count, length, Bounds(low, high))[
        piece
    ]
    out = []
    for r in range(int(labels.max()) + 1):
        members = np.flatnonzero(labels == r)
        faces = units.geometries[members]
        geometry = union_faces(faces)
        h = int(units.households[members].sum())
        flags = []
        if h < low:
            flags.append("below_min")
        if h > high:
            flags.append("above_max")
            if (units.households[members] > high).any():
                flags.append("indivisible_unit")
        out.append(MicroDraft(geometry, h, int(units.population[members].sum()), flags))
    _close_gaps(grid, out)
    return out


def _close_gaps(grid, micro: list[MicroDraft]) -> None:
    """Give slivers of the grid that no cell covers to a micro-grid they touch.

    Noding a Voronoi edge that meets the outline a hair from one of its vertices moves the
    outline by ~1e-11 degrees there; in a small grid such a sliver is above the 1e-9 cover
    tolerance, so it joins the micro-grid beside it (the one whose union stays one Polygon).
    """
    geoms = np.array([m.geometry for m in micro], dtype=object)
    gap = shapely.difference(grid, shapely.union_all(geoms))
    if gap.is_empty or shapely.area(gap) == 0:
        return
    for part in shapely.get_parts(gap):
        if part.geom_type != "Polygon" or part.area <= 1e-12 * grid.area:
            continue  # rounding dust, far below the cover tolerance
        near = np.argsort(shapely.distance(geoms, part), kind="stable")
        for k in near[:4]:
            merged = shapely.union(geoms[k], part)
            # a union of near-degenerate rings can drop a hole: take it only if areas add up
            grown = abs(merged.area - geoms[k].area - part.area) <= 1e-9 * grid.area
            if merged.geom_type == "Polygon" and merged.is_valid and grown:
                geoms[k] = merged
                micro[k].geometry = merged
                break
