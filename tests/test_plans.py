"""The planner workspace's API and service (issue 9): plans as background jobs over the real job
runner (a spawned worker process), their diff against the current version, publishing through
the one publish path, roll back, and every malformed request answered 4xx - on both stores.

The city is `gridmap sample --households 8000 --seed 3` partitioned with the default options and
published (``plan_city`` in conftest.py); a plan on the same inputs must keep every grid.
"""

from __future__ import annotations

import io
import time

import pyogrio
import pytest
from conftest import publish_plan_city
from webcity import bearer

from gridmap.partition.codes import same_extent
from gridmap.rules.labels import FLAGS, PLAN_DIFF
from gridmap.services import jobs, plans
from gridmap.store import open_store

WAIT_S = 180


@pytest.fixture
def planned(store_url, plan_city):
    """A store holding the sample city as version 1, an app with a job runner over it, and
    tokens."""
    from backends import release_store

    from web import create_app

    store = open_store(store_url)
    publish_plan_city(store, plan_city)
    tokens = {role: store.create_token(role, f"{role}-用户") for role in ("viewer", "planner")}
    app = create_app({"DB": store_url, "TESTING": True})
    yield {"app": app, "client": app.test_client(), "store": store, "tokens": tokens}
    app.extensions["gridmap_jobs"].shutdown()
    release_store(app.extensions["gridmap_store"])
    release_store(store)


def post(ctx, path, body=None, role="planner", **kwargs):
    headers = bearer(ctx["tokens"][role])
    if body is not None:
        kwargs["json"] = body
    return ctx["client"].post(path, headers=headers, **kwargs)


def get(ctx, path, role="planner"):
    return ctx["client"].get(path, headers=bearer(ctx["tokens"][role]))


def wait(ctx, plan_id: int) -> dict:
    """Poll GET /api/plans/<id> as the browser does until the plan ends."""
    deadline = time.monotonic() + WAIT_S
    seen = []
    while time.monotonic() < deadline:
        answer = get(ctx, f"/api/plans/{plan_id}")
        assert answer.status_code == 200, answer.json
        plan = answer.json
        seen.append((plan["status"], plan["progress"]))
        if plan["status"] in ("done", "failed", "cancelled"):
            plan["seen"] = seen
            return plan
        time.sleep(0.1)
    pytest.fail(f"plan {plan_id} did not end within {WAIT_S} s: {seen[-3:]}")


def start(ctx, body) -> int:
    answer = post(ctx, "/api/plans", body)
    assert answer.status_code == 202, answer.json
    assert answer.headers["Location"] == f"/api/plans/{answer.json['id']}"
    return answer.json["id"]


def current_grids(ctx):
    version = ctx["store"].current_version()
    return version.id, plans.version_grids(ctx["store"], version.id)


def test_same_inputs_keep_every_grid_and_report_per_community(planned, plan_city):
    plan_id = start(planned, {})
    plan = wait(planned, plan_id)
    assert plan["status"] == "done", plan["error"]
    assert plan["progress"] == 1.0 and plan["kind"] == "plan" and plan["owner"] == "planner-用户"
    summary = plan["summary"]
    grids = plan_city["result"].grids
    assert summary["ok"] is True and summary["base_version"] == 1
    assert summary["diff"]["counts"] == {"kept": len(grids), "changed": 0, "new": 0, "retired": 0}
    assert "grids" not in summary["diff"]  # the per-grid rows are in /diff
    # One report row per community, flags with the Chinese label of rules/labels.py.
    report = {row["code"]: row for row in summary["communities"]}
    assert set(report) == set(grids["community_code"])
    for code, row in report.items():
        mine = grids[grids["community_code"] == code]
        comprehensive = mine[mine["kind"] == "comprehensive"]
        in_band = comprehensive["households"].between(300, 500).sum()
        assert row["grids"] == len(mine) and row["in_band"] == in_band
        assert row["share_in_band"] == int(10_000 * in_band / len(comprehensive)) / 10_000
        assert row["exclusive_ratio"] == round(
            (mine["kind"] == "exclusive").sum() / len(comprehensive), 4
        )
        for flag in row["flags"]:
            assert flag["label"] == FLAGS[flag["flag"]]
            assert (
                flag["count"]
                == mine["flags"].str.split(";").map(lambda f, x=flag: x["flag"] in f).sum()
            )
    # The result file is the partitioner's GeoPackage: the same grids, byte for byte in shape.
    data = get(planned, f"/api/plans/{plan_id}/file")
    assert data.status_code == 200 and data.mimetype == "application/geopackage+sqlite3"
    result = pyogrio.read_dataframe(io.BytesIO(data.data), layer="grids").set_index("grid_code")
    published = grids.set_index("grid_code")
    assert sorted(result.index) == sorted(published.index)
    assert all(result.geometry[c].equals_exact(published.geometry[c], 0) for c in published.index)
    assert "micro_grids" in [name for name, _ in pyogrio.list_layers(io.BytesIO(data.data))]


