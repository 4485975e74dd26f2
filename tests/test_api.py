"""The JSON API through the Flask test client: every endpoint, roles, bad input, live stream."""

from __future__ import annotations

import gzip
import json
import sqlite3

import pytest
from backends import release_store
from webcity import bearer

from gridmap.services.locating import locate
from gridmap.store import IncidentFilter, open_store
from web import create_app

POINT = {"type": "garbage", "description": "路口垃圾堆放", "lon": 120.71, "lat": 30.71}


def post(client, token, url, body):
    return client.post(url, headers=bearer(token), json=body)


def test_config_describes_city_layers_types_user(client, tokens):
    r = client.get("/api/config", headers=bearer(tokens["viewer"]))
    assert r.status_code == 200
    cfg = r.get_json()
    assert cfg["city"] == "嘉兴市"
    assert cfg["center"] == [30.75, 120.75]
    assert cfg["bounds"] == [[30.70, 120.70], [30.80, 120.80]]
    assert cfg["datum"] == "wgs84" and cfg["basemap"]["url"] == ""
    assert [layer["name"] for layer in cfg["layers"]] == [
        "district",
        "street",
        "community",
        "grid",
        "exclusive",
        "roads",
    ]
    assert {"code": "manhole", "name": "井盖破损"} in cfg["incident_types"]
    assert cfg["user"]["role"] == "viewer"
    assert cfg["version"]["id"] == 1


def test_every_api_endpoint_needs_a_token(client):
    for url in [
        "/api/config",
        "/api/layers/grid",
        "/api/incidents",
        "/api/incidents/heat",
        "/api/incidents/1",
        "/api/geocode?q=x",
        "/api/kpi",
        "/api/grids/1",
        "/api/versions",
        "/api/stream?once=1",
    ]:
        r = client.get(url)
        assert r.status_code == 401, url
        assert "error" in r.get_json()
    r = client.get("/api/config", headers=bearer("not-a-token"))
    assert r.status_code == 401


def test_layers_by_bbox_and_zoom(client, tokens):
    h = bearer(tokens["viewer"])
    r = client.get("/api/layers/grid?bbox=120.70,30.70,120.72,30.72&zoom=14", headers=h)
    fc = r.get_json()
    assert fc["type"] == "FeatureCollection"
    assert [f["properties"]["grid_code"] for f in fc["features"]] == ["330402001001001"]
    props = fc["features"][0]["properties"]
    for key in (
        "grid_code",
        "kind",
        "community_code",
        "host_grid_code",
        "households",
        "population",
        "area_m2",
        "flags",
        "open",
        "overdue",
        "closure_rate",
    ):
        assert key in props
    assert props["closure_rate"] is None and props["open"] == 0
    flagged = client.get("/api/layers/grid?zoom=15", headers=h).get_json()["features"]
    assert {f["properties"]["grid_code"]: f["properties"]["flags"] for f in flagged}[
        "330402001001002"
    ] == "below_min"
    admin = client.get("/api/layers/street", headers=h).get_json()["features"]
    assert {f["properties"]["code"] for f in admin} == {"330402001", "330402002"}
    assert set(admin[0]["properties"]) == {"code", "name", "level", "parent_code"}
    roads = client.get("/api/layers/roads", headers=h).get_json()["features"]
    assert roads[0]["properties"] == {"name": "测试路", "kind": "road"}
    exclusive = client.get("/api/layers/exclusive?zoom=15", headers=h).get_json()["features"]
    assert exclusive[0]["properties"]["host_grid_code"] == "330402001001001"


@pytest.mark.parametrize(
    "query",
    [
        "bbox=1,2,3",
        "bbox=a,b,c,d",
        "bbox=3,2,1,4",
        "bbox=0,0,200,1",
        "zoom=x",
        "zoom=40",
        "bbox=nan,1,2,3",
    ],
)
def test_layers_bad_query_is_400(client, tokens, query):
    r = client.get(f"/api/layers/grid?{query}", headers=bearer(tokens["viewer"]))
    assert r.status_code == 400 and r.get_json()["field"] in ("bbox", "zoom")


def test_unknown_layer_is_404_json(client, tokens):
    r = client.get("/api/layers/buildings", headers=bearer(tokens["viewer"]))
    assert r.status_code == 404 and "unknown layer" in r.get_json()["error"]


def test_report_assigns_grid_and_is_committed_before_answer(client, tokens, store_url):
    r = post(client, tokens["field"], "/api/incidents", POINT)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["grid_code"] == "330402001001001" and body["status"] == "reported"
    assert body["history"][0]["actor"] == "field-user"
    assert r.headers["Location"] == f"/api/incidents/{body['id']}"
    other = open_store(store_url)  # a second connection sees it at once
    assert other.incident(body["id"]).grid_code == "330402001001001"
    release_store(other)
    listed = client.get("/api/incidents", headers=bearer(tokens["viewer"])).get_json()
    feature = listed["features"][0]
    assert feature["geometry"]["coordinates"] == [120.71, 30.71]
    for key in (
        "id",
        "type",
        "type_name",
        "status",
        "status_name",
        "overdue",
        "created_at",
        "due_at",
        "grid_code",
        "description",
        "address",
    ):
        assert key in feature["properties"]


