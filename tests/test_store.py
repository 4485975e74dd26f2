"""The store: migrations, published versions, bbox queries, tokens, sessions, blobs, durability.

Tests that look inside SQLite (pragmas, its files, a second sqlite3 connection) say so in their
name; the rest use only the Store protocol.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sqlite3
from dataclasses import replace
from datetime import timedelta

import pytest
import shapely
import webcity
from backends import release_store

from gridmap.errors import InputError
from gridmap.rules.display import BANDS, band_for_zoom, quadtree_cell
from gridmap.rules.workflow import utc_now
from gridmap.services.locating import locate
from gridmap.services.versions import publish
from gridmap.store import IncidentFilter, Location, NotFound, StoreBusy, open_store
from gridmap.store.sqlite.migrations import MIGRATIONS


def test_sqlite_new_store_is_migrated_wal_with_foreign_keys(tmp_path):
    store = open_store(tmp_path / "s.sqlite")
    assert store.schema_version() == MIGRATIONS[-1][0]
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    store.close()
    again = open_store(tmp_path / "s.sqlite")  # reopening applies nothing twice
    rows = again.conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0]
    assert rows == len(MIGRATIONS)


def test_sqlite_older_store_is_migrated_forward(tmp_path, monkeypatch):
    import gridmap.store.sqlite.store as sqlite_module

    monkeypatch.setattr(sqlite_module, "MIGRATIONS", MIGRATIONS[:1])
    old = open_store(tmp_path / "old.sqlite")
    assert old.schema_version() == 1
    old.close()
    monkeypatch.undo()
    new = open_store(tmp_path / "old.sqlite")
    assert new.schema_version() == MIGRATIONS[-1][0]
    names = {r[0] for r in new.conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "incidents_kpi_grid" in names


def test_unsupported_url_is_refused(tmp_path):
    with pytest.raises(ValueError, match="postgresql"):
        open_store("mysql://localhost/grid")
    assert open_store(f"sqlite:///{tmp_path}/u.sqlite").schema_version() == MIGRATIONS[-1][0]


def test_publish_stores_every_layer_and_band(city_store):
    version = city_store.current_version()
    assert version.city == "嘉兴市" and version.current
    assert version.bounds == (120.70, 30.70, 120.80, 30.80)
    layers = ("district", "street", "community", "grid", "exclusive", "roads")
    counts = {layer: len(city_store.layer_geometries(version.id, (layer,))) for layer in layers}
    assert counts == {
        "district": 1,
        "street": 2,
        "community": 4,
        "grid": 8,
        "exclusive": 1,
        "roads": 1,
    }
    # Every band is stored: each zoom gets a geometry (full detail equals the stored shape).
    for band in BANDS:
        rows = city_store.layer_features(version.id, "grid", None, band - 0.5)
        assert len(rows) == 8 and all(json.loads(r.geojson)["type"] == "Polygon" for r in rows)
    assert version.summary["addresses"] == 8
    assert len(city_store.addresses(version.id)) == 8


def test_bbox_query_uses_only_features_meeting_it(city_store):
    vid = city_store.current_version().id
    west = city_store.layer_features(vid, "grid", (120.70, 30.70, 120.72, 30.72), 14)
    assert [r.code for r in west] == ["330402001001001"]
    assert west[0].props["kind"] == "comprehensive"
    everything = city_store.layer_features(vid, "grid", None, None)
    assert len(everything) == 8
    geometry = json.loads(everything[0].geojson)
    assert geometry["type"] == "Polygon"


def test_tiny_features_are_left_out_at_low_zoom(city_store):
    vid = city_store.current_version().id
    # The exclusive grid is ~0.003 degrees wide: several pixels at zoom 12, under one at zoom 6.
    assert len(city_store.layer_features(vid, "exclusive", None, 12)) == 1
    assert city_store.layer_features(vid, "exclusive", None, 6) == []


def test_simplification_reduces_vertices_at_low_zoom(store_url):
    store = open_store(store_url)
    grids = webcity.grids()
    # A wiggly edge: many vertices a tenth of a metre apart.
    wiggly = shapely.Polygon(
        [(120.70 + i * 1e-5, 30.70 + (i % 2) * 1e-6) for i in range(2500)]
        + [(120.725, 30.75), (120.70, 30.75)]
    )
    grids.loc[0, "geometry"] = wiggly
    vid = publish(store, grids, webcity.boundaries(), webcity.addresses())["version_id"]

    def vertices(zoom):
        (row,) = [
            r
            for r in store.layer_features(vid, "grid", None, zoom)
            if r.code == grids.loc[0, "grid_code"]
        ]
        return len(json.loads(row.geojson)["coordinates"][0])

    assert vertices(None) > 2000
    assert band_for_zoom(10) == 11 and vertices(10) < 20


def test_locate_prefers_exclusive_grid_and_refuses_outside(city_store):
    vid = city_store.current_version().id
    assert locate(city_store, vid, 120.702, 30.702).grid_code == "330402001001501"
    inside = locate(city_store, vid, 120.79, 30.79)
    assert inside == Location("330402002002002", "330402002002", "330402002", "330402")
    assert locate(city_store, vid, 121.5, 31.2) is None


@pytest.mark.parametrize("what", ["text", "directory"])
def test_sqlite_a_file_that_is_no_database_is_a_clear_error_and_stays_untouched(
    tmp_path, capsys, what
):
    """Every command opens the store one way: ``--db`` naming a text file or a directory is
    exit 2 with the path and the reason, never a traceback, and the file is left as it was."""
    from gridmap.cli import main

    target = tmp_path / "notes.sqlite"
    if what == "text":
        target.write_text("值班记录，不是数据库\n" * 200, encoding="utf-8")
        before = target.read_bytes()
    else:
        target.mkdir()
    with pytest.raises(ValueError, match="cannot open as an SQLite store"):
        open_store(target)
    with pytest.raises(SystemExit) as exit_info:
        main(["token", "list", "--db", str(target)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert str(target) in err and "Traceback" not in err
    if what == "text":
        assert target.read_bytes() == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.sqlite"]


def test_publish_names_missing_columns(store_url):
    store = open_store(store_url)
    with pytest.raises(InputError, match="grid_code"):
        publish(
            store,
            webcity.grids().drop(columns="grid_code"),
            webcity.boundaries(),
            webcity.addresses(),
        )
    assert store.current_version() is None  # nothing half-stored


def test_second_publish_becomes_current(city_store):
    first = city_store.current_version().id
    second = webcity.publish_city(city_store, note="v2")["version_id"]
    assert city_store.current_version().id == second != first
    city_store.set_current(first)
    assert city_store.current_version().id == first
    assert [v.current for v in city_store.versions()] == [True, False]
    with pytest.raises(NotFound):
        city_store.set_current(999)


def test_sqlite_tokens_are_stored_hashed(tmp_path):
    store = open_store(tmp_path / "t.sqlite")
    token = store.create_token("field", "王网格员", ["330402001001"])
    row = store.conn.execute("SELECT token_hash FROM tokens").fetchone()
    assert row[0] == hashlib.sha256(token.encode()).hexdigest()
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert token.encode() not in raw
    store = open_store(tmp_path / "t.sqlite")
    found = store.check_token(token)
    assert (found.role, found.grids) == ("field", ("330402001001",))
    assert store.check_token(token + "x") is None
    store.revoke_token(found.id)
    assert store.check_token(token) is None
    with pytest.raises(ValueError):
        store.create_token("superuser")


def test_created_incident_is_visible_to_another_connection(city_store, store_url):
    vid = city_store.current_version().id
    location = locate(city_store, vid, 120.71, 30.71)
    iid = city_store.create_incident(
        type="garbage", description="d", lon=120.71, lat=30.71, location=location, actor="t"
    )
    other = open_store(store_url)
    assert other.incident(iid).status == "reported"
    assert len(other.events_since(0)) == 1
    release_store(other)
    assert city_store.count_incidents(IncidentFilter(bbox=(120.70, 30.70, 120.72, 30.72))) == 1
    assert city_store.count_incidents(IncidentFilter(bbox=(120.75, 30.75, 120.80, 30.80))) == 0


def test_failed_transaction_leaves_nothing(city_store):
    with pytest.raises(RuntimeError), city_store.transaction():
        city_store.create_token("viewer", "a")
        raise RuntimeError("boom")
    assert city_store.tokens() == []


def _run(argv):
    from gridmap.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code


def test_cli_publish_token_simulate(tmp_path, store_url, capsys):
    webcity.grids().to_file(tmp_path / "grids.gpkg")
    webcity.boundaries().to_file(tmp_path / "boundaries.gpkg")
    webcity.barriers().to_file(tmp_path / "barriers.gpkg")
    webcity.addresses().to_csv(tmp_path / "addresses.csv", index=False)
    db = store_url  # every command takes --db of either backend
    code = _run(
        [
            "publish",
            "--grids",
            str(tmp_path / "grids.gpkg"),
            "--boundaries",
            str(tmp_path / "boundaries.gpkg"),
            "--addresses",
            str(tmp_path / "addresses.csv"),
            "--barriers",
            str(tmp_path / "barriers.gpkg"),
            "--db",
            db,
            "--note",
            "first",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "published grid version 1" in out and "grids           8" in out
    check = open_store(db)
    assert check.current_version().note == "first"

    assert _run(["token", "create", "--role", "field", "--grid", "330402001001", "--db", db]) == 0
    token = capsys.readouterr().out.strip()
    assert check.check_token(token).grids == ("330402001001",)
    assert _run(["token", "create", "--role", "field", "--db", db]) == 2  # field needs --grid
    assert _run(["token", "create", "--role", "god", "--db", db]) == 2
    assert _run(["token", "revoke", "99", "--db", db]) == 2
    capsys.readouterr()

    assert _run(["incidents", "simulate", "--db", db, "--count", "50", "--seed", "1"]) == 0
    assert "total    50" in capsys.readouterr().out
    assert check.count_incidents(IncidentFilter()) == 50
    release_store(check)


def test_cli_publish_bad_input_exits_2(tmp_path, capsys):
    webcity.boundaries().to_file(tmp_path / "boundaries.gpkg")
    webcity.addresses().to_csv(tmp_path / "addresses.csv", index=False)
    code = _run(
        [
            "publish",
            "--grids",
            str(tmp_path / "missing.gpkg"),
            "--boundaries",
            str(tmp_path / "boundaries.gpkg"),
            "--addresses",
            str(tmp_path / "addresses.csv"),
            "--db",
            str(tmp_path / "x.sqlite"),
        ]
    )
    assert code == 2
    assert "missing.gpkg" in capsys.readouterr().err
    assert not (tmp_path / "x.sqlite").exists()  # bad input writes nothing
    assert _run(["incidents", "simulate", "--db", str(tmp_path / "empty.sqlite")]) == 2


def test_store_implements_the_store_protocol(store_url):
    from gridmap.store import Store

    store = open_store(store_url)
    assert isinstance(store, Store)
    wanted = {n for n in dir(Store) if not n.startswith("_")} - {"time_limits"}
    assert wanted <= {n for n in dir(store) if not n.startswith("_")}


def test_sessions_end_on_logout_and_with_their_token(store_url):
    store = open_store(store_url)
    token = store.create_token("planner", "规划员")
    token_id = store.check_token(token).id
    first, second = store.create_session(token_id), store.create_session(token_id)
    assert first != second and token not in (first, second)
    assert store.check_session(first).name == "规划员"
    store.end_session(first)
    assert store.check_session(first) is None
    assert store.check_session(second).id == token_id
    store.end_session("no-such-session")  # ignored
    store.revoke_token(token_id)
    assert store.check_session(second) is None
    assert store.check_session("") is None


def test_blobs_by_key_and_prefix(store_url):
    store = open_store(store_url)
    store.put_blobs([("tiles/v1/grid/1/0/0", b"\x1f\x8b"), ("tiles/v1/grid/1/0/1", b"")])
    store.put_blobs([("tiles/v10/grid/1/0/0", b"x"), ("tiles/v1/grid/1/0/1", b"new")])
    assert store.get_blob("tiles/v1/grid/1/0/0") == b"\x1f\x8b"
    assert store.get_blob("tiles/v1/grid/1/0/1") == b"new"
    assert store.get_blob("tiles/v2/grid/1/0/0") is None
    assert store.drop_blobs("tiles/v1/") == 2
    assert store.get_blob("tiles/v1/grid/1/0/0") is None
    assert store.get_blob("tiles/v10/grid/1/0/0") == b"x"  # a prefix, not a pattern
    assert store.drop_blobs("tiles/v1/") == 0


def test_sqlite_busy_write_raises_store_busy_and_writes_nothing(tmp_path):
    path = str(tmp_path / "busy.sqlite")
    open_store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    quick = open_store(path, busy_timeout=0.2)
    with pytest.raises(StoreBusy) as info:
        quick.create_token("viewer")
    assert info.value.retry_after >= 1
    holder.execute("COMMIT")
    assert quick.tokens() == []
    quick.create_token("viewer")
    assert len(quick.tokens()) == 1


def test_records_are_plain_dataclasses(city_store):
    import dataclasses

    vid = city_store.current_version().id
    iid = city_store.create_incident(
        type="noise",
        description="d",
        lon=120.71,
        lat=30.71,
        location=Location.of_grid("330402001001001"),
        actor="t",
        version_id=vid,
        match_level="door",
        approximate=True,
    )
    record = city_store.incident(iid)
    assert dataclasses.is_dataclass(record) and record.approximate and record.match_level == "door"
    for value in (
        city_store.current_version(),
        city_store.addresses(vid)[0],
        city_store.history(iid)[0],
        city_store.events_since(0)[0],
        city_store.kpis("grid")[0],
        city_store.layer_features(vid, "grid", None, None)[0],
    ):
        assert dataclasses.is_dataclass(value), value
        assert not any(isinstance(v, sqlite3.Row) for v in dataclasses.astuple(value))


def test_incident_detail_answers_what_the_five_single_reads_answer(city_store):
    """The full view's one call (PostGIS: one statement, the four lists as JSON) answers
    exactly what the incident, its history, duplicates, loop and follow-ups answer one by one,
    and only for that incident: texts with quotes, backslashes and any unicode, booleans,
    levels and times come back as the single reads give them."""
    vid = city_store.current_version().id
    opened = [
        city_store.create_incident(
            type="garbage",
            description=f"d{n}",
            lon=120.71,
            lat=30.71,
            location=Location.of_grid("330402001001001"),
            actor="t",
            version_id=vid,
        )
        for n in range(2)
    ]
    iid, bare_id = opened
    city_store.add_department("cg", "城管局")
    city_store.set_department(iid, "cg")
    for n in range(2):
        city_store.add_duplicate(
            iid, description=f"again {n}", address="", lon=120.71, lat=30.71, reporter="r",
            source="api", at="2026-01-01T00:00:00Z",
        )  # fmt: skip
    odd = 'a "quoted" \\ back\\slash, 𠮷 and \u2028 and emoji 🚧'
    city_store.add_follow_up(iid, "phone", True, odd, "t", "2026-01-02T00:00:00Z")
    city_store.add_follow_up(iid, "visit", False, "", "t2", "2026-01-03T00:00:00Z")
    city_store.transition(iid, "accept", "t", note=odd)
    due = city_store.incident(iid).due_at
    assert city_store.record_escalation(iid, due, 2, "2026-01-04T00:00:00Z", "late")
    now = utc_now()

    detail = city_store.incident_detail(iid, now=now)

    assert detail.incident == city_store.incident(iid, now=now)
    assert detail.history == city_store.history(iid)
    assert [(h.action, h.note, h.late) for h in detail.history][-2:] == [
        ("accept", odd, False), ("escalate", "late", True),
    ]  # fmt: skip
    assert detail.duplicates == city_store.duplicate_counts([iid])[iid] == 2
    assert detail.loop == city_store.incident_loops([iid])[iid]
    assert (detail.loop.department, detail.loop.escalation_level) == ("cg", 2)
    assert detail.loop.escalated_due == due
    assert detail.follow_ups == city_store.follow_ups(iid)
    assert [(f.method, f.satisfied, f.note) for f in detail.follow_ups] == [
        ("phone", True, odd), ("visit", False, ""),
    ]  # fmt: skip
    bare = city_store.incident_detail(bare_id)
    assert (bare.incident.id, len(bare.history), bare.duplicates, bare.follow_ups) == (
        bare_id, 1, 0, [],
    )  # fmt: skip
    assert bare.loop == city_store.incident_loops([bare_id])[bare_id]
    with pytest.raises(NotFound):
        city_store.incident_detail(10**9)


def _scattered_incidents(store, count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    vid = store.current_version().id
    ids = []
    with store.transaction():
        for n in range(count):
            ids.append(
                store.create_incident(
                    type=rng.choice(["garbage", "noise"]),
                    description=f"#{n}",
                    lon=rng.uniform(120.70, 120.74),
                    lat=rng.uniform(30.70, 30.73),
                    location=Location.of_grid("330402001001001"),
                    actor="t",
                    version_id=vid,
                )
            )
    return ids


def _clusters_by_hand(incidents, cell: float, bbox=None) -> list[tuple]:
    """Incidents grouped by the quadtree cell holding them: (count, lon, lat, overdue)."""
    groups: dict[tuple[int, int], list] = {}
    for r in incidents:
        if bbox and not (bbox[0] <= r.lon <= bbox[2] and bbox[1] <= r.lat <= bbox[3]):
            continue
        key = (math.floor((r.lon + 180) / cell), math.floor((r.lat + 90) / cell))
        groups.setdefault(key, []).append(r)
    return sorted(
        (len(g), round(sum(r.lon for r in g) / len(g), 9), round(sum(r.lat for r in g) / len(g), 9),
         sum(r.overdue for r in g))
        for g in groups.values()
    )  # fmt: skip


def test_clusters_are_the_incidents_grouped_by_quadtree_cell(city_store):
    """However a store counts a view (SQLite: one Z-order key range per cell when the view has
    few enough cells, else GROUP BY), the clusters are the filtered incidents grouped by cell."""
    ids = _scattered_incidents(city_store, 400, seed=3)
    for iid in ids[::3]:
        city_store.transition(iid, "accept", "t")
    later = utc_now() + timedelta(days=2)  # some deadlines have passed by then
    cell = quadtree_cell(0.004)
    for flt in (
        IncidentFilter(bbox=(120.705, 30.702, 120.735, 30.728)),  # narrow: rtree
        IncidentFilter(bbox=(120.6, 30.6, 120.8, 30.8)),  # wide
        IncidentFilter(bbox=(120.6, 30.6, 120.8, 30.8), statuses=("accepted",)),
        IncidentFilter(bbox=(120.70, 30.70, 120.72, 30.71), types=("noise",)),
        IncidentFilter(),  # no view: GROUP BY
    ):
        expected = _clusters_by_hand(
            city_store.incidents(replace(flt, bbox=None), now=later), cell, flt.bbox
        )
        found = city_store.incident_clusters(flt, cell, now=later)
        assert (
            sorted((c.count, round(c.lon, 9), round(c.lat, 9), c.overdue) for c in found)
            == expected
        ), flt
        assert sum(c.overdue for c in found) > 0  # the overdue count is checked too
    # a view of more cells than are asked one by one still answers (by GROUP BY)
    tiny = quadtree_cell(1e-6)
    flt = IncidentFilter(bbox=(120.70, 30.70, 120.74, 30.73))
    assert sum(c.count for c in city_store.incident_clusters(flt, tiny)) == 400


def test_a_view_holds_exactly_the_incidents_inside_its_bbox(city_store):
    """The spatial indexes keep float32 boxes rounded outwards (SQLite's R*Tree, PostGIS's
    GiST): a point a micro-degree outside a view was listed and counted, but not clustered.
    Listing, counting and clustering now agree on the exact bbox, narrow or wide."""
    vid = city_store.current_version().id
    w, s, e, n = 120.7103, 30.7103, 120.7207, 30.7181
    just_out = [(e + 2e-6, 30.715), (w - 2e-6, 30.715), (120.715, n + 2e-6), (120.715, s - 2e-6)]
    just_in = [(e - 2e-6, 30.715), (w + 2e-6, 30.715), (120.715, n), (120.715, s)]
    for k, (lon, lat) in enumerate(just_out + just_in):
        city_store.create_incident(
            type="garbage", description=f"edge{k}", lon=lon, lat=lat,
            location=Location.of_grid("330402001001001"), actor="t", version_id=vid,
        )  # fmt: skip
    for bbox in ((w, s, e, n), (w - 0.5, s, e, n)):  # narrow (index), wide (scan)
        wanted = {f"edge{k}" for k in range(4, 8)} if bbox[0] == w else None
        flt = IncidentFilter(bbox=bbox)
        listed = {i.description for i in city_store.incidents(flt) if "edge" in i.description}
        if wanted is not None:
            assert listed == wanted
        counted = city_store.count_incidents(flt)
        assert counted == len(city_store.incidents(flt))
        clustered = sum(c.count for c in city_store.incident_clusters(flt, quadtree_cell(0.004)))
        assert clustered == counted


def test_zorder_key_is_the_one_python_computes(store_url):
    """Each store's generated column (migration 7: SQLite's and PostgreSQL's SQL of
    gridmap.store.zorder) gives every key Python gives, so a cell's range holds exactly the
    cell's incidents."""
    from gridmap.store import zorder

    store = open_store(store_url)
    rng = random.Random(5)
    points = [(rng.uniform(-180, 180), rng.uniform(-90, 90)) for _ in range(300)]
    points += [(120.7, 30.7), (-180.0, -90.0), (179.9999999, 89.9999999)]
    for lon, lat in points:
        store.create_incident(
            type="garbage", description="d", lon=lon, lat=lat,
            location=Location.of_grid("330402001001001"), actor="t",
        )  # fmt: skip
    sql = "SELECT lon, lat, zkey FROM incidents ORDER BY id"
    if store_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store_url) as conn:
            rows = conn.execute(sql).fetchall()
    else:
        rows = store.conn.execute(sql).fetchall()
    release_store(store)
    assert len(rows) == len(points)
    assert [key for _, _, key in rows] == [zorder.point_key(lon, lat) for lon, lat, _ in rows]
    for lon, lat, key in rows[:50]:
        for level in (0, 7, 14, 26):
            first, last = zorder.cell_range(*zorder.cell_of(lon, lat, level), level)
            assert first <= key <= last


