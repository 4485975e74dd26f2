"""Departments, follow-up, escalation and grid staff: the loop as cities run it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from webcity import bearer

from gridmap.services.incidents import ActionError, act
from gridmap.services.loop import Caller, escalate_overdue
from gridmap.store import Location

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
GRID = "330402001001001"
DISPATCHER = Caller("调度员", "dispatcher")
SATISFIED = {"method": "phone", "satisfied": True}


def new_incident(store, category="S0101", at=T0) -> int:
    return store.create_incident(
        type=category,
        description="邻里纠纷",
        lon=120.72,
        lat=30.72,
        location=Location.of_grid(GRID),
        actor="t",
        at=at,
    )


@pytest.fixture
def depts(city_store):
    city_store.add_department("sfs", "司法所", "street")
    city_store.add_department("sw", "水务集团", "city")
    return city_store


def to_dispatched(store, iid, department=None, at=T0):
    act(store, iid, "accept", DISPATCHER, at=at)
    return act(store, iid, "dispatch", DISPATCHER, department=department, at=at)


# -- departments ------------------------------------------------------------------------------


def test_dispatch_goes_to_the_subclass_department_or_the_named_one(depts):
    first = new_incident(depts)
    to_dispatched(depts, first)
    assert depts.incident_loops([first])[first].department == "sfs"  # 邻里纠纷 -> 司法所
    second = new_incident(depts)
    to_dispatched(depts, second, department="水务集团")  # by name or code
    assert depts.incident_loops([second])[second].department == "sw"
    third = new_incident(depts)
    act(depts, third, "accept", DISPATCHER, at=T0)
    with pytest.raises(ActionError) as refused:
        act(depts, third, "dispatch", DISPATCHER, department="nobody", at=T0)
    assert refused.value.field == "department"
    assert depts.incident(third).status == "accepted"  # nothing moved
    with pytest.raises(ActionError, match="."):
        act(depts, third, "reject", DISPATCHER, department="sw", at=T0)


def test_department_accepts_returns_and_handles_only_its_own(depts):
    iid = new_incident(depts)
    to_dispatched(depts, iid)
    water = Caller("水务", "department", department="sw")
    justice = Caller("司法所", "department", department="sfs")
    with pytest.raises(ActionError, match="may not"):
        act(depts, iid, "start", water, at=T0)
    # Send back: the incident waits for dispatch again, with no department.
    act(depts, iid, "decline", justice, note="不归我们管", at=T0)
    assert depts.incident(iid).status == "accepted"
    assert depts.incident_loops([iid])[iid].department is None
    act(depts, iid, "dispatch", DISPATCHER, department="sfs", at=T0)
    act(depts, iid, "start", justice, at=T0)  # accepted (签收)
    act(depts, iid, "resolve", justice, at=T0)
    with pytest.raises(ActionError, match="may not"):
        act(depts, iid, "verify", justice, at=T0)  # verifying is the dispatcher's
    with pytest.raises(ActionError, match="cannot"):
        act(depts, iid, "decline", justice, at=T0)


def test_department_api_tokens_queue_and_actions(client, tokens, depts):
    admin, dispatcher = bearer(tokens["admin"]), bearer(tokens["dispatcher"])
    made = client.post("/api/departments", json={"code": "hb", "name": "生态环境局"}, headers=admin)
    assert made.status_code == 201 and made.get_json()["level"] == "district"
    listed = client.get("/api/departments", headers=bearer(tokens["viewer"])).get_json()
    assert [d["code"] for d in listed["departments"]] == ["hb", "sfs", "sw"]
    token = client.post("/api/departments/hb/tokens", headers=admin).get_json()["token"]
    other = client.post("/api/departments/sw/tokens", headers=admin).get_json()["token"]
    body = {"category": "S0401", "description": "噪声", "lon": 120.72, "lat": 30.72}
    iid = client.post("/api/incidents", json=body, headers=dispatcher).get_json()["id"]
    url = f"/api/incidents/{iid}/transition"
    client.post(url, json={"action": "accept"}, headers=dispatcher)
    r = client.post(url, json={"action": "dispatch", "department": "hb"}, headers=dispatcher)
    assert r.status_code == 200 and r.get_json()["department"] == "hb"
    assert r.get_json()["department_name"] == "生态环境局"
    queue = client.get("/api/departments/hb/queue", headers=bearer(token)).get_json()
    assert [i["id"] for i in queue["incidents"]] == [iid]
    assert client.get("/api/departments/hb/queue", headers=bearer(other)).status_code == 403
    assert client.get("/api/departments/nope/queue", headers=dispatcher).status_code == 404
    detail = client.get(f"/api/incidents/{iid}", headers=bearer(token)).get_json()
    assert detail["allowed_actions"] == ["start", "decline"]
    assert client.post(url, json={"action": "start"}, headers=bearer(other)).status_code == 403
    r = client.post(url, json={"action": "start"}, headers=bearer(token))
    assert r.status_code == 200 and r.get_json()["status"] == "handling"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"code": "a b", "name": "x"}, 400, "code"),
        ({"code": "ok", "name": ""}, 400, "name"),
        ({"code": "ok", "name": "x", "level": "galaxy"}, 400, "level"),
        ({"code": "sw", "name": "另一个"}, 409, "code"),
        ({"code": "new", "name": "水务集团"}, 409, "code"),
    ],
)
def test_bad_departments_are_refused(client, tokens, depts, body, status, field):
    r = client.post("/api/departments", json=body, headers=bearer(tokens["admin"]))
    assert r.status_code == status and r.get_json()["field"] == field


def test_only_admin_adds_departments_or_issues_their_tokens(client, tokens, depts):
    h = bearer(tokens["dispatcher"])
    assert (
        client.post("/api/departments", json={"code": "a", "name": "b"}, headers=h).status_code
        == 403
    )
    assert client.post("/api/departments/sw/tokens", headers=h).status_code == 403
    assert (
        client.post("/api/departments/zz/tokens", headers=bearer(tokens["admin"])).status_code
        == 404
    )


# -- follow-up --------------------------------------------------------------------------------


def to_verified(store, iid):
    to_dispatched(store, iid)
    for action in ("start", "resolve", "verify"):
        act(store, iid, action, DISPATCHER, at=T0)


def test_closing_requires_a_follow_up(depts):
    iid = new_incident(depts)
    to_verified(depts, iid)
    for bad in (None, "yes", {"method": "email", "satisfied": True}, {"method": "phone"}):
        with pytest.raises(ActionError, match="."):
            act(depts, iid, "close", DISPATCHER, follow_up=bad, at=T0)
    assert depts.incident(iid).status == "verified" and depts.follow_ups(iid) == []
    done = act(depts, iid, "close", DISPATCHER, follow_up=SATISFIED | {"note": "满意"}, at=T0)
    assert done.status == "closed"
    [record] = depts.follow_ups(iid)
    assert (record.method, record.satisfied, record.note) == ("phone", True, "满意")


def test_an_unsatisfied_follow_up_reopens_as_rework(depts):
    iid = new_incident(depts)
    to_verified(depts, iid)
    back = act(
        depts, iid, "close", DISPATCHER, follow_up={"method": "visit", "satisfied": False}, at=T0
    )
    assert back.status == "returned" and back.rework == 1
    assert depts.history(iid)[-1].note == "上门回访不满意，退回重办"
    assert [f.satisfied for f in depts.follow_ups(iid)] == [False]


def test_follow_up_over_the_api(client, tokens, depts):
    h = bearer(tokens["dispatcher"])
    iid = new_incident(depts, at=None)
    url = f"/api/incidents/{iid}/transition"
    for action in ("accept", "dispatch", "start", "resolve", "verify"):
        assert client.post(url, json={"action": action}, headers=h).status_code == 200
    r = client.post(url, json={"action": "close"}, headers=h)
    assert r.status_code == 400 and r.get_json()["field"] == "follow_up"
    r = client.post(url, json={"action": "close", "follow_up": {"method": "phone"}}, headers=h)
    assert r.status_code == 400 and r.get_json()["field"] == "follow_up.satisfied"
    r = client.post(url, json={"action": "verify", "follow_up": SATISFIED}, headers=h)
    assert r.status_code == 409  # already verified: the state is checked first
    r = client.post(url, json={"action": "close", "follow_up": SATISFIED}, headers=h)
    assert r.status_code == 200 and r.get_json()["status"] == "closed"
    assert r.get_json()["follow_ups"][0]["method"] == "phone"


# -- escalation -------------------------------------------------------------------------------


def test_escalation_one_level_per_stage_past_its_limit(depts):
    iid = new_incident(depts)  # 邻里纠纷: verify+register 3 working hours -> due 14:00
    assert escalate_overdue(depts, T0 + timedelta(hours=3)) == []  # 13:00: not yet
    last = depts.last_event_id()
    [done] = escalate_overdue(depts, T0 + timedelta(hours=5))
    assert (done.incident_id, done.level, done.status) == (iid, 1, "reported")
    assert escalate_overdue(depts, T0 + timedelta(hours=9)) == []  # once per deadline
    events = depts.events_since(last)
    assert [(e.event, e.incident_id) for e in events] == [("escalated", iid)]
    entry = depts.history(iid)[-1]
    assert entry.action == "escalate" and entry.actor == "system" and "街道" in entry.note
    # The next stage also runs late: district, then city, and the city is the top.
    later = T0 + timedelta(days=1)
    act(depts, iid, "accept", DISPATCHER, at=later)
    assert escalate_overdue(depts, later + timedelta(days=1))[0].level == 2
    act(depts, iid, "dispatch", DISPATCHER, at=later + timedelta(days=1))
    assert escalate_overdue(depts, later + timedelta(days=3))[0].level == 3
    act(depts, iid, "start", DISPATCHER, at=later + timedelta(days=3))
    assert escalate_overdue(depts, later + timedelta(days=30))[0].level == 3
    assert depts.incident_loops([iid])[iid].escalation_level == 3
    assert depts.loop_incident_ids(escalated=True) == [iid]


def test_closed_incidents_do_not_escalate(depts):
    iid = new_incident(depts)
    act(depts, iid, "reject", DISPATCHER, at=T0)
    assert escalate_overdue(depts, T0 + timedelta(days=30)) == []


def test_the_server_escalates_without_any_request(store_url, city_store):
    from web import create_app

    iid = new_incident(city_store, at=datetime(2026, 1, 5, tzinfo=UTC))  # long overdue
    last = city_store.last_event_id()
    app = create_app({"DB": store_url, "ESCALATION_SWEEP_SECONDS": 0.05})
    try:
        deadline = time.monotonic() + 10
        events = []
        while time.monotonic() < deadline and not events:
            events = [e for e in city_store.events_since(last) if e.event == "escalated"]
            time.sleep(0.05)  # waiting for the server's thread, not for time to pass
        assert [e.incident_id for e in events] == [iid]
    finally:
        app.extensions["gridmap_sweeper_stop"].set()


# -- grid staff --------------------------------------------------------------------------------

ROSTER = """name,role,phone,grids
张网格长,网格长,13800000001,330402001001001;330402001001002
李专职,专职网格员,13800000002,330402001001001
王专职,full_time,13800000003,330402001001002001
赵警务,网格警务员,0573-82000000,330402001001001
钱楼长,楼道长,,330402001001001003
"""


def test_staff_import_api_and_workload(client, tokens, city_store):
    from gridmap.services.staff import import_roster

    assert import_roster(city_store, ROSTER.encode("gbk"), "roster.csv") == 5
    h = bearer(tokens["viewer"])
    here = client.get("/api/staff?grid=330402001001001", headers=h).get_json()
    assert [s["name"] for s in here["staff"]] == ["张网格长", "李专职", "赵警务", "钱楼长"]
    assert here["staff"][1]["role_name"] == "专职网格员"
    community = client.get("/api/staff?grid=330402001001", headers=h).get_json()
    assert community["count"] == 5
    assert client.get("/api/staff?grid=abc", headers=h).status_code == 400
    load = client.get("/api/staff/workload?level=grid", headers=h).get_json()["units"]
    units = {u["code"]: u for u in load}
    g1, g2 = units["330402001001001"], units["330402001001002"]
    assert (g1["full_time"], g2["full_time"]) == (1, 1)
    assert g1["households_per_full_time"] == g1["households"] / 1
    assert units["330402002001001"]["households_per_full_time"] is None  # nobody full-time
    by_community = client.get("/api/staff/workload?level=community", headers=h).get_json()
    c = {u["code"]: u for u in by_community["units"]}["330402001001"]
    assert c["full_time"] == 2 and c["households"] == g1["households"] + g2["households"]
    assert client.get("/api/staff/workload?level=city", headers=h).status_code == 400


def test_a_staff_field_token_covers_their_grids(client, tokens, city_store):
    from gridmap.services.staff import import_roster

    import_roster(city_store, ROSTER.encode(), "roster.csv")
    wang = next(m for m in city_store.staff() if m.name == "王专职")
    r = client.post(f"/api/staff/{wang.id}/token", headers=bearer(tokens["admin"]))
    assert r.status_code == 201
    token = r.get_json()["token"]
    assert city_store.check_token(token).grids == ("330402001001002",)  # the micro-grid's grid
    body = {"category": "E0101", "description": "垃圾", "crs": "cgcs2000"}
    inside = client.post(
        "/api/incidents", json=body | {"lon": 120.74, "lat": 30.74}, headers=bearer(token)
    )
    outside = client.post(
        "/api/incidents", json=body | {"lon": 120.72, "lat": 30.72}, headers=bearer(token)
    )
    assert (inside.status_code, outside.status_code) == (201, 403), inside.get_json()
    missing = client.post("/api/staff/999/token", headers=bearer(tokens["admin"]))
    assert missing.status_code == 404
    assert (
        client.post(f"/api/staff/{wang.id}/token", headers=bearer(tokens["dispatcher"])).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,role\n张,网格长\n", "lacks the columns phone, grids"),
        ("name,role,phone,grids\n张,队长,138,330402001001001\n", "row 2: field role"),
        ("name,role,phone,grids\n张,网格长,abc,330402001001001\n", "row 2: field phone"),
        ("name,role,phone,grids\n张,网格长,,33040200\n", "row 2: field grids"),
        ("name,role,phone,grids\n张,网格长,,330402009009009\n", "not in the current version"),
        ("name,role,phone,grids\n,网格长,,330402001001001\n", "row 2: field name"),
        ("name,role,phone,grids\n", "holds no rows"),
    ],
)
def test_bad_rosters_store_nothing(store_url, city_store, tmp_path, text, message, capsys):
    from gridmap.cli import main

    city_store.replace_staff([])
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SystemExit) as done:
        main(["staff", "import", str(path), "--db", store_url])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and "Traceback" not in err
    assert city_store.staff() == []


def test_cli_departments_staff_and_escalate(store_url, city_store, tmp_path, capsys):
    from gridmap.cli import main

    db = ["--db", store_url]

    def run(*args):
        with pytest.raises(SystemExit) as done:
            main([*args, *db])
        return done.value.code, capsys.readouterr()

    assert run("department", "add", "sw", "水务集团", "--level", "city")[0] == 0
    code, out = run("department", "add", "sw", "重复")
    assert code == 2 and "exists" in out.err
    code, out = run("department", "token", "sw")
    assert (
        code == 0
        and city_store.token_department(city_store.check_token(out.out.strip()).id) == "sw"
    )
    assert run("department", "token", "nope")[0] == 2
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    code, out = run("staff", "import", str(path))
    assert code == 0 and "imported 5" in out.out
    code, out = run("staff", "token", str(city_store.staff()[0].id))
    assert code == 0 and city_store.check_token(out.out.strip()).role == "field"
    new_incident(city_store, at=datetime(2026, 1, 5, tzinfo=UTC))
    code, out = run("escalate")
    assert code == 0 and "escalated 1 incidents" in out.out
