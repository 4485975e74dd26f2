"""What the speed work (issue 8's store_bench targets) must not change: group-committed SQLite
writes are each durable and isolated, a cached grid layer answers what the store holds (and
revalidates by ETag), counting stops at a limit, a request's kept reads follow its writes."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from backends import release_store
from webcity import bearer

from gridmap.store import IncidentFilter, Location, StoreBusy, open_store
from gridmap.store.sqlite.connection import Connections

HERE = Location.of_grid("330402001001001")


def _table(path) -> Connections:
    pool = Connections(str(path), busy_timeout=5)
    with pool.transaction() as tx:
        tx.execute("CREATE TABLE t (name TEXT UNIQUE)")
    return pool


def test_group_commit_keeps_every_acknowledged_write_and_rolls_back_only_the_failed(tmp_path):
    pool = _table(tmp_path / "group.sqlite")
    start = threading.Barrier(16)

    def write(worker: int) -> list[str]:
        start.wait()
        done = []
        for n in range(30):
            name = f"{worker}-{n}"
            try:
                with pool.transaction() as tx:
                    tx.execute("INSERT INTO t VALUES (?)", (name,))
                    with pool.transaction() as inner:  # nested use joins
                        assert inner is tx and pool.connect() is tx
                    if n % 7 == 0:
                        raise ValueError("this caller's own failure")
            except ValueError:
                continue
            # acknowledged: committed, and this thread's own reads see it at once
            assert pool.connect().execute("SELECT 1 FROM t WHERE name=?", (name,)).fetchone()
            done.append(name)
        return done

    with ThreadPoolExecutor(16) as executor:
        acknowledged = {name for names in executor.map(write, range(16)) for name in names}
    stored = {r[0] for r in sqlite3.connect(tmp_path / "group.sqlite").execute("SELECT * FROM t")}
    assert stored == acknowledged and len(acknowledged) == 16 * 25


def test_a_commit_that_fails_raises_leaves_nothing_and_the_writer_goes_on(tmp_path):
    """A COMMIT that fails (here: a deferred foreign key) raises to its caller, writes
    nothing, and the shared writer connection serves the next transaction."""
    path = tmp_path / "fk.sqlite"
    pool = Connections(str(path), busy_timeout=5)
    with pool.transaction() as tx:
        tx.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
        tx.execute("CREATE TABLE c (p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError), pool.transaction() as tx:
        tx.execute("INSERT INTO c VALUES (42)")
    assert pool.connect().execute("SELECT count(*) FROM c").fetchone()[0] == 0
    with pool.transaction() as tx:  # the writer is usable again
        tx.execute("INSERT INTO p VALUES (1)")
    assert pool.connect().execute("SELECT count(*) FROM p").fetchone()[0] == 1


def test_a_writer_waiting_for_its_turn_gives_up_with_store_busy(tmp_path):
    pool = _table(tmp_path / "turn.sqlite")
    pool.busy_timeout = 0.2
    inside, release = threading.Event(), threading.Event()

    def hold():
        with pool.transaction() as tx:
            tx.execute("INSERT INTO t VALUES ('holder')")
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(5)
    with pytest.raises(StoreBusy) as info, pool.transaction() as tx:
        tx.execute("INSERT INTO t VALUES ('waiter')")
    release.set()
    holder.join(5)
    assert "locked" in str(info.value) and info.value.retry_after >= 1
    names = [r[0] for r in pool.connect().execute("SELECT name FROM t")]
    assert names == ["holder"]


def test_count_stops_at_its_limit(city_store):
    for n in range(5):
        city_store.create_incident(
            type="noise", description=f"n{n}", lon=120.71, lat=30.71, location=HERE, actor="t"
        )
    everything = IncidentFilter()
    assert city_store.count_incidents(everything) == 5
    assert city_store.count_incidents(everything, limit=3) == 3
    assert city_store.count_incidents(everything, limit=10) == 5
    bbox = IncidentFilter(bbox=(120.70, 30.70, 120.72, 30.72))
    ids = city_store.layer_feature_ids(city_store.current_version().id, "grid", bbox.bbox, 14)
    rows = city_store.layer_features(city_store.current_version().id, "grid", bbox.bbox, 14)
    assert ids == sorted(r.id for r in rows) and ids


def test_cached_grid_layer_answers_what_the_store_holds_and_revalidates(client, tokens, app):
    h = bearer(tokens["viewer"])
    query = "/api/layers/grid?bbox=120.70,30.70,120.80,30.80&zoom=14"
    first = client.get(query, headers=h)
    store = app.extensions["gridmap_store"]
    version = store.current_version()
    rows = store.layer_features(version.id, "grid", (120.70, 30.70, 120.80, 30.80), 14)
    features = first.get_json()["features"]
    assert [f["id"] for f in features] == sorted(r.id for r in rows)
    by_id = {r.id: r for r in rows}
    for feature in features:
        row = by_id[feature["id"]]
        assert {k: v for k, v in feature["properties"].items()} == dict(row.props) | {
            "open": 0,
            "overdue": 0,
            "closure_rate": None,
        }
    etag = first.headers["ETag"]
    again = client.get(query, headers=h | {"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    # a report changes the counts: a new answer, a new tag
    reported = client.post(
        "/api/incidents",
        headers=bearer(tokens["admin"]),
        json={"type": "garbage", "description": "d", "lon": 120.71, "lat": 30.71},
    )
    assert reported.status_code == 201
    changed = client.get(query, headers=h | {"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    grid = reported.get_json()["grid_code"]
    assert [
        f["properties"]["open"]
        for f in changed.get_json()["features"]
        if f["properties"]["grid_code"] == grid
    ] == [1]


def test_kept_reads_follow_the_requests_own_writes(store_url, city_store):
    store = open_store(store_url)
    first = store.current_version()
    store.remember()
    try:
        assert store.current_version() == first
        second = store.add_version(
            note="again",
            city="嘉兴市",
            bounds=first.bounds,
            features=[],
            addresses=[],
            summary={},
        )
        assert store.current_version().id == second  # the write dropped the kept read
    finally:
        store.forget()
        release_store(store)
