"""OGC API - Features: landing, conformance, collections, items (bbox, limit, paging), one item,
roles, bad parameters; and GDAL's own OAPIF driver reading the live grids over HTTP."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import pytest

VIEWER = "viewer"


@pytest.fixture
def auth(tokens):
    return {"Authorization": f"Bearer {tokens[VIEWER]}"}


def test_needs_a_viewer(client):
    assert client.get("/ogc").status_code == 401
    assert client.get("/ogc/collections/grids/items").status_code == 401


def test_api_key_in_the_url_authenticates_like_the_header(client, tokens):
    items = client.get(f"/ogc/collections/grids/items?limit=2&api_key={tokens['viewer']}")
    assert items.status_code == 200
    assert len(items.get_json()["features"]) == 2
    assert client.get("/ogc/collections/grids/items?api_key=not-a-token").status_code == 401


def test_landing_conformance_and_collections(client, auth):
    landing = client.get("/ogc", headers=auth).get_json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    conf = client.get("/ogc/conformance", headers=auth).get_json()["conformsTo"]
    assert any(c.endswith("/conf/core") for c in conf) and any(c.endswith("/geojson") for c in conf)
    ids = [c["id"] for c in client.get("/ogc/collections", headers=auth).get_json()["collections"]]
    assert ids == ["districts", "streets", "communities", "grids", "exclusive_grids", "incidents"]
    grids = client.get("/ogc/collections/grids", headers=auth).get_json()
    assert grids["storageCrs"].endswith("/4490") and "CGCS2000" in grids["description"]


def test_items_page_with_links_and_number_matched(client, auth):
    first = client.get("/ogc/collections/grids/items?limit=3", headers=auth)
    assert first.mimetype == "application/geo+json"
    page = first.get_json()
    assert page["numberMatched"] == 8 and page["numberReturned"] == 3
    codes = [f["id"] for f in page["features"]]
    seen = list(codes)
    nxt = next(link["href"] for link in page["links"] if link["rel"] == "next")
    while nxt:
        page = client.get(nxt.split("localhost", 1)[-1], headers=auth).get_json()
        seen += [f["id"] for f in page["features"]]
        nxt = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert len(seen) == len(set(seen)) == 8
    assert page["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_bbox_filters_and_single_item(client, auth):
    west = client.get(
        "/ogc/collections/communities/items?bbox=120.70,30.70,120.74,30.80", headers=auth
    ).get_json()
    assert {f["id"] for f in west["features"]} == {"330402001001", "330402001002"}
    one = client.get("/ogc/collections/communities/items/330402001001", headers=auth).get_json()
    assert one["id"] == "330402001001" and one["properties"]["name"] == "测试社区11"
    assert client.get("/ogc/collections/grids/items/999", headers=auth).status_code == 404


def test_incidents_collection(client, tokens):
    dispatcher = {"Authorization": f"Bearer {tokens['dispatcher']}"}
    created = client.post(
        "/api/incidents",
        json={"type": "manhole", "description": "井盖缺失", "lon": 120.74, "lat": 30.72},
        headers=dispatcher,
    ).get_json()
    page = client.get("/ogc/collections/incidents/items", headers=dispatcher).get_json()
    assert page["numberMatched"] == 1
    feature = page["features"][0]
    assert feature["id"] == created["id"] and feature["properties"]["type_name"] != "manhole"
    one = client.get(f"/ogc/collections/incidents/items/{created['id']}", headers=dispatcher)
    assert one.get_json()["geometry"]["coordinates"] == [120.74, 30.72]


@pytest.mark.parametrize(
    "url",
    [
        "/ogc/collections/nope/items",
        "/ogc/collections/grids/items?limit=0",
        "/ogc/collections/grids/items?limit=abc",
        "/ogc/collections/grids/items?bbox=1,2,3",
        "/ogc/collections/grids/items?bbox=5,0,1,1",
        "/ogc/collections/grids/items?offset=-1",
        "/ogc/collections/incidents/items/abc",
    ],
)
def test_bad_requests_are_json_4xx(client, auth, url):
    answer = client.get(url, headers=auth)
    assert 400 <= answer.status_code < 500 and "error" in answer.get_json()


@pytest.mark.skipif(not shutil.which("ogrinfo"), reason="gdal-bin is not installed")
def test_gdal_reads_the_grids_over_oapif(app, tokens):
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        env = os.environ | {
            "GDAL_HTTP_HEADERS": f"Authorization: Bearer {tokens[VIEWER]}",
            "GDAL_HTTP_TIMEOUT": "30",
        }
        url = f"OAPIF:http://127.0.0.1:{httpd.server_port}/ogc"
        out = subprocess.run(
            ["ogrinfo", "-so", url, "grids"], env=env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert "Feature Count: 8" in out.stdout, out.stdout
        listing = subprocess.run(
            ["ogrinfo", "-ro", "-q", url, "communities"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert listing.stdout.count("OGRFeature(communities)") == 4, listing.stdout[-2000:]
    finally:
        httpd.shutdown()
