"""Points to grids: the edge rule, exclusive grids, unassigned points, reverse geocoding."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from geocode_helpers import lattice_grids, small_library
from shapely import box

from gridmap.crs import from_cgcs2000
from gridmap.geocode import Geocoder
from gridmap.geocode.assign import GridIndex, assign_grids


def two_by_two():
    # codes 001 002 / 003 004, west->east then north->south, over [0,2] x [0,2]
    return lattice_grids(0.0, 0.0, 2.0, 2.0, 2, 2)


def test_interior_points():
    codes = assign_grids([0.5, 1.5, 0.5, 1.5], [1.5, 1.5, 0.5, 0.5], two_by_two())
    assert [c[-3:] for c in codes] == ["001", "002", "003", "004"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_edge_rule_smallest_code_whatever_the_row_order(seed):
    grids = two_by_two().sample(frac=1.0, random_state=seed)
    lon = [1.0, 0.5, 1.0, 1.5, 1.0]  # shared edges (vertical, horizontal) and the corner
    lat = [1.5, 1.0, 0.5, 1.0, 1.0]
    codes = GridIndex(grids).assign(lon, lat)
    assert [c[-3:] for c in codes] == ["001", "001", "003", "002", "001"]


def test_edge_points_are_counted():
    index = GridIndex(two_by_two())
    found, ties = index.assign_points_counted(shapely.points([1.0, 0.2, 1.0], [1.0, 0.2, 0.5]))
    assert ties == 2
    assert (found >= 0).all()


def test_exclusive_grid_wins_over_its_host():
    grids = gpd.GeoDataFrame(
        {
            "grid_code": ["330402001001001", "330402001001002"],
            "kind": ["comprehensive", "exclusive"],
        },
        geometry=[box(0, 0, 2, 2), box(0.5, 0.5, 1.0, 1.0)],
    )
    codes = assign_grids([0.7, 1.5, 1.0], [0.7, 1.5, 1.0], grids)
    assert codes.tolist() == ["330402001001002", "330402001001001", "330402001001002"]


def test_points_outside_every_grid_get_none():
    codes = assign_grids([5.0, np.nan, 1.5], [5.0, 0.5, 1.5], two_by_two())
    assert codes[0] is None and codes[1] is None and codes[2].endswith("002")


def test_vectorised_answer_equals_point_by_point_containment():
    rng = np.random.default_rng(7)
    grids = lattice_grids(120.0, 30.0, 120.1, 30.1, 7, 5)
    lon = rng.uniform(119.99, 120.11, 3000)
    lat = rng.uniform(29.99, 30.11, 3000)
    codes = assign_grids(lon, lat, grids)
    for x, y, code in zip(lon[:300], lat[:300], codes[:300], strict=True):
        holders = sorted(
            c
            for c, g in zip(grids.grid_code, grids.geometry, strict=True)
            if g.intersects(shapely.Point(x, y))
        )
        assert code == (holders[0] if holders else None)


def test_empty_inputs():
    assert len(assign_grids([], [], two_by_two())) == 0
    empty = two_by_two().iloc[:0]
    assert assign_grids([0.5], [0.5], empty).tolist() == [None]


# --- reverse geocoding --------------------------------------------------------------------
@pytest.fixture(scope="module")
def geocoder():
    grids = lattice_grids(120.69, 30.74, 120.78, 30.81, 3, 3, community="330402001002")
    return Geocoder.from_frames(small_library(), grids)


def test_reverse_gives_grid_admin_codes_and_nearest_address(geocoder):
    out = geocoder.reverse(120.7601, 30.7600, crs="cgcs2000", radius_m=50)
    assert out["grid_code"].startswith("330402001002")
    assert out["community_code"] == "330402001002"
    assert out["street_code"] == "330402001" and out["district_code"] == "330402"
    assert out["address_id"] == "ZH-7"
    assert 5 < out["distance_m"] < 15  # 0.0001 degree of longitude at 30.76N is about 9.6 m


def test_reverse_outside_the_radius_gives_no_address(geocoder):
    out = geocoder.reverse(120.7650, 30.7650, crs="cgcs2000", radius_m=50)
    assert out["address_id"] is None and out["distance_m"] is None
    assert out["grid_code"] is not None


def test_nearest_address_is_the_address_reverse_names(geocoder):
    """A point report asks only for the nearest address: the same answer reverse gives."""
    geocoder.prepare_reverse()
    for lon, lat in [(120.7601, 30.7600), (120.7650, 30.7650), (120.70, 30.75)]:
        full = geocoder.reverse(lon, lat, crs="cgcs2000", radius_m=50)
        nearest = geocoder.nearest_address(lon, lat, radius_m=50)
        if full["address_id"] is None:
            assert nearest is None
        else:
            assert nearest == {k: full[k] for k in ("address_id", "address", "distance_m")}
    assert geocoder.nearest_address(120.7601, 30.7600, radius_m=0) is None


def test_reverse_accepts_other_datums(geocoder):
    lon, lat = from_cgcs2000(120.7601, 30.7600, "gcj02")
    assert abs(lon - 120.7601) > 0.001  # GCJ-02 is hundreds of metres off
    out = geocoder.reverse(lon, lat, crs="gcj02", radius_m=50)
    assert out["address_id"] == "ZH-7"


def test_reverse_uses_boundaries_when_given():
    boundaries = gpd.GeoDataFrame(
        {
            "code": ["330402", "330402001", "330402001009"],
            "level": ["district", "street", "community"],
            "name": ["南湖区", "建设街道", "幸福社区"],
        },
        geometry=[box(120, 30, 121, 31)] * 3,
        crs="EPSG:4490",
    )
    geocoder = Geocoder.from_frames(small_library(), None, boundaries)
    out = geocoder.reverse(120.7601, 30.7600, crs="wgs84")
    assert out["community_code"] == "330402001009" and out["grid_code"] is None


def test_reverse_refuses_bad_coordinates(geocoder):
    with pytest.raises(ValueError):
        geocoder.reverse(float("nan"), 30.0)
    with pytest.raises(ValueError):
        geocoder.reverse(120.0, 30.0, crs="mars")
