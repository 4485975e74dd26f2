"""Exporting a published version (``GET /api/versions/<id>/export``, gridmap.services.export):
GeoPackage checked by GDAL's own ``ogrinfo``, GeoJSON, zipped Shapefile with its ``.cpg`` (UTF-8,
or GBK on request) and CSV (WKT for polygons, lon/lat for points), on both stores."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile

import pyogrio
import pytest
import webcity
from webcity import bearer

OGRINFO = shutil.which("ogrinfo")


def get(client, token, query, version=1):
    return client.get(f"/api/versions/{version}/export{query}", headers=bearer(token))


@pytest.mark.skipif(OGRINFO is None, reason="gdal-bin (ogrinfo) is not installed")
def test_geopackage_holds_every_layer_as_gdal_reads_it(client, tokens, tmp_path):
    answer = get(client, tokens["viewer"], "?format=gpkg")
    assert answer.status_code == 200
    assert answer.mimetype == "application/geopackage+sqlite3"
    assert 'filename="gridmap-v1.gpkg"' in answer.headers["Content-Disposition"]
    path = tmp_path / "v1.gpkg"
    path.write_bytes(answer.data)
    done = subprocess.run(
        [OGRINFO, "-ro", "-so", "-al", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "ERROR" not in done.stderr, done.stderr
    counts = {}
    layer = None
    for line in done.stdout.splitlines():
        if line.startswith("Layer name: "):
            layer = line.split(": ", 1)[1]
        elif line.startswith("Feature Count: "):
            counts[layer] = int(line.split(": ", 1)[1])
    # webcity: 1 district, 2 streets, 4 communities, 8 + 1 grids, 1 road, 8 addresses
    assert counts == {
        "districts": 1,
        "streets": 2,
        "communities": 4,
        "grids": 9,
        "roads": 1,
        "addresses": 8,
    }
    assert 'ID["EPSG",4490]' in done.stdout
    grids = pyogrio.read_dataframe(path, layer="grids")
    expected = webcity.grids().set_index("grid_code")
    assert sorted(grids["grid_code"]) == sorted(expected.index)
    # The CONTRACT grid columns, and geometry as published.
    for column in ("kind", "community_code", "host_grid_code", "households", "flags"):
        assert column in grids.columns
    row = grids.set_index("grid_code").loc["330402001001501"]
    assert row["kind"] == "exclusive" and row["host_grid_code"] == "330402001001001"
    assert (
        grids.set_index("grid_code")
        .geometry["330402001002002"]
        .equals_exact(expected.geometry["330402001002002"], 1e-9)
    )


def test_geojson_of_one_layer_and_zip_of_all(client, tokens):
    one = get(client, tokens["viewer"], "?format=geojson&layer=communities")
    assert one.status_code == 200 and one.mimetype == "application/geo+json"
    data = json.loads(one.data)
    assert {f["properties"]["name"] for f in data["features"]} == {
        name for _code, name, _box in webcity.communities()
    }
    every = get(client, tokens["viewer"], "?format=geojson")
    assert every.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(every.data)) as archive:
        names = set(archive.namelist())
        assert {"grids.geojson", "addresses.geojson", "districts.geojson"} <= names
        grids = json.loads(archive.read("grids.geojson"))
    assert len(grids["features"]) == 9


@pytest.mark.parametrize(
    ("encoding", "cpg", "codec"), [("", "UTF-8", "utf-8"), ("gbk", "GBK", "gbk")]
)
def test_shapefile_zip_carries_its_cpg(client, tokens, tmp_path, encoding, cpg, codec):
    query = "?format=shp&layer=communities" + (f"&encoding={encoding}" if encoding else "")
    answer = get(client, tokens["viewer"], query)
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(answer.data)) as archive:
        names = set(archive.namelist())
        assert {"communities.shp", "communities.shx", "communities.dbf", "communities.prj"} <= names
        assert archive.read("communities.cpg").decode().strip() == cpg
        dbf = archive.read("communities.dbf")
        archive.extractall(tmp_path)
    # The names are in the .dbf in the announced encoding, and read back through the .cpg.
    assert "测试社区11".encode(codec) in dbf
    frame = pyogrio.read_dataframe(tmp_path / "communities.shp")
    assert set(frame["name"]) == {name for _code, name, _box in webcity.communities()}


def test_shapefile_field_names_fit_ten_characters(client, tokens, tmp_path):
    answer = get(client, tokens["viewer"], "?format=shp&layer=grids")
    with zipfile.ZipFile(io.BytesIO(answer.data)) as archive:
        archive.extractall(tmp_path)
    frame = pyogrio.read_dataframe(tmp_path / "grids.shp")
    assert {"grid_code", "comm_code", "host_code", "households"} <= set(frame.columns)
    assert all(len(c) <= 10 for c in frame.columns)


def test_csv_polygons_as_wkt_points_as_lon_lat(client, tokens):
    grids = get(client, tokens["viewer"], "?format=csv&layer=grids")
    assert grids.status_code == 200 and grids.mimetype == "text/csv"
    text = grids.data.decode("utf-8-sig")
    header = text.splitlines()[0].split(",")
    assert header[0] == "grid_code" and header[-1] == "wkt"
    assert "POLYGON ((" in text
    addresses = get(client, tokens["viewer"], "?format=csv&layer=addresses&encoding=gbk")
    text = addresses.data.decode("gbk")
    header = text.splitlines()[0].split(",")
    assert {"address_id", "address", "lon", "lat", "grid_code"} <= set(header)
    assert "wkt" not in header
    assert "浙江省嘉兴市南湖区测试路1号" in text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?format=kml", "format"),
        ("?format=gpkg&layer=parcels", "layer"),
        ("?format=shp&encoding=latin1", "encoding"),
        ("?format=" + "x" * 5000, "format"),
    ],
)
def test_bad_export_requests_are_400(client, tokens, query, field):
    answer = get(client, tokens["viewer"], query)
    assert answer.status_code == 400
    assert answer.json["field"] == field


def test_unknown_version_is_404_and_a_token_is_needed(client, tokens):
    missing = get(client, tokens["viewer"], "?format=gpkg", version=99)
    assert missing.status_code == 404 and "error" in missing.json
    assert client.get("/api/versions/1/export").status_code == 401
