"""The partitioner on the sample city (default size): the issue's "done when", and stable codes."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridmap import io
from gridmap.partition import PartitionConfig, partition
from gridmap.sample import build_city


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    folder = tmp_path_factory.mktemp("city")
    build_city(folder)
    return {
        "boundaries": io.read_boundaries(folder / "boundaries.gpkg"),
        "addresses": io.read_addresses(folder / "addresses.csv"),
        "barriers": io.read_barriers(folder / "barriers.gpkg"),
        "sites": io.read_sites(folder / "sites.gpkg"),
    }


@pytest.fixture(scope="module")
def first(city):
    return partition(**city, config=PartitionConfig(workers=2))


def test_sample_city_is_covered_in_band_and_flagged(city, first):
    summary = first.summary
    assert summary["violations"] == []
    grids = first.grids
    comprehensive = grids[grids["kind"] == "comprehensive"]
    out = (comprehensive["households"] < 300) | (comprehensive["households"] > 500)
    assert (comprehensive.loc[out, "flags"] != "").all()
    assert summary["share_in_band"] == 1.0  # the README: every comprehensive grid in band
    assert summary["in_band"] == summary["comprehensive"]
    assert summary["micro"]["count"] > 0
    assert summary["median_polsby_popper"] >= 0.5
    assert summary["share_inner_boundary_on_barrier"] >= 0.5
    assert first.assignment.notna().all()
    communities = city["boundaries"]
    assert set(grids["community_code"]) == set(
        communities.loc[communities["level"] == "community", "code"]
    )
    exclusive = grids[grids["kind"] == "exclusive"]
    assert len(exclusive) > 0
    assert exclusive["host_grid_code"].isin(set(comprehensive["grid_code"])).all()
    assert (exclusive["grid_code"].str[-3:].astype(int) >= 501).all()


def test_codes_survive_five_percent_more_households_per_community(city, first):
    """+5% households in each of five communities: every code survives (the README), at least
    90% of their grids keep code and geometry, and every other community is byte-identical."""
    addresses = city["addresses"].copy()
    changed = sorted(first.grids["community_code"].unique())[::4][:5]
    rng = np.random.default_rng(5)
    codes_column = addresses["community_code"].astype(str).to_numpy()
    for code in changed:
        mine = np.flatnonzero(codes_column == code)
        total = int(addresses["households"].to_numpy()[mine].sum())
        grow = rng.choice(mine, size=int(round(0.05 * total)), replace=False)
        addresses.loc[addresses.index[grow], "households"] += 1
    second = partition(
        city["boundaries"],
        addresses,
        city["barriers"],
        city["sites"],
        config=PartitionConfig(workers=2),
        previous=first.grids,
    )
    assert second.summary["violations"] == []
    assert second.summary["share_in_band"] == 1.0
    old = dict(zip(first.grids["grid_code"], shapely.to_wkb(first.grids.geometry), strict=True))
    new = dict(zip(second.grids["grid_code"], shapely.to_wkb(second.grids.geometry), strict=True))
    shaped = total = 0
    for code in changed:
        before = set(first.grids.loc[first.grids["community_code"] == code, "grid_code"])
        after = set(second.grids.loc[second.grids["community_code"] == code, "grid_code"])
        assert before <= after, code
        shaped += sum(new[c] == old[c] for c in before)
        total += len(before)
    assert shaped / total >= 0.9
    untouched = first.grids[~first.grids["community_code"].isin(changed)]
    assert all(new.get(c) == old[c] for c in untouched["grid_code"])
    diff = second.diff
    assert diff["counts"]["kept"] >= len(untouched)
    assert set(diff["new"]) <= set(second.grids["grid_code"])
