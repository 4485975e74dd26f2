"""The partitioner on synthetic inputs: guarantees (property tests), bounds, codes, bad input."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridmap.errors import InputError
from gridmap.partition import PartitionConfig, borders, partition
from gridmap.partition.checks import verify
from gridmap.partition.regionalize import Bounds, regionalize

LON, LAT = 120.75, 30.75
SERIAL = PartitionConfig(workers=1)
# Property tests run a bounded number of examples in the suite; raise it for a deeper search.
EXAMPLES = int(os.environ.get("PARTITION_EXAMPLES", "12"))


def community_frame(polygons, codes=None) -> gpd.GeoDataFrame:
    codes = codes or [f"330402001{k + 1:03d}" for k in range(len(polygons))]
    return gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [f"c{k}" for k in range(len(codes))],
            "level": ["community"] * len(codes),
        },
        geometry=list(polygons),
        crs=4490,
    )


def address_frame(points, households, population=None) -> pd.DataFrame:
    points = np.asarray(points, float).reshape(-1, 2)
    households = np.asarray(households, int)
    population = households * 3 if population is None else np.asarray(population, int)
    return pd.DataFrame(
        {
            "address_id": [f"A{k}" for k in range(len(points))],
            "address": "x",
            "lon": points[:, 0],
            "lat": points[:, 1],
            "households": households,
            "population": population,
        }
    )


def barrier_frame(lines) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"kind": ["road"] * len(lines)}, geometry=list(lines), crs=4490)


def random_city(seed: int, n_points: int = 120, n_barriers: int = 6, size: float = 0.01):
    """A square community (two when the seed is odd) with random roads and addresses."""
    rng = np.random.default_rng(seed)
    x0, y0 = LON, LAT
    if seed % 2:
        polygons = [
            shapely.box(x0, y0, x0 + size / 2, y0 + size),
            shapely.box(x0 + size / 2, y0, x0 + size, y0 + size),
        ]
    else:
        # an L-shaped community with a hole
        polygons = [
            shapely.difference(
                shapely.box(x0, y0, x0 + size, y0 + size),
                shapely.union(
                    shapely.box(x0 + size * 0.6, y0 + size * 0.6, x0 + size * 1.1, y0 + size * 1.1),
                    shapely.box(x0 + size * 0.2, y0 + size * 0.2, x0 + size * 0.3, y0 + size * 0.3),
                ),
            )
        ]
    lines = []
    for _ in range(n_barriers):  # roads crossing, and some dangling inside
        a = rng.uniform([x0 - size * 0.1, y0 - size * 0.1], [x0 + size * 1.1, y0 + size * 1.1])
        b = rng.uniform([x0 - size * 0.1, y0 - size * 0.1], [x0 + size * 1.1, y0 + size * 1.1])
        lines.append(shapely.LineString([a, b]))
    union = shapely.union_all(polygons)
    points = []
    while len(points) < n_points:
        p = rng.uniform([x0, y0], [x0 + size, y0 + size])
        if union.contains(shapely.Point(p)):
            points.append(p)
    points = np.array(points).reshape(-1, 2)
    if seed % 2 and len(points) > 2:
        points[0] = (x0 + size / 2, y0 + size / 3)  # exactly on the border of both communities
        points[1] = (x0 + size / 2, y0)  # on the outer corner of the border
    # some buildings with several address rows at one point (rooms of one building)
    repeat = rng.integers(1, 4, len(points))
    points = np.repeat(points, repeat, axis=0)
    households = rng.integers(1, 40, len(points))
    return community_frame(polygons), address_frame(points, households), barrier_frame(lines)


def random_sites(seed: int, count: int, size: float = 0.01) -> gpd.GeoDataFrame:
    """Random rectangles: some overlap each other, some cross community borders or stick out."""
    rng = np.random.default_rng(seed + 1)
    rows = []
    for k in range(count):
        x, y = rng.uniform([LON - size * 0.05, LAT], [LON + size, LAT + size])
        w, h = rng.uniform(size * 0.03, size * 0.3, 2)
        category = ["school", "mall", "government", "park"][k % 4]
        rows.append((f"S{k}", category, int(rng.integers(0, 600)), shapely.box(x, y, x + w, y + h)))
    return site_frame(rows)


# ---- guarantees on random inputs ---------------------------------------------------------
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_points=st.integers(0, 200),
    n_barriers=st.integers(0, 10),
    low=st.integers(50, 400),
    span=st.integers(0, 300),
    n_sites=st.integers(0, 6),
)
def test_guarantees_hold_on_random_cities(seed, n_points, n_barriers, low, span, n_sites):
    communities, addresses, barriers = random_city(seed, n_points, n_barriers)
    sites = random_sites(seed, n_sites)
    config = PartitionConfig(
        min_households=low,
        max_households=low + span,
        exclusive_min_area_m2=2_000,
        merge_small_sites_m2=8_000,
        workers=1,
    )
    result = partition(communities, addresses, barriers, sites, config=config)
    assert result.summary["violations"] == []
    grids = result.grids
    assert (grids.geometry.geom_type == "Polygon").all()
    assert grids.geometry.is_valid.all()
    assert result.assignment.notna().all()
    assert int(grids["households"].sum()) == int(addresses["households"].sum())
    # every address point is covered by the grid it was given
    by_code = grids.set_index("grid_code").geometry
    shapes = shapely.points(addresses[["lon", "lat"]].to_numpy())
    assert shapely.covers(by_code.loc[result.assignment].to_numpy(), shapes).all()
    # out-of-band comprehensive grids always say why (exclusive grids hold one site, any size)
    comprehensive = grids[grids["kind"] == "comprehensive"]
    hh = comprehensive["households"]
    out = (hh < config.min_households) | (hh > config.max_households)
    assert (comprehensive.loc[out, "flags"] != "").all()
    exclusive = grids[grids["kind"] == "exclusive"]
    hosts = set(comprehensive["grid_code"])
    assert all(
        h in hosts or "no_host" in f
        for h, f in zip(exclusive["host_grid_code"], exclusive["flags"], strict=True)
    )


def test_verify_catches_a_gap_an_overlap_and_a_lost_address():
    communities, addresses, barriers = random_city(4, 80, 4)
    result = partition(communities, addresses, barriers, config=SERIAL)
    grids = result.grids.copy()
    points = addresses[["lon", "lat"]].to_numpy()
    codes = result.assignment.to_numpy()
    hh = addresses["households"].to_numpy()
    assert verify(grids, communities, points, codes, hh) == []
    shrunk = grids.copy()
    shrunk.loc[0, "geometry"] = shrunk.geometry.iloc[0].buffer(-1e-5)
    assert any("cover" in v for v in verify(shrunk, communities, points, codes, hh))
    grown = grids.copy()
    grown.loc[0, "geometry"] = grown.geometry.iloc[0].buffer(1e-5)
    problems = verify(grown, communities, points, codes, hh)
    assert any("overlap" in v for v in problems) and any("outside it" in v for v in problems)
    lost = codes.copy()
    lost[0] = None
    assert any("no grid" in v for v in verify(grids, communities, points, lost, hh))


def test_coverage_measured_on_the_workers_is_the_coverage_measured_after():
    """Each community's task measures how its grids cover it (and each grid how its
    micro-grids do); the checks judge those figures as they judge their own, and measure
    again where the frame holds other pieces than the task measured."""
    from gridmap.partition.coverage import measure

    communities, addresses, barriers = random_city(4, 80, 4)
    config = PartitionConfig(workers=1, micro_households=(5, 40)).validate()
    result = partition(communities, addresses, barriers, config=config)
    grids, micro = result.grids, result.micro_grids
    assert result.summary["violations"] == []
    community = communities.iloc[0]
    mine = grids[grids["community_code"] == community["code"]]
    assert measure(mine.geometry.to_numpy(), community.geometry) == measure(
        list(mine.geometry), community.geometry
    )
    points = addresses[["lon", "lat"]].to_numpy()
    codes = result.assignment.to_numpy()
    hh = addresses["households"].to_numpy()
    # figures that say "a gap" are believed when they counted the frame's pieces...
    honest = measure(mine.geometry.to_numpy(), community.geometry)
    gap = {community["code"]: replace(honest, union_m2=honest.union_m2 * 0.9)}
    said = verify(grids, communities, points, codes, hh, measured=gap)
    assert said[0] == f"community {community['code']}: grids cover " + (
        f"{gap[community['code']].union_m2:.6f} m2 of {honest.parent_m2:.6f} m2"
    )
    # ...and measured again when they did not
    stale = {community["code"]: replace(gap[community["code"]], pieces=len(mine) + 1)}
    assert verify(grids, communities, points, codes, hh, measured=stale) == []
    # micro-grids: the grids' figures came from the tasks
    from gridmap.partition.checks import verify_micro

    grid_code = micro["grid_code"].iloc[0]
    host = grids[grids["grid_code"] == grid_code].geometry.iloc[0]
    figures = measure(micro[micro["grid_code"] == grid_code].geometry.to_numpy(), host)
    shifted = {grid_code: replace(figures, summed_m2=figures.summed_m2 + 1.0)}
    assert any("overlap" in v for v in verify_micro(micro, grids, measured=shifted))


# ---- bounds ------------------------------------------------------------------------------
def lattice_city(n=20, households=40, seed=0):
    """An n x n block lattice of streets, one address point per block."""
    rng = np.random.default_rng(seed)
    step = 0.0005
    community = shapely.box(LON, LAT, LON + n * step, LAT + n * step)
    lines = [
        shapely.LineString([(LON + k * step, LAT - step), (LON + k * step, LAT + (n + 1) * step)])
        for k in range(1, n)
    ]
    lines += [
        shapely.LineString([(LON - step, LAT + k * step), (LON + (n + 1) * step, LAT + k * step)])
        for k in range(1, n)
    ]
    centres = [(LON + (i + 0.5) * step, LAT + (j + 0.5) * step) for j in range(n) for i in range(n)]
    hh = rng.integers(20, 81, n * n) if households is None else np.full(n * n, households)
    return community_frame([community]), address_frame(centres, hh), barrier_frame(lines)


def test_lattice_all_grids_in_band_compact_and_on_streets():
    communities, addresses, barriers = lattice_city(20, households=None)
    result = partition(communities, addresses, barriers, config=SERIAL)
    summary = result.summary
    assert summary["violations"] == []
    assert summary["share_in_band"] == 1.0
    assert summary["median_polsby_popper"] >= 0.5
    assert summary["share_inner_boundary_on_barrier"] == 1.0  # every block edge is a street


def test_big_block_is_cut_between_buildings_not_through_them():
    community = shapely.box(LON, LAT, LON + 0.004, LAT + 0.004)
    rng = np.random.default_rng(3)
    points = rng.uniform([LON, LAT], [LON + 0.004, LAT + 0.004], (60, 2))
    communities = community_frame([community])
    addresses = address_frame(points, np.full(60, 40))  # 2,400 households, no barriers
    result = partition(communities, addresses, config=SERIAL)
    assert result.summary["violations"] == []
    assert result.summary["share_in_band"] == 1.0
    assert len(result.grids) >= 5
    boundaries = shapely.union_all(result.grids.boundary.to_numpy())
    assert shapely.distance(boundaries, shapely.points(points)).min() > 0


def test_indivisible_building_and_too_few_households_are_flagged():
    community = shapely.box(LON, LAT, LON + 0.002, LAT + 0.002)
    small = shapely.box(LON + 0.002, LAT, LON + 0.004, LAT + 0.002)
    addresses = address_frame([(LON + 0.001, LAT + 0.001), (LON + 0.003, LAT + 0.001)], [900, 120])
    result = partition(community_frame([community, small]), addresses, config=SERIAL)
    flags = result.grids.set_index("community_code")["flags"]
    assert "indivisible_building" in flags["330402001001"]
    assert "above_max" in flags["330402001001"]
    assert flags["330402001002"] == "below_min"
    assert result.summary["violations"] == []


def test_population_and_area_caps_are_held_or_flagged():
    communities, addresses, barriers = lattice_city(10, households=40)
    addresses["population"] = 200  # 8,000 per 400 households: the population cap binds
    config = PartitionConfig(max_population=2500, workers=1)
    result = partition(communities, addresses, barriers, config=config)
    grids = result.grids
    assert (grids["population"] <= 2500).all() or grids["flags"].str.contains("population").any()
    assert (grids.loc[grids["population"] > 2500, "flags"].str.contains("population")).all()
    capped = partition(
        communities,
        addresses,
        barriers,
        config=PartitionConfig(max_area_km2=0.05, max_population=None, workers=1),
    )
    over = capped.grids["area_m2"] > 0.05e6
    assert capped.grids.loc[over, "flags"].str.contains("above_max_area").all()


def test_community_without_addresses_gets_one_flagged_grid():
    empty = shapely.box(LON + 0.01, LAT, LON + 0.012, LAT + 0.002)
    communities, addresses, barriers = lattice_city(6, households=40)
    both = community_frame([communities.geometry.iloc[0], empty])
    result = partition(both, addresses, barriers, config=SERIAL)
    row = result.grids[result.grids["community_code"] == "330402001002"]
    assert len(row) == 1 and "no_addresses" in row["flags"].iloc[0]
    assert result.summary["violations"] == []


# ---- exclusive grids ---------------------------------------------------------------------
def site_frame(rows) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "site_id": [r[0] for r in rows],
            "name": [r[0] for r in rows],
            "category": [r[1] for r in rows],
            "headcount": [r[2] for r in rows],
        },
        geometry=[r[3] for r in rows],
        crs=4490,
    )


def test_exclusive_sites_selected_merged_clipped_and_hosted():
    communities, addresses, barriers = lattice_city(20, households=40)
    step = 0.0005
    school = shapely.box(LON + 2 * step, LAT + 2 * step, LON + 5 * step, LAT + 5 * step)
    kiosk = shapely.box(LON + 10 * step, LAT + 10 * step, LON + 10.2 * step, LAT + 10.2 * step)
    # two shops of about 5,300 m2 each: too small alone, big enough merged
    shop_a = shapely.box(LON + 12 * step, LAT + 12 * step, LON + 14 * step, LAT + 13 * step)
    shop_b = shapely.box(LON + 14 * step, LAT + 12 * step, LON + 16 * step, LAT + 13 * step)
    outside = shapely.box(LON + 19.5 * step, LAT, LON + 21 * step, LAT + step)
    sites = site_frame(
        [
            ("S1", "school", 0, school),
            ("K1", "mall", 0, kiosk),
            ("M1", "mall", 0, shop_a),
            ("M2", "mall", 0, shop_b),
            ("P1", "hospital", 900, outside),
        ]
    )
    config = PartitionConfig(exclusive_min_area_m2=10_000, merge_small_sites_m2=10_000, workers=1)
    result = partition(communities, addresses, barriers, sites, config=config)
    grids = result.grids
    exclusive = grids[grids["kind"] == "exclusive"].set_index("site_id")
    assert set(exclusive.index) == {"S1", "M1+M2", "P1"}  # the kiosk is too small alone
    assert "site_clipped" in exclusive.at["P1", "flags"]
    assert all(code[-3:] >= "501" for code in exclusive["grid_code"])
    comprehensive = set(grids.loc[grids["kind"] == "comprehensive", "grid_code"])
    assert set(exclusive["host_grid_code"]) <= comprehensive
    assert result.summary["violations"] == []
    assert result.summary["exclusive"] == 3


def test_exclusive_ratio_warning():
    communities, addresses, barriers = lattice_city(8, households=40)
    step = 0.0005
    sites = site_frame(
        [
            (
                f"G{k}",
                "government",
                500,
                shapely.box(LON + k * 2 * step, LAT, LON + (k * 2 + 1) * step, LAT + step),
            )
            for k in range(4)
        ]
    )
    result = partition(
        communities,
        addresses,
        barriers,
        sites,
        config=PartitionConfig(exclusive_ratio_limit=0.5, workers=1),
    )
    assert any("ratio" in w for w in result.summary["warnings"])


# ---- codes ---------------------------------------------------------------------------------
def test_codes_read_west_to_east_then_north_to_south():
    communities, addresses, barriers = lattice_city(20, households=40)
    grids = partition(communities, addresses, barriers, config=SERIAL).grids
    anchors = shapely.point_on_surface(grids.geometry.to_numpy())
    first, last = grids["grid_code"].idxmin(), grids["grid_code"].idxmax()
    assert shapely.get_y(anchors[first]) > shapely.get_y(anchors[last])  # starts in the north
    assert grids["grid_code"].str.len().eq(15).all()
    assert grids["grid_code"].str[:12].eq("330402001001").all()


def test_same_input_same_output():
    communities, addresses, barriers = random_city(7, 150, 6)
    a = partition(communities, addresses, barriers, config=SERIAL).grids
    b = partition(communities, addresses, barriers, config=PartitionConfig(workers=2)).grids
    assert a.to_json() == b.to_json()


def test_codes_survive_a_five_percent_household_change():
    communities, addresses, barriers = lattice_city(30, households=None, seed=5)
    first = partition(communities, addresses, barriers, config=SERIAL)
    rng = np.random.default_rng(11)
    changed = addresses.copy()
    rows = rng.choice(len(changed), size=len(changed) // 10, replace=False)
    total = changed["households"].sum()
    # +/- on a tenth of the addresses, adding up to a 5% change of the community's households
    delta = np.round(0.05 * total / len(rows)).astype(int)
    changed.loc[rows, "households"] = changed.loc[rows, "households"] + delta
    second = partition(communities, changed, barriers, config=SERIAL, previous=first.grids)
    old = set(first.grids["grid_code"])
    survived = len(old & set(second.grids["grid_code"])) / len(old)
    assert survived >= 0.9
    assert second.summary["violations"] == []
    assert second.summary["share_in_band"] == 1.0
    diff = second.diff
    assert diff["counts"]["kept"] + diff["counts"]["changed"] == len(
        old & set(second.grids["grid_code"])
    )
    unchanged = partition(communities, addresses, barriers, config=SERIAL, previous=first.grids)
    assert unchanged.diff["counts"] == {"kept": len(old), "changed": 0, "new": 0, "retired": 0}


# ---- bad input -----------------------------------------------------------------------------
def test_min_above_max_is_an_input_error():
    communities, addresses, barriers = lattice_city(4)
    with pytest.raises(InputError, match="min_households"):
        partition(
            communities,
            addresses,
            barriers,
            config=PartitionConfig(min_households=600, max_households=500),
        )


def test_address_outside_every_community_is_named():
    communities, addresses, barriers = lattice_city(4)
    addresses.loc[2, ["lon", "lat"]] = [LON - 1, LAT]
    with pytest.raises(InputError) as error:
        partition(communities, addresses, barriers, config=SERIAL)
    assert "A2" in str(error.value) and "outside every community" in str(error.value)


def test_overlapping_communities_are_rejected():
    a = shapely.box(LON, LAT, LON + 0.002, LAT + 0.002)
    b = shapely.box(LON + 0.001, LAT, LON + 0.003, LAT + 0.002)
    addresses = address_frame([(LON + 0.0005, LAT + 0.001)], [10])
    with pytest.raises(InputError, match="overlap"):
        partition(community_frame([a, b]), addresses, config=SERIAL)


def test_invalid_and_degenerate_geometry():
    bowtie = shapely.Polygon(
        [(LON, LAT), (LON + 0.002, LAT + 0.002), (LON + 0.002, LAT), (LON, LAT + 0.002)]
    )
    addresses = address_frame([(LON + 0.0015, LAT + 0.001)], [10])
    with pytest.raises(InputError, match="invalid polygon"):
        partition(community_frame([bowtie]), addresses, config=SERIAL)
    repaired = partition(
        community_frame([bowtie]), addresses, config=PartitionConfig(repair=True, workers=1)
    )
    assert repaired.summary["violations"] == []
    flat = shapely.Polygon([(LON, LAT), (LON + 0.002, LAT), (LON + 0.001, LAT)])
    with pytest.raises(InputError, match="zero area|no polygon|invalid"):
        partition(community_frame([flat]), address_frame([], []), config=SERIAL)
    with pytest.raises(InputError, match="not a 12-digit"):
        partition(
            community_frame([shapely.box(LON, LAT, LON + 1e-3, LAT + 1e-3)], ["3304"]),
            address_frame([], []),
            config=SERIAL,
        )


def test_bad_households_and_degenerate_barriers():
    communities, addresses, barriers = lattice_city(4)
    broken = addresses.copy()
    broken["households"] = broken["households"].astype(object)
    broken.loc[1, "households"] = "many"
    with pytest.raises(InputError, match="households"):
        partition(communities, broken, barriers, config=SERIAL)
    odd = barrier_frame(
        [
            shapely.Point(LON, LAT),
            shapely.LineString([(LON, LAT), (LON, LAT)]),
            shapely.LineString([(LON + 1e-4, LAT + 1e-4), (LON + 2e-4, LAT + 2e-4)]),
        ]
    )
    result = partition(communities, addresses, odd, config=SERIAL)
    assert result.summary["violations"] == []


# ---- the regionalizer alone -----------------------------------------------------------------
def lattice_graph(keep: np.ndarray):
    """Rook edges between the kept cells of a boolean grid."""
    cells = np.full(keep.shape, -1)
    cells[keep] = np.arange(keep.sum())
    i = np.r_[cells[:, :-1].ravel(), cells[:-1, :].ravel()]
    j = np.r_[cells[:, 1:].ravel(), cells[1:, :].ravel()]
    ok = (i >= 0) & (j >= 0)
    ys, xs = np.nonzero(keep)
    return xs.astype(float), ys.astype(float), i[ok], j[ok]


def feasible(total: float, low=300, high=500) -> bool:
    return any(k * low <= total <= k * high for k in range(1, int(total // low) + 2))


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    width=st.integers(2, 30),
    height=st.integers(2, 30),
    holes=st.floats(0, 0.3),
)
def test_regions_are_connected_and_in_band_when_possible(seed, width, height, holes):
    # "Possible" is judged by a piece's total only; a small fragmented piece (below two full
    # grids) can meet the totals and still have no connected cut into the band, so the in-band
    # share is claimed for pieces of at least 1,000 households (see the counterexample below).
    check_regions(seed, width, height, holes, min_piece=1_000)


@pytest.mark.xfail(
    strict=True,
    reason="known weakness (found by hypothesis, also in the previous release): a 10x7 lattice "
    "with 28% holes leaves pieces of 608 and 724 households where only 3 of 5 regions in "
    "pieces feasible by their totals reach the band",
)
def test_fragmented_lattice_counterexample_is_still_below_the_claim():
    check_regions(seed=304, width=10, height=7, holes=0.28125, min_piece=0)


def test_border_points_under_a_grown_exclusive_grid_follow_the_edge_rule(monkeypatch):
    # Found by hypothesis: a small site's exclusive grid grows (merge_small_sites_m2) until it
    # reaches the border of two communities. Before grids exist the border points went to the
    # lower community code (the site itself does not cover them); the edge rule puts them in the
    # grown exclusive grid, so partition.borders moves them there.
    found = []

    def recorded(*args):
        moves = find_moves(*args)
        found.extend(moves)
        return moves

    find_moves = borders.find_moves
    monkeypatch.setattr(borders, "find_moves", recorded)
    test_guarantees_hold_on_random_cities.hypothesis.inner_test(
        seed=1, n_points=3, n_barriers=4, low=50, span=0, n_sites=2
    )
    assert found and all(move.target > move.source for move in found)  # to the higher code


def check_regions(seed, width, height, holes, min_piece):
    """Regionalise a lattice with holes: contiguous regions inside one piece each, and in band
    where the piece's total allows it (pieces of at least ``min_piece`` households)."""
    rng = np.random.default_rng(seed)
    keep = rng.random((height, width)) >= holes
    n = int(keep.sum())
    if n == 0:
        return
    x, y, i, j = lattice_graph(keep)
    households = rng.integers(20, 81, n)
    labels = regionalize(
        x, y, households, np.zeros(n), np.ones(n), i, j, np.ones(len(i)), Bounds(300, 500)
    )
    assert len(labels) == n and labels.min() == 0
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    _, piece = connected_components(graph, directed=False)
    totals = np.bincount(labels, weights=households)
    piece_totals = np.bincount(piece, weights=households)
    for region in range(labels.max() + 1):
        members = np.flatnonzero(labels == region)
        count, _ = connected_components(graph[members][:, members], directed=False)
        assert count == 1  # contiguous
        assert len(set(piece[members])) == 1  # never spans two pieces
    if holes == 0 and feasible(households.sum()):
        # a full rectangle of 20-80 household units can always be cut into the band
        assert ((totals >= 300) & (totals <= 500)).all(), sorted(totals)
    else:
        region_piece_total = np.array(
            [piece_totals[piece[np.flatnonzero(labels == r)[0]]] for r in range(len(totals))]
        )
        counted = np.array([feasible(t) and t >= min_piece for t in region_piece_total], dtype=bool)
        good = (totals >= 300) & (totals <= 500)
        if counted.sum() >= 5:
            assert good[counted].mean() >= 0.8, sorted(totals[counted])


