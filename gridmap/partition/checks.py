"""The guarantees, verified after every run: a list of violations (empty when all hold).

Per community, with areas from :mod:`gridmap.partition.coverage` (measured on the worker that made
the grids, the verdict given here): the union of its grids has the community's area
(within 1e-9 relative); the grid areas sum to that union (so overlaps have zero area); the union
with the community adds nothing (so grids stay inside it; communities do not overlap, so inside
exactly one). Every grid is one valid Polygon of at least 1 m2. Every address point lies in the
grid it was given, and that grid is the one the edge rule (:mod:`gridmap.rules.grid_index`) gives
it, as every later path (publish, the store, the incident API) will; households add up.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.partition.config import PartitionConfig
from gridmap.partition.coverage import Coverage, measure, verdict
from gridmap.partition.measure import area_m2
from gridmap.rules.grid_index import GridIndex

MIN_GRID_AREA_M2 = 1.0
MICRO_FLOOR_M2 = 1e-3
_LISTED = 10


def verify(
    grids: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    points: np.ndarray,
    point_codes: np.ndarray,
    point_households: np.ndarray,
    config: PartitionConfig | None = None,
    measured: dict[str, Coverage] | None = None,
) -> list[str]:
    """Every broken guarantee as one line of text; ``measured``: coverage figures of
    communities measured where their grids were made (see ``_coverage``)."""
    violations: list[str] = []
    geoms = grids.geometry.to_numpy()
    codes = grids["grid_code"].astype(str).to_numpy()

    not_polygon = np.flatnonzero(shapely.get_type_id(geoms) != 3)
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    violations += [f"grid {codes[k]} is not one Polygon" for k in not_polygon[:_LISTED]]
    violations += [f"grid {codes[k]} is not valid" for k in invalid[:_LISTED]]
    areas = grids["area_m2"].to_numpy(float) if "area_m2" in grids else area_m2(grids.geometry)
    slivers = np.flatnonzero(areas < MIN_GRID_AREA_M2)
    violations += [f"grid {codes[k]} is a sliver of {areas[k]:.3g} m2" for k in slivers[:_LISTED]]
    unique, counts = np.unique(codes, return_counts=True)
    violations += [f"grid code {c} is used twice" for c in unique[counts > 1][:_LISTED]]

    violations += _coverage(grids, communities, measured=measured)
    violations += _addresses(grids, points, point_codes, point_households)
    return violations


def verify_micro(
    micro: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    measured: dict[str, Coverage] | None = None,
) -> list[str]:
    """Micro-grids: one valid Polygon each, unique 18-digit codes, tiling their grid exactly;
    ``measured``: coverage figures of grids measured where their micro-grids were made."""
    violations: list[str] = []
    geoms = micro.geometry.to_numpy()
    codes = micro["micro_code"].astype(str).to_numpy()
    bad = np.flatnonzero((shapely.get_type_id(geoms) != 3) | ~shapely.is_valid(geoms))
    violations += [f"micro-grid {codes[k]} is not one valid Polygon" for k in bad[:_LISTED]]
    wrong = [c for c in codes if len(c) != 18 or not c.isdigit()]
    violations += [f"micro-grid code {c} is not 18 digits" for c in wrong[:_LISTED]]
    unique, counts = np.unique(codes, return_counts=True)
    violations += [f"micro-grid code {c} is used twice" for c in unique[counts > 1][:_LISTED]]
    comprehensive = grids[grids["kind"] == "comprehensive"]
    frame = micro.rename(columns={"grid_code": "community_code"})
    parents = gpd.GeoDataFrame(
        {"code": comprehensive["grid_code"].to_numpy()},
        geometry=comprehensive.geometry.to_numpy(),
        crs=grids.crs,
    )
    # Tolerance: 1e-9 of the grid's area, but at least the absolute precision the grid check has
    # on a 1 km2 community (1e-3 m2): the Voronoi cuts are noded with the grid outline, and a
    # node on a long outline edge can sit ~1e-11 degrees inside it (1e-4 m2 in the sample city).
    violations += _coverage(
        frame, parents, "micro-grid", "grid", floor_m2=MICRO_FLOOR_M2, measured=measured
    )
    return violations


def _coverage(
    grids: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    unit: str = "grid",
    parent: str = "community",
    floor_m2: float = 0.0,
    measured: dict[str, Coverage] | None = None,
) -> list[str]:
    """Each parent (community) exactly covered by its children (grids), without overlap.

    ``measured``: the figures of some parents, measured where their pieces were made; they
    are used when they counted as many pieces as the frame holds (else measured again here).
    """
    out = []
    measured = measured or {}
    # Row positions per parent (in row order), not a frame per parent: a parent measured where
    # its pieces were made needs only their count (6,000 frames took a second at 2M households).
    by_code = grids.groupby("community_code", sort=True, observed=True).indices
    geometries = grids.geometry.to_numpy()
    for code, community in zip(communities["code"], communities.geometry, strict=True):
        rows = by_code.get(code)
        if rows is None:
            out.append(f"{parent} {code} has no {unit}")
            continue
        figures = measured.get(code)
        if figures is None or figures.pieces != len(rows):
            figures = measure(geometries[rows], community)
        out += verdict(figures, code, unit, parent, floor_m2)
    unknown = sorted(set(by_code) - set(communities["code"]))
    out += [f"{unit}s name {parent} {code}, which does not exist" for code in unknown]
    return out[: 3 * _LISTED]


def _addresses(grids, points, point_codes, point_households) -> list[str]:
    out = []
    if len(points) == 0:
        return out
    geoms = grids.geometry.to_numpy()
    position = {code: k for k, code in enumerate(grids["grid_code"].astype(str))}
    missing = pd.isna(point_codes)
    if missing.any():
        out.append(f"{int(missing.sum())} address points have no grid")
    # each point's grid as a row of ``grids`` (-1: none, or a code no grid has)
    assigned = pd.Series(point_codes).map(position).fillna(-1).to_numpy(np.int64)
    unknown = (assigned < 0) & ~missing
    if unknown.any():
        out.append(f"{int(unknown.sum())} address points name a grid that does not exist")
    located = assigned >= 0
    shapes = shapely.points(points)
    outside = np.flatnonzero(located & ~shapely.covers(geoms[np.maximum(assigned, 0)], shapes))
    out += [
        f"address point {points[p][0]:.7f},{points[p][1]:.7f} is outside its grid {point_codes[p]}"
        for p in outside[:_LISTED]
    ]
    # The edge rule decides a point on a shared edge; a point given another grid than the rule
    # gives would land elsewhere once published.
    ruled = GridIndex.from_frame(grids).assign_points_index(shapes)
    other = np.flatnonzero(located & (ruled >= 0) & (ruled != assigned))
    out += [
        f"address point {points[p][0]:.7f},{points[p][1]:.7f} is given {point_codes[p]} but "
        f"the edge rule puts it in grid {grids['grid_code'].iloc[ruled[p]]}"
        for p in other[:_LISTED]
    ]
    grid_households = int(grids["households"].sum())
    if grid_households != int(np.sum(point_households)):
        out.append(
            f"grids hold {grid_households} households, addresses {int(np.sum(point_households))}"
        )
    return out
