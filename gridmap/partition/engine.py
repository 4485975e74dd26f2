"""``partition()``: check the inputs, run every community (in parallel), code, verify, summarise."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from tqdm import tqdm

from gridmap.codes import is_valid_code
from gridmap.errors import InputError, Problem
from gridmap.model import STORAGE_CRS
from gridmap.partition import checks, codes, report
from gridmap.partition.community import CommunityTask, partition_community
from gridmap.partition.config import PartitionConfig
from gridmap.partition.exclusive import select_sites
from gridmap.partition.measure import area_m2, polsby_popper

GRID_COLUMNS = [
    "grid_code",
    "kind",
    "community_code",
    "host_grid_code",
    "households",
    "population",
    "area_m2",
    "polsby_popper",
    "flags",
    "site_id",
    "site_category",
]
_MAX_PROBLEMS_LISTED = 20


@dataclass
class PartitionResult:
    """Grids (CONTRACT columns + ``site_id``, ``site_category``), summary, diff, and assignment."""

    grids: gpd.GeoDataFrame
    summary: dict
    diff: dict | None
    assignment: pd.Series  # grid_code of each address, indexed like the addresses

    @property
    def ok(self) -> bool:
        return not self.summary["violations"]


def partition(
    boundaries: gpd.GeoDataFrame,
    addresses: gpd.GeoDataFrame | pd.DataFrame,
    barriers: gpd.GeoDataFrame | None = None,
    sites: gpd.GeoDataFrame | None = None,
    config: PartitionConfig | None = None,
    previous: gpd.GeoDataFrame | None = None,
    *,
    progress: bool = False,
    names: dict[str, str] | None = None,
) -> PartitionResult:
    """Divide every community of ``boundaries`` into grids; see the package docstring.

    ``names`` maps layer -> file name for error messages. Raises InputError on bad input.
    """
    started = time.perf_counter()
    config = (config or PartitionConfig()).validate()
    names = {
        "boundaries": "boundaries",
        "addresses": "addresses",
        "barriers": "barriers",
        "sites": "sites",
        "previous": "previous",
        **(names or {}),
    }
    stages: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        stages[name] = round(now - clock[0], 2)
        clock[0] = now

    communities = _communities(boundaries, config, names["boundaries"])
    points, hh, pop, inverse = _address_points(addresses, names["addresses"])
    point_community = _point_communities(points, communities, inverse, addresses, names)
    barrier_geoms = _barrier_lines(barriers)
    exclusive, site_stats = select_sites(sites, communities, config, names["sites"])
    previous_by_code = _previous(previous, names["previous"])
    tasks, indices = _tasks(
        communities, points, hh, pop, point_community, barrier_geoms, exclusive, previous_by_code
    )
    lap("inputs")
    results = _run(tasks, config, progress)
    lap("communities")
    grids, point_codes = _assemble(results, tasks, indices, communities, previous_by_code)
    assignment = pd.Series(point_codes[inverse], index=addresses.index, name="grid_code")
    lap("codes")
    violations = checks.verify(grids, communities, points, point_codes, hh, config)
    lap("checks")
    diff = codes.diff(previous, grids) if previous is not None else None
    summary = report.summarize(
        grids,
        results,
        config,
        violations=violations,
        runtime_s=time.perf_counter() - started,
        site_stats=site_stats,
        communities=len(communities),
        addresses=len(addresses),
        mislabelled=_mislabelled(addresses, communities, point_community[inverse]),
    )
    summary["stages_s"] = stages
    return PartitionResult(grids=grids, summary=summary, diff=diff, assignment=assignment)


# ---- inputs ---------------------------------------------------------------------------------
def _communities(boundaries: gpd.GeoDataFrame, config: PartitionConfig, file: str):
    if "code" not in boundaries.columns:
        raise InputError.one(file, "required column is missing", field="code")
    frame = boundaries
    if "level" in frame.columns:
        frame = frame[frame["level"].astype(str) == "community"]
    if len(frame) == 0:
        raise InputError.one(file, "no community rows (level = community)", field="level")
    problems = []
    codes_ = frame["code"].astype(str).to_numpy()
    geoms = np.array(frame.geometry.to_numpy(), dtype=object)
    rows = frame.index.to_numpy()
    seen: dict[str, int] = {}
    for k, (code, geom) in enumerate(zip(codes_, geoms, strict=True)):
        where = {"feature": int(rows[k]) if np.issubdtype(type(rows[k]), np.integer) else k}
        if not is_valid_code(code, "community"):
            problems.append(
                Problem(file, f"{code!r} is not a 12-digit community code", field="code", **where)
            )
        if code in seen:
            problems.append(
                Problem(file, f"community code {code} appears twice", field="code", **where)
            )
        seen[code] = k
        if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(
                Problem(file, f"community {code} has no polygon", field="geometry", **where)
            )
            continue
        if not geom.is_valid:
            if config.repair:
                fixed = shapely.make_valid(geom)
                parts = [p for p in shapely.get_parts(fixed) if p.geom_type == "Polygon"]
                geoms[k] = shapely.union_all(parts) if parts else fixed
            else:
                problems.append(
                    Problem(
                        file,
                        f"community {code} has an invalid polygon "
                        f"({shapely.is_valid_reason(geom)}); fix it or pass --repair",
                        field="geometry",
                        **where,
                    )
                )
                continue
        if shapely.area(geoms[k]) <= 1e-14:  # ~1 cm2 in degrees: a degenerate polygon
            problems.append(
                Problem(file, f"community {code} has (almost) zero area", field="geometry", **where)
            )
    if problems:
        raise InputError(problems)
    communities = gpd.GeoDataFrame(
        {
            "code": codes_,
            "name": frame.get("name", pd.Series("", index=frame.index)).astype(str).to_numpy(),
        },
        geometry=gpd.GeoSeries(geoms, crs=boundaries.crs or STORAGE_CRS),
    ).to_crs(STORAGE_CRS)
    communities = communities.sort_values("code", kind="stable").reset_index(drop=True)
    _check_overlaps(communities, file)
    return communities


def _check_overlaps(communities: gpd.GeoDataFrame, file: str) -> None:
    geoms = communities.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    if len(left) == 0:
        return
    overlap = shapely.intersection(geoms[left], geoms[right])
    areas = area_m2(gpd.GeoSeries(overlap, crs=STORAGE_CRS))
    bad = np.flatnonzero(areas > 1.0)
    if len(bad):
        codes_ = communities["code"].to_numpy()
        problems = [
            Problem(
                file,
                f"communities {codes_[left[b]]} and {codes_[right[b]]} overlap by "
                f"{areas[b]:.1f} m2",
                field="geometry",
            )
            for b in bad[:_MAX_PROBLEMS_LISTED]
        ]
        raise InputError(problems)


def _address_points(addresses, file: str):
    """Distinct address points with their summed households/population, and each row's point."""
    problems = []
    for column in ("households", "population"):
        if column not in addresses.columns:
            problems.append(Problem(file, "required column is missing", field=column))
    if problems:
        raise InputError(problems)
    if isinstance(addresses, gpd.GeoDataFrame) and addresses.geometry.name in addresses:
        geoseries = addresses.geometry
        if geoseries.crs is not None and not geoseries.crs.equals(STORAGE_CRS):
            geoseries = geoseries.to_crs(STORAGE_CRS)
        bad = shapely.is_missing(geoseries.values) | shapely.is_empty(geoseries.values)
        coords = np.full((len(addresses), 2), np.nan)
        ok = ~bad & (shapely.get_type_id(geoseries.values) == 0)
        coords[ok] = shapely.get_coordinates(geoseries.values[ok])
    else:
        for column in ("lon", "lat"):
            if column not in addresses.columns:
                problems.append(Problem(file, "required column is missing", field=column))
        if problems:
            raise InputError(problems)
        coords = addresses[["lon", "lat"]].to_numpy(dtype=float)
    for column in ("households", "population"):
        values = pd.to_numeric(addresses[column], errors="coerce").to_numpy(dtype=float)
        wrong = np.flatnonzero(~np.isfinite(values) | (values < 0) | (values != np.round(values)))
        for position in wrong[:_MAX_PROBLEMS_LISTED]:
            problems.append(
                Problem(
                    file,
                    f"{addresses[column].iloc[position]!r} is not a whole number >= 0",
                    row=int(position) + 1,
                    field=column,
                )
            )
    missing = np.flatnonzero(~np.isfinite(coords).all(axis=1))
    for position in missing[:_MAX_PROBLEMS_LISTED]:
        problems.append(
            Problem(file, "address has no point", row=int(position) + 1, field="lon/lat")
        )
    if problems:
        raise InputError(problems)
    points, inverse = np.unique(coords, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    hh = np.bincount(
        inverse, weights=addresses["households"].to_numpy(float), minlength=len(points)
    ).astype(np.int64)
    pop = np.bincount(
        inverse, weights=addresses["population"].to_numpy(float), minlength=len(points)
    ).astype(np.int64)
    return points, hh, pop, inverse


def _point_communities(points, communities, inverse, addresses, names) -> np.ndarray:
    """Community index of each distinct point; points outside every community are an error."""
    result = np.full(len(points), -1, np.int64)
    if len(points) == 0:
        return result
    tree = shapely.STRtree(communities.geometry.to_numpy())
    pt, com = tree.query(shapely.points(points), predicate="intersects")
    order = np.lexsort((com, pt))  # on a shared border the lower community code wins
    pt, com = pt[order], com[order]
    first = np.ones(len(pt), bool)
    first[1:] = pt[1:] != pt[:-1]
    result[pt[first]] = com[first]
    outside = np.flatnonzero(result[inverse] < 0)
    if len(outside):
        ids = addresses["address_id"].astype(str).to_numpy() if "address_id" in addresses else None
        problems = []
        for position in outside[:_MAX_PROBLEMS_LISTED]:
            lon, lat = points[inverse[position]]
            label = f"address {ids[position]} " if ids is not None else "address "
            problems.append(
                Problem(
                    names["addresses"],
                    f"{label}at {lon:.6f},{lat:.6f} lies outside every community "
                    f"of {names['boundaries']}",
                    row=int(position) + 1,
                    field="lon/lat",
                )
            )
        if len(outside) > _MAX_PROBLEMS_LISTED:
            problems.append(
                Problem(
                    names["addresses"],
                    f"... {len(outside)} addresses in all lie outside every community",
                )
            )
        raise InputError(problems)
    return result


def _mislabelled(addresses, communities, row_community: np.ndarray) -> int:
    """Addresses whose community_code names another community than the one they lie in."""
    if "community_code" not in addresses.columns:
        return 0
    given = addresses["community_code"].astype(str).to_numpy()
    located = communities["code"].to_numpy()[row_community]
    known = pd.notna(addresses["community_code"]).to_numpy() & (given != "")
    return int((known & (given != located)).sum())


def _barrier_lines(barriers) -> np.ndarray:
    """Barrier geometries as lines (polygon barriers such as water count by their outline)."""
    if barriers is None or len(barriers) == 0:
        return np.zeros(0, dtype=object)
    geoms = barriers.geometry
    if geoms.crs is not None and not geoms.crs.equals(STORAGE_CRS):
        geoms = geoms.to_crs(STORAGE_CRS)
    geoms = geoms.to_numpy()
    geoms = geoms[~shapely.is_missing(geoms)]
    geoms = geoms[~shapely.is_empty(geoms)]
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])
    geoms = np.where(polygonal, shapely.boundary(geoms), geoms)
    lines = []
    for geom in geoms:  # keep the line parts of collections; points cannot cut anything
        for part in shapely.get_parts(geom):
            if (
                part.geom_type in ("LineString", "LinearRing", "MultiLineString")
                and part.length > 0
            ):
                lines.append(part)
    return np.array(lines, dtype=object)


