"""Tests of gridmap.crs: datum conversions, the China outline, Gauss-Kruger zones, areas, lengths.

The accuracy tests print their measured figures; see them with
`.venv/bin/python -m pytest -q -s tests/test_crs.py -k "lattice or accuracy"`.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon, box

from gridmap import crs
from gridmap.crs import (
    area_m2,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_cgcs2000,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    gk_zone_epsg,
    in_china,
    length_m,
    parse_crs,
    to_cgcs2000,
    to_projected,
    transform_geoseries,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = pyproj.CRS.from_epsg(4490).get_geod()  # the CGCS2000 ellipsoid

# Cities at least ~20 km from a land border (closer than that the coarse outline may go either way).
CHINESE_PLACES = {
    "Jiaxing": (120.76, 30.75),
    "Beijing": (116.40, 39.90),
    "Shanghai": (121.47, 31.23),
    "Dalian": (121.61, 38.91),
    "Weihai": (122.12, 37.51),
    "Zhoushan": (122.21, 29.99),
    "Shengsi islands": (122.45, 30.73),
    "Pingtan island": (119.79, 25.50),
    "Xiamen": (118.09, 24.48),
    "Shenzhen": (114.06, 22.54),
    "Hong Kong": (114.17, 22.30),
    "Macau": (113.54, 22.19),
    "Beihai": (109.12, 21.48),
    "Haikou": (110.35, 20.02),
    "Sanya": (109.51, 18.25),
    "Dandong": (124.39, 40.13),
    "Heihe": (127.49, 50.25),
    "Fuyuan": (134.29, 48.36),
    "Mohe": (122.53, 52.97),
    "Manzhouli": (117.43, 49.60),
    "Erenhot": (111.98, 43.65),
    "Altay": (88.14, 47.84),
    "Kashgar": (75.99, 39.47),
    "Lhasa": (91.13, 29.65),
    "Ruili": (97.85, 24.01),
    "Jinghong": (100.80, 22.01),
    "Dongxing": (107.97, 21.55),
}
FOREIGN_PLACES = {
    "Tokyo": (139.69, 35.69),
    "Seoul": (126.98, 37.57),
    "Busan": (129.08, 35.18),
    "Pyongyang": (125.75, 39.02),
    "Chongjin": (129.78, 41.80),
    "Vladivostok": (131.89, 43.12),
    "Chita": (113.50, 52.03),
    "Ulaanbaatar": (106.91, 47.92),
    "Choibalsan": (114.53, 48.07),
    "Khovd": (91.64, 48.01),
    "Almaty": (76.95, 43.24),
    "Bishkek": (74.59, 42.87),
    "Islamabad": (73.05, 33.68),
    "Kathmandu": (85.32, 27.72),
    "Thimphu": (89.64, 27.47),
    "Myitkyina": (97.40, 25.38),
    "Vientiane": (102.63, 17.97),
    "Hanoi": (105.85, 21.03),
    "Haiphong": (106.68, 20.86),
    "Manila": (120.98, 14.60),
    "Naha": (127.68, 26.21),
    # Decision: Taiwan and Penghu are outside (no offset); Kinmen/Matsu are inside (see crs.py).
    "Taipei": (121.56, 25.04),
    "Kaohsiung": (120.30, 22.63),
    "Penghu": (119.57, 23.57),
}


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres between matching points."""
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(lon1, lat1, lon2, lat2)
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.fixture(scope="module")
def china_lattice() -> tuple[np.ndarray, np.ndarray]:
    """A 0.5-degree lattice over China's bounding box, kept where in_china holds."""
    lon, lat = np.meshgrid(np.arange(73.0, 135.51, 0.5), np.arange(17.5, 53.51, 0.5))
    lon, lat = lon.ravel(), lat.ravel()
    inside = in_china(lon, lat)
    assert inside.sum() > 3000, "the lattice should hold thousands of points inside China"
    return lon[inside], lat[inside]


# --- published reference values --------------------------------------------------------------
def test_forward_formulas_match_published_reference_values():
    # The values printed in the README of the widely used coordtransform library.
    assert wgs84_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-12
    )
    assert gcj02_to_bd09(116.404, 39.915) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-12
    )


