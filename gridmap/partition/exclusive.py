"""Exclusive grids (专属网格): which sites get one; small touching sites merged; clipping.

A site qualifies when its category is one of ``config.exclusive_categories`` and it is big enough
by area or by headcount. Small sites of one category that touch (or lie within
``config.merge_gap_m``) are merged first, so that ten small shops become one exclusive grid, or
none, instead of ten: over-setting exclusive grids is the failure cities report. A site crossing
community borders is clipped to the community holding most of it (flag ``site_clipped``).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridmap.errors import InputError, Problem
from gridmap.partition.config import PartitionConfig
from gridmap.partition.measure import area_m2, to_projected

_M_PER_DEG = 111_000.0


@dataclass(frozen=True)
class ExclusiveSite:
    """One qualifying (possibly merged) site, clipped to its community."""

    site_id: str  # '+'-joined when merged
    name: str
    category: str
    headcount: int
    geometry: object  # shapely Polygon, EPSG:4490
    clipped: bool  # part of the site lay outside its community


def select_sites(
    sites: gpd.GeoDataFrame | None,
    communities: gpd.GeoDataFrame,
    config: PartitionConfig,
    file: str = "sites",
) -> tuple[dict[str, list[ExclusiveSite]], dict]:
    """Qualifying sites per community code, and counts for the summary.

    ``communities`` has columns ``code`` and ``geometry`` (EPSG:4490).
    """
    stats = {"sites": 0, "merged_groups": 0, "qualified": 0, "clipped": 0, "outside": 0}
    if sites is None or len(sites) == 0:
        return {}, stats
    sites = _checked(sites, config, file)
    stats["sites"] = len(sites)
    merged = _merge_small(sites, config)
    stats["merged_groups"] = int((merged["members"] > 1).sum())
    area = area_m2(merged.geometry)
    big = (area >= config.exclusive_min_area_m2) | (
        merged["headcount"].to_numpy() >= config.exclusive_min_headcount
    )
    qualifies = merged["category"].isin(config.exclusive_categories).to_numpy() & big
    chosen = merged[qualifies].reset_index(drop=True)
    stats["qualified"] = len(chosen)
    result: dict[str, list[ExclusiveSite]] = {}
    tree = shapely.STRtree(communities.geometry.to_numpy())
    for row in chosen.itertuples(index=False):
        geometry = row.geometry
        hits = tree.query(geometry, predicate="intersects")
        if len(hits) == 0:
            stats["outside"] += 1
            continue
        overlaps = shapely.area(
            shapely.intersection(geometry, communities.geometry.to_numpy()[hits])
        )
        best = hits[np.lexsort((hits, -overlaps))[0]]
        piece = shapely.intersection(geometry, communities.geometry.iloc[best])
        parts = [p for p in shapely.get_parts(piece) if p.geom_type == "Polygon" and p.area > 0]
        if not parts:
            stats["outside"] += 1
            continue
        polygon = max(parts, key=lambda p: p.area)
        clipped = polygon.area < geometry.area * (1 - 1e-6)
        stats["clipped"] += int(clipped)
        code = communities["code"].iloc[best]
        result.setdefault(code, []).append(
            ExclusiveSite(
                row.site_id, row.name, row.category, int(row.headcount), polygon, bool(clipped)
            )
        )
    return result, stats


def _checked(sites: gpd.GeoDataFrame, config: PartitionConfig, file: str) -> gpd.GeoDataFrame:
    problems = []
    for column in ("site_id", "category"):
        if column not in sites.columns:
            problems.append(Problem(file, "required column is missing", field=column))
    if problems:
        raise InputError(problems)
    sites = sites.copy()
    if "name" not in sites.columns:
        sites["name"] = ""
    if "headcount" not in sites.columns:
        sites["headcount"] = 0
    sites["headcount"] = pd.to_numeric(sites["headcount"], errors="coerce").fillna(0).astype(int)
    sites["site_id"] = sites["site_id"].astype(str)
    sites["name"] = sites["name"].fillna("").astype(str)
    geoms = sites.geometry.to_numpy()
    for feature, geom in enumerate(geoms):
        if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(
                Problem(file, "site is not a polygon", feature=feature, field="geometry")
            )
        elif not geom.is_valid:
            if config.repair:
                geoms[feature] = shapely.make_valid(geom)
            else:
                reason = shapely.is_valid_reason(geom)
                problems.append(
                    Problem(file, f"invalid polygon ({reason})", feature=feature, field="geometry")
                )
        elif geom.area == 0:
            problems.append(Problem(file, "site has zero area", feature=feature, field="geometry"))
    if problems:
        raise InputError(problems)
    sites = sites.set_geometry(gpd.GeoSeries(geoms, crs=sites.crs, index=sites.index))
    return sites.sort_values("site_id", kind="stable").reset_index(drop=True)


def _merge_small(sites: gpd.GeoDataFrame, config: PartitionConfig) -> gpd.GeoDataFrame:
    """Union small sites of one category that touch into one row each."""
    projected = to_projected(sites.geometry)
    geoms = projected.to_numpy()
    small = shapely.area(geoms) < config.merge_small_sites_m2
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=config.merge_gap_m)
    category = sites["category"].to_numpy()
    keep = (left < right) & small[left] & small[right] & (category[left] == category[right])
    n = len(sites)
    graph = coo_matrix((np.ones(keep.sum()), (left[keep], right[keep])), shape=(n, n))
    _, group = connected_components(graph, directed=False)
    rows = []
    gap_deg = config.merge_gap_m / _M_PER_DEG
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        part = sites.iloc[members]
        geometry = shapely.union_all(part.geometry.to_numpy())
        if len(members) > 1 and geometry.geom_type != "Polygon" and gap_deg > 0:
            # close the small gaps between merged sites so that they form one polygon
            geometry = shapely.buffer(
                shapely.buffer(geometry, gap_deg, join_style="mitre"), -gap_deg
            )
        rows.append(
            {
                "site_id": "+".join(part["site_id"]),
                "name": "+".join(n for n in part["name"] if n),
                "category": part["category"].iloc[0],
                "headcount": int(part["headcount"].sum()),
                "members": len(members),
                "geometry": geometry,
            }
        )
    merged = gpd.GeoDataFrame(rows, geometry="geometry", crs=sites.crs)
    # a merged site that is still several pieces keeps its biggest piece only
    merged["geometry"] = [
        max(shapely.get_parts(g), key=lambda p: p.area) if g.geom_type != "Polygon" else g
        for g in merged.geometry
    ]
    return merged