def test_a_changed_band_diff_publish_and_roll_back(planned, plan_city):
    ctx = planned
    plan_id = start(ctx, {"min_households": 200, "max_households": 400, "micro_households": "off"})
    plan = wait(ctx, plan_id)
    assert plan["status"] == "done", plan["error"]
    assert [s for s, _ in plan["seen"]][-1] == "done"
    counts = plan["summary"]["diff"]["counts"]
    assert counts["changed"] + counts["new"] > 0, counts
    diff = get(ctx, f"/api/plans/{plan_id}/diff").json
    assert diff["counts"] == counts and diff["base_version"] == 1
    rows = {row["code"]: row for row in diff["grids"]}
    before = plan_city["result"].grids.set_index("grid_code")
    result = pyogrio.read_dataframe(
        io.BytesIO(get(ctx, f"/api/plans/{plan_id}/file").data), layer="grids"
    ).set_index("grid_code")
    for status in PLAN_DIFF:
        assert sorted(diff[status]) == sorted(c for c, r in rows.items() if r["status"] == status)
    for code, row in rows.items():
        assert row["households_before"] == (
            int(before.at[code, "households"]) if code in before.index else None
        )
        assert row["households_after"] == (
            int(result.at[code, "households"]) if code in result.index else None
        )
        assert row["change"] == (row["households_after"] or 0) - (row["households_before"] or 0)
        if row["status"] in ("kept", "changed"):
            same = same_extent(before.geometry[code], result.geometry[code])
            assert same == (row["status"] == "kept"), code
    assert sum(r["change"] for r in rows.values()) == 0  # households move, none appear
    # The preview: every plan grid plus the retired ones, each with its status.
    preview = get(ctx, f"/api/plans/{plan_id}/grids")
    assert preview.mimetype == "application/geo+json"
    features = preview.json["features"]
    assert {f["properties"]["code"]: f["properties"]["status"] for f in features} == {
        code: row["status"] for code, row in rows.items()
    }

    # Publish with a note: version 2, current, its grids are the plan's.
    answer = post(ctx, f"/api/plans/{plan_id}/publish", {"note": "2027年度调整：户数200-400"})
    assert answer.status_code == 201, answer.json
    assert answer.json["version_id"] == 2
    versions = get(ctx, "/api/versions", role="viewer").json["versions"]
    current = [v for v in versions if v["current"]]
    assert [v["id"] for v in current] == [2] and current[0]["note"] == "2027年度调整：户数200-400"
    assert current[0]["published_by"] == "planner-用户"
    _, now = current_grids(ctx)
    assert sorted(now["grid_code"]) == sorted(result.index)
    assert get(ctx, f"/api/plans/{plan_id}").json["summary"]["published_version"] == 2
    again = post(ctx, f"/api/plans/{plan_id}/publish", {"note": "twice"})
    assert again.status_code == 409 and "already" in again.json["error"]

    # Roll back: version 1 current again, with its own grids.
    back = post(ctx, "/api/versions/1/activate", {})
    assert back.status_code == 200 and back.json["current"] == 1
    version_id, grids = current_grids(ctx)
    assert version_id == 1 and sorted(grids["grid_code"]) == sorted(before.index)
    listed = get(ctx, "/api/plans").json["plans"]
    assert [p["id"] for p in listed] == [plan_id] and listed[0]["summary"]["diff"][
        "counts"
    ] == counts


