"""The edge rule has one home: a point on any shared grid edge or vertex gets the same grid from
every path (assign, the geocoder, publish, the store's lookup, POST /api/incidents, Open311),
and that grid is the rule's (exclusive first, then the smallest code)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
import webcity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webcity import bearer

from gridmap.geocode.assign import assign_grids
from gridmap.partition import checks
from gridmap.rules.grid_index import GridIndex, locate_in
from gridmap.services.locating import VersionLocator, locate
from gridmap.services.versions import publish
from gridmap.store import IncidentFilter, open_store

GRIDS = webcity.grids()
# Every x and y where some grid has an edge (the lattice of webcity plus the exclusive square).
_BOUNDS = shapely.bounds(GRIDS.geometry.values)
XS = sorted({float(v) for v in (*_BOUNDS[:, 0], *_BOUNDS[:, 2])})
YS = sorted({float(v) for v in (*_BOUNDS[:, 1], *_BOUNDS[:, 3])})
W, S, E, N = webcity.W, webcity.S, webcity.E, webcity.N


@st.composite
def edge_points(draw):
    """A point exactly on a grid edge (one coordinate is an edge's), often on a vertex."""
    x_edge, y_edge = draw(st.sampled_from(XS)), draw(st.sampled_from(YS))
    x_any = draw(st.floats(W, E, allow_nan=False))
    y_any = draw(st.floats(S, N, allow_nan=False))
    kind = draw(st.sampled_from(["vertex", "vertical", "horizontal"]))
    if kind == "vertex":
        return x_edge, y_edge
    if kind == "vertical":
        return x_edge, y_any
    return x_any, y_edge


def rule(lon: float, lat: float) -> str | None:
    """The edge rule written out by brute force: every grid whose closed polygon covers the
    point; exclusive before comprehensive; then the smallest code."""
    point = shapely.Point(lon, lat)
    holders = [
        (0 if g.kind == "exclusive" else 1, g.grid_code)
        for g in GRIDS.itertuples()
        if g.geometry.covers(point)
    ]
    return min(holders)[1] if holders else None


def test_shared_vertex_of_the_issue_goes_to_the_smaller_code():
    # 330402001001001 and ...002 share the edge x = 120.725; the issue's POST landed in ...002.
    x = GRIDS.set_index("grid_code").geometry["330402001001001"].bounds[2]
    index = GridIndex.from_frame(GRIDS)
    assert index.locate(x, 30.75) == "330402001001001" == rule(x, 30.75)
    assert index.locate(x, 30.72) == "330402001001001"
    # On the exclusive grid's edge the exclusive grid wins over its host.
    assert index.locate(120.701, 30.702) == "330402001001501"
    assert index.locate(121.5, 30.75) is None
    assert locate_in([], None, [], 1.0, 1.0) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(edge_points(), min_size=1, max_size=12))
def test_every_offline_path_gives_the_rule(points):
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    expected = [rule(x, y) for x, y in points]
    index = GridIndex.from_frame(GRIDS)
    assert index.locate_many(lon, lat).tolist() == expected
    assert [index.locate(x, y) for x, y in points] == expected  # one point, no arrays
    assert assign_grids(lon, lat, GRIDS).tolist() == expected

    from gridmap.geocode import Geocoder

    library = pd.DataFrame(
        {
            "address_id": [f"P{i}" for i in range(len(points))],
            "address": [f"浙江省嘉兴市南湖区边界路{i}号" for i in range(len(points))],
            "lon": lon,
            "lat": lat,
        }
    )
    assert Geocoder.from_frames(library, GRIDS).assign(lon, lat).tolist() == expected

    # publish assigns a library without grid_code by the rule; the store's lookup agrees.
    store = open_store(":memory:")
    vid = publish(store, GRIDS, webcity.boundaries(), library)["version_id"]
    published = {a.address_id: a.grid_code for a in store.addresses(vid)}
    assert [published[f"P{i}"] for i in range(len(points))] == expected
    assert [locate(store, vid, x, y).grid_code for x, y in points] == expected
    # the web app's in-memory locator (a report's path on a warm server) agrees
    assert [VersionLocator(store, vid).locate(x, y).grid_code for x, y in points] == expected