# ---- the command ----------------------------------------------------------------------------
def run_cli(*args):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "gridmap.cli", "partition", *map(str, args)],
        capture_output=True,
        text=True,
    )


def test_cli_writes_identical_files_and_exits_2_on_bad_input(tmp_path):
    communities, addresses, barriers = lattice_city(12, households=None)
    communities.to_file(tmp_path / "b.gpkg")
    addresses.to_csv(tmp_path / "a.csv", index=False)
    barriers.to_file(tmp_path / "r.gpkg")
    common = [
        "--boundaries",
        tmp_path / "b.gpkg",
        "--addresses",
        tmp_path / "a.csv",
        "--barriers",
        tmp_path / "r.gpkg",
    ]
    first = run_cli(*common, "--out", tmp_path / "g1.gpkg")
    assert first.returncode == 0, first.stderr
    assert "within [300, 500]: 18 of 18 (100.0%)" in first.stdout
    second = run_cli(*common, "--out", tmp_path / "g2.gpkg", "--previous", tmp_path / "g1.gpkg")
    assert second.returncode == 0, second.stderr
    assert "retired 0" in second.stdout
    assert (tmp_path / "g1.gpkg").read_bytes() == (tmp_path / "g2.gpkg").read_bytes()
    bad = run_cli(*common, "--out", tmp_path / "g3.gpkg", "--min-households", "600")
    assert bad.returncode == 2 and "min_households" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "g3.gpkg").exists()