def test_inverses_beat_the_published_one_step_approximations():
    # coordtransform's inverses are one-step approximations (metres off); ours solve exactly.
    approx_wgs = (116.39775550083061, 39.91359571849836)
    approx_gcj = (116.39762729119315, 39.90865673957631)
    wgs = gcj02_to_wgs84(116.404, 39.915)
    gcj = bd09_to_gcj02(116.404, 39.915)
    assert 0 < metres(*wgs, *approx_wgs) < 5
    assert 0 < metres(*gcj, *approx_gcj) < 5
    assert metres(*wgs84_to_gcj02(*wgs), 116.404, 39.915) < 1e-4
    assert metres(*gcj02_to_bd09(*gcj), 116.404, 39.915) < 1e-4
    assert metres(*wgs84_to_gcj02(*approx_wgs), 116.404, 39.915) > 0.01


# --- the outline of China ----------------------------------------------------------------------
def test_in_china_accepts_chinese_places_and_rejects_foreign_ones():
    lon, lat = np.array(list(CHINESE_PLACES.values())).T
    missed = [
        name for name, inside in zip(CHINESE_PLACES, in_china(lon, lat), strict=True) if not inside
    ]
    assert missed == []
    lon, lat = np.array(list(FOREIGN_PLACES.values())).T
    wrong = [
        name for name, inside in zip(FOREIGN_PLACES, in_china(lon, lat), strict=True) if inside
    ]
    assert wrong == []


def test_in_china_is_an_outline_not_a_bounding_box():
    # All of these lie inside China's bounding box (73.5-135.1E, 18-53.6N).
    for name in ("Seoul", "Pyongyang", "Hanoi", "Ulaanbaatar", "Choibalsan", "Kathmandu", "Taipei"):
        lon, lat = FOREIGN_PLACES[name]
        assert 73.5 < lon < 135.1 and 18 < lat < 53.6
        assert in_china(lon, lat) is False, name


def test_the_outline_is_one_valid_polygon_of_plausible_extent():
    outline = crs._china_polygon()
    assert outline.is_valid and outline.geom_type == "Polygon" and not outline.interiors
    min_x, min_y, max_x, max_y = outline.bounds
    assert 73 < min_x < 74 and 135 < max_x < 136 and 17 < min_y < 18.2 and 53.4 < max_y < 54
    # China's land is 9.6 million km2; the outline adds about 1 degree of coastal waters.
    area_km2 = abs(GEOD.geometry_area_perimeter(outline)[0]) / 1e6
    assert 9.6e6 < area_km2 < 11.5e6


def test_kinmen_decision_is_documented_behaviour():
    assert in_china(118.32, 24.44) is True  # Kinmen, 8 km off Xiamen: inside (offset applies)


@pytest.mark.parametrize("name", sorted(FOREIGN_PLACES))
def test_points_outside_china_pass_through_every_conversion_unchanged(name):
    lon, lat = FOREIGN_PLACES[name]
    for convert in (
        wgs84_to_gcj02,
        gcj02_to_wgs84,
        gcj02_to_bd09,
        bd09_to_gcj02,
        wgs84_to_bd09,
        bd09_to_wgs84,
    ):
        assert convert(lon, lat) == (lon, lat), convert.__name__
    for datum in ("gcj02", "bd09", "wgs84", "cgcs2000"):
        assert to_cgcs2000(lon, lat, datum) == (lon, lat)
        assert from_cgcs2000(lon, lat, datum) == (lon, lat)


def test_outside_points_away_from_the_outline_round_trip_exactly():
    rng = np.random.default_rng(7)
    lon = rng.uniform(60, 150, 20000)
    lat = rng.uniform(0, 60, 20000)
    outline = crs._china_polygon()
    far = ~shapely.contains_xy(outline.buffer(0.02), lon, lat)
    lon, lat = lon[far], lat[far]
    for forward, inverse in ((wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84)):
        x, y = forward(lon, lat)
        assert np.array_equal(x, lon) and np.array_equal(y, lat)
        x, y = inverse(lon, lat)
        assert np.array_equal(x, lon) and np.array_equal(y, lat)


