"""The partitioner on real OpenStreetMap data of central Shanghai (../shared/data/shanghai-bund).

Communities are cut from the district borders, the Huangpu/Suzhou creek water and the primary and
trunk roads; barriers are all streets, rails and water outlines; addresses are building centroids
with households estimated from volume (3 m storeys, 90 m2 per household). Real tower blocks hold
more than 500 households: they must come out flagged ``indivisible_building``, not break anything.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.partition import PartitionConfig, partition

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "shanghai-bund"
MAJOR = {"primary", "trunk", "secondary"}
STREETS = MAJOR | {
    "secondary",
    "tertiary",
    "residential",
    "secondary_link",
    "tertiary_link",
    "unclassified",
    "living_street",
    "service",
}


def shanghai_inputs():
    """(communities, addresses, barriers) built from the real OSM extract."""
    if not DATA.is_dir():
        pytest.fail(f"real Shanghai data missing: expected {DATA} (see shared/data/README.md)")
    roads = gpd.read_file(DATA / "roads.geojson").set_crs(4490, allow_override=True)
    water = gpd.read_file(DATA / "water.geojson").set_crs(4490, allow_override=True)
    borders = gpd.read_file(DATA / "boundaries.geojson").set_crs(4490, allow_override=True)
    buildings = gpd.read_file(DATA / "buildings.geojson").set_crs(4490, allow_override=True)

    water = water[water.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    water = water[water["kind"].isin(["river", "canal", "riverbank", "water"])]
    water_union = shapely.union_all(water.geometry.to_numpy())
    frame = shapely.box(121.480, 31.226, 121.521, 31.251)
    major = roads[roads["kind_detail"].isin(MAJOR)].geometry.to_numpy()
    lines = [
        frame.boundary,
        *borders.geometry.to_numpy(),
        *major,
        *shapely.get_parts(shapely.boundary(water_union)),
    ]
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.unary_union(lines))))
    faces = faces[shapely.within(shapely.point_on_surface(faces), frame)]
    faces = faces[~shapely.intersects(water_union, shapely.point_on_surface(faces))]
    faces = faces[shapely.area(faces) * 1.06e10 > 20_000]  # drop traffic islands (< 2 ha)
    order = np.lexsort(
        (shapely.get_x(shapely.centroid(faces)), -shapely.get_y(shapely.centroid(faces)))
    )
    faces = faces[order]
    communities = gpd.GeoDataFrame(
        {
            "code": [f"310101001{k + 1:03d}" for k in range(len(faces))],
            "name": [f"社区{k + 1}" for k in range(len(faces))],
            "level": ["community"] * len(faces),
        },
        geometry=list(faces),
        crs=4490,
    )

    polys = buildings[buildings["kind"] == "building"]
    polys = polys[polys.geometry.geom_type == "Polygon"]
    footprint = shapely.area(polys.geometry.to_numpy()) * 1.06e10
    volume = pd.to_numeric(polys["volume"], errors="coerce").to_numpy()
    volume = np.where(np.isfinite(volume) & (volume > 0), volume, footprint * 9.0)
    households = np.maximum(1, np.round(volume / (3.0 * 90.0))).astype(int)
    centre = shapely.point_on_surface(polys.geometry.to_numpy())
    addresses = pd.DataFrame(
        {
            "address_id": [f"B{k}" for k in range(len(polys))],
            "address": "上海市",
            "lon": shapely.get_x(centre),
            "lat": shapely.get_y(centre),
            "households": households,
            "population": households * 2,
        }
    )
    inside = shapely.intersects(shapely.union_all(faces), centre)
    addresses = addresses[inside].reset_index(drop=True)

    streets = roads[roads["kind_detail"].isin(STREETS) | (roads["kind"] == "rail")]
    lines = list(streets.geometry) + list(shapely.get_parts(shapely.boundary(water_union)))
    barriers = gpd.GeoDataFrame({"kind": ["road"] * len(lines)}, geometry=lines, crs=4490)
    return communities, addresses, barriers


@pytest.fixture(scope="module")
def shanghai():
    return shanghai_inputs()


@pytest.fixture(scope="module")
def shanghai_result(shanghai):
    communities, addresses, barriers = shanghai
    return partition(communities, addresses, barriers, config=PartitionConfig(workers=1))


def test_shanghai_guarantees_hold(shanghai, shanghai_result):
    communities, addresses, _ = shanghai
    result = shanghai_result
    assert len(communities) >= 10
    assert result.summary["violations"] == []
    assert result.assignment.notna().all()
    assert int(result.grids["households"].sum()) == int(addresses["households"].sum())
    assert set(result.grids["community_code"]) == set(communities["code"])


def test_shanghai_grids_are_flagged_when_out_of_band(shanghai_result):
    grids = shanghai_result.grids
    comprehensive = grids[grids["kind"] == "comprehensive"]
    out = (comprehensive["households"] < 300) | (comprehensive["households"] > 500)
    assert (comprehensive.loc[out, "flags"] != "").all()
    towers = comprehensive["flags"].str.contains("indivisible_building")
    assert towers.any()  # real towers above 500 households exist in this extract
    above = comprehensive["households"] > 500
    assert comprehensive.loc[above, "flags"].str.contains("above_max").all()
    # most grids above the ceiling hold one building that is above it on its own
    assert towers[above].mean() >= 0.9


def test_shanghai_boundaries_follow_streets_where_towers_allow(shanghai_result):
    # ~80 single-tower grids must be cut between buildings, off the streets; the rest follow them
    summary = shanghai_result.summary
    assert summary["share_inner_boundary_on_barrier"] >= 0.4
    assert summary["median_polsby_popper"] >= 0.3