def test_cli_counts_mislabelled_community_codes_and_names_the_row_outside(tmp_path):
    """The command reads community_code as integer codes and never reads address_id: the
    mislabelled count is still exact, and an address outside every community is named by its
    file, row and field."""
    communities, addresses, barriers = lattice_city(6, households=40)
    own = communities["code"].iloc[0]
    addresses["community_code"] = own
    addresses.loc[[3, 7], "community_code"] = "330402001099"  # another (unknown) community
    addresses.loc[5, "community_code"] = ""  # not given: not counted
    communities.to_file(tmp_path / "b.gpkg")
    addresses.to_csv(tmp_path / "a.csv", index=False)
    common = ["--boundaries", tmp_path / "b.gpkg", "--workers", "1"]
    good = run_cli(*common, "--addresses", tmp_path / "a.csv", "--out", tmp_path / "g.gpkg",
                   "--summary-json", tmp_path / "s.json")  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert json.loads((tmp_path / "s.json").read_text())["summary"]["mislabelled_addresses"] == 2
    addresses.loc[4, "lon"] = LON - 1
    addresses.to_csv(tmp_path / "out.csv", index=False)
    bad = run_cli(*common, "--addresses", tmp_path / "out.csv", "--out", tmp_path / "h.gpkg")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "out.csv: row 6: field lon/lat" in bad.stderr, bad.stderr  # line 6: header + 5
    assert "outside every community" in bad.stderr and not (tmp_path / "h.gpkg").exists()


