"""Evaluation (考核) per unit and period, its exports, and patrol check-ins."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from webcity import bearer

from gridmap.rules import kpi
from gridmap.services.incidents import act
from gridmap.services.loop import Caller, check_in
from gridmap.services.reporting import ReportError
from gridmap.store import Location

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
G1, G2 = "330402001001001", "330402001001002"
D = Caller("调度员", "dispatcher")


def incident(store, category, grid, at):
    lon, lat = (120.72, 30.72) if grid == G1 else (120.74, 30.74)
    return store.create_incident(
        type=category,
        description="x",
        lon=lon,
        lat=lat,
        location=Location.of_grid(grid),
        actor="t",
        at=at,
    )


def run(store, iid, steps, start):
    for hours, action, extra in steps:
        act(store, iid, action, D, at=start + timedelta(hours=hours), **extra)


HAPPY = [
    (1, "accept", {}),
    (2, "dispatch", {}),
    (3, "start", {}),
    (4, "resolve", {}),
    (4, "verify", {}),
    (5, "close", {"follow_up": {"method": "phone", "satisfied": True}}),
]


@pytest.fixture
def march(city_store):
    """A: closed on time in G1; B: rejected in G1; C: late and reworked in G2; D: February."""
    store = city_store
    store.add_department("sfs", "司法所", "street")
    a = incident(store, "S0101", G1, T0)
    run(store, a, HAPPY, T0)
    b = incident(store, "E0101", G1, T0)
    act(store, b, "reject", D, at=T0)
    c = incident(store, "S0101", G2, T0)
    late = 24 * 30
    run(
        store,
        c,
        [
            (1, "accept", {}),
            (2, "dispatch", {}),
            (3, "start", {}),
            (late, "resolve", {}),
            (late, "verify", {}),
            (late + 1, "close", {"follow_up": {"method": "visit", "satisfied": False}}),
            (late + 2, "start", {}),
            (late + 3, "resolve", {}),
        ],
        T0,
    )
    d = incident(store, "S0101", G1, T0 - timedelta(days=20))
    check_in(store, "巡查员", "dispatcher", (), 120.72, 30.72, at=T0)
    check_in(store, "巡查员", "dispatcher", (), 120.74, 30.74, at=T0 - timedelta(days=20))
    return store, (a, b, c, d)


def test_evaluation_per_grid_community_and_department(march):
    from gridmap.services.evaluation import evaluate

    store, _ = march
    grids = {u["code"]: u for u in evaluate(store, "grid", "2026-03").units}
    g1 = grids[G1]
    assert (g1["reported"], g1["registered"], g1["closed"]) == (2, 1, 1)
    assert g1["registration_rate"] == 0.5 and g1["on_time_rate"] == 1.0
    assert g1["closure_rate"] == 1.0 and g1["rework_rate"] == 0.0
    assert g1["satisfaction_rate"] == 1.0 and g1["patrol_coverage"] == 1.0
    assert g1["average_handling_hours"] == 5.0
    g2 = grids[G2]
    assert (g2["on_time_rate"], g2["rework_rate"], g2["satisfaction_rate"]) == (0.0, 1.0, 0.0)
    assert g2["closure_rate"] == 0.0 and g2["patrol_coverage"] == 0.0  # patrolled in February
    assert grids["330402002001001"]["reported"] == 0  # a grid without incidents is listed
    assert grids["330402002001001"]["registration_rate"] is None
    result = evaluate(store, "community", "2026-Q1")
    c = {u["code"]: u for u in result.units}["330402001001"]
    # The quarter holds D (February) too, never accepted: 4 reports, 2 registered.
    assert (c["reported"], c["registered"], c["closed"]) == (4, 2, 1)
    assert c["on_time_rate"] == 0.5 and c["rework_rate"] == 0.5
    assert c["patrol_coverage"] == 1.0  # both grids patrolled within the quarter
    department = evaluate(store, "department", "2026").units
    assert [(u["code"], u["reported"], u["registered"]) for u in department] == [("sfs", 2, 2)]
    assert department[0]["patrol_coverage"] is None
    assert result.total["reported"] == 4


@pytest.mark.parametrize("period", ["2026-13", "2026-Q5", "26", "2026-03-01", "", "abcd"])
def test_bad_periods_are_refused(period):
    with pytest.raises(ValueError, match="period"):
        kpi.period_bounds(period)


def test_evaluation_api_json_csv_xlsx(client, tokens, march):
    from openpyxl import load_workbook

    h = bearer(tokens["viewer"])
    body = client.get("/api/evaluation?level=grid&period=2026-03", headers=h).get_json()
    assert body["indicators"]["rework_rate"]["name"] == "返工率"
    assert {u["code"] for u in body["units"]} >= {G1, G2}
    text = client.get("/api/evaluation?level=grid&period=2026-03&format=csv", headers=h)
    assert text.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(text.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["单位代码", "单位名称", "上报数", "立案数"]
    assert "立案率" in rows[0] and "巡查覆盖率" in rows[0] and rows[-1][1] == "合计"
    book = client.get("/api/evaluation?level=street&period=2026&format=xlsx", headers=h)
    assert book.status_code == 200
    assert 'filename="evaluation-street-2026.xlsx"' in book.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(book.data)).active
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["单位代码", "单位名称"] and "按期处置率" in header
    assert sheet.cell(row=2, column=1).value == "330402001"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("level=city&period=2026", "level"),
        ("level=grid&period=2026-13", "period"),
        ("level=grid", "period"),
        ("level=grid&period=2026&format=pdf", "format"),
    ],
)
def test_bad_evaluation_queries_are_400(client, tokens, query, field):
    r = client.get(f"/api/evaluation?{query}", headers=bearer(tokens["viewer"]))
    assert r.status_code == 400 and r.get_json()["field"] == field


def test_patrol_check_ins(client, tokens, city_store):
    h = bearer(tokens["field"])
    here = {"lon": 120.72, "lat": 30.72, "crs": "cgcs2000"}
    r = client.post("/api/patrols", json=here, headers=h)
    assert r.status_code == 201 and r.get_json()["grid_code"] == G1
    elsewhere = {"lon": 120.78, "lat": 30.78, "crs": "cgcs2000"}
    assert client.post("/api/patrols", json=elsewhere, headers=h).status_code == 403
    outside = {"lon": 121.5, "lat": 31.2, "crs": "cgcs2000"}
    r = client.post("/api/patrols", json=outside, headers=bearer(tokens["dispatcher"]))
    assert r.status_code == 422
    assert client.post("/api/patrols", json={"lon": "x", "lat": 1}, headers=h).status_code == 400
    assert (
        client.post("/api/patrols", json=here, headers=bearer(tokens["viewer"])).status_code == 403
    )
    assert city_store.patrolled_grids("2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z") == [G1]
    with pytest.raises(ReportError):
        check_in(city_store, "x", "dispatcher", (), float("nan"), 30.7)