def test_points_far_from_china_and_wrong_units_pass_through_without_error():
    # Anywhere on earth, and metres passed by mistake: unchanged, no warning, no divergence.
    lon, lat = np.meshgrid(np.linspace(-180, 180, 73), np.linspace(-90, 90, 37))
    lon = np.concatenate([lon.ravel(), [500000.0, 1e12, np.inf]])
    lat = np.concatenate([lat.ravel(), [3400000.0, -1e12, 30.0]])
    keep = ~in_china(lon, lat)
    lon, lat = lon[keep], lat[keep]
    with np.errstate(all="raise"):
        for convert in (gcj02_to_wgs84, bd09_to_wgs84, bd09_to_gcj02, wgs84_to_bd09):
            x, y = convert(lon, lat)
            assert np.array_equal(x, lon) and np.array_equal(y, lat), convert.__name__


# --- round trips inside China --------------------------------------------------------------------
def test_round_trip_on_a_lattice_over_china_is_below_a_millimetre(china_lattice):
    lon, lat = china_lattice
    gcj = wgs84_to_gcj02(lon, lat)
    bd = wgs84_to_bd09(lon, lat)
    offsets = metres(lon, lat, *gcj)
    # Every point inside moves (GCJ-02 offsets are hundreds of metres), so nothing is skipped.
    assert offsets.min() > 1.0 and offsets.max() < 1500.0
    assert metres(lon, lat, *bd).min() > 1.0

    errors = {
        "wgs84->gcj02->wgs84": metres(lon, lat, *gcj02_to_wgs84(*gcj)),
        "wgs84->bd09->wgs84": metres(lon, lat, *bd09_to_wgs84(*bd)),
        "gcj02->bd09->gcj02": metres(*gcj, *bd09_to_gcj02(*gcj02_to_bd09(*gcj))),
        "bd09->wgs84->bd09": metres(*bd, *wgs84_to_bd09(*bd09_to_wgs84(*bd))),
        "wgs84->bd09->gcj02 vs ->gcj02": metres(*gcj, *bd09_to_gcj02(*bd)),
    }
    for name, error in errors.items():
        print(f"{name}: {lon.size} points, max round-trip error {error.max() * 1000:.6f} mm")
        assert error.max() < 1e-3, name


def test_gcj_coordinates_round_trip_from_the_gcj_side(china_lattice):
    # Points well inside the outline read as GCJ-02 (resp. BD-09) coordinates.
    lon, lat = china_lattice
    deep = shapely.contains_xy(crs._china_polygon().buffer(-0.02), lon, lat)
    lon, lat = lon[deep], lat[deep]
    back = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert metres(lon, lat, *back).max() < 1e-3
    back = wgs84_to_bd09(*bd09_to_wgs84(lon, lat))
    assert metres(lon, lat, *back).max() < 1e-3
    back = gcj02_to_bd09(*bd09_to_gcj02(lon, lat))
    assert metres(lon, lat, *back).max() < 1e-3


@settings(max_examples=300, deadline=None)
@given(
    lon=st.floats(73.5, 135.1, allow_nan=False),
    lat=st.floats(18.0, 53.6, allow_nan=False),
)
def test_round_trip_of_any_point_in_china_is_below_a_millimetre(lon, lat):
    assume(in_china(lon, lat))
    gcj = wgs84_to_gcj02(lon, lat)
    assert metres(lon, lat, *gcj02_to_wgs84(*gcj))[()] < 1e-3
    bd = wgs84_to_bd09(lon, lat)
    assert metres(lon, lat, *bd09_to_wgs84(*bd))[()] < 1e-3
    assert metres(*gcj, *bd09_to_gcj02(*gcj02_to_bd09(*gcj)))[()] < 1e-3