def test_report_by_address_and_in_exclusive_grid(client, tokens):
    r = post(
        client,
        tokens["dispatcher"],
        "/api/incidents",
        {"type": "井盖破损", "description": "井盖缺失", "address": "浙江省嘉兴市南湖区测试路3号"},
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["grid_code"] == "330402001002001" and r.get_json()["type"] == "manhole"
    r = post(
        client, tokens["dispatcher"], "/api/incidents", POINT | {"lon": 120.702, "lat": 30.702}
    )
    assert r.get_json()["grid_code"] == "330402001001501"


def test_gcj02_point_is_converted(client, tokens):
    from gridmap.crs import wgs84_to_gcj02

    lon, lat = wgs84_to_gcj02(120.71, 30.71)
    r = post(
        client, tokens["admin"], "/api/incidents", POINT | {"lon": lon, "lat": lat, "crs": "gcj02"}
    )
    assert r.status_code == 201
    assert abs(r.get_json()["lon"] - 120.71) < 1e-5 and abs(r.get_json()["lat"] - 30.71) < 1e-5


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"description": "x", "lon": 120.71, "lat": 30.71}, 400, "type"),
        ({"type": "ufo", "description": "x", "lon": 120.71, "lat": 30.71}, 400, "type"),
        ({"type": "garbage", "lon": 120.71, "lat": 30.71}, 400, "description"),
        (
            {"type": "garbage", "description": "x" * 4001, "lon": 120.71, "lat": 30.71},
            400,
            "description",
        ),
        ({"type": "garbage", "description": 5, "lon": 120.71, "lat": 30.71}, 400, "description"),
        ({"type": "garbage", "description": "x"}, 400, "lon"),
        ({"type": "garbage", "description": "x", "lon": "east", "lat": 30.71}, 400, "lon"),
        ({"type": "garbage", "description": "x", "lon": 120.71}, 400, "lat"),
        ({"type": "garbage", "description": "x", "lon": 121.5, "lat": 31.2}, 422, "lon"),
        ({"type": "garbage", "description": "x", "lon": 500, "lat": 31.2}, 422, "lon"),
        (
            {"type": "garbage", "description": "x", "lon": 120.71, "lat": 30.71, "crs": "mars"},
            400,
            "crs",
        ),
        ({"type": "garbage", "description": "x", "address": "火星基地1号"}, 422, "address"),
    ],
)
def test_bad_reports_are_4xx_json(client, tokens, body, status, field):
    r = post(client, tokens["admin"], "/api/incidents", body)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["field"] == field


@pytest.mark.parametrize(
    "data", [b"{not json", b"[1, 2]", b"", b"\xff\xfe", b"null", b"[" * 100_000, b'{"a":' * 50_000]
)
def test_malformed_json_is_400(client, tokens, data):
    r = client.post(
        "/api/incidents",
        data=data,
        content_type="application/json",
        headers=bearer(tokens["admin"]),
    )
    assert r.status_code == 400 and "error" in r.get_json()


def test_request_size_is_limited_413_json(store_url, city_store, tokens):
    small = create_app({"DB": store_url, "MAX_CONTENT_LENGTH": 2000})
    body = json.dumps(POINT | {"description": "x" * 3000})
    r = small.test_client().post(
        "/api/incidents",
        data=body,
        content_type="application/json",
        headers=bearer(tokens["admin"]),
    )
    assert r.status_code == 413 and "error" in r.get_json()


def test_script_in_description_is_stored_as_text(client, tokens):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    r = post(client, tokens["admin"], "/api/incidents", POINT | {"description": payload})
    got = client.get(f"/api/incidents/{r.get_json()['id']}", headers=bearer(tokens["viewer"]))
    assert got.get_json()["description"] == payload
    assert got.mimetype == "application/json"
    assert got.headers["X-Content-Type-Options"] == "nosniff"


def test_roles_for_reporting(client, tokens):
    assert post(client, tokens["viewer"], "/api/incidents", POINT).status_code == 403
    # Field staff only inside their own grids (community 330402001001).
    assert post(client, tokens["field"], "/api/incidents", POINT).status_code == 201
    outside = POINT | {"lon": 120.79, "lat": 30.79}
    assert post(client, tokens["field"], "/api/incidents", outside).status_code == 403
    assert post(client, tokens["field_other"], "/api/incidents", outside).status_code == 201
    assert post(client, tokens["dispatcher"], "/api/incidents", outside).status_code == 201