def test_multipart_community_and_polygon_barriers():
    # a community in two parts (an island), and a pond given as a polygon barrier
    main = shapely.box(LON, LAT, LON + 0.004, LAT + 0.004)
    island = shapely.box(LON + 0.005, LAT, LON + 0.006, LAT + 0.001)
    community = community_frame([shapely.MultiPolygon([main, island])])
    rng = np.random.default_rng(9)
    points = np.r_[
        rng.uniform([LON, LAT], [LON + 0.004, LAT + 0.004], (40, 2)), [[LON + 0.0055, LAT + 0.0005]]
    ]
    addresses = address_frame(points, np.r_[np.full(40, 30), [50]])
    pond = shapely.box(LON + 0.001, LAT + 0.001, LON + 0.002, LAT + 0.002)
    barriers = gpd.GeoDataFrame({"kind": ["river"]}, geometry=[pond], crs=4490)
    result = partition(community, addresses, barriers, config=SERIAL)
    assert result.summary["violations"] == []
    grids = result.grids
    assert (grids.geometry.geom_type == "Polygon").all()
    island_grid = grids[grids.geometry.intersects(island)]
    assert len(island_grid) == 1 and "below_min" in island_grid["flags"].iloc[0]
    assert grids["households"].sum() == 1250


def test_cli_exits_1_and_reports_when_a_guarantee_breaks(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from gridmap.partition import checks
    from gridmap.partition.cli import partition as command

    communities, addresses, barriers = lattice_city(6, households=40)
    communities.to_file(tmp_path / "b.gpkg")
    addresses.to_csv(tmp_path / "a.csv", index=False)
    monkeypatch.setattr(checks, "verify", lambda *args, **kwargs: ["community X: grids overlap"])
    result = CliRunner().invoke(
        command,
        [
            "--boundaries",
            str(tmp_path / "b.gpkg"),
            "--addresses",
            str(tmp_path / "a.csv"),
            "--out",
            str(tmp_path / "g.gpkg"),
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 1
    assert "VIOLATIONS (1)" in result.output and "grids overlap" in result.output


def test_cli_frees_the_address_frame_before_the_communities_run(tmp_path, monkeypatch):
    """The command holds the library only while prepare() cuts it into tasks: the 2M city's
    frame (~80 MB) is gone while the workers partition, the stage of the tree's memory peak."""
    import gc
    import weakref

    from click.testing import CliRunner

    from gridmap.partition import engine
    from gridmap.partition import inputs as inputs_module
    from gridmap.partition.cli import partition as command

    communities, addresses, _ = lattice_city(6, households=40)
    communities.to_file(tmp_path / "b.gpkg")
    addresses.to_csv(tmp_path / "a.csv", index=False)
    frames, alive = [], []
    read, finish = inputs_module.read_addresses, engine.finish

    def read_and_watch(*args, **kwargs):
        frame = read(*args, **kwargs)
        frames.append(weakref.ref(frame))
        return frame

    def finish_and_look(*args, **kwargs):
        gc.collect()
        alive.append(frames[0]() is not None)
        return finish(*args, **kwargs)

    monkeypatch.setattr(inputs_module, "read_addresses", read_and_watch)
    monkeypatch.setattr(engine, "finish", finish_and_look)
    args = ["--boundaries", str(tmp_path / "b.gpkg"), "--addresses", str(tmp_path / "a.csv")]
    result = CliRunner().invoke(command, [*args, "--out", str(tmp_path / "g.gpkg")])
    assert result.exit_code == 0, result.output
    assert alive == [False]


# ---- 不重不漏 on awkward linework, minimal change, locks, micro-grids ----------------------
def rows_of(grids) -> dict:
    """Every column of every grid, geometry as WKB: equal rows are byte-identical grids."""
    columns = [c for c in grids.columns if c != "geometry"]
    wkb = shapely.to_wkb(grids.geometry.to_numpy())
    return {
        code: (*values, geometry)
        for code, *values, geometry in zip(
            grids["grid_code"], *(grids[c].tolist() for c in columns), wkb, strict=True
        )
    }


def test_a_barrier_a_hair_inside_the_boundary_leaves_no_gap():
    """The 2M city's community 330411105221: a road 1e-8 degrees inside the boundary made a
    sliver face whose interior point tested outside the community, so the grids left a gap."""
    x0, y0 = LON, LAT
    community = shapely.Polygon([(x0, y0), (x0 + 0.01, y0 + 0.0013), (x0 + 0.008, y0 + 0.01)])
    road = shapely.LineString([(x0 - 0.001, y0 - 0.00013), (x0 + 0.01 - 1e-8, y0 + 0.0013 - 1e-9)])
    rng = np.random.default_rng(3)
    points = []
    while len(points) < 60:
        p = rng.uniform([x0, y0], [x0 + 0.01, y0 + 0.01])
        if community.buffer(-1e-4).contains(shapely.Point(p)):
            points.append(p)
    result = partition(
        community_frame([community]),
        address_frame(points, np.full(60, 20)),
        barrier_frame([road]),
        config=SERIAL,
    )
    assert result.summary["violations"] == []


def test_shares_are_rounded_down_not_up():
    from gridmap.partition.report import floor_share, pct

    assert pct(floor_share(4986, 4988)) == "99.9%"
    assert floor_share(4987, 4988) < 1.0
    assert pct(1.0) == "100.0%"


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_points=st.integers(40, 220),
    n_barriers=st.integers(0, 8),
    n_sites=st.integers(0, 4),
    sign=st.sampled_from([1, -1]),
)
# An address on a community border touching the neighbour's exclusive site: the edge rule gives it
# to that site's grid, so the partition must put it in that community (it once gave the other).
@example(seed=710, n_points=40, n_barriers=0, n_sites=1, sign=1)
def test_minimal_change_unchanged_identical_other_communities_identical(
    seed, n_points, n_barriers, n_sites, sign
):
    communities, addresses, barriers = random_city(seed | 1, n_points, n_barriers)  # two
    sites = random_sites(seed, n_sites)
    config = PartitionConfig(
        min_households=100,
        max_households=250,
        exclusive_min_area_m2=2_000,
        merge_small_sites_m2=8_000,
        workers=1,
    )
    first = partition(communities, addresses, barriers, sites, config=config)
    again = partition(communities, addresses, barriers, sites, config=config, previous=first.grids)
    assert rows_of(again.grids) == rows_of(first.grids)
    # change households in the second community only (east half)
    changed = addresses.copy()
    east = np.flatnonzero(changed["lon"].to_numpy() > LON + 0.005)
    rng = np.random.default_rng(seed)
    pick = changed.index[rng.choice(east, size=max(1, len(east) // 5), replace=False)]
    changed.loc[pick, "households"] = (changed.loc[pick, "households"] + 7 * sign).clip(0)
    second = partition(communities, changed, barriers, sites, config=config, previous=first.grids)
    assert second.summary["violations"] == []
    west = "330402001001"
    before = {c: r for c, r in rows_of(first.grids).items() if c.startswith(west)}
    after = {c: r for c, r in rows_of(second.grids).items() if c.startswith(west)}
    # the border point goes to the lower community code, so the west one is untouched
    assert after == before


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n_points=st.integers(60, 220), pick=st.integers(0, 99))
def test_locks_hold_whatever_changes(seed, n_points, pick):
    communities, addresses, barriers = random_city(seed, n_points, 4)
    config = PartitionConfig(min_households=100, max_households=250, workers=1)
    first = partition(communities, addresses, barriers, config=config)
    comprehensive = first.grids[first.grids["kind"] == "comprehensive"]
    lock = comprehensive["grid_code"].iloc[pick % len(comprehensive)]
    changed = addresses.copy()
    changed["households"] = changed["households"] * 2  # every grid far above the band
    second = partition(
        communities, changed, barriers, config=config, previous=first.grids, locks=(lock,)
    )
    assert second.summary["violations"] == []
    old = first.grids.set_index("grid_code")
    new = second.grids.set_index("grid_code")
    assert shapely.to_wkb(new.geometry[lock]) == shapely.to_wkb(old.geometry[lock])
    assert new.at[lock, "locked"] == 1
    # the next run keeps it locked from the column alone
    third = partition(communities, changed, barriers, config=config, previous=second.grids)
    assert shapely.to_wkb(third.grids.set_index("grid_code").geometry[lock]) == shapely.to_wkb(
        old.geometry[lock]
    )


def test_a_neighbour_made_infeasible_by_a_lock_is_flagged_and_the_lock_holds():
    communities, addresses, barriers = lattice_city(6)
    config = PartitionConfig(workers=1)
    first = partition(communities, addresses, barriers, config=config)
    codes_ = first.grids["grid_code"].tolist()
    changed = addresses.copy()
    changed["households"] = changed["households"] + 1  # ~+2.5%: still in band
    # a lock on every grid but one: whatever is left must take the change alone
    locks = tuple(codes_[:-1])
    shrunk = addresses.copy()
    shrunk.loc[shrunk.index[:3], "households"] = 0
    second = partition(
        communities, shrunk, barriers, config=config, previous=first.grids, locks=locks
    )
    grids = second.grids.set_index("grid_code")
    for code in locks:
        old = first.grids.set_index("grid_code").geometry[code]
        assert shapely.to_wkb(grids.geometry[code]) == shapely.to_wkb(old)
    assert second.summary["violations"] == []


def test_lock_naming_no_earlier_grid_is_an_input_error():
    communities, addresses, barriers = lattice_city(4)
    first = partition(communities, addresses, barriers, config=SERIAL)
    with pytest.raises(InputError, match="999999999999999 is not a grid"):
        partition(
            communities,
            addresses,
            barriers,
            config=SERIAL,
            previous=first.grids,
            locks=("999999999999999",),
        )
    with pytest.raises(InputError, match="need the earlier grids"):
        partition(communities, addresses, barriers, config=SERIAL, locks=("1",))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n_points=st.integers(0, 220), low=st.integers(10, 60))
@example(seed=1104, n_points=86, low=10)  # a second unit stepped into the L-shape's notch
def test_micro_grids_tile_their_grid_and_keep_buildings_whole(seed, n_points, low):
    communities, addresses, barriers = random_city(seed, n_points, 4)
    # buildings of two units (单元) each: every point and a second one 0.2 m east of it
    points = addresses[["lon", "lat"]].drop_duplicates().reset_index(drop=True)
    building = {tuple(p): f"{k}幢" for k, p in enumerate(points.to_numpy())}
    addresses["road"] = "路"
    addresses["houseno"] = [building[(x, y)] for x, y in addresses[["lon", "lat"]].to_numpy()]
    second_unit = addresses.assign(lon=addresses["lon"] + 2e-6)
    # stay inside the communities (0.2 m east can cross the city's edge or step into a notch)
    city = shapely.union_all(communities.geometry.to_numpy())
    second_unit = second_unit[shapely.intersects_xy(city, second_unit["lon"], second_unit["lat"])]
    addresses = pd.concat([addresses, second_unit], ignore_index=True)
    band = (low, low * 3)
    config = PartitionConfig(
        min_households=100, max_households=250, micro_households=band, workers=1
    )
    result = partition(communities, addresses, barriers, config=config)
    assert result.summary["violations"] == []  # verify_micro: exact tiling, valid, 18 digits
    micro = result.micro_grids
    comprehensive = result.grids[result.grids["kind"] == "comprehensive"]
    assert set(micro["grid_code"]) == set(comprehensive["grid_code"])
    assert (micro["micro_code"].str[:15] == micro["grid_code"]).all()
    totals = micro.groupby("grid_code")["households"].sum()
    assert (totals == comprehensive.set_index("grid_code")["households"].loc[totals.index]).all()
    # a building (within one grid) is in one micro-grid unless it alone exceeds the maximum
    shapes = shapely.points(addresses[["lon", "lat"]].to_numpy())
    geoms = micro.geometry.to_numpy()
    grid_of = micro["grid_code"].to_numpy()
    holder = [
        next(k for k in np.flatnonzero(shapely.covers(geoms, s)) if grid_of[k] == g)
        for s, g in zip(shapes, result.assignment, strict=True)
    ]
    frame = addresses.assign(micro=holder, grid=result.assignment.to_numpy())
    per_building = frame.groupby(["grid", "houseno"]).agg(
        parts=("micro", "nunique"), households=("households", "sum")
    )
    assert (per_building.loc[per_building["households"] <= band[1], "parts"] == 1).all()
    out = (micro["households"] < band[0]) | (micro["households"] > band[1])
    assert (micro.loc[out, "flags"] != "").all()


def test_progress_function_hears_every_community_once_in_order():
    boundaries, addresses, barriers = random_city(5)
    heard = []
    result = partition(
        boundaries, addresses, barriers, progress=lambda done, total: heard.append((done, total))
    )
    communities = len(boundaries[boundaries["level"] == "community"])
    assert heard == [(done, communities) for done in range(1, communities + 1)]
    assert result.ok


def test_building_keys_read_in_chunks_equal_the_whole_library():
    from gridmap.partition.inputs import BUILDING_COLUMN, BuildingKeys, row_buildings

    rng = np.random.default_rng(3)
    n = 5000
    frame = pd.DataFrame(
        {
            "road": rng.choice(["禾平街", "中山路", "", None], n),
            "roadno": rng.choice(["1号", "2号", "3号"], n),
            "poi": rng.choice(["中央华府", "栅堰小区", None], n),
            "houseno": rng.choice(["1幢", "2幢", "3幢", "", None], n),
        }
    )
    keys = BuildingKeys()
    chunked = np.concatenate(
        [keys(frame.iloc[i : i + 700])[BUILDING_COLUMN].to_numpy() for i in range(0, n, 700)]
    )
    whole = row_buildings(frame)
    assert chunked.tolist() == whole.tolist()
    # same components <=> same id; no houseno <=> -1; ids numbered in order of appearance
    text = frame.fillna("").astype(str).agg("|".join, axis=1).to_numpy()
    named = frame["houseno"].fillna("").to_numpy() != ""
    assert ((whole == -1) == ~named).all()
    codes, _ = pd.factorize(text[named])
    assert whole[named].tolist() == codes.tolist()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([-1.5, -0.0, 0.0, 0.5, 120.25]), st.floats(-1e6, 1e6)),
        min_size=1,
        max_size=40,
    )
)
def test_address_points_are_numpys_row_unique(rows):
    """unique_rows (the partitioner's address points) is np.unique(axis=0) in another way:
    the same points in the same order, each row mapped to the same point."""
    from gridmap.partition.units import unique_rows

    coords = np.array(rows, dtype=float)
    expected, expected_inverse = np.unique(coords, axis=0, return_inverse=True)
    points, inverse = unique_rows(coords)
    assert points.tolist() == expected.tolist()
    assert inverse.tolist() == expected_inverse.ravel().tolist()