# --- scalars and arrays ------------------------------------------------------------------------
def test_scalars_give_floats_and_arrays_keep_their_shape():
    lon, lat = wgs84_to_gcj02(120.76, 30.75)
    assert type(lon) is float and type(lat) is float
    grid_lon, grid_lat = np.meshgrid([120.7, 120.8, 139.7], [30.7, 30.8])
    out_lon, out_lat = gcj02_to_wgs84(grid_lon, grid_lat)
    assert out_lon.shape == (2, 3) and out_lat.shape == (2, 3)
    assert np.all(out_lon[:, 2] == 139.7)  # Tokyo's longitude: outside, unchanged
    assert np.all(out_lon[:, :2] != grid_lon[:, :2])
    x, y = wgs84_to_bd09([120.76], [30.75])
    assert isinstance(x, np.ndarray) and x.shape == (1,)


def test_nan_and_empty_inputs_pass_through():
    x, y = gcj02_to_wgs84(np.array([np.nan, 120.76]), np.array([30.0, 30.75]))
    assert np.isnan(x[0]) and y[0] == 30.0 and x[1] != 120.76
    x, y = bd09_to_wgs84(np.array([]), np.array([]))
    assert x.shape == (0,) and y.shape == (0,)
    assert in_china(np.nan, np.nan) is False


def test_array_conversion_equals_the_scalar_one():
    lon = np.array([120.76, 116.40, 87.6, 126.98])
    lat = np.array([30.75, 39.90, 43.8, 37.57])
    for convert in (gcj02_to_wgs84, bd09_to_wgs84, wgs84_to_bd09):
        x, y = convert(lon, lat)
        for i in range(lon.size):
            assert (x[i], y[i]) == convert(lon[i], lat[i])


# --- parse_crs and to/from CGCS2000 ------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wgs84", "wgs84"),
        ("WGS-84", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("cgcs2000", "cgcs2000"),
        ("CGCS2000", "cgcs2000"),
        ("epsg:4490", "cgcs2000"),
        ("GCJ02", "gcj02"),
        ("gcj-02", "gcj02"),
        ("bd09", "bd09"),
        ("BD-09", "bd09"),
        (4490, "cgcs2000"),
        (pyproj.CRS.from_epsg(4326), "wgs84"),
    ],
)
def test_parse_crs_names(text, expected):
    assert parse_crs(text) == expected


def test_parse_crs_gives_pyproj_crs_for_other_epsg_codes():
    parsed = parse_crs("epsg:4547")
    assert isinstance(parsed, pyproj.CRS) and parsed.to_epsg() == 4547
    assert parse_crs(" EPSG:3857 ").to_epsg() == 3857


@pytest.mark.parametrize("text", ["mars", "", "EPSG:", "EPSG:999999", "gcj03", "4490x", None, 1.5])
def test_parse_crs_rejects_unknown_forms_naming_the_accepted_ones(text):
    with pytest.raises(ValueError, match="wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>"):
        parse_crs(text)


def test_to_and_from_cgcs2000_with_epsg_codes_use_pyproj():
    lon, lat = np.array([113.0, 114.3, 115.2]), np.array([22.6, 30.6, 38.0])
    x, y = from_cgcs2000(lon, lat, "EPSG:4547")
    ref_x, ref_y = pyproj.Transformer.from_crs(4490, 4547, always_xy=True).transform(lon, lat)
    assert np.allclose(x, ref_x, atol=1e-6) and np.allclose(y, ref_y, atol=1e-6)
    back = to_cgcs2000(x, y, "epsg:4547")
    assert metres(lon, lat, *back).max() < 1e-6
    mx, my = from_cgcs2000(120.0, 30.0, "EPSG:3857")
    assert mx == pytest.approx(13358338.895, abs=0.01) and my == pytest.approx(
        3503549.843, abs=0.01
    )


def test_wgs84_and_cgcs2000_are_numerically_equal():
    lon, lat = np.array([120.76, 87.6]), np.array([30.75, 43.8])
    for datum in ("wgs84", "cgcs2000", "EPSG:4326", "EPSG:4490"):
        x, y = to_cgcs2000(lon, lat, datum)
        assert np.array_equal(x, lon) and np.array_equal(y, lat)
        assert x is not lon  # a copy: callers may write into it


