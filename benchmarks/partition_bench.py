"""Partitioner vs PySAL spopt MaxPHeuristic on the same lattice units, side by side in one process.

    python benchmarks/partition_bench.py            # 2,500-unit lattice (50 x 50)
    python benchmarks/partition_bench.py --full     # also the 10,000-unit lattice (spopt: minutes)
    python benchmarks/partition_bench.py --city     # also the whole sample city at 2,000,000
                                                    # households, end to end through the CLI
    python benchmarks/partition_bench.py --stability # also codes and geometry kept after +/-5%
    python benchmarks/partition_bench.py --no-spopt # ours only (quick)
    python benchmarks/partition_bench.py --spopt-sweep # also spopt at several iteration counts
    python benchmarks/partition_bench.py --stability --stability-dir CITY --stability-communities 20

Units are square blocks (about 50 m) with 20-80 households each (seeded). spopt gets the rook
weights and a floor of 400 households (MaxP has no ceiling); ours gets the band [300, 500]. Both
are timed with the adjacency built from the geometries; peak memory is the growth of resident
memory over the run, sampled every 5 ms. Polsby-Popper is measured on the dissolved regions in
the Gauss-Kruger zone. The headline is the last line.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import psutil
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gridmap.partition.adjacency import metric_scale_for, shared_edges  # noqa: E402
from gridmap.partition.measure import polsby_popper  # noqa: E402
from gridmap.partition.regionalize import Bounds, regionalize  # noqa: E402

LON, LAT, STEP = 120.70, 30.70, 0.0005


class PeakMemory:
    """Peak growth of memory while the block runs, sampled in a thread.

    Resident memory (RSS) of this process; with ``children=True`` the proportional set size
    (PSS) of this process and all its children, so pages that forked workers share with their
    parent are counted once, not once per process.
    """

    def __init__(self, children: bool = False, interval: float = 0.005) -> None:
        self.process = psutil.Process()
        self.children = children
        self.interval = interval
        self.peak = 0

    def _used(self) -> int:
        if not self.children:
            return self.process.memory_info().rss
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):  # a child may exit meanwhile
                total += proc.memory_full_info().pss
        return total

    def __enter__(self):
        gc.collect()
        self.base = self._used()
        self.peak = self.base
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self._used())
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self._used())

    @property
    def mb(self) -> float:
        return (self.peak - self.base) / 2**20


def lattice(side: int, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    cells = [
        shapely.box(LON + i * STEP, LAT + j * STEP, LON + (i + 1) * STEP, LAT + (j + 1) * STEP)
        for j in range(side)
        for i in range(side)
    ]
    households = rng.integers(20, 81, side * side)
    return gpd.GeoDataFrame({"households": households}, geometry=cells, crs=4490)


def quality(units: gpd.GeoDataFrame, labels: np.ndarray) -> dict:
    totals = np.bincount(labels, weights=units["households"].to_numpy())
    regions = units.assign(region=labels).dissolve("region")
    pp = polsby_popper(regions.geometry)
    return {
        "regions": len(totals),
        "in_band": float(np.mean((totals >= 300) & (totals <= 500))),
        "above_500": float(np.mean(totals > 500)),
        "below_300": float(np.mean(totals < 300)),
        "median_pp": float(np.median(pp)),
        "contiguous": bool((regions.geometry.geom_type == "Polygon").all()),
    }


def run_ours(units: gpd.GeoDataFrame) -> tuple[np.ndarray, float, float]:
    with PeakMemory() as memory:
        start = time.perf_counter()
        geoms = units.geometry.to_numpy()
        scale = metric_scale_for(LAT)
        i, j, length = shared_edges(geoms, scale)
        xy = shapely.get_coordinates(shapely.centroid(geoms)) * np.asarray(scale)
        labels = regionalize(
            xy[:, 0],
            xy[:, 1],
            units["households"].to_numpy(),
            np.zeros(len(units)),
            shapely.area(geoms) * scale[0] * scale[1],
            i,
            j,
            length,
            Bounds(300, 500),
        )
        seconds = time.perf_counter() - start
    return labels, seconds, memory.mb


def run_spopt(
    units: gpd.GeoDataFrame, construction: int = 99, annealing: int = 10
) -> tuple[np.ndarray, float, float]:
    from libpysal.weights import Rook
    from spopt.region import MaxPHeuristic

    with PeakMemory() as memory:
        start = time.perf_counter()
        weights = Rook.from_dataframe(units, use_index=False, silence_warnings=True)
        model = MaxPHeuristic(
            units,
            weights,
            attrs_name=["households"],
            threshold_name="households",
            threshold=400,
            top_n=2,
            max_iterations_construction=construction,
            max_iterations_sa=annealing,
        )
        model.solve()
        seconds = time.perf_counter() - start
    return np.asarray(model.labels_, dtype=np.int64), seconds, memory.mb


def show(name: str, seconds: float, mb: float, q: dict) -> None:
    print(
        f"  {name:<7} {seconds:8.2f} s  peak +{mb:7.1f} MB  regions {q['regions']:5d}  "
        f"in [300,500] {100 * q['in_band']:5.1f}%  above 500 {100 * q['above_500']:5.1f}%  "
        f"below 300 {100 * q['below_300']:5.1f}%  median PP {q['median_pp']:.3f}  "
        f"contiguous {q['contiguous']}"
    )


def compare(side: int, with_spopt: bool) -> str:
    units = lattice(side)
    print(
        f"lattice {side}x{side} = {side * side} units, {int(units['households'].sum())} households"
    )
    labels, ours_s, ours_mb = run_ours(units)
    ours = quality(units, labels)
    show("ours", ours_s, ours_mb, ours)
    if with_spopt:
        print(f"  {SPOPT_OBJECTIVE}")
    if not with_spopt:
        return (
            f"{side * side} units: ours {ours_s:.2f} s, {ours_mb:.0f} MB, "
            f"{100 * ours['in_band']:.1f}% in band, median PP {ours['median_pp']:.2f} (no spopt)"
        )
    labels, spopt_s, spopt_mb = run_spopt(units)
    theirs = quality(units, labels)
    show("spopt", spopt_s, spopt_mb, theirs)
    ratio = spopt_s / ours_s
    print(
        f"  ratio: ours is {ratio:.0f}x faster, uses {spopt_mb / max(ours_mb, 0.1):.1f}x less "
        "memory growth"
    )
    return (
        f"{side * side} units: {ratio:.0f}x faster than spopt MaxPHeuristic "
        f"({ours_s:.2f} s vs {spopt_s:.1f} s), peak +{ours_mb:.0f} MB vs +{spopt_mb:.0f} MB, "
        f"in band {100 * ours['in_band']:.1f}% vs {100 * theirs['in_band']:.1f}%, "
        f"median PP {ours['median_pp']:.2f} vs {theirs['median_pp']:.2f}"
    )


SPOPT_OBJECTIVE = (
    "note: spopt MaxPHeuristic optimises a different objective: as many regions as possible "
    "above a floor only (here 400 households; it has no ceiling), then homogeneity of the "
    "attribute within regions; ours holds a band [300, 500] and compactness"
)


def spopt_sweep(side: int = 30) -> str:
    """spopt at several iteration counts (construction, simulated annealing) on one lattice."""
    units = lattice(side)
    print(f"spopt iteration sweep, lattice {side}x{side} = {side * side} units")
    print(f"  {SPOPT_OBJECTIVE}")
    labels, seconds, mb = run_ours(units)
    show("ours", seconds, mb, quality(units, labels))
    best = None
    for construction, annealing in ((1, 1), (10, 2), (99, 10), (300, 30)):
        labels, seconds, mb = run_spopt(units, construction, annealing)
        q = quality(units, labels)
        show(f"c{construction}/sa{annealing}", seconds, mb, q)
        if best is None or q["in_band"] > best[2]["in_band"]:
            best = (construction, annealing, q, seconds)
    construction, annealing, q, seconds = best
    return (
        f"spopt sweep ({side * side} units): best in band {100 * q['in_band']:.1f}% at "
        f"construction {construction}, annealing {annealing} ({seconds:.1f} s); spopt optimises "
        "a floor plus homogeneity, not a band"
    )


def city(households: int, folder: Path | None) -> str:
    """Build the sample city (unless given), then time `gridmap partition` on it end to end."""
    gridmap = [sys.executable, "-m", "gridmap.cli"]
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="partition_bench_"))
        start = time.perf_counter()
        subprocess.run(
            [*gridmap, "sample", "--out", str(folder), "--households", str(households)],
            check=True,
            capture_output=True,
        )
        print(f"sample city, {households} households, built in {time.perf_counter() - start:.1f} s")
    else:
        print(f"sample city from {folder}")
    command = [
        *gridmap,
        "partition",
        "--boundaries",
        str(folder / "boundaries.gpkg"),
        "--addresses",
        str(folder / "addresses.csv"),
        "--barriers",
        str(folder / "barriers.gpkg"),
        "--sites",
        str(folder / "sites.gpkg"),
        "--out",
        str(folder / "grids.gpkg"),
        "--summary-json",
        str(folder / "summary.json"),
    ]
    with PeakMemory(children=True, interval=0.05) as memory:
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    print(done.stdout)
    if done.returncode:
        print(done.stderr[-3000:])
    grids = gpd.read_file(folder / "grids.gpkg")
    stages = json.loads((folder / "summary.json").read_text("utf-8"))["summary"]["stages_s"]
    print(f"partition stages (s, inside the command): {stages}")
    return (
        f"sample city: {len(grids)} grids end to end (read, partition, check, write) in "
        f"{seconds:.1f} s (exit {done.returncode}), peak memory {memory.mb:.0f} MB "
        "(PSS of the command and its workers)"
    )


def _rows(grids) -> dict[str, tuple]:
    """Every column of every grid, geometry as WKB: equal rows are byte-identical grids."""
    columns = [c for c in grids.columns if c != "geometry"]
    wkb = shapely.to_wkb(grids.geometry.to_numpy())
    return {
        code: (*values, geometry)
        for code, *values, geometry in zip(
            grids["grid_code"], *(grids[c].tolist() for c in columns), wkb, strict=True
        )
    }


def stability(seed: int = 1, folder: Path | None = None, communities: int = 0) -> str:
    """+5% and -5% households in each community of the default sample city (or of the city in
    ``folder``; ``communities`` > 0: that many, drawn at random), one at a time, re-partitioned
    with --previous: share of that community's grids that keep their code, and that keep code
    and geometry (byte for byte). On the whole default city every other community must stay
    identical; on a given city each changed community is re-partitioned alone (communities are
    independent tasks), micro-grids off."""
    from gridmap import io
    from gridmap.partition import PartitionConfig, partition
    from gridmap.sample import build_city

    whole = folder is None
    if whole:
        folder = Path(tempfile.mkdtemp(prefix="partition_stability_"))
        build_city(folder)
    config = PartitionConfig(micro_households=None)
    layers = {
        "boundaries": io.read_boundaries(folder / "boundaries.gpkg"),
        "barriers": io.read_barriers(folder / "barriers.gpkg"),
        "sites": io.read_sites(folder / "sites.gpkg"),
    }
    addresses = io.read_addresses(folder / "addresses.csv")
    needed = ["address_id", "lon", "lat", "households", "population", "community_code"]
    addresses = addresses[needed].copy()
    rng = np.random.default_rng(seed)
    boundaries = layers["boundaries"]
    column = addresses["community_code"].astype(str).to_numpy()
    chosen = sorted(boundaries.loc[boundaries["level"] == "community", "code"].astype(str))
    if communities:
        chosen = sorted(rng.choice(chosen, size=min(communities, len(chosen)), replace=False))
    if whole:
        first = partition(addresses=addresses, config=config, **layers)
        same = partition(addresses=addresses, previous=first.grids, config=config, **layers)
        identical = _rows(same.grids) == _rows(first.grids)
    else:  # each chosen community alone: communities are independent tasks
        firsts, identical = [], True
        for code in chosen:
            alone = {**layers, "boundaries": boundaries[boundaries["code"].astype(str) == code]}
            mine = addresses.iloc[np.flatnonzero(column == code)]
            grids = partition(addresses=mine, config=config, **alone).grids
            again = partition(addresses=mine, previous=grids, config=config, **alone).grids
            identical &= _rows(again) == _rows(grids)
            firsts.append(grids)
        first = SimpleNamespace(grids=pd.concat(firsts, ignore_index=True))
    print(f"unchanged input with --previous: grids byte-identical: {identical}")
    before_rows = _rows(first.grids)
    codes_kept, geometry_kept, in_band, violations, others_changed = [], [], [], 0, 0
    kept_total = geometry_total = grids_total = 0
    for sign in (1, -1):
        for code in chosen:
            mine = np.flatnonzero(column == code)
            changed = addresses if whole else addresses.iloc[mine]
            changed = changed.copy()
            position = mine if whole else np.arange(len(mine))
            total = int(changed["households"].to_numpy()[position].sum())
            pick = changed.index[rng.choice(position, size=round(0.05 * total), replace=False)]
            changed.loc[pick, "households"] = (changed.loc[pick, "households"] + sign).clip(0)
            run = dict(layers)
            previous = first.grids
            if not whole:
                run["boundaries"] = boundaries[boundaries["code"].astype(str) == code]
                previous = first.grids[first.grids["community_code"] == code]
            second = partition(addresses=changed, previous=previous, config=config, **run)
            after_rows = _rows(second.grids)
            inside = first.grids["community_code"] == code
            before = first.grids.loc[inside, "grid_code"].tolist()
            kept = [c for c in before if c in after_rows]
            shaped = [c for c in kept if after_rows[c][-1] == before_rows[c][-1]]
            codes_kept.append(len(kept) / len(before))
            geometry_kept.append(len(shaped) / len(before))
            kept_total += len(kept)
            geometry_total += len(shaped)
            grids_total += len(before)
            if whole:
                others = [c for c in before_rows if not c.startswith(code)]
                others_changed += sum(after_rows.get(c) != before_rows[c] for c in others)
            in_band.append(second.summary["share_in_band"])
            violations += len(second.summary["violations"])
    codes_kept, geometry_kept = np.array(codes_kept), np.array(geometry_kept)
    print(
        f"stability: {len(codes_kept)} re-partitions (+5% and -5% households, one community "
        f"each, {grids_total} grids in the changed communities)"
    )
    print(
        f"  codes kept:    min {100 * codes_kept.min():.1f}%, median "
        f"{100 * np.median(codes_kept):.1f}%, all changed grids "
        f"{100 * kept_total / grids_total:.1f}%"
    )
    print(
        f"  geometry kept: min {100 * geometry_kept.min():.1f}%, median "
        f"{100 * np.median(geometry_kept):.1f}%, all changed grids "
        f"{100 * geometry_total / grids_total:.1f}% (code and geometry byte for byte)"
    )
    others = f"other communities identical: {others_changed == 0}; " if whole else ""
    if whole:
        print(f"  grids of other communities not byte-identical: {others_changed}")
    return (
        f"5% household change in one community ({len(chosen)} communities of {folder.name}): "
        f"codes kept {100 * kept_total / grids_total:.1f}%, geometry kept "
        f"{100 * geometry_total / grids_total:.1f}% (communities at >= 90% geometry kept: "
        f"{100 * (geometry_kept >= 0.9).mean():.0f}%); {others}unchanged input identical: "
        f"{identical}; share in band after: min {100 * min(in_band):.1f}%; violations "
        f"{violations}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also the 10,000-unit lattice")
    parser.add_argument("--city", action="store_true", help="also the 2M-household sample city")
    parser.add_argument("--households", type=int, default=2_000_000)
    parser.add_argument("--city-dir", type=Path, help="an already built sample city to reuse")
    parser.add_argument("--stability", action="store_true", help="also the code-stability sweep")
    parser.add_argument(
        "--stability-dir", type=Path, help="the stability sweep on this built city instead"
    )
    parser.add_argument(
        "--stability-communities", type=int, default=0, help="that many communities (0: all)"
    )
    parser.add_argument("--no-spopt", action="store_true", help="skip spopt (quick check)")
    parser.add_argument(
        "--spopt-sweep", action="store_true", help="also spopt at several iteration counts"
    )
    args = parser.parse_args()
    lines = [compare(50, not args.no_spopt)]
    if args.full:
        lines.append(compare(100, not args.no_spopt))
    if args.city:
        lines.append(city(args.households, args.city_dir))
    if args.spopt_sweep:
        lines.append(spopt_sweep())
    if args.stability:
        lines.append(stability(folder=args.stability_dir, communities=args.stability_communities))
    print()
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