def test_workflow_over_the_api(client, tokens):
    iid = post(client, tokens["field"], "/api/incidents", POINT).get_json()["id"]
    url = f"/api/incidents/{iid}/transition"
    r = post(client, tokens["field"], url, {"action": "accept"})
    assert r.status_code == 403
    r = post(client, tokens["dispatcher"], url, {"action": "close"})
    assert r.status_code == 409 and "allowed: accept, reject" in r.get_json()["error"]
    for role, action in [("dispatcher", "accept"), ("dispatcher", "dispatch")]:
        r = post(client, tokens[role], url, {"action": action, "note": f"{action} ok"})
        assert r.status_code == 200, r.get_json()
    assert post(client, tokens["field_other"], url, {"action": "start"}).status_code == 403
    r = post(client, tokens["field"], url, {"action": "start"})
    assert r.status_code == 200 and r.get_json()["allowed_actions"] == ["resolve"]
    assert post(client, tokens["field"], url, {"action": "resolve"}).status_code == 200
    assert (
        post(client, tokens["dispatcher"], url, {"action": "return", "note": "redo"}).status_code
        == 200
    )
    for role, action in [
        ("field", "start"),
        ("field", "resolve"),
        ("dispatcher", "verify"),
        ("admin", "close"),
    ]:
        assert post(client, tokens[role], url, {"action": action}).status_code == 200, action
    detail = client.get(f"/api/incidents/{iid}", headers=bearer(tokens["dispatcher"])).get_json()
    assert detail["status"] == "closed" and detail["allowed_actions"] == []
    assert detail["rework"] == 1
    assert [h["action"] for h in detail["history"]] == [
        "report",
        "accept",
        "dispatch",
        "start",
        "resolve",
        "return",
        "start",
        "resolve",
        "verify",
        "close",
    ]
    assert detail["history"][1]["note"] == "accept ok"
    assert detail["history"][1]["actor"] == "dispatcher-user"
    assert post(client, tokens["viewer"], url, {"action": "close"}).status_code == 403


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"action": ""}, 400),
        ({"action": 3}, 400),
        ({"action": "fly"}, 409),
        ({"action": "accept", "note": "n" * 4001}, 400),
    ],
)
def test_bad_transitions(client, tokens, body, status):
    iid = post(client, tokens["admin"], "/api/incidents", POINT).get_json()["id"]
    r = post(client, tokens["admin"], f"/api/incidents/{iid}/transition", body)
    assert r.status_code == status and "error" in r.get_json()


def test_unknown_ids_are_404(client, tokens):
    h = bearer(tokens["admin"])
    assert client.get("/api/incidents/999", headers=h).status_code == 404
    r = client.post("/api/incidents/999/transition", headers=h, json={"action": "accept"})
    assert r.status_code == 404 and r.get_json()["field"] == "id"
    assert client.get("/api/grids/330402009009009", headers=h).status_code == 404
    assert client.get("/api/nothing", headers=h).status_code == 404
    assert client.get("/api/nothing").get_json()["error"]
    assert client.put("/api/incidents", headers=h).status_code == 405
    big = "9" * 20  # more than SQLite's 64-bit integers
    assert client.get(f"/api/incidents/{big}", headers=h).status_code == 404
    r = client.post(f"/api/incidents/{big}/transition", headers=h, json={"action": "accept"})
    assert r.status_code == 404
    assert client.post(f"/api/versions/{big}/activate", headers=h).status_code == 404
    assert client.get(f"/api/stream?once=1&last_id={big}", headers=h).status_code == 400
    assert client.get(f"/open311/v2/requests/{big}.json", headers=h).status_code == 404
    r = client.get(f"/open311/v2/requests.json?service_request_id={big}", headers=h)
    assert r.status_code == 200 and r.get_json() == []


def test_incident_filters(client, tokens, city_store):
    h = bearer(tokens["admin"])
    a = post(client, tokens["admin"], "/api/incidents", POINT).get_json()["id"]
    post(
        client,
        tokens["admin"],
        "/api/incidents",
        POINT | {"type": "noise", "lon": 120.79, "lat": 30.79},
    )
    post(client, tokens["admin"], f"/api/incidents/{a}/transition", {"action": "accept"})

    def ids(query):
        r = client.get(f"/api/incidents?{query}", headers=h)
        assert r.status_code == 200, r.get_json()
        return sorted(f["properties"]["type"] for f in r.get_json()["features"])

    assert ids("") == ["garbage", "noise"]
    assert ids("type=noise") == ["noise"]
    assert ids("status=accepted") == ["garbage"]
    assert ids("status=reported,accepted&type=garbage,noise") == ["garbage", "noise"]
    assert ids("bbox=120.70,30.70,120.75,30.75") == ["garbage"]
    assert ids("bbox=120.0,30.0,120.75,30.75") == ["garbage"]  # a wide view scans
    assert ids("bbox=120.76,30.76,121.5,31.5") == ["noise"]
    assert ids("grid=330402002") == ["noise"]
    assert ids("since=2000-01-01T00:00:00Z&until=2100-01-01") == ["garbage", "noise"]
    assert ids("since=2100-01-01T00:00:00%2B08:00") == []
    for bad in [
        "status=lost",
        "type=ufo",
        "since=yesterday",
        "grid=abc",
        "bbox=1",
        "since=9999-12-31T23:59:59-23:59",
        "until=0001-01-01T00:00:00%2B23:59",
    ]:
        assert client.get(f"/api/incidents?{bad}", headers=h).status_code == 400, bad