def test_to_cgcs2000_from_gcj_and_bd_match_the_direct_functions(china_lattice):
    lon, lat = china_lattice
    assert np.array_equal(np.array(to_cgcs2000(lon, lat, "gcj02")), gcj02_to_wgs84(lon, lat))
    assert np.array_equal(np.array(to_cgcs2000(lon, lat, "BD-09")), bd09_to_wgs84(lon, lat))
    assert np.array_equal(np.array(from_cgcs2000(lon, lat, "gcj02")), wgs84_to_gcj02(lon, lat))
    assert np.array_equal(np.array(from_cgcs2000(lon, lat, "bd09")), wgs84_to_bd09(lon, lat))


# --- transform_geoseries -----------------------------------------------------------------------
def test_transform_geoseries_gcj_round_trip_keeps_index_and_shapes():
    polygon = box(120.70, 30.70, 120.72, 30.72)
    series = gpd.GeoSeries(
        [polygon, LineString([(120.7, 30.7), (120.8, 30.8)]), Point(139.69, 35.69), None],
        index=["a", "b", "tokyo", "none"],
        crs=4490,
    )
    gcj = transform_geoseries(series, "cgcs2000", "gcj02")
    assert gcj.crs is None and list(gcj.index) == list(series.index)
    expected = wgs84_to_gcj02(*np.array(polygon.exterior.coords).T)
    assert np.allclose(np.array(gcj["a"].exterior.coords), np.column_stack(expected), atol=0)
    assert gcj["tokyo"].equals(series["tokyo"]) and gcj["none"] is None
    back = transform_geoseries(gcj, "gcj02", "cgcs2000")
    assert back.crs.to_epsg() == 4490
    coords = np.array(back["a"].exterior.coords)
    assert metres(*coords.T, *np.array(polygon.exterior.coords).T).max() < 1e-3
    bd = transform_geoseries(series, None, "bd09")
    expected = np.column_stack(wgs84_to_bd09(np.array([120.7, 120.8]), np.array([30.7, 30.8])))
    assert np.array_equal(np.array(bd["b"].coords), expected)


def test_transform_geoseries_keeps_z_and_shortcuts_the_same_datum():
    series = gpd.GeoSeries(
        [
            Point(120.76, 30.75, 12.5),
            Point(120.77, 30.76),
            LineString([(120.7, 30.7, 1), (121, 31, 2)]),
        ],
        crs=4490,
    )
    bd = transform_geoseries(series, "wgs84", "bd09")
    assert list(shapely.has_z(bd.values)) == [True, False, True]
    assert bd[0].z == 12.5 and [c[2] for c in bd[2].coords] == [1.0, 2.0]
    assert (bd[0].x, bd[0].y) == wgs84_to_bd09(120.76, 30.75)
    same = transform_geoseries(bd, "bd09", "BD-09")
    assert same.crs is None and same.geom_equals_exact(bd, tolerance=0).all()


def test_transform_geoseries_epsg_pairs_go_through_to_crs():
    series = gpd.GeoSeries([box(120.70, 30.70, 120.72, 30.72)], crs=4490)
    projected = transform_geoseries(series, "cgcs2000", "EPSG:4549")
    assert projected.crs.to_epsg() == 4549
    assert projected.geom_equals_exact(series.to_crs(4549), tolerance=1e-6).all()
    back = transform_geoseries(projected, "EPSG:4549", "epsg:4490")
    assert back.crs.to_epsg() == 4490
    assert back.geom_equals_exact(series, tolerance=1e-9).all()
    relabelled = transform_geoseries(series, "cgcs2000", "wgs84")
    assert (
        relabelled.crs.to_epsg() == 4326
        and relabelled.geom_equals(series.set_crs(4326, allow_override=True)).all()
    )
    bd_from_metres = transform_geoseries(projected, "EPSG:4549", "bd09")
    assert bd_from_metres.geom_equals_exact(
        transform_geoseries(series, "cgcs2000", "bd09"), tolerance=1e-8
    ).all()