def test_a_locked_grid_keeps_code_and_shape_when_its_neighbours_change(planned, plan_city):
    ctx = planned
    band = {"min_households": 200, "max_households": 400, "micro_households": "off"}
    first = wait(ctx, start(ctx, band))
    changed = get(ctx, f"/api/plans/{first['id']}/diff").json["changed"]
    assert changed
    lock = changed[0]
    second = wait(ctx, start(ctx, {**band, "locks": [lock]}))
    assert second["status"] == "done", second["error"]
    diff = get(ctx, f"/api/plans/{second['id']}/diff").json
    assert lock in diff["kept"]
    report = {row["code"]: row for row in second["summary"]["communities"]}
    assert report[lock[:12]]["locked"] == 1


def test_a_published_lock_stays_until_a_planner_releases_it(planned):
    ctx = planned
    store = ctx["store"]
    lock = sorted(plans.version_grids(store, 1)["grid_code"])[0]
    params = plans.prepare(store, plans.PlanParams(locks=(lock,))).as_json()
    job = jobs.execute(store, store.create_job("plan", "p", params))  # inline, no worker
    assert job.status == "done", job.error
    plans.publish_plan(store, job, note="锁定一个网格")
    # The new version remembers the lock: the form starts with it, a plan without "locks"
    # keeps it, and "locks": [] releases it.
    assert get(ctx, "/api/plans/options").json["current_locks"] == [lock]
    kept = store.job(start(ctx, {"micro_households": "off"}))
    assert kept.params["locks"] == [lock]
    released = store.job(start(ctx, {"micro_households": "off", "locks": []}))
    assert released.params["locks"] == []
    form = {"micro_households": "off", "locks": ""}
    answer = post(ctx, "/api/plans", data=form, content_type="multipart/form-data")
    assert store.job(answer.json["id"]).params["locks"] == []
    for plan_id in (kept.id, released.id, answer.json["id"]):
        post(ctx, f"/api/plans/{plan_id}/cancel", {})


def test_a_plan_from_uploaded_files(planned, plan_city):
    folder = plan_city["folder"]
    form = {"source": "upload", "micro_households": "30-150", "locks": ""}
    with (
        open(folder / "boundaries.gpkg", "rb") as boundaries,
        open(folder / "addresses.csv", "rb") as addresses,
        open(folder / "sites.gpkg", "rb") as sites,
        open(folder / "barriers.gpkg", "rb") as barriers,
    ):
        form |= {
            "boundaries": (boundaries, "边界.gpkg"),
            "addresses": (addresses, "地址库.csv"),
            "sites": (sites, "sites.gpkg"),
            "barriers": (barriers, "barriers.gpkg"),
        }
        answer = post(planned, "/api/plans", data=form, content_type="multipart/form-data")
    assert answer.status_code == 202, answer.json
    plan = wait(planned, answer.json["id"])
    assert plan["status"] == "done", plan["error"]
    # The same files the current version was made from: nothing moves.
    assert plan["summary"]["diff"]["counts"]["kept"] == len(plan_city["result"].grids)
    assert plan["params"]["files"] == {
        "boundaries": "input-boundaries.gpkg",
        "addresses": "input-addresses.csv",
        "barriers": "input-barriers.gpkg",
        "sites": "input-sites.gpkg",
    }


def test_a_failed_plan_leaves_the_current_version(planned, plan_city):
    text = (plan_city["folder"] / "addresses.csv").read_text("utf-8").splitlines()
    header = text[0].split(",")
    cells = text[3].split(",")
    cells[header.index("households")] = "很多"
    bad = "\n".join([text[0], text[1], text[2], ",".join(cells), *text[4:]]).encode("utf-8")
    with open(plan_city["folder"] / "boundaries.gpkg", "rb") as boundaries:
        form = {
            "source": "upload",
            "boundaries": (boundaries, "边界.gpkg"),
            "addresses": (io.BytesIO(bad), "地址库.csv"),
        }
        answer = post(planned, "/api/plans", data=form, content_type="multipart/form-data")
    assert answer.status_code == 202, answer.json
    plan = wait(planned, answer.json["id"])
    assert plan["status"] == "failed"
    # The message names the uploaded file, the row and the field; no server path.
    assert "input-addresses.csv" in plan["error"] and "row 4" in plan["error"]
    assert "households" in plan["error"] and "/tmp" not in plan["error"]
    refused = post(planned, f"/api/plans/{plan['id']}/publish", {"note": "x"})
    assert refused.status_code == 409
    assert get(planned, f"/api/plans/{plan['id']}/diff").status_code == 409
    assert [v.id for v in planned["store"].versions()] == [1]
    assert planned["store"].current_version().id == 1