def test_the_in_memory_locator_answers_as_the_store_does(city_store):
    """Every point of a lattice over the city and around it (grid edges and vertices, admin
    units without a grid, outside every district): the version's locator in memory and the
    store's spatial index give the same Location, on each backend."""
    vid = city_store.current_version().id
    locator = VersionLocator(city_store, vid)
    xs = sorted({*XS, *np.linspace(W - 0.02, E + 0.02, 9).tolist()})
    ys = sorted({*YS, *np.linspace(S - 0.02, N + 0.02, 9).tolist()})
    found = [(locate(city_store, vid, x, y), locator.locate(x, y)) for x in xs for y in ys]
    assert all(by_store == in_memory for by_store, in_memory in found)
    assert any(by_store is None for by_store, _ in found)  # outside every district
    assert sum(by_store is not None for by_store, _ in found) > len(found) / 3


def test_a_warm_server_puts_reports_in_the_rules_grid(app, client, tokens):
    """`gridmap serve` builds the geocoder, and with it the version's locator, at start; a
    report then locates in memory, on the same rule."""
    from web import geocoding

    with app.app_context():
        vid = app.extensions["gridmap_store"].current_version().id
        geocoding.geocoder(vid)
        assert ("locator", vid) in app.extensions["gridmap_cache"]
    for x, y in [(x, y) for x in XS for y in YS][::3] + [(121.5, 30.75)]:
        report = {"type": "garbage", "description": "边界上", "lon": x, "lat": y}
        r = client.post(
            "/api/incidents", json=report | {"crs": "cgcs2000"}, headers=bearer(tokens["admin"])
        )
        expected = rule(x, y)
        if expected is None:
            assert r.status_code == 422, r.get_json()
        else:
            assert r.status_code == 201, r.get_json()
            assert r.get_json()["grid_code"] == expected


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(point=edge_points())
def test_reports_over_the_api_and_open311_land_in_the_rules_grid(client, tokens, city_store, point):
    x, y = point
    expected = rule(x, y)
    r = client.post(
        "/api/incidents",
        json={"type": "garbage", "description": "边界上", "lon": x, "lat": y, "crs": "cgcs2000"},
        headers=bearer(tokens["admin"]),
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["grid_code"] == expected
    r = client.post(
        "/open311/v2/requests.json",
        data={"service_code": "noise", "lat": repr(y), "long": repr(x), "api_key": tokens["admin"]},
    )
    assert r.status_code == 201, r.get_json()
    (record,) = city_store.incidents(IncidentFilter(), limit=1)
    assert str(record.id) == r.get_json()[0]["service_request_id"]
    assert record.grid_code == expected


def test_partition_check_flags_an_address_given_another_grid_than_the_rule():
    x = GRIDS.set_index("grid_code").geometry["330402001001001"].bounds[2]
    points = np.array([[x, 30.72], [120.71, 30.72]])
    households = np.array([0, 0])
    grids = GRIDS.assign(households=0)
    fine = checks._addresses(
        grids, points, np.array(["330402001001001", "330402001001001"]), households
    )
    assert fine == []
    wrong = checks._addresses(
        grids, points, np.array(["330402001001002", "330402001001001"]), households
    )
    assert len(wrong) == 1 and "edge rule puts it in grid 330402001001001" in wrong[0]


@pytest.mark.parametrize("kinds", [None, ["comprehensive"] * 2])
def test_ties_without_kinds_go_to_the_smallest_code(kinds):
    squares = [shapely.box(1, 0, 2, 1), shapely.box(0, 0, 1, 1)]
    index = GridIndex(["b", "a"], kinds, squares)
    assert index.locate_many([1.0, 1.5, 0.5], [0.5, 0.5, 0.5]).tolist() == ["a", "b", "a"]