def test_micro_grids_are_published_as_their_own_layer(store_url, tmp_path):
    store = open_store(store_url)
    grids = webcity.grids()
    first = grids.iloc[0]
    x0, y0, x1, y1 = first.geometry.bounds
    xm = (x0 + x1) / 2
    micro = gpd_frame(
        [
            {"micro_code": f"{first.grid_code}01", "grid_code": first.grid_code, "households": 150},
            {"micro_code": f"{first.grid_code}02", "grid_code": first.grid_code, "households": 151},
        ],
        [shapely.box(x0, y0, xm, y1), shapely.box(xm, y0, x1, y1)],
    )
    # Written beside the grids the way `gridmap partition` does, then read back by publish.
    path = tmp_path / "grids.gpkg"
    grids.to_file(path, layer="grids")
    micro.to_file(path, layer="micro_grids")
    from gridmap.services.versions import read_micro_grids

    summary = publish(
        store,
        grids,
        webcity.boundaries(),
        webcity.addresses(),
        micro_grids=read_micro_grids(path),
    )
    assert summary["micro_grids"] == 2
    rows = store.layer_features(summary["version_id"], "micro_grid", None, None)
    assert sorted(r.code for r in rows) == [f"{first.grid_code}01", f"{first.grid_code}02"]
    assert {r.props["grid_code"] for r in rows} == {first.grid_code}
    assert read_micro_grids(tmp_path / "none.csv") is None
    release_store(store)