# --- Gauss-Kruger zones ------------------------------------------------------------------------
def test_gk_zone_codes_are_the_cgcs2000_3_degree_cm_zones():
    for offset, central in enumerate(range(75, 136, 3)):
        code = 4534 + offset
        projection = pyproj.CRS.from_epsg(code)
        assert projection.name == f"CGCS2000 / 3-degree Gauss-Kruger CM {central}E"
        lon_0 = {p.name: p.value for p in projection.coordinate_operation.params}[
            "Longitude of natural origin"
        ]
        assert lon_0 == central
        for lon in (central - 1.49, central, central + 1.49):
            assert gk_zone_epsg(lon) == code
    assert gk_zone_epsg(76.5) == 4535  # a half-way longitude goes east, always
    assert gk_zone_epsg(73.5) == 4534 and gk_zone_epsg(136.49) == 4554


@pytest.mark.parametrize("lon", [73.49, 136.5, 140.0, -120.0, float("nan")])
def test_gk_zone_outside_china_is_an_error(lon):
    with pytest.raises(ValueError, match="73.5E to 136.5E"):
        gk_zone_epsg(lon)


def test_gk_zone_of_a_geometry_uses_its_centroid():
    assert gk_zone_epsg(box(120.0, 30.0, 121.0, 31.0)) == 4549
    assert gk_zone_epsg(box(121.0, 30.0, 122.0, 31.0)) == 4550  # centroid 121.5 -> CM 123E
    with pytest.raises(ValueError):
        gk_zone_epsg(Polygon())


def test_to_projected_uses_the_centre_of_the_total_bounds():
    frame = gpd.GeoDataFrame(
        {"name": ["w", "e"]},
        geometry=[box(119.0, 30.0, 119.1, 30.1), box(122.0, 30.0, 122.1, 30.1)],
        crs=4490,
    )
    projected = to_projected(frame)  # centre 120.55 -> CM 120E
    assert isinstance(projected, gpd.GeoDataFrame) and projected.crs.to_epsg() == 4549
    assert list(projected["name"]) == ["w", "e"]
    series = to_projected(frame.geometry.iloc[1:])  # centre 122.05 -> CM 123E
    assert isinstance(series, gpd.GeoSeries) and series.crs.to_epsg() == 4550
    assert to_projected(frame.to_crs(4549)).crs.to_epsg() == 4549
    with pytest.raises(ValueError):
        to_projected(gpd.GeoSeries([], crs=4490))


# --- areas and lengths -------------------------------------------------------------------------
def random_community_polygons(n: int, seed: int) -> tuple[list[Polygon], np.ndarray]:
    """Star-shaped polygons of roughly 0.2-5 km2 spread over China, half of them near zone edges."""
    rng = np.random.default_rng(seed)
    lon_lattice, lat_lattice = np.meshgrid(
        np.arange(74.0, 135.0, 0.25), np.arange(18.5, 53.0, 0.25)
    )
    lon_lattice, lat_lattice = lon_lattice.ravel(), lat_lattice.ravel()
    inside = in_china(lon_lattice, lat_lattice)
    pick = rng.choice(np.flatnonzero(inside), n)
    lon, lat = lon_lattice[pick] + rng.uniform(-0.1, 0.1, n), lat_lattice[pick]
    edge = rng.random(n) < 0.5
    central = 3.0 * np.floor(lon / 3.0 + 0.5)
    lon[edge] = central[edge] + rng.choice([-1.0, 1.0], edge.sum()) * rng.uniform(
        1.45, 1.49, edge.sum()
    )
    polygons = []
    for i in range(n):
        vertices = rng.integers(5, 25)
        # Jittered but increasing angles around the centre: a simple (valid) star-shaped polygon.
        angles = (np.arange(vertices) + rng.uniform(0.0, 0.8, vertices)) * 2 * np.pi / vertices
        radii = rng.uniform(0.6, 1.4, vertices)
        x, y = radii * np.cos(angles), radii * np.sin(angles)
        scale = np.sqrt(rng.uniform(0.2e6, 5e6) / Polygon(np.column_stack([x, y])).area)
        d_lat = scale * y / 111_000.0
        d_lon = scale * x / (111_000.0 * np.cos(np.radians(lat[i])))
        polygons.append(Polygon(np.column_stack([lon[i] + d_lon, lat[i] + d_lat])))
    return polygons, edge


