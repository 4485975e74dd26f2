"""``partition()``: check the inputs, run every community (in parallel), code, verify, summarise."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from tqdm import tqdm

from gridmap.io.memory import fixed_mmap_threshold
from gridmap.model import GRID_COLUMNS as CONTRACT_GRID_COLUMNS
from gridmap.model import STORAGE_CRS
from gridmap.partition import borders, checks, codes, inputs, report
from gridmap.partition.community import CommunityTask, partition_community
from gridmap.partition.config import PartitionConfig
from gridmap.partition.exclusive import select_sites
from gridmap.partition.measure import area_m2, polsby_popper

GRID_COLUMNS = list(CONTRACT_GRID_COLUMNS)  # the CONTRACT columns, site and lock
MICRO_COLUMNS = ["micro_code", "grid_code", "households", "population", "area_m2", "flags"]


@dataclass
class PartitionResult:
    """Grids (CONTRACT columns + ``site_id``, ``site_category``, ``locked``), summary, diff,
    and the assignment of addresses to grids."""

    grids: gpd.GeoDataFrame
    summary: dict
    diff: dict | None
    assignment: pd.Series  # grid_code of each address, indexed like the addresses
    micro_grids: gpd.GeoDataFrame | None = None  # MICRO_COLUMNS; None when not asked for

    @property
    def ok(self) -> bool:
        return not self.summary["violations"]


@dataclass
class PreparedPartition:
    """A partition's inputs, read and checked, as the communities' tasks (:func:`prepare`).

    It keeps no reference to the address frame (its index only): a caller that lets the frame
    go frees it before the communities run, the longest and largest stage. The 2M-household
    city's frame is about 80 MB, held by the client while two workers partition.
    """

    config: PartitionConfig
    communities: gpd.GeoDataFrame
    points: np.ndarray  # distinct address points
    households: np.ndarray
    inverse: np.ndarray  # each address row's distinct point
    located: inputs.PointCommunities
    previous: gpd.GeoDataFrame | None
    previous_by_code: dict
    tasks: list[CommunityTask]
    indices: list[np.ndarray]
    address_index: pd.Index
    mislabelled: int
    site_stats: dict
    started: float
    stages: dict[str, float]


def partition(
    boundaries: gpd.GeoDataFrame,
    addresses: gpd.GeoDataFrame | pd.DataFrame,
    barriers: gpd.GeoDataFrame | None = None,
    sites: gpd.GeoDataFrame | None = None,
    config: PartitionConfig | None = None,
    previous: gpd.GeoDataFrame | None = None,
    *,
    locks: tuple[str, ...] = (),
    progress: bool | Callable[[int, int], None] = False,
    names: dict[str, str] | None = None,
    executor=None,
) -> PartitionResult:
    """Divide every community of ``boundaries`` into grids; see the package docstring.

    ``previous``: earlier grids to change as little as possible (``keep``); ``locks``: codes of
    earlier grids that must stay exactly (as does any with a true ``locked`` column). ``names``
    maps layer -> file name for error messages. ``progress``: True for a progress bar, or a
    function called with (communities done, communities) after each one (a background job's
    progress). Raises InputError on bad input. The same as :func:`finish` of :func:`prepare`.
    """
    prepared = prepare(
        boundaries, addresses, barriers, sites, config, previous, locks=locks, names=names
    )
    return finish(prepared, progress=progress, executor=executor)


def prepare(
    boundaries: gpd.GeoDataFrame,
    addresses: gpd.GeoDataFrame | pd.DataFrame,
    barriers: gpd.GeoDataFrame | None = None,
    sites: gpd.GeoDataFrame | None = None,
    config: PartitionConfig | None = None,
    previous: gpd.GeoDataFrame | None = None,
    *,
    locks: tuple[str, ...] = (),
    names: dict[str, str] | None = None,
) -> PreparedPartition:
    """Check the inputs and cut them into one task per community (:func:`partition`'s first
    stage); raises InputError on bad input."""
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
    communities = inputs.communities_of(boundaries, config, names["boundaries"])
    points, hh, pop, inverse = inputs.address_points(addresses, names["addresses"])
    exclusive, site_stats = select_sites(sites, communities, config, names["sites"])
    located = inputs.point_communities(points, communities, inverse, addresses, names, exclusive)
    barrier_geoms = inputs.barrier_lines(barriers)
    previous_by_code = inputs.previous_by_community(previous, names["previous"], communities, locks)
    buildings = inputs.building_ids(addresses, inverse, len(points))
    tasks, indices = _tasks(
        communities,
        points,
        hh,
        pop,
        located.index,
        barrier_geoms,
        exclusive,
        previous_by_code,
        buildings,
    )
    return PreparedPartition(
        config=config,
        communities=communities,
        points=points,
        households=hh,
        inverse=inverse,
        located=located,
        previous=previous,
        previous_by_code=previous_by_code,
        tasks=tasks,
        indices=indices,
        address_index=addresses.index,
        mislabelled=inputs.mislabelled(addresses, communities, located.index[inverse]),
        site_stats=site_stats,
        started=started,
        stages={"inputs": round(time.perf_counter() - started, 2)},
    )


def finish(
    prepared: PreparedPartition,
    *,
    progress: bool | Callable[[int, int], None] = False,
    executor=None,
) -> PartitionResult:
    """Partition every community of a prepared input (:func:`prepare`); code, check, sum up."""
    p = prepared
    config, stages = p.config, dict(p.stages)
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        stages[name] = round(now - clock[0], 2)
        clock[0] = now

    results = _run(p.tasks, config, progress, executor)
    lap("communities")
    tasks, indices, results = borders.settle(
        p.tasks,
        p.indices,
        results,
        p.points,
        p.located,
        number=lambda task, result: _grid_codes(task, result, p.previous_by_code),
        run=lambda again: _run(again, config, False, executor),
    )
    lap("borders")
    grids, point_codes, micro, measured = _assemble(results, tasks, indices, p.previous_by_code)
    assignment = pd.Series(point_codes[p.inverse], index=p.address_index, name="grid_code")
    lap("codes")
    violations = checks.verify(
        grids,
        p.communities,
        p.points,
        point_codes,
        p.households,
        config,
        measured=measured["community"],
    )
    if micro is not None:
        violations += checks.verify_micro(micro, grids, measured=measured["grid"])
    lap("checks")
    diff = codes.diff(p.previous, grids) if p.previous is not None else None
    summary = report.summarize(
        grids,
        results,
        config,
        violations=violations,
        runtime_s=time.perf_counter() - p.started,
        site_stats=p.site_stats,
        communities=len(p.communities),
        addresses=len(p.address_index),
        mislabelled=p.mislabelled,
        micro=micro,
    )
    summary["stages_s"] = stages
    return PartitionResult(
        grids=grids, summary=summary, diff=diff, assignment=assignment, micro_grids=micro
    )


# ---- running ------------------------------------------------------------------------------
def _tasks(
    communities, points, hh, pop, point_community, barrier_geoms, exclusive, previous, buildings
):
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
                buildings=buildings[mine],
            )
        )
        indices.append(mine)
    return tasks, indices


def _run(tasks, config: PartitionConfig, progress, executor=None):
    workers = config.workers or min(2, os.cpu_count() or 1)
    bar = tqdm(total=len(tasks), desc="partition", unit="community", disable=progress is not True)
    results = []
    if executor is not None:
        for result in executor.map(_run_one, [(t, config) for t in tasks]):
            results.append(result)
            _tick(bar, progress, len(results), len(tasks))
    elif workers > 1 and len(tasks) >= 8:
        pool = ProcessPoolExecutor(
            workers, mp_context=_worker_context(), initializer=fixed_mmap_threshold
        )
        try:
            chunk = max(1, len(tasks) // (workers * 8))
            for result in pool.map(_run_one, [(t, config) for t in tasks], chunksize=chunk):
                results.append(result)
                _tick(bar, progress, len(results), len(tasks))
        except BaseException:
            # a cancelled job (progress raised) or Ctrl-C: drop the communities not started
            # instead of waiting for the whole partition as leaving a `with` block would
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    else:
        for task in tasks:
            results.append(_run_one((task, config)))
            _tick(bar, progress, len(results), len(tasks))
    bar.close()
    return results


def _worker_context():
    """Workers forked from a small server that imported only the community code (numpy,
    shapely, scipy: ~75 MB), not from this process: a fork of it would map every page of the
    address library it holds, and each worker would count as large as the whole command."""
    context = get_context("forkserver")
    context.set_forkserver_preload(["gridmap.partition.community"])
    return context


def _tick(bar, progress, done: int, total: int) -> None:
    """One more community done: the bar, and the caller's progress function if it gave one
    (a disabled bar does not count)."""
    bar.update()
    if callable(progress):
        progress(done, total)


def _run_one(args):
    task, config = args
    return partition_community(task, config)


def _assemble(results, tasks, indices, previous):
    rows, geoms, micro_rows, micro_geoms = [], [], [], []
    measured = {"community": {}, "grid": {}}  # coverage figures the workers measured, by code
    with_micro = False
    point_codes = np.full(sum(len(t.points) for t in tasks), None, dtype=object)
    for task, mine, result in zip(tasks, indices, results, strict=True):
        grid_codes = _grid_codes(task, result, previous)
        if result.coverage is not None:
            measured["community"][task.code] = result.coverage
        for draft, code in zip(result.grids, grid_codes, strict=True):
            if draft.micro_coverage is not None:
                measured["grid"][code] = draft.micro_coverage
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
                    "locked": int(draft.locked),
                }
            )
            geoms.append(draft.geometry)
            if draft.micro:
                with_micro = True
                for micro_code, micro in codes.number_micro(code, draft.micro, draft.geometry):
                    micro_rows.append(
                        {
                            "micro_code": micro_code,
                            "grid_code": code,
                            "households": micro.households,
                            "population": micro.population,
                            "flags": ";".join(micro.flags),
                        }
                    )
                    micro_geoms.append(micro.geometry)
        if len(result.point_grid):
            point_codes[mine] = np.asarray(grid_codes, dtype=object)[result.point_grid]
    grids = _frame(rows, geoms, GRID_COLUMNS, "grid_code")
    micro = _frame(micro_rows, micro_geoms, MICRO_COLUMNS, "micro_code") if with_micro else None
    return grids, point_codes, micro, measured


def _grid_codes(task: CommunityTask, result, previous: dict) -> list[str]:
    """The codes of a community's grid drafts (``previous``: earlier grids by community code)."""
    earlier = previous.get(task.code, [])
    return codes.number_community(task.code, result.grids, task.geometry, earlier)


def _frame(rows: list[dict], geoms: list, columns: list[str], key: str) -> gpd.GeoDataFrame:
    """Rows in ``columns`` order, sorted by ``key``, with measured area (and compactness)."""
    frame = gpd.GeoDataFrame(
        rows,
        geometry=gpd.GeoSeries(geoms, crs=STORAGE_CRS),
        columns=[c for c in columns if c not in ("area_m2", "polsby_popper")],
    )
    measured = {"area_m2": (area_m2, 3), "polsby_popper": (polsby_popper, 4)}
    for column, (measure, digits) in measured.items():
        if column not in columns:
            continue
        if len(frame):
            frame[column] = np.round(measure(frame.geometry), digits)
        else:
            frame[column] = pd.Series(dtype=float)
    for column in ("households", "population", "locked"):
        if column in columns:
            frame[column] = frame[column].astype(np.int64)
    frame = frame[columns + ["geometry"]].sort_values(key, kind="stable")
    return frame.reset_index(drop=True)