def gpd_frame(records, geometries):
    import geopandas as gpd

    return gpd.GeoDataFrame(records, geometry=geometries, crs="EPSG:4490")


def test_sqlite_a_writer_of_another_process_is_waited_for_then_the_timeout_is_restored(
    tmp_path,
):
    """The write lock held by another connection (another process's writer) for a moment: the
    report waits and is stored; held past the busy timeout: StoreBusy and nothing written.
    Either way the writer's connection gets SQLite's busy timeout back (it is 0 only while
    BEGIN IMMEDIATE is tried in short steps)."""
    from backends import hold_write_lock

    path = tmp_path / "w.sqlite"
    store = open_store(path, busy_timeout=1.0)
    webcity.publish_city(store)
    vid = store.current_version().id

    def report(description: str) -> int:
        here = locate(store, vid, 120.71, 30.71)
        return store.create_incident(
            type="noise", description=description, lon=120.71, lat=30.71, location=here, actor="t"
        )

    holder = hold_write_lock(str(path), 0.3)
    made = report("等到了")
    holder.join()
    assert store.incident(made).description == "等到了"
    writer = store._pool._writer.conn
    assert writer.execute("PRAGMA busy_timeout").fetchone()[0] == 1000
    holder = hold_write_lock(str(path), 2.5)
    with pytest.raises(StoreBusy):
        report("等不到")
    holder.join()
    assert writer.execute("PRAGMA busy_timeout").fetchone()[0] == 1000
    assert [i.description for i in store.incidents(IncidentFilter())] == ["等到了"]
    store.dispose()