def test_area_accuracy_against_the_geodesic_area_across_china():
    polygons, edge = random_community_polygons(400, seed=11)
    series = gpd.GeoSeries(polygons, crs=4490)
    assert series.is_valid.all()
    geodesic = np.array([abs(GEOD.geometry_area_perimeter(p)[0]) for p in polygons])
    assert geodesic.min() > 0.18e6 and geodesic.max() < 5.5e6  # community-sized
    relative = np.abs(area_m2(series) - geodesic) / geodesic
    print(
        f"area: {len(polygons)} polygons ({edge.sum()} within 0.05 deg of a zone edge), "
        f"max error {relative.max() * 100:.4f}% (near edges {relative[edge].max() * 100:.4f}%, "
        f"elsewhere {relative[~edge].max() * 100:.4f}%)"
    )
    assert relative.max() < 1e-3
    assert relative[edge].max() > relative[~edge].min()  # the test does reach the zone edges


def test_length_accuracy_against_the_geodesic_length():
    polygons, _ = random_community_polygons(200, seed=12)
    series = gpd.GeoSeries([p.exterior for p in polygons], crs=4490)
    geodesic = np.array([GEOD.geometry_length(line) for line in series])
    relative = np.abs(length_m(series) - geodesic) / geodesic
    print(f"length: max error {relative.max() * 100:.4f}%")
    assert relative.max() < 1e-3
    perimeters = length_m(gpd.GeoSeries(polygons, crs=4490))
    # A ring and its polygon may fall in neighbouring zones near an edge: equal within accuracy.
    assert np.allclose(perimeters, length_m(series), rtol=1e-3)


def test_web_mercator_would_be_a_third_off_at_30n():
    # Why the rule exists: the same 1 km2-ish polygon measured in EPSG:3857 at 30N.
    polygon = box(120.0, 30.0, 120.01, 30.01)
    geodesic = abs(GEOD.geometry_area_perimeter(polygon)[0])
    mercator = gpd.GeoSeries([polygon], crs=4490).to_crs(3857).area.iloc[0]
    gauss_kruger = area_m2(gpd.GeoSeries([polygon], crs=4490))[0]
    mercator_error = mercator / geodesic - 1
    print(f"Web Mercator area error at 30N: {mercator_error * 100:.1f}%")
    assert 0.30 < mercator_error < 0.37
    assert abs(gauss_kruger / geodesic - 1) < 1e-4


def test_area_of_a_layer_spanning_several_zones_stays_accurate():
    polygons = [box(lon, 30.0, lon + 0.01, 30.01) for lon in (75.0, 100.0, 120.5, 135.0)]
    frame = gpd.GeoDataFrame(geometry=polygons, crs=4490)
    geodesic = np.array([abs(GEOD.geometry_area_perimeter(p)[0]) for p in polygons])
    assert np.allclose(area_m2(frame), geodesic, rtol=1e-3)


def test_area_handles_missing_empty_and_projected_input():
    series = gpd.GeoSeries([box(120.0, 30.0, 120.01, 30.01), None, Polygon()], crs=4490)
    areas = area_m2(series)
    assert areas[0] > 1e6 and np.isnan(areas[1]) and areas[2] == 0.0
    projected = area_m2(series.to_crs(4549))
    assert projected[0] == pytest.approx(areas[0], rel=1e-9)
    assert area_m2(gpd.GeoSeries([], crs=4490)).shape == (0,)
    with pytest.raises(ValueError, match="outside the CGCS2000 Gauss-Kruger zones"):
        area_m2(gpd.GeoSeries([box(139.0, 35.0, 139.01, 35.01)], crs=4490))


def test_gcj_bd_round_trip_near_the_coast_is_judged_at_the_physical_place():
    # Found by hypothesis: a WGS84 point just inside the outline whose GCJ-02 point lies just
    # outside it. GCJ-02 <-> BD-09 must decide "in China" at the WGS84 location both ways.
    lon, lat = 122.91015625, 28.828125
    gcj = wgs84_to_gcj02(lon, lat)
    assert metres(*gcj, *bd09_to_gcj02(*gcj02_to_bd09(*gcj)))[()] < 1e-3
