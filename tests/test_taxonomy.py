"""The incident taxonomy: the shipped default, loading a city's own, limits, API and Open311."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
from webcity import bearer

from gridmap.cli import main
from gridmap.errors import InputError
from gridmap.rules.taxonomy import COLUMNS, STAGES, parse_rows
from gridmap.rules.workflow import TimeLimits, add_hours, iso, opening_deadlines
from gridmap.taxonomy import default, load_file, parse_bytes

MONDAY_10 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, a Monday


def rows_of(taxonomy) -> list[dict]:
    return taxonomy.rows()


def write_csv(path, rows, encoding="utf-8") -> str:
    import csv

    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


# -- the table and its rules -----------------------------------------------------------------


def test_default_has_components_events_and_social_classes():
    tax = default()
    names = {m.name for m in tax.majors}
    assert {"公用设施", "街面秩序", "矛盾纠纷", "安全隐患", "民生服务", "环境卫生", "治安"} <= names
    assert {m.kind for m in tax.majors} == {"component", "event", "social"}
    assert len(tax.subclasses) >= 50
    for sub in tax.subclasses:
        assert sub.code.startswith(sub.major_code) and sub.department
        assert set(sub.limits) == set(STAGES) and all(h > 0 for h in sub.limits.values())


def test_rows_round_trip_through_the_parser():
    tax = default()
    again = parse_rows(tax.rows(), "again")
    assert again.subclasses == tax.subclasses and again.majors == tax.majors


def test_stage_hours_map_onto_workflow_states():
    tax = default()
    sub = tax.subclass("S0101")  # 邻里纠纷: verify 2 + register 1, dispatch 1, handle 40
    limits = TimeLimits(taxonomy=tax)
    assert limits.hours("S0101", "reported") == sub.limits["verify"] + sub.limits["register"]
    assert limits.hours("S0101", "accepted") == sub.limits["dispatch"]
    assert limits.hours("S0101", "handling") == sub.limits["handle"]
    assert limits.hours("S0101", "returned") == sub.limits["handle"]
    assert limits.hours("S0101", "verified") == sub.limits["follow_up"]
    # Stages the taxonomy does not cover keep the workflow's defaults.
    assert limits.hours("S0101", "dispatched") == TimeLimits().hours("noise", "dispatched")
    # Overrides still win over the taxonomy.
    assert TimeLimits({"S0101": {"handling": 5}}, tax).hours("S0101", "handling") == 5.0
    # Built-in types are unchanged.
    assert limits.hours("manhole", "handling") == TimeLimits().hours("manhole", "handling")


def test_unknown_override_type_is_refused_with_and_without_taxonomy():
    with pytest.raises(ValueError, match="S0101"):
        TimeLimits({"S0101": {"handling": 5}})
    assert TimeLimits({"S0101": {"handling": 5}}, default()).known("S0101")


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # Monday 10:00 + 1 h -> 11:00 (Beijing) = 03:00Z
        (MONDAY_10, 1, "2026-03-02T03:00:00Z"),
        # Monday 10:00 + 3 h: 2 h in the morning, lunch 12-13 skipped, 1 h after -> 14:00
        (MONDAY_10, 3, "2026-03-02T06:00:00Z"),
        # Monday 10:00 + 8 h: 2 + 5 on Monday, 1 h Tuesday morning -> Tue 10:00
        (MONDAY_10, 8, "2026-03-03T02:00:00Z"),
        # Saturday noon + 1 h -> Monday 10:00
        (datetime(2026, 3, 7, 4, tzinfo=UTC), 1, "2026-03-09T02:00:00Z"),
        # Friday 22:00 (after hours) + 0.5 h -> Monday 09:30
        (datetime(2026, 3, 6, 14, tzinfo=UTC), 0.5, "2026-03-09T01:30:00Z"),
    ],
)
def test_working_hours_skip_nights_lunch_and_weekends(start, hours, expected):
    assert iso(add_hours(start, hours, "working")) == expected


def test_calendar_and_working_deadlines_come_from_the_subclass():
    tax = default()
    limits = TimeLimits(taxonomy=tax)
    friday_5pm = datetime(2026, 3, 6, 9, tzinfo=UTC)
    # E0401 路面塌陷 counts calendar hours: 0.5 + 0.5 after the report.
    assert limits.basis("E0401") == "calendar"
    assert iso(limits.due("E0401", "reported", friday_5pm)) == "2026-03-06T10:00:00Z"
    # S0101 邻里纠纷 counts working hours: 3 h from Friday 17:00 is Monday 11:00.
    assert limits.basis("S0101") == "working"
    assert iso(limits.due("S0101", "reported", friday_5pm)) == "2026-03-09T03:00:00Z"
    due, expected = opening_deadlines("S0101", friday_5pm, limits)
    assert due == "2026-03-09T03:00:00Z" and expected > due


def test_bad_rows_name_row_and_field():
    good = rows_of(default())[:3]
    bad = [dict(r) for r in good]
    bad[0]["handle_hours"] = "-1"
    bad[1]["kind"] = "parts"
    bad[2]["code"] = "X9999"  # does not start with its major code
    bad.append(dict(good[0]))  # duplicate code
    with pytest.raises(InputError) as caught:
        parse_rows(bad, "city.csv")
    text = str(caught.value)
    assert "city.csv: row 2: field handle_hours" in text
    assert "city.csv: row 3: field kind" in text
    assert "city.csv: row 4: field code: 'X9999' must start with its major_code" in text
    assert "city.csv: row 5: field code: 'B0101' appears twice" in text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"verify_hours": "abc"}, "verify_hours"),
        ({"follow_up_hours": "0"}, "follow_up_hours"),
        ({"register_hours": "99999"}, "register_hours"),
        ({"basis": "sometimes"}, "basis"),
        ({"urgency": "whenever"}, "urgency"),
        ({"department": ""}, "department"),
        ({"code": "B0 1"}, "code"),
        ({"major_name": "别的名字"}, "major_name"),
        ({"name": "污水井盖"}, "name"),  # a second subclass with the same name
    ],
)
def test_each_bad_field_is_refused(change, field):
    rows = [dict(r) for r in rows_of(default())[:2]]
    rows[0].update(change)
    with pytest.raises(InputError) as caught:
        parse_rows(rows, "t.csv")
    assert f"field {field}" in str(caught.value)


def test_chinese_choice_names_are_accepted():
    rows = [dict(r) for r in rows_of(default())[:1]]
    rows[0].update({"kind": "部件", "basis": "工作时", "urgency": "紧急"})
    sub = parse_rows(rows, "t.csv").subclasses[0]
    assert (sub.basis, sub.urgency) == ("working", "urgent")


# -- files ------------------------------------------------------------------------------------


def test_csv_in_gbk_and_json_forms_load(tmp_path):
    rows = rows_of(default())
    gbk = load_file(write_csv(tmp_path / "gbk.csv", rows, encoding="gbk"))
    assert gbk.subclasses == default().subclasses
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    assert load_file(flat).subclasses == default().subclasses
    tree = tmp_path / "tree.json"
    tree.write_text(json.dumps(default().as_json(), ensure_ascii=False), encoding="utf-8")
    assert load_file(tree).subclasses == default().subclasses


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"major_code,name\nB01,x\n", "lacks the columns"),
        (b"{not json", "is not valid JSON"),
        (b'{"rows": 3}', "must be a JSON list of rows"),
        (b"[1, 2]", "row 1: must be an object"),
        (b"[]", "holds no rows"),
        (b"\xff\xfe\x00\x01garbage\xc3", "is not UTF-8 or GBK"),
        (b"x" * (5 * 1024 * 1024 + 1), "is larger than"),
    ],
)
def test_bad_files_are_refused_with_the_file_name(data, message):
    with pytest.raises(InputError) as caught:
        parse_bytes(data, "upload.csv")
    assert "upload.csv" in str(caught.value) and message in str(caught.value)


def test_cli_load_and_show(tmp_path, capsys):
    db = str(tmp_path / "t.sqlite")
    rows = [dict(r) for r in rows_of(default())]
    rows[0]["handle_hours"] = "7"
    path = write_csv(tmp_path / "city.csv", rows)
    with pytest.raises(SystemExit) as done:
        main(["taxonomy", "load", path, "--db", db])
    assert done.value.code == 0
    assert "loaded 56 subclasses" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["taxonomy", "show", "--db", db])
    shown = capsys.readouterr().out
    assert shown.splitlines()[0] == ",".join(COLUMNS)
    assert "B0101,上水井盖,水务集团,1,0.5,0.5,7,24" in shown


def test_cli_bad_file_exits_2_and_stores_nothing(tmp_path, capsys):
    from gridmap.store import open_store

    db = str(tmp_path / "t.sqlite")
    rows = [dict(r) for r in rows_of(default())]
    rows[4]["urgency"] = "very"
    path = write_csv(tmp_path / "city.csv", rows)
    with pytest.raises(SystemExit) as done:
        main(["taxonomy", "load", path, "--db", db])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert f"error: {path}: row 6: field urgency" in err and "Traceback" not in err
    assert open_store(db).taxonomy() is default()
    with pytest.raises(SystemExit) as done:
        main(["taxonomy", "load", str(tmp_path / "missing.csv"), "--db", db])
    assert done.value.code == 2


# -- the store: deadlines follow the loaded taxonomy ---------------------------------------------


def test_store_deadlines_follow_the_loaded_taxonomy(city_store):
    from gridmap.store import Location

    where = Location.of_grid("330402001001001")
    first = city_store.create_incident(
        type="S0101",
        description="d",
        lon=120.71,
        lat=30.71,
        location=where,
        actor="t",
        at=MONDAY_10,
    )
    # 3 working hours: 10-12, lunch, 13-14 (Beijing)
    assert city_store.incident(first).due_at == "2026-03-02T06:00:00Z"
    rows = [dict(r) for r in rows_of(default())]
    for row in rows:
        if row["code"] == "S0101":
            row.update(verify_hours="1", register_hours="1", basis="calendar")
    city_store.save_taxonomy(parse_rows(rows, "city.csv"), actor="test")
    assert city_store.time_limits.hours("S0101", "reported") == 2.0
    second = city_store.create_incident(
        type="S0101",
        description="d",
        lon=120.71,
        lat=30.71,
        location=where,
        actor="t",
        at=MONDAY_10,
    )
    assert city_store.incident(second).due_at == "2026-03-02T04:00:00Z"
    # Accepting moves into the dispatch stage with the subclass's dispatch hours.
    moved = city_store.transition(second, "accept", "t", at=MONDAY_10)
    assert moved.due_at == "2026-03-02T03:00:00Z"


# -- the API and Open311 ----------------------------------------------------------------------


def test_api_taxonomy(client, tokens):
    assert client.get("/api/taxonomy").status_code == 401
    body = client.get("/api/taxonomy", headers=bearer(tokens["viewer"])).get_json()
    majors = {m["code"]: m for m in body["majors"]}
    sub = next(s for s in majors["B01"]["subclasses"] if s["code"] == "B0101")
    assert sub["department"] == "水务集团" and sub["limits"]["handle"] == 4
    assert sub["urgency_name"] == "紧急" and sub["basis"] == "calendar"
    assert [s["code"] for s in body["stages"]] == list(STAGES)
    assert {"hotline", "patrol", "app", "petition", "police", "open311"} <= {
        c["code"] for c in body["channels"]
    }


def test_services_come_from_the_taxonomy(client):
    services = client.get("/open311/v2/services.json").get_json()
    codes = {s["service_code"]: s for s in services}
    assert set(default().codes) <= set(codes)
    well = codes["B0101"]
    assert well["service_name"] == "上水井盖" and well["group"] == "公用设施"
    assert well["metadata"] is True and "水务集团" in well["description"]
    definition = client.get("/open311/v2/services/B0101.json").get_json()
    assert definition["service_code"] == "B0101"
    attribute = definition["attributes"][0]
    assert attribute["code"] == "channel" and attribute["datatype"] == "singlevaluelist"
    assert {"key": "hotline", "name": "12345 热线"} in attribute["values"]
    missing = client.get("/open311/v2/services/NOPE.json")
    assert missing.status_code == 404


def test_open311_post_with_a_subclass_and_channel_attribute(client, tokens):
    r = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": tokens["dispatcher"],
            "service_code": "E0101",
            "lat": "30.72",
            "long": "120.72",
            "attribute[channel]": "hotline",
        },
    )
    assert r.status_code == 201, r.get_json()
    rid = r.get_json()[0]["service_request_id"]
    incident = client.get(f"/api/incidents/{rid}", headers=bearer(tokens["viewer"])).get_json()
    assert incident["type"] == "E0101" and incident["type_name"] == "暴露垃圾"
    assert incident["source"] == "hotline" and incident["description"] == "暴露垃圾"
    bad = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": tokens["dispatcher"],
            "service_code": "E0101",
            "lat": "30.72",
            "long": "120.72",
            "attribute[channel]": "carrier-pigeon",
        },
    )
    assert bad.status_code == 400 and "channel" in bad.get_json()[0]["description"]


@pytest.fixture
def live_server(app):
    """The app on a real local port (the georeport client speaks HTTP through requests)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def test_georeport_client_reads_services_definitions_and_public_requests(app, live_server, tokens):
    import requests
    from georeport import GeoReport

    client = GeoReport(f"{live_server}/open311/v2")
    services = client.get_service_list()
    assert any(s["service_code"] == "S0401" for s in services)
    definition = client.get_service_definition("S0401")
    assert definition["attributes"][0]["code"] == "channel"
    posted = requests.post(
        f"{live_server}/open311/v2/requests.json",
        data={
            "api_key": tokens["field"],
            "service_code": "S0401",
            "lat": "30.72",
            "long": "120.72",
            "description": "夜间噪声",
        },
        timeout=10,
    )
    assert posted.status_code == 201, posted.text
    rid = posted.json()[0]["service_request_id"]
    # Private by default: the client (which sends no key on reads) is refused.
    with pytest.raises(requests.HTTPError) as refused:
        client.get_service_requests()
    assert refused.value.response.status_code == 401
    app.config["OPEN311_PUBLIC_READS"] = True
    listed = client.get_service_requests(service_code="S0401")
    assert [r["service_request_id"] for r in listed] == [rid]
    one = client.get_service_request(rid)
    assert one["service_name"] == "噪声扰民" and one["status"] == "open"