def _previous(previous, file: str) -> dict[str, list]:
    if previous is None or len(previous) == 0:
        return {}
    for column in ("grid_code", "community_code"):
        if column not in previous.columns:
            raise InputError.one(file, "required column is missing", field=column)
    frame = previous.to_crs(STORAGE_CRS) if previous.crs is not None else previous
    kinds = (
        frame["kind"].astype(str)
        if "kind" in frame
        else pd.Series("comprehensive", index=frame.index)
    )
    out: dict[str, list] = {}
    for code, community, kind, geom in zip(
        frame["grid_code"].astype(str),
        frame["community_code"].astype(str),
        kinds,
        frame.geometry,
        strict=True,
    ):
        if geom is not None and not geom.is_empty:
            out.setdefault(community, []).append((code, kind, geom))
    return out


# ---- running ------------------------------------------------------------------------------
def _tasks(communities, points, hh, pop, point_community, barrier_geoms, exclusive, previous):
    tree = shapely.STRtree(barrier_geoms) if len(barrier_geoms) else None
    order = np.argsort(point_community, kind="stable")
    starts = np.searchsorted(point_community[order], np.arange(len(communities) + 1))
    tasks, indices = [], []
    for k, (code, geom) in enumerate(zip(communities["code"], communities.geometry, strict=True)):
        mine = order[starts[k] : starts[k + 1]]
        near = barrier_geoms[tree.query(geom, predicate="intersects")] if tree else []
        tasks.append(
            CommunityTask(
                code=code,
                geometry=geom,
                barriers=list(near),
                sites=exclusive.get(code, []),
                points=points[mine],
                households=hh[mine],
                population=pop[mine],
                previous=previous.get(code, []),
            )
        )
        indices.append(mine)
    return tasks, indices