def test_a_cancelled_plan_leaves_the_current_version(planned):
    plan_id = start(planned, {"min_households": 250, "max_households": 450})
    cancelled = post(planned, f"/api/plans/{plan_id}/cancel", {})
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    plan = wait(planned, plan_id)
    assert plan["status"] == "cancelled"
    time.sleep(1.0)  # a worker that had started stops at its next progress report
    assert get(planned, f"/api/plans/{plan_id}").json["status"] == "cancelled"
    assert post(planned, f"/api/plans/{plan_id}/publish", {}).status_code == 409
    assert post(planned, f"/api/plans/{plan_id}/cancel", {}).status_code == 409
    assert [v.id for v in planned["store"].versions()] == [1]


def test_a_server_restart_fails_the_running_plan_and_publishes_nothing(store_url, planned):
    store = planned["store"]
    params = plans.prepare(store, plans.PlanParams()).as_json()
    job_id = store.create_job("plan", "planner-用户", params)
    store.update_job(job_id, status="running", progress=0.4, message="正在划分社区 1/2")
    from web import create_app

    restarted = create_app({"DB": store_url, "TESTING": True})  # recovers at start
    try:
        client = restarted.test_client()
        headers = bearer(planned["tokens"]["planner"])
        plan = client.get(f"/api/plans/{job_id}", headers=headers).json
        assert plan["status"] == "failed" and plan["error"]
        assert (
            client.post(f"/api/plans/{job_id}/publish", headers=headers, json={}).status_code == 409
        )
    finally:
        restarted.extensions["gridmap_jobs"].shutdown()
        restarted.extensions["gridmap_store"].dispose()
    assert [v.id for v in store.versions()] == [1]


def test_publishing_a_plan_made_against_another_version_is_refused(store_url, planned):
    """Service level: a plan keeps codes from the version it started from; once another version
    is current, its diff and codes are stale."""
    store = planned["store"]
    job_id = store.create_job("plan", "p", plans.prepare(store, plans.PlanParams()).as_json())
    job = jobs.execute(store, job_id)  # inline, no worker process
    assert job.status == "done", job.error
    # Version 2, published by someone else meanwhile (here: version 1 again).
    from gridmap.services.versions import publish

    publish(
        store,
        plans.version_grids(store, 1),
        plans.version_boundaries(store, 1),
        plans.version_addresses(store, 1),
        note="其他人发布",
    )
    with pytest.raises(plans.PlanConflict, match="run the plan again"):
        plans.publish_plan(store, store.job(job_id), note="stale")
    assert store.current_version().id == 2