def _bulk_incidents(store, n):
    vid = store.current_version().id
    with store.transaction():
        for i in range(n):
            lon, lat = 120.70 + (i % 97) * 0.001, 30.70 + (i // 97) * 0.004
            store.create_incident(
                type="garbage",
                description=f"#{i}",
                lon=lon,
                lat=lat,
                location=locate(store, vid, lon, lat),
                actor="bulk",
            )


def test_many_incidents_come_as_clusters_and_heat(client, tokens, city_store):
    _bulk_incidents(city_store, 2100)
    h = bearer(tokens["viewer"])
    fc = client.get("/api/incidents?zoom=12", headers=h).get_json()
    assert fc["aggregated"] is True and fc["count"] == 2100
    assert sum(f["properties"]["count"] for f in fc["features"]) == 2100
    assert all(f["properties"]["cluster"] for f in fc["features"])
    assert len(fc["features"]) < 300
    small = client.get("/api/incidents?bbox=120.70,30.70,120.72,30.72&zoom=15", headers=h)
    assert small.get_json()["aggregated"] is False
    heat = client.get("/api/incidents/heat?zoom=12", headers=h).get_json()
    assert sum(p[2] for p in heat["points"]) == 2100
    assert 0 < len(heat["points"]) <= 5000
    lat, lon, _ = heat["points"][0]
    assert 30.6 < lat < 30.9 and 120.6 < lon < 120.9


def test_large_answers_are_gzipped(client, tokens, city_store):
    _bulk_incidents(city_store, 300)
    h = bearer(tokens["viewer"]) | {"Accept-Encoding": "gzip"}
    r = client.get("/api/incidents", headers=h)
    assert r.headers["Content-Encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(r.data))["features"]) == 300


def test_grid_layer_carries_incident_kpis(client, tokens):
    iid = post(client, tokens["admin"], "/api/incidents", POINT).get_json()["id"]
    post(client, tokens["admin"], "/api/incidents", POINT)
    post(client, tokens["admin"], f"/api/incidents/{iid}/transition", {"action": "reject"})
    fc = client.get(
        "/api/layers/grid?bbox=120.70,30.70,120.72,30.72", headers=bearer(tokens["viewer"])
    ).get_json()
    props = fc["features"][0]["properties"]
    assert (props["open"], props["overdue"], props["closure_rate"]) == (1, 0, 0.0)
    post(client, tokens["admin"], "/api/incidents", POINT)  # the cached counts follow events
    fc = client.get(
        "/api/layers/grid?bbox=120.70,30.70,120.72,30.72", headers=bearer(tokens["viewer"])
    ).get_json()
    assert fc["features"][0]["properties"]["open"] == 2
    grid = client.get("/api/grids/330402001001001", headers=bearer(tokens["viewer"])).get_json()
    assert grid["kpi"]["total"] == 3 and grid["kpi"]["rejected"] == 1
    assert grid["households"] == 301 and grid["geometry"]["type"] == "Polygon"


def test_kpi_json_and_csv(client, tokens):
    post(client, tokens["admin"], "/api/incidents", POINT)
    h = bearer(tokens["viewer"])
    rows = client.get("/api/kpi?level=street", headers=h).get_json()["rows"]
    assert rows == [
        {
            "code": "330402001",
            "name": "测试街道1",
            "total": 1,
            "open": 1,
            "closed": 0,
            "rejected": 0,
            "closure_rate": 0.0,
            "on_time_rate": None,
            "overdue": 0,
            "rework": 0,
        }
    ]
    r = client.get("/api/kpi?level=district&format=csv", headers=h)
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    lines = r.data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("code,name,total,open,closed")
    assert lines[1].startswith("330402,南湖区,1,1,0")
    assert client.get("/api/kpi?level=planet", headers=h).status_code == 400
    assert client.get("/api/kpi?format=xml", headers=h).status_code == 400


def test_geocode(client, tokens):
    h = bearer(tokens["viewer"])
    r = client.get("/api/geocode?q=浙江省嘉兴市南湖区测试路3号", headers=h)
    body = r.get_json()
    assert r.status_code == 200
    assert body["match"]["address_id"] == "A0003"
    assert body["match"]["grid_code"] == "330402001002001"
    assert body["grid"]["properties"]["grid_code"] == "330402001002001"
    assert client.get("/api/geocode?q=", headers=h).status_code == 400
    assert client.get("/api/geocode?q=" + "路" * 201, headers=h).status_code == 400


def test_versions_and_activation_need_planner(client, tokens, city_store):
    import webcity

    webcity.publish_city(city_store, note="second")
    h = bearer(tokens["viewer"])
    assert len(client.get("/api/versions", headers=h).get_json()["versions"]) == 2
    assert client.post("/api/versions/1/activate", headers=h).status_code == 403
    assert (
        client.post("/api/versions/1/activate", headers=bearer(tokens["dispatcher"])).status_code
        == 403
    )
    r = client.post("/api/versions/1/activate", headers=bearer(tokens["planner"]))
    assert r.status_code == 200
    assert client.get("/api/config", headers=h).get_json()["version"]["id"] == 1
    assert (
        client.post("/api/versions/9/activate", headers=bearer(tokens["admin"])).status_code == 404
    )


def _events(text):
    out = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1)
            for line in block.splitlines()
            if not line.startswith(":") and ": " in line
        )
        if fields.get("event") == "incident":
            out.append((int(fields["id"]), json.loads(fields["data"])))
    return out


