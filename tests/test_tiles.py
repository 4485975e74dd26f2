"""Vector tiles: encoder over the store, the /tiles door (ETag, gzip, roles, bad addresses),
the live figures, and the publish warm-up."""

from __future__ import annotations

import gzip

import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from gridmap.tiles import TILE_LAYERS, TileId, VersionTiles
from gridmap.tiles.tiling import from_mercator, tiles_covering, to_mercator

# Tile holding the tiny city of tests/webcity.py (120.70-120.80, 30.70-30.80) at zoom 12.
CITY_BBOX = (120.70, 30.70, 120.80, 30.80)


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data)


def city_tiles(z: int) -> list[TileId]:
    return list(tiles_covering(CITY_BBOX, z))


def test_mercator_round_trip():
    lon, lat = np.array([120.75, -70.0]), np.array([30.75, 10.0])
    back = from_mercator(*to_mercator(lon, lat))
    assert np.allclose(back[0], lon) and np.allclose(back[1], lat)


def test_tile_parse_rejects_addresses_that_do_not_exist():
    with pytest.raises(ValueError, match="does not exist"):
        TileId.parse(2, 4, 0)
    with pytest.raises(ValueError, match="zoom"):
        TileId.parse(30, 0, 0)
    with pytest.raises(ValueError, match="whole numbers"):
        TileId.parse("a", 0, 0)


def test_every_grid_is_in_the_tiles_with_code_and_name(city_store):
    version = city_store.current_version().id
    tiles = VersionTiles(city_store, version)
    codes = set()
    names = set()
    for tile in city_tiles(14):
        raw = tiles.tile("grids", tile)
        if raw:
            for feature in decode(raw)["grids"]["features"]:
                codes.add(feature["properties"]["code"])
                names.add(feature["properties"].get("name"))
                assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    stored = {r.code for r in city_store.layer_geometries(version, ("grid",))}
    assert codes == stored and len(codes) == 8
    assert all(n and "网格" in n for n in names)


def test_admin_tiles_carry_names_and_one_label_point_per_unit(city_store):
    version = city_store.current_version().id
    tiles = VersionTiles(city_store, version)
    labels = []
    for tile in city_tiles(13):
        raw = tiles.tile("communities", tile)
        if raw:
            layers = decode(raw)
            assert {f["properties"]["name"] for f in layers["communities"]["features"]}
            labels += [
                f["properties"]["name"]
                for f in layers.get("communities_label", {}).get("features", [])
            ]
    assert sorted(labels) == ["测试社区11", "测试社区12", "测试社区21", "测试社区22"]


def test_shared_edges_stay_shared_after_simplification(city_store):
    """Coverage simplification: neighbouring grids in a tile leave no gap and no overlap."""
    version = city_store.current_version().id
    tiles = VersionTiles(city_store, version)
    tile = city_tiles(11)[0]
    polys = [
        shapely.geometry.shape(f["geometry"])
        for f in decode(tiles.tile("grids", tile))["grids"]["features"]
    ]
    union = shapely.union_all(polys)
    total = sum(p.area for p in polys)
    assert union.area == pytest.approx(total, rel=1e-3)  # no overlaps


def test_below_min_zoom_and_outside_the_city_is_empty(city_store):
    version = city_store.current_version().id
    tiles = VersionTiles(city_store, version)
    assert tiles.tile("grids", TileId(TILE_LAYERS["grids"].min_zoom - 1, 0, 0)) == b""
    assert tiles.tile("grids", TileId(12, 0, 0)) == b""


def test_tile_route_gzip_etag_and_revalidation(client, tokens):
    auth = {"Authorization": f"Bearer {tokens['viewer']}"}
    tile = city_tiles(12)[0]
    url = f"/tiles/grids/{tile.z}/{tile.x}/{tile.y}.mvt"
    first = client.get(url, headers=auth | {"Accept-Encoding": "gzip"})
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert first.headers["Content-Encoding"] == "gzip"
    assert "grids" in decode(gzip.decompress(first.data))
    etag = first.headers["ETag"]
    again = client.get(url, headers=auth | {"If-None-Match": etag})
    assert again.status_code == 304 and not again.data
    plain = client.get(url, headers=auth)
    assert "Content-Encoding" not in plain.headers
    assert "grids" in decode(plain.data)
    pinned = client.get(url + "?v=1", headers=auth)
    assert "immutable" in pinned.headers["Cache-Control"]
    assert "no-cache" in first.headers["Cache-Control"]


def test_tile_route_answers_bad_requests_in_json(client, tokens):
    auth = {"Authorization": f"Bearer {tokens['viewer']}"}
    assert client.get("/tiles/grids/12/0/0.mvt").status_code == 401
    for url, status in (
        ("/tiles/nope/12/0/0.mvt", 404),
        ("/tiles/grids/12/99999/0.mvt", 404),
        ("/tiles/grids/x/0/0.mvt", 404),
        ("/tiles/grids/12/0/0.mvt?v=abc", 400),
        ("/tiles/grids/12/0/0.mvt?v=999", 404),
    ):
        answer = client.get(url, headers=auth)
        assert answer.status_code == status, url
        assert "error" in answer.get_json()
    empty = client.get("/tiles/grids/12/0/0.mvt", headers=auth)
    assert empty.status_code == 204


def test_layers_json_names_every_layer_with_the_version(client, tokens):
    auth = {"Authorization": f"Bearer {tokens['viewer']}"}
    answer = client.get("/tiles/layers.json", headers=auth).get_json()
    assert [layer["name"] for layer in answer["layers"]] == list(TILE_LAYERS)
    assert all(f"?v={answer['version']}" in layer["tiles"] for layer in answer["layers"])


def test_figures_follow_incidents(client, tokens, city_store):
    auth = {"Authorization": f"Bearer {tokens['dispatcher']}"}
    before = client.get("/tiles/figures.json", headers=auth).get_json()
    assert before["fields"] == ["open", "overdue", "closure_rate"]
    grid = "330402001001002"
    assert grid not in before["grid"]
    created = client.post(
        "/api/incidents",
        json={"type": "manhole", "description": "井盖缺失", "lon": 120.74, "lat": 30.72},
        headers=auth,
    )
    assert created.status_code in (200, 201), created.get_json()
    code = created.get_json()["grid_code"]
    after = client.get(f"/tiles/figures.json?grids={code}", headers=auth).get_json()
    assert after["grid"][code][0] == 1
    assert after["community"][code[:12]][0] >= 1
    assert after["district"][code[:6]][0] >= 1
    bad = client.get("/tiles/figures.json?grids=abc", headers=auth)
    assert bad.status_code == 400 and bad.get_json()["field"] == "grids"