BAD_BODIES = [
    ({"min_households": 600}, "max_households"),  # "500 is below min_households 600"
    ({"max_households": 10**19}, "max_households"),
    ({"max_households": 1e300}, "max_households"),
    ({"min_households": "三百"}, "min_households"),
    ({"min_households": True}, "min_households"),
    ({"min_households": [300]}, "min_households"),
    ({"max_population": -1}, "max_population"),
    ({"max_area_km2": 0}, "max_area_km2"),
    ({"max_area_km2": "inf"}, "max_area_km2"),
    ({"micro_households": "150-30"}, "micro_households"),
    ({"micro_households": [1, 2, 3]}, "micro_households"),
    ({"locks": ["33040200100100"]}, "locks"),
    ({"locks": "abc"}, "locks"),
    ({"locks": ["330402001001999"]}, "locks"),  # well-formed, but no grid of version 1
    ({"exclusive_categories": ["zoo"]}, "exclusive_categories"),
    ({"exclusive_ratio_limit": -0.5}, "exclusive_ratio_limit"),
    ({"source": "ftp"}, "source"),
    ({"source": "upload"}, None),  # no files
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_malformed_plan_requests_are_400_naming_the_field(planned, body, field):
    answer = post(planned, "/api/plans", body)
    assert answer.status_code == 400, answer.json
    assert answer.json["error"]
    assert answer.json.get("field") == field or (field is None and "field" not in answer.json)
    assert planned["store"].jobs("plan") == []


@pytest.mark.parametrize(
    "data", [b"[1, 2]", b"{", b'{"min_households": 1' + b"0" * 40 + b"}", "\ufeff\u0000".encode()]
)
def test_malformed_json_is_400(planned, data):
    answer = planned["client"].post(
        "/api/plans",
        data=data,
        content_type="application/json",
        headers=bearer(planned["tokens"]["planner"]),
    )
    assert answer.status_code == 400 and "error" in answer.json


def test_bad_uploads_are_400(planned):
    form = {"source": "upload", "boundaries": (io.BytesIO(b"x"), "b.exe")}
    answer = post(planned, "/api/plans", data=form, content_type="multipart/form-data")
    assert answer.status_code == 400 and answer.json["field"] == "boundaries"
    form = {"source": "upload", "boundaries": (io.BytesIO(b""), "b.gpkg")}
    answer = post(planned, "/api/plans", data=form, content_type="multipart/form-data")
    assert answer.status_code == 400 and answer.json["field"] == "boundaries"
    form = {"source": "upload", "boundaries": (io.BytesIO(b"x"), "b.gpkg")}
    answer = post(planned, "/api/plans", data=form, content_type="multipart/form-data")
    assert answer.status_code == 400 and answer.json["field"] == "addresses"
    form = {"min_households": "abc"}
    answer = post(planned, "/api/plans", data=form, content_type="multipart/form-data")
    assert answer.status_code == 400 and answer.json["field"] == "min_households"


def test_unknown_plans_roles_and_states(planned):
    ctx = planned
    for path in ("/api/plans/999", "/api/plans/999/diff", "/api/plans/999/grids"):
        answer = get(ctx, path)
        assert answer.status_code == 404 and "error" in answer.json
    assert post(ctx, "/api/plans/999/publish", {}).status_code == 404
    assert post(ctx, "/api/plans/999/cancel", {}).status_code == 404
    assert get(ctx, "/api/plans/abc").status_code == 404
    assert get(ctx, f"/api/plans/{2**63}").status_code == 404
    # A job of another kind is not a plan.
    other = ctx["store"].create_job("geocode", "clerk", {})
    assert get(ctx, f"/api/plans/{other}").status_code == 404
    # Reading and writing plans is a planner's; a viewer may look at versions and export.
    assert get(ctx, "/api/plans", role="viewer").status_code == 403
    assert post(ctx, "/api/plans", {}, role="viewer").status_code == 403
    assert post(ctx, "/api/versions/1/activate", {}, role="viewer").status_code == 403
    assert ctx["client"].post("/api/plans", json={}).status_code == 401
    assert post(ctx, "/api/versions/7/activate", {}).status_code == 404
    assert get(ctx, "/api/plans?limit=0").status_code == 400
    assert get(ctx, "/api/plans?limit=x").status_code == 400
    publish = post(ctx, "/api/plans/1/publish", {"note": "x" * 5000})
    assert publish.status_code in (400, 404)


def test_options_and_openapi_list_the_planner_endpoints(planned):
    options = get(planned, "/api/plans/options").json
    assert options["defaults"]["min_households"] == 300
    assert options["defaults"]["micro_households"] == [30, 150]
    assert options["bounds"]["max_households"] == {"minimum": 1, "maximum": 100_000}
    assert "hospital" in options["site_categories"]
    assert options["export"]["formats"] == ["gpkg", "geojson", "shp", "csv"]
    meta = get(planned, "/api/meta", role="viewer").json["labels"]
    assert meta["plan_diff"]["retired"] == PLAN_DIFF["retired"]
    assert meta["job_states"]["running"]
    spec = planned["client"].get("/openapi.json").json
    paths = spec["paths"]
    assert {"post", "get"} <= set(paths["/api/plans"])
    for path in (
        "/api/plans/{plan_id}",
        "/api/plans/{plan_id}/diff",
        "/api/plans/{plan_id}/publish",
        "/api/plans/{plan_id}/cancel",
        "/api/versions/{version_id}/activate",
        "/api/versions/{version_id}/export",
    ):
        assert path in paths, path
    body = paths["/api/plans"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(body)
    schema = body["application/json"]["schema"]
    assert schema["properties"]["min_households"]["maximum"] == 100_000
    assert "Needs role planner" in paths["/api/plans"]["post"]["description"]
    export = paths["/api/versions/{version_id}/export"]["get"]["parameters"]
    assert {p["name"] for p in export} >= {"version_id", "format", "layer", "encoding"}