def test_stream_sends_events_and_resumes(client, tokens):
    h = bearer(tokens["viewer"])
    first = post(client, tokens["admin"], "/api/incidents", POINT).get_json()["id"]
    r = client.get("/api/stream?once=1", headers=h)
    assert r.mimetype == "text/event-stream"
    assert _events(r.get_data(as_text=True)) == []  # no history without last_id
    r = client.get("/api/stream?once=1&last_id=0", headers=h)
    events = _events(r.get_data(as_text=True))
    assert [e[1]["id"] for e in events] == [first]
    data = events[0][1]
    assert data["event"] == "created" and data["status"] == "reported"
    assert (data["lon"], data["lat"], data["grid_code"]) == (120.71, 30.71, "330402001001001")
    post(client, tokens["admin"], f"/api/incidents/{first}/transition", {"action": "accept"})
    r = client.get("/api/stream?once=1", headers=h | {"Last-Event-ID": str(events[0][0])})
    later = _events(r.get_data(as_text=True))
    assert [(e[1]["event"], e[1]["status"]) for e in later] == [("transition", "accepted")]
    assert client.get("/api/stream?last_id=x&once=1", headers=h).status_code == 400
    for bad in ("nan", "-1", "soon"):
        assert client.get(f"/api/stream?max_seconds={bad}", headers=h).status_code == 400


def test_stream_delivers_new_event_while_open(app, tokens, city_store):
    import threading
    import time

    def report_soon():
        time.sleep(0.3)
        vid = city_store.current_version().id
        city_store.create_incident(
            type="noise",
            description="live",
            lon=120.71,
            lat=30.71,
            location=locate(city_store, vid, 120.71, 30.71),
            actor="t",
        )
        city_store.close()

    worker = threading.Thread(target=report_soon)
    started = time.monotonic()
    # Resume from the last event before the report: the report is new even when it lands
    # before the stream has started polling (a loaded machine).
    last = city_store.last_event_id()
    worker.start()
    r = app.test_client().get(
        "/api/stream?max_seconds=1.5",
        headers=bearer(tokens["viewer"]) | {"Last-Event-ID": str(last)},
    )
    events = _events(r.get_data(as_text=True))
    worker.join()
    assert [e[1]["type"] for e in events] == ["noise"]
    assert time.monotonic() - started < 5


def test_gcj02_basemap_shifts_every_overlay(store_url, city_store, tokens):
    from gridmap.crs import wgs84_to_gcj02

    shifted = create_app(
        {
            "DB": store_url,
            "BASEMAP_DATUM": "gcj02",
            "BASEMAP_URL": "http://tiles.local/{z}/{x}/{y}.png",
        }
    )
    c = shifted.test_client()
    h = bearer(tokens["admin"])
    cfg = c.get("/api/config", headers=h).get_json()
    assert cfg["datum"] == "gcj02" and cfg["basemap"]["datum"] == "gcj02"
    r = c.post("/api/incidents", headers=h, json=POINT)
    want = wgs84_to_gcj02(120.71, 30.71)
    got = c.get("/api/incidents", headers=h).get_json()["features"][0]["geometry"]["coordinates"]
    assert abs(got[0] - want[0]) < 1e-6 and abs(got[1] - want[1]) < 1e-6
    assert r.get_json()["grid_code"] == "330402001001001"  # the stored point is not shifted
    roads = c.get("/api/layers/roads", headers=h).get_json()["features"][0]["geometry"]
    start = wgs84_to_gcj02(120.70, 30.75)
    assert abs(roads["coordinates"][0][0] - start[0]) < 1e-6


def test_openapi_lists_every_route(client):
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    app_ = client.application
    for rule in app_.url_map.iter_rules():
        path = rule.rule
        if path.startswith("/static"):
            continue
        templated = path.replace("<int:", "{").replace("<", "{").replace(">", "}")
        assert templated in doc["paths"], templated
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in doc["paths"][templated], (templated, method)


def test_publish_over_the_api_needs_planner(client, tokens, tmp_path):
    import io

    import webcity

    webcity.grids().to_file(tmp_path / "g.gpkg")
    webcity.boundaries().to_file(tmp_path / "b.gpkg")
    webcity.addresses().to_csv(tmp_path / "a.csv", index=False)

    def files(**extra):
        form = {
            "grids": (io.BytesIO((tmp_path / "g.gpkg").read_bytes()), "g.gpkg"),
            "boundaries": (io.BytesIO((tmp_path / "b.gpkg").read_bytes()), "b.gpkg"),
            "addresses": (io.BytesIO((tmp_path / "a.csv").read_bytes()), "a.csv"),
            "note": "uploaded",
        }
        form.update(extra)
        return form

    url = "/api/versions"
    r = client.post(url, data=files(), headers=bearer(tokens["dispatcher"]))
    assert r.status_code == 403
    r = client.post(url, data=files(), headers=bearer(tokens["planner"]))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["version_id"] == 2 and r.get_json()["grids"] == 8
    current = client.get("/api/config", headers=bearer(tokens["viewer"])).get_json()["version"]
    assert current == {"id": 2, "note": "uploaded", "published_at": current["published_at"]}
    bad_csv = (io.BytesIO(b"address_id,address\nA1,x\n"), "a.csv")
    r = client.post(url, data=files(addresses=bad_csv), headers=bearer(tokens["planner"]))
    assert r.status_code == 400 and r.get_json()["field"] == "addresses"
    form = files()
    del form["grids"]
    r = client.post(url, data=form, headers=bearer(tokens["planner"]))
    assert r.status_code == 400 and r.get_json()["field"] == "grids"
    exe = (io.BytesIO(b"MZ"), "grids.exe")
    r = client.post(url, data=files(grids=exe), headers=bearer(tokens["planner"]))
    assert r.status_code == 400