def _run(tasks, config: PartitionConfig, progress: bool):
    workers = config.workers or min(2, os.cpu_count() or 1)
    bar = tqdm(total=len(tasks), desc="partition", unit="community", disable=not progress)
    results = []
    if workers > 1 and len(tasks) >= 8:
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            chunk = max(1, len(tasks) // (workers * 8))
            for result in pool.map(_run_one, [(t, config) for t in tasks], chunksize=chunk):
                results.append(result)
                bar.update()
    else:
        for task in tasks:
            results.append(_run_one((task, config)))
            bar.update()
    bar.close()
    return results


def _run_one(args):
    task, config = args
    return partition_community(task, config)


def _assemble(results, tasks, indices, communities, previous):
    rows, geoms = [], []
    point_codes = np.full(sum(len(t.points) for t in tasks), None, dtype=object)
    for task, mine, result, community in zip(
        tasks, indices, results, communities.geometry, strict=True
    ):
        grid_codes = codes.number_community(
            task.code, result.grids, community, previous.get(task.code, [])
        )
        for draft, code in zip(result.grids, grid_codes, strict=True):
            host = grid_codes[draft.host] if draft.kind == "exclusive" and draft.host >= 0 else ""
            rows.append(
                {
                    "grid_code": code,
                    "kind": draft.kind,
                    "community_code": task.code,
                    "host_grid_code": host,
                    "households": draft.households,
                    "population": draft.population,
                    "flags": ";".join(draft.flags),
                    "site_id": draft.site_id,
                    "site_category": draft.site_category,
                }
            )
            geoms.append(draft.geometry)
        if len(result.point_grid):
            point_codes[mine] = np.asarray(grid_codes, dtype=object)[result.point_grid]
    grids = gpd.GeoDataFrame(
        rows,
        geometry=gpd.GeoSeries(geoms, crs=STORAGE_CRS),
        columns=[c for c in GRID_COLUMNS if c not in ("area_m2", "polsby_popper")],
    )
    if len(grids):
        grids["area_m2"] = np.round(area_m2(grids.geometry), 3)
        grids["polsby_popper"] = np.round(polsby_popper(grids.geometry), 4)
    else:
        grids["area_m2"] = pd.Series(dtype=float)
        grids["polsby_popper"] = pd.Series(dtype=float)
    grids["households"] = grids["households"].astype(np.int64)
    grids["population"] = grids["population"].astype(np.int64)
    grids = grids[GRID_COLUMNS + ["geometry"]].sort_values("grid_code", kind="stable")
    return grids.reset_index(drop=True), point_codes
