"""The field page and its API: my tasks by deadline, what is at a point, my grids, the page
itself, and the loop's incident filters (department, channel, escalated) on both stores."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from webcity import bearer, grid_centre

from gridmap.services.incidents import act
from gridmap.services.loop import Caller, escalate_overdue
from gridmap.store import Location
from gridmap.store.loop import StaffMember

MINE = "330402001001001"  # in the field token's community (tests/conftest.py)
MINE_TOO = "330402001001002"
OTHERS = "330402002002001"
DISPATCHER = Caller("调度员", "dispatcher")
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def incident_in(store, grid, at=T0, category="S0101") -> int:
    lon, lat = grid_centre(grid)
    return store.create_incident(
        type=category,
        description=f"事件 {grid}",
        lon=lon,
        lat=lat,
        location=Location.of_grid(grid),
        actor="t",
        at=at,
    )


def dispatched(store, grid, at) -> int:
    iid = incident_in(store, grid, at)
    act(store, iid, "accept", DISPATCHER, at=at)
    act(store, iid, "dispatch", DISPATCHER, at=at)
    return iid


# -- my tasks -------------------------------------------------------------------------------------


def test_my_tasks_are_what_i_can_act_on_in_my_grids_soonest_deadline_first(
    client, tokens, city_store
):
    late = dispatched(city_store, MINE, T0 + timedelta(hours=5))
    soon = dispatched(city_store, MINE_TOO, T0)
    handling = dispatched(city_store, MINE, T0 + timedelta(hours=1))
    act(city_store, handling, "start", DISPATCHER, at=T0 + timedelta(hours=1))
    dispatched(city_store, OTHERS, T0)  # another community's
    incident_in(city_store, MINE)  # reported, not dispatched yet: nothing to do for me
    answer = client.get("/api/field/tasks", headers=bearer(tokens["field"])).get_json()
    ids = [t["id"] for t in answer["tasks"]]
    assert set(ids) == {late, soon, handling}
    dues = [t["due_at"] for t in answer["tasks"]]
    assert dues == sorted(dues)
    by_id = {t["id"]: t for t in answer["tasks"]}
    assert by_id[handling]["allowed_actions"] == ["resolve"]
    assert by_id[soon]["allowed_actions"] == ["start"]
    assert by_id[soon]["status_name"] == "已派遣" and by_id[soon]["photos"] == 0
    assert answer["grids"] == ["330402001001"]
    other = client.get("/api/field/tasks", headers=bearer(tokens["field_other"])).get_json()
    assert {t["id"] for t in other["tasks"]}.isdisjoint(ids)
    assert client.get("/api/field/tasks", headers=bearer(tokens["viewer"])).status_code == 403
    assert client.get("/api/field/tasks").status_code == 401

    # Start and resolve through the existing transition API; done tasks leave the list.
    h = bearer(tokens["field"])
    url = f"/api/incidents/{soon}/transition"
    assert client.post(url, json={"action": "start"}, headers=h).status_code == 200
    after = {t["id"]: t for t in client.get("/api/field/tasks", headers=h).get_json()["tasks"]}
    assert after[soon]["allowed_actions"] == ["resolve"]
    done = client.post(url, json={"action": "resolve", "note": "已清理"}, headers=h)
    assert done.status_code == 200 and done.get_json()["status"] == "resolved"
    assert soon not in {
        t["id"] for t in client.get("/api/field/tasks", headers=h).get_json()["tasks"]
    }
    # An illegal move or someone else's incident: refused, nothing changes.
    assert client.post(url, json={"action": "verify"}, headers=h).status_code == 403
    theirs = dispatched(city_store, OTHERS, T0)
    refused = client.post(
        f"/api/incidents/{theirs}/transition", json={"action": "start"}, headers=h
    )
    assert refused.status_code == 403
    assert city_store.incident(theirs).status == "dispatched"


def test_a_department_sees_its_queue_as_tasks(client, tokens, city_store):
    city_store.add_department("hb", "生态环境局", "district")
    token = client.post("/api/departments/hb/tokens", headers=bearer(tokens["admin"])).get_json()[
        "token"
    ]
    iid = incident_in(city_store, OTHERS, category="S0401")
    act(city_store, iid, "accept", DISPATCHER, at=T0)
    act(city_store, iid, "dispatch", DISPATCHER, department="hb", at=T0)
    tasks = client.get("/api/field/tasks", headers=bearer(token)).get_json()["tasks"]
    assert [(t["id"], t["allowed_actions"]) for t in tasks] == [(iid, ["start", "decline"])]


# -- what is at a point, my grids ---------------------------------------------------------------


def test_locate_names_the_grid_its_staff_and_whether_it_is_mine(client, tokens, city_store):
    city_store.replace_staff(
        [
            StaffMember(0, "王网格", "grid_head", "13800000001", (MINE,)),
            StaffMember(0, "李社区", "full_time", "13800000002", ("330402001001",)),
            StaffMember(0, "赵别处", "full_time", "13800000003", (OTHERS,)),
        ]
    )
    lon, lat = grid_centre(MINE)
    h = bearer(tokens["field"])
    place = client.get(f"/api/locate?lon={lon}&lat={lat}", headers=h).get_json()
    assert place["grid_code"] == MINE and place["community_code"] == "330402001001"
    assert place["mine"] is True
    assert place["point"] == pytest.approx([lon, lat])  # the display datum is WGS84 here
    assert {m["name"] for m in place["staff"]} == {"王网格", "李社区"}
    assert all(m["role_name"] for m in place["staff"])
    lon, lat = grid_centre(OTHERS)
    elsewhere = client.get(f"/api/locate?lon={lon}&lat={lat}", headers=h).get_json()
    assert elsewhere["mine"] is False and [m["name"] for m in elsewhere["staff"]] == ["赵别处"]
    dispatcher = client.get(
        f"/api/locate?lon={lon}&lat={lat}", headers=bearer(tokens["dispatcher"])
    )
    assert dispatcher.get_json()["mine"] is True  # a dispatcher reports anywhere
    for query, status in (
        ("lon=121.5&lat=31.2", 404),  # outside the city
        ("lon=abc&lat=30.7", 400),
        ("lat=30.7", 400),
        ("lon=200&lat=30.7", 400),
        (f"lon={lon}&lat={lat}&crs=mars", 400),
    ):
        answer = client.get(f"/api/locate?{query}", headers=h)
        assert answer.status_code == status and answer.is_json, query
    assert (
        client.get(f"/api/locate?lon={lon}&lat={lat}", headers=bearer(tokens["viewer"])).status_code
        == 403
    )


def test_my_grids_are_the_grids_under_my_token(client, tokens):
    mine = client.get("/api/field/grids", headers=bearer(tokens["field"])).get_json()
    assert mine["grids"] == ["330402001001001", "330402001001002", "330402001001501"]
    w, s, e, n = mine["bbox"]
    assert (w, s, e, n) == pytest.approx((120.70, 30.70, 120.75, 30.75))
    other = client.get("/api/field/grids", headers=bearer(tokens["field_other"])).get_json()
    assert other["grids"] == ["330402002002001", "330402002002002"]
    assert (
        client.get("/api/field/grids", headers=bearer(tokens["dispatcher"])).get_json()["grids"]
        == []
    )


# -- the page -----------------------------------------------------------------------------------


def test_the_page_needs_a_login_and_loads_only_this_servers_files(client, tokens):
    answer = client.get("/field")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login?next=/field")
    h = bearer(tokens["field"])
    page = client.get("/field", headers=h)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'name="viewport"' in html and "网格员工作台" in html
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(u.startswith(("/static/", "data:")) for u in urls), urls
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for url in urls:
        if url.startswith("/static/"):
            asset = client.get(url, headers=h | {"Accept-Encoding": "gzip"})
            assert asset.status_code == 200, url
    viewer = client.get("/field", headers=bearer(tokens["viewer"]))
    assert viewer.status_code == 403 and "查看" in viewer.get_data(as_text=True)
    script = client.get("/static/js/gm-field.js").get_data(as_text=True)
    assert "http://" not in script and "https://" not in script
    # Labels and rules come from the server: the page names no state or action itself.
    for word in ("已派遣", "处置中", "开始处置", "处置反馈"):
        assert word not in script


# -- the loop's incident filters ----------------------------------------------------------------


def test_incidents_filter_by_department_channel_and_escalation(client, tokens, city_store):
    city_store.add_department("hb", "生态环境局", "district")
    h = bearer(tokens["dispatcher"])
    made = {}
    for name, channel in (("hot", "hotline"), ("pat", "patrol"), ("app", "app")):
        lon, lat = grid_centre(MINE if name != "app" else OTHERS)
        body = {
            "category": "S0401",
            "description": name,
            "lon": lon + 0.001 * len(made),
            "lat": lat,
            "channel": channel,
        }
        answer = client.post("/api/incidents", json=body, headers=h)
        assert answer.status_code == 201, answer.get_json()
        made[name] = answer.get_json()["id"]

    def ids(query):
        answer = client.get(f"/api/incidents?{query}", headers=h)
        assert answer.status_code == 200, answer.get_json()
        return {f["id"] for f in answer.get_json()["features"]}

    assert ids("channel=hotline") == {made["hot"]}
    assert ids("channel=hotline,app") == {made["hot"], made["app"]}
    url = f"/api/incidents/{made['pat']}/transition"
    client.post(url, json={"action": "accept"}, headers=h)
    client.post(url, json={"action": "dispatch", "department": "hb"}, headers=h)
    assert ids("department=hb") == {made["pat"]}
    assert ids("department=hb&channel=hotline") == set()
    assert ids("escalated=1") == set()
    # Time passes (a fake clock): the others' first deadlines go by and they escalate.
    escalate_overdue(city_store, datetime.now(UTC) + timedelta(days=3))
    escalated = set(city_store.loop_incident_ids(escalated=True))
    assert escalated >= {made["hot"], made["app"]}
    assert ids("escalated=1") == escalated
    assert ids("escalated=0") == set(made.values()) - escalated
    assert ids("escalated=1&channel=app") == {made["app"]}
    assert ids("escalated=1&department=hb") == escalated & {made["pat"]}
    for query, field in (
        ("department=nobody", "department"),
        ("channel=carrier-pigeon", "channel"),
        ("escalated=maybe", "escalated"),
    ):
        answer = client.get(f"/api/incidents?{query}", headers=h)
        assert answer.status_code == 400 and answer.get_json()["field"] == field, query
    heat = client.get("/api/incidents/heat?channel=hotline", headers=h).get_json()
    assert sum(p[2] for p in heat["points"]) == 1


def test_locate_on_a_gcj02_map_takes_taps_and_gps_fixes_alike(store_url, city_store, tokens):
    """Amap-style base maps draw in GCJ-02: a tap arrives in GCJ-02, a GPS fix in WGS84; both
    name the same grid and the answer says where to draw the point on that map."""
    from gridmap.crs import wgs84_to_gcj02
    from web import create_app

    app = create_app({"DB": store_url, "TESTING": True, "BASEMAP_DATUM": "gcj02"})
    try:
        client = app.test_client()
        h = bearer(tokens["field"])
        lon, lat = grid_centre(MINE)
        x, y = (float(v) for v in wgs84_to_gcj02(lon, lat))
        gps = client.get(f"/api/locate?lon={lon}&lat={lat}", headers=h).get_json()
        tap = client.get(f"/api/locate?lon={x}&lat={y}&crs=gcj02", headers=h).get_json()
        assert gps["grid_code"] == tap["grid_code"] == MINE
        assert gps["point"] == pytest.approx([x, y], abs=1e-6)
        assert tap["point"] == pytest.approx([x, y], abs=1e-6)
    finally:
        getattr(app.extensions["gridmap_store"], "dispose", lambda: None)()