def test_publish_may_exceed_the_general_request_limit(store_url, city_store, tokens, tmp_path):
    import io

    import webcity

    webcity.grids().to_file(tmp_path / "g.gpkg")
    webcity.boundaries().to_file(tmp_path / "b.gpkg")
    webcity.addresses().to_csv(tmp_path / "a.csv", index=False)
    small = create_app({"DB": store_url, "MAX_CONTENT_LENGTH": 2000})
    form = {
        "grids": (io.BytesIO((tmp_path / "g.gpkg").read_bytes()), "g.gpkg"),
        "boundaries": (io.BytesIO((tmp_path / "b.gpkg").read_bytes()), "b.gpkg"),
        "addresses": (io.BytesIO((tmp_path / "a.csv").read_bytes()), "a.csv"),
    }
    r = small.test_client().post("/api/versions", data=form, headers=bearer(tokens["planner"]))
    assert r.status_code == 201, r.get_json()
    tiny = create_app({"DB": store_url, "PUBLISH_MAX_CONTENT_LENGTH": 2000})
    form["grids"] = (io.BytesIO((tmp_path / "g.gpkg").read_bytes()), "g.gpkg")
    form["boundaries"] = (io.BytesIO((tmp_path / "b.gpkg").read_bytes()), "b.gpkg")
    form["addresses"] = (io.BytesIO((tmp_path / "a.csv").read_bytes()), "a.csv")
    r = tiny.test_client().post("/api/versions", data=form, headers=bearer(tokens["planner"]))
    assert r.status_code == 413 and "error" in r.get_json()


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = st.sampled_from(["type", "description", "lon", "lat", "crs", "address", "action", "note"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.dictionaries(FIELDS, JSON_VALUES, max_size=6) | JSON_VALUES)
def test_no_json_body_makes_a_500(client, tokens, body):
    h = bearer(tokens["admin"])
    for url in ("/api/incidents", "/api/incidents/1/transition"):
        r = client.post(url, headers=h, data=json.dumps(body), content_type="application/json")
        assert r.status_code < 500, (url, body, r.get_json())
        assert r.is_json


QUERY_KEYS = st.sampled_from(
    [
        "bbox",
        "zoom",
        "status",
        "type",
        "since",
        "until",
        "grid",
        "q",
        "level",
        "format",
        "last_id",
        "once",
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    query=st.dictionaries(QUERY_KEYS, st.text(max_size=40), max_size=4),
    path=st.sampled_from(
        [
            "/api/layers/grid",
            "/api/incidents",
            "/api/incidents/heat",
            "/api/kpi",
            "/api/geocode",
            "/open311/v2/requests.json",
        ]
    ),
)
def test_no_query_string_makes_a_500(client, tokens, query, path):
    query = dict(query, once="1") if path == "/api/stream" else query
    r = client.get(path, headers=bearer(tokens["viewer"]), query_string=query)
    assert r.status_code < 500, (path, query, r.get_data(as_text=True)[:200])


def test_concurrent_reports_are_all_kept(app, tokens, store_url):
    from concurrent.futures import ThreadPoolExecutor

    def report(i):
        c = app.test_client()
        body = POINT | {"description": f"concurrent {i}"}
        return c.post("/api/incidents", headers=bearer(tokens["dispatcher"]), json=body)

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = [r.status_code for r in pool.map(report, range(60))]
    assert statuses == [201] * 60
    other = open_store(store_url)
    descriptions = {r.description for r in other.incidents(IncidentFilter())}
    assert len(descriptions) == 60  # none lost, none twice
    assert len(other.events_since(0)) == 60
    release_store(other)


def test_stream_sends_keep_alive_comments(store_url, city_store, tokens):
    quick = create_app({"DB": store_url, "SSE_KEEPALIVE_SECONDS": 0.1, "SSE_POLL_SECONDS": 0.05})
    r = quick.test_client().get("/api/stream?max_seconds=0.5", headers=bearer(tokens["viewer"]))
    text = r.get_data(as_text=True)
    assert text.startswith("retry: 1000\n")
    assert text.count(": keep-alive\n\n") >= 2
    assert r.headers["Cache-Control"] == "no-cache"


def test_point_report_gets_the_nearest_address_once_the_geocoder_is_loaded(client, tokens):
    first = post(
        client, tokens["admin"], "/api/incidents", POINT | {"lon": 120.7125, "lat": 30.7251}
    )
    assert first.get_json()["address"] == ""  # the geocoder is not loaded yet: nobody waits
    client.get("/api/geocode?q=测试路1号", headers=bearer(tokens["viewer"]))  # loads it
    second = post(
        client, tokens["admin"], "/api/incidents", POINT | {"lon": 120.7125, "lat": 30.7251}
    )
    assert second.get_json()["address"] == "浙江省嘉兴市南湖区测试路1号"
    far = post(client, tokens["admin"], "/api/incidents", POINT | {"lon": 120.701, "lat": 30.799})
    assert far.get_json()["address"] == ""


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(number=st.integers(min_value=0, max_value=10**30))
def test_no_id_in_a_path_makes_a_500(client, tokens, number):
    h = bearer(tokens["admin"])
    for url in (f"/api/incidents/{number}", f"/open311/v2/requests/{number}.json"):
        assert client.get(url, headers=h).status_code in (200, 404), url
    r = client.post(f"/api/incidents/{number}/transition", headers=h, json={"action": "close"})
    assert r.status_code in (404, 409)


def test_meta_serves_every_rule_and_label_from_its_one_home(client, tokens):
    from gridmap.rules import kpi, labels, workflow

    assert client.get("/api/meta").status_code == 401
    meta = client.get("/api/meta", headers=bearer(tokens["viewer"])).get_json()
    assert meta["states"] == list(workflow.STATES)
    assert set(meta["labels"]["states"]) == set(workflow.STATES)  # no state the server lacks
    assert "rework" not in meta["labels"]["states"]
    assert meta["open_states"] == list(workflow.OPEN_STATES)
    assert meta["actions"]["return"] == {"from": ["resolved", "verified"], "to": "returned"}
    assert meta["labels"]["kinds"] == labels.KINDS and meta["roles"] == list(workflow.ROLES)
    assert meta["kpi"]["closure_rate"] == kpi.INDICATORS["closure_rate"]
    assert meta["limits"]["description"] == 4000
    # Every label a page needs for what the API sends has a name.
    for state in workflow.STATES:
        assert meta["labels"]["states"][state]
    for action in workflow.ACTIONS:
        assert meta["labels"]["actions"][action]


def _move(client, token, iid, *actions):
    for action in actions:
        r = post(client, token, f"/api/incidents/{iid}/transition", {"action": action})
        assert r.status_code == 200, r.get_json()


def test_closure_rate_is_one_formula_for_units_and_city(client, tokens):
    # West street: one closed, one rejected (100% of valid cases closed); east street: one
    # closed, one open (50%). closed/total would say 50% for the city, below the west street
    # and equal to the east: the city must be the sum of its units, by the same formula.
    admin = tokens["admin"]
    done = ["accept", "dispatch", "start", "resolve", "verify", "close"]
    for lon, actions in (
        (120.71, done),
        (120.72, ["reject"]),
        (120.76, done),
        (120.77, []),
    ):
        iid = post(client, admin, "/api/incidents", POINT | {"lon": lon}).get_json()["id"]
        _move(client, admin, iid, *actions)
    h = bearer(tokens["viewer"])
    body = client.get("/api/kpi?level=street", headers=h).get_json()
    rates = {r["code"]: r["closure_rate"] for r in body["rows"]}
    assert rates == {"330402001": 1.0, "330402002": 0.5}
    city = body["city"]
    assert (city["total"], city["closed"], city["rejected"]) == (4, 2, 1)
    assert city["closure_rate"] == round(2 / 3, 4)
    assert min(rates.values()) <= city["closure_rate"] <= max(rates.values())
    # The one district is the whole city: its row and the city row agree.
    district = client.get("/api/kpi?level=district", headers=h).get_json()
    assert district["rows"][0]["closure_rate"] == district["city"]["closure_rate"]
    # The grid layer and one grid's panel use the same formula.
    grid = client.get("/api/grids/330402001001001", headers=h).get_json()
    assert grid["kpi"]["closure_rate"] == 1.0


def _v2_grids():
    """The test city with the two grids of community 330402001001 merged into one (…003)."""
    import shapely
    import webcity

    grids = webcity.grids()
    merge = grids["grid_code"].isin(["330402001001001", "330402001001002"])
    merged = grids[merge].iloc[[0]].copy()
    merged["grid_code"] = "330402001001003"
    merged["geometry"] = [shapely.union_all(grids[merge].geometry.values)]
    exclusive = grids["kind"] == "exclusive"
    grids.loc[exclusive, "host_grid_code"] = "330402001001003"
    return __import__("pandas").concat([grids[~merge], merged], ignore_index=True)


def test_open_incidents_follow_the_current_version(client, tokens, city_store):
    import webcity

    from gridmap.services.versions import publish

    admin = tokens["admin"]
    open_id = post(client, admin, "/api/incidents", POINT).get_json()["id"]
    closed_id = post(client, admin, "/api/incidents", POINT).get_json()["id"]
    _move(client, admin, closed_id, "reject")
    summary = publish(
        city_store, _v2_grids(), webcity.boundaries(), webcity.addresses(), note="merged"
    )
    moved = summary["activation"]
    assert (moved["open_incidents"], moved["moved"], moved["outside"]) == (1, 1, 0)
    # The field token of the fixture is bound to a community: still there. A token bound to a
    # retired grid code is reported.
    assert moved["stale_tokens"] == []
    h = bearer(tokens["viewer"])
    record = client.get(f"/api/incidents/{open_id}", headers=h).get_json()
    assert record["grid_code"] == "330402001001003"
    assert [e["action"] for e in record["history"]] == ["report", "rehome"]
    assert "330402001001001 → 330402001001003" in record["history"][1]["note"]
    closed = client.get(f"/api/incidents/{closed_id}", headers=h).get_json()
    assert closed["grid_code"] == "330402001001001"  # a finished case stays where it was
    # KPIs under each version: by the grids of that version.
    now = {r["code"]: r["total"] for r in client.get("/api/kpi", headers=h).get_json()["rows"]}
    assert now == {"330402001001001": 1, "330402001001003": 1}
    under_v1 = client.get("/api/kpi?version=1", headers=h).get_json()
    assert under_v1["version"] == 1
    assert {r["code"]: r["total"] for r in under_v1["rows"]} == {"330402001001001": 2}
    under_v2 = client.get("/api/kpi?version=2&level=grid", headers=h).get_json()
    assert {r["code"]: r["total"] for r in under_v2["rows"]} == {"330402001001003": 2}
    assert client.get("/api/kpi?version=9", headers=h).status_code == 404
    assert client.get("/api/kpi?version=x", headers=h).status_code == 400

    # Going back: the open incident returns to its v1 grid; a token bound to …003 is stale.
    city_store.create_token("field", "merged-grid", ("330402001001003",))
    r = client.post("/api/versions/1/activate", headers=bearer(tokens["planner"]))
    body = r.get_json()
    assert body["activation"]["moved"] == 1
    assert [t["codes"] for t in body["activation"]["stale_tokens"]] == [["330402001001003"]]
    record = client.get(f"/api/incidents/{open_id}", headers=h).get_json()
    assert record["grid_code"] == "330402001001001"
    assert [e["action"] for e in record["history"]] == ["report", "rehome", "rehome"]


def _hold_write_lock(path, seconds):
    """Another connection takes the write lock (BEGIN IMMEDIATE) for ``seconds``."""
    import threading
    import time

    ready = threading.Event()

    def hold():
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        ready.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    worker = threading.Thread(target=hold)
    worker.start()
    ready.wait()
    return worker


@pytest.fixture
def sqlite_city(tmp_path):
    """(path, admin token) of an SQLite store holding the test city (SQLite locking tests)."""
    import webcity

    path = str(tmp_path / "busy.sqlite")
    store = open_store(path)
    webcity.publish_city(store)
    token = store.create_token("admin", "admin-user")
    store.close()
    return path, token


def test_sqlite_busy_database_answers_503_with_retry_after_and_writes_nothing(sqlite_city):
    path, admin = sqlite_city
    app_ = create_app({"DB": path, "DB_BUSY_TIMEOUT": 0.3})
    client_ = app_.test_client()
    store = app_.extensions["gridmap_store"]
    before = store.count_incidents(IncidentFilter())
    worker = _hold_write_lock(path, 1.5)
    r = post(client_, admin, "/api/incidents", POINT)
    o = client_.post(
        "/open311/v2/requests.json",
        data={"service_code": "noise", "lat": "30.71", "long": "120.71"},
        headers=bearer(admin),
    )
    worker.join()
    assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1
    assert "busy" in r.get_json()["error"] or "locked" in r.get_json()["error"]
    assert o.status_code == 503 and o.get_json()[0]["code"] == 503
    assert store.count_incidents(IncidentFilter()) == before  # nothing half-written
    assert post(client_, admin, "/api/incidents", POINT).status_code == 201


def test_sqlite_busy_database_makes_a_write_wait_then_succeed(sqlite_city):
    import time

    path, admin = sqlite_city
    app_ = create_app({"DB": path, "DB_BUSY_TIMEOUT": 10})
    client_ = app_.test_client()
    worker = _hold_write_lock(path, 1.0)
    started = time.monotonic()
    r = post(client_, admin, "/api/incidents", POINT)
    waited = time.monotonic() - started
    worker.join()
    assert r.status_code == 201, r.get_json()
    assert waited >= 0.8  # it waited for the lock instead of failing
    assert app_.extensions["gridmap_store"].incident(r.get_json()["id"]).status == "reported"


def test_vague_address_report_is_marked_approximate_never_a_rooms_point(client, tokens):
    admin = tokens["admin"]
    r = post(
        client,
        admin,
        "/api/incidents",
        {"type": "garbage", "description": "路边", "address": "南湖区测试路"},
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["approximate"] is True and body["match_level"] == "road"
    assert body["address"] == "南湖区测试路"  # the reporter's words, not some door's address
    # The road's representative point (its midpoint), not one of its doors' points.
    doors = {(round(x, 6), round(y, 6)) for x, y in map(webcity_centre, GRID_CODES)}
    assert (round(body["lon"], 6), round(body["lat"], 6)) not in doors
    exact = post(
        client,
        admin,
        "/api/incidents",
        {"type": "garbage", "description": "门口", "address": "南湖区测试路3号"},
    ).get_json()
    assert exact["approximate"] is False and exact["match_level"] == "door"
    assert exact["grid_code"] == "330402001002001"
    vague = post(
        client,
        admin,
        "/api/incidents",
        {"type": "garbage", "description": "x", "address": "南湖区"},
    )
    assert vague.status_code == 422 and vague.get_json()["field"] == "address"
    assert "district" in vague.get_json()["error"]


def webcity_centre(code):
    import webcity

    return webcity.grid_centre(code)


GRID_CODES = [f"330402{s:03d}{c:03d}{g:03d}" for s in (1, 2) for c in (1, 2) for g in (1, 2)]
