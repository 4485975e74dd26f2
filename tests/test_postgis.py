"""Many writers at once on both backends, and what only the PostgreSQL + PostGIS store has.

The concurrency tests take ``store_url`` and so run on SQLite and PostGIS alike (see
``tests/backends.py``): they are part of the contract. The rest need PostgreSQL (``pg_url``).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from backends import release_store

from gridmap.rules.workflow import IllegalTransition
from gridmap.store import IncidentFilter, Location, StoreBusy, open_store

WRITERS = 8
REPORTS_EACH = 12
HERE = Location.of_grid("330402001001001")


def _report(store, description: str) -> int:
    return store.create_incident(
        type="noise", description=description, lon=120.71, lat=30.71, location=HERE, actor="t"
    )


def test_many_writers_lose_and_duplicate_nothing_and_the_stream_skips_nothing(store_url):
    """8 threads report 25 incidents each and move each one a step while a reader polls the
    event stream: every report is stored once, and the poller saw every event, in id order."""
    store = open_store(store_url)
    seen: list[int] = []
    done = threading.Event()

    def poll() -> None:
        last = 0
        while True:
            finished = done.is_set()  # read before polling: the last poll sees everything
            for event in store.events_since(last):
                seen.append(event.event_id)
                last = event.event_id
            if finished:
                return
            store.close()

    def write(worker: int) -> None:
        for n in range(REPORTS_EACH):
            incident_id = _report(store, f"w{worker}-{n}")
            store.transition(incident_id, "accept", f"w{worker}")
        store.close()

    poller = threading.Thread(target=poll)
    poller.start()
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(write, range(WRITERS)))
    done.set()
    poller.join(60)

    stored = [i.description for i in store.incidents(IncidentFilter())]
    expected = {f"w{w}-{n}" for w in range(WRITERS) for n in range(REPORTS_EACH)}
    assert len(stored) == len(expected) and set(stored) == expected
    assert all(i.status == "accepted" for i in store.incidents(IncidentFilter()))
    every = [e.event_id for e in store.events_since(0, limit=10_000)]
    assert len(every) == 2 * len(expected)
    assert seen == every  # nothing skipped, nothing twice, in order
    release_store(store)


def test_one_of_two_racing_actions_wins(store_url):
    """Two dispatchers accept the same report at once: one succeeds, the other is told the
    incident is no longer in a state that allows it; one 'accepted' entry in the history."""
    store = open_store(store_url)
    incident_id = _report(store, "race")
    start = threading.Barrier(2)

    def accept(actor: str):
        start.wait()
        try:
            return store.transition(incident_id, "accept", actor).status
        except IllegalTransition as error:
            return error
        finally:
            store.close()

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(accept, ["a", "b"]))
    assert sorted(type(o).__name__ for o in outcomes) == ["IllegalTransition", "str"]
    assert [h.action for h in store.history(incident_id)] == ["report", "accept"]
    release_store(store)


def test_a_write_meeting_a_long_lock_waits_then_reports_busy_and_writes_nothing(store_url):
    """Another writer holds the incident for longer than the busy timeout: the second write
    gives up with StoreBusy (the web app's 503 + Retry-After), leaving no trace."""
    holder = open_store(store_url)
    incident_id = _report(holder, "held")
    waiter = open_store(store_url, busy_timeout=0.5)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.transaction():
            holder.transition(incident_id, "accept", "holder")
            locked.set()
            release.wait(30)
        holder.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(30)
    started = time.monotonic()
    with pytest.raises(StoreBusy):
        waiter.transition(incident_id, "reject", "waiter")
    waited = time.monotonic() - started
    release.set()
    thread.join(30)
    assert 0.4 < waited < 10
    assert [h.actor for h in waiter.history(incident_id)] == ["t", "holder"]
    release_store(waiter)
    release_store(holder)


# -- PostgreSQL + PostGIS only --------------------------------------------------------------------


def test_schema_is_versioned_with_postgis_columns_and_gist_indexes(pg_url):
    from gridmap.store.postgis.migrations import MIGRATIONS

    store = open_store(pg_url)
    assert store.schema_version() == MIGRATIONS[-1][0]
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT count(*) FROM schema_version").fetchone()[0]
        assert rows == len(MIGRATIONS)
        columns = dict(
            conn.execute(
                "SELECT f_table_name, type FROM geometry_columns "
                "WHERE f_table_schema = current_schema() AND srid = 4490"
            ).fetchall()
        )
        gist = {
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_indexes WHERE schemaname = current_schema() "
                "AND indexdef LIKE '%USING gist%'"
            )
        }
    assert columns == {"features": "GEOMETRY", "addresses": "POINT", "incidents": "POINT"}
    assert {"features", "incidents"} <= gist
    release_store(store)
    again = open_store(pg_url)  # reopening applies nothing twice
    assert again.schema_version() == MIGRATIONS[-1][0]
    release_store(again)


def test_an_older_schema_is_migrated_forward(pg_url, monkeypatch):
    import gridmap.store.postgis.store as module
    from gridmap.store.postgis.migrations import MIGRATIONS

    monkeypatch.setattr(module, "MIGRATIONS", MIGRATIONS[:1])
    old = open_store(pg_url)
    assert old.schema_version() == 1
    release_store(old)
    monkeypatch.undo()
    new = open_store(pg_url)
    assert new.schema_version() == MIGRATIONS[-1][0]
    with psycopg.connect(pg_url) as conn:
        names = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes")}
    assert "incidents_kpi_grid" in names
    release_store(new)


def test_migration_8_recomputes_the_z_order_keys_with_the_function(pg_url, monkeypatch):
    """Incidents stored under migration 7's one-expression key keep the same keys once the
    function computes them (the generated column and its index are made again)."""
    import gridmap.store.postgis.store as module
    from gridmap.store import zorder
    from gridmap.store.postgis.migrations import MIGRATIONS

    monkeypatch.setattr(module, "MIGRATIONS", [m for m in MIGRATIONS if m[0] <= 7])
    old = open_store(pg_url)
    points = [(120.7, 30.7), (121.4737, 31.2304), (-180.0, -90.0), (179.9999999, 89.9999999)]
    for lon, lat in points:
        old.create_incident(
            type="garbage", description="d", lon=lon, lat=lat,
            location=Location.of_grid("330402001001001"), actor="t",
        )  # fmt: skip
    release_store(old)
    monkeypatch.undo()
    new = open_store(pg_url)
    assert new.schema_version() == 8
    sql = "SELECT lon, lat, zkey FROM incidents ORDER BY id"
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(sql).fetchall()
        expression = conn.execute(
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a "
            "ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
            "WHERE d.adrelid = 'incidents'::regclass AND a.attname = 'zkey'"
        ).fetchone()[0]
        names = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes")}
    assert [key for _, _, key in rows] == [zorder.point_key(lon, lat) for lon, lat in points]
    assert expression == f"{zorder.KEY_FUNCTION}(lon, lat)" and "incidents_z" in names
    release_store(new)


def test_stores_opened_at_once_migrate_once(pg_url):
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: open_store(pg_url), range(4)))
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] >= 3
    for store in stores:
        release_store(store)


def test_an_unreachable_server_is_a_clear_error_without_the_password():
    with pytest.raises(ValueError, match="cannot connect to PostgreSQL") as caught:
        open_store("postgresql://gm:s3cret@127.0.0.1:1/nowhere?connect_timeout=2")
    assert "s3cret" not in str(caught.value) and "***" in str(caught.value)


def test_the_store_url_names_no_password(pg_url):
    store = open_store(pg_url)
    assert store.url == pg_url  # no password in it: shown as given
    release_store(store)


def test_points_on_shared_edges_get_the_edge_rule_grid_from_the_store(store_url):
    """The store's point lookup (its spatial index + the one edge rule) answers exactly what
    GridIndex answers over the grid file, for every grid vertex and points along every edge."""
    import numpy as np
    import shapely
    from synthetic_city import publish_city, synthetic_city

    from gridmap.rules.grid_index import GridIndex
    from gridmap.services.locating import locate

    city = synthetic_city(cols=6, rows=6, seed=3)
    store = open_store(store_url)
    publish_city(store, city)
    version_id = store.current_version().id
    rings = shapely.boundary(city.grids.geometry.values)
    rng = np.random.default_rng(5)
    points = shapely.get_coordinates(rings)  # every vertex, each shared by up to four grids
    along = shapely.line_interpolate_point(rings, rng.random(len(rings)), normalized=True)
    points = np.vstack([points, shapely.get_coordinates(along)])
    index = GridIndex.from_frame(city.grids)
    expected = index.locate_many(points[:, 0], points[:, 1])
    _, ties = index.assign_points_counted(shapely.points(points))
    assert ties > len(points) // 2  # most of these points lie in two grids or more
    found = [locate(store, version_id, float(x), float(y)) for x, y in points]
    assert [f.grid_code if f else None for f in found] == list(expected)
    release_store(store)


def test_a_held_write_lock_makes_writes_busy_and_leaves_reads_alone(store_url):
    """What the busy tests rely on: tests/backends.hold_write_lock blocks writes, not reads."""
    from backends import hold_write_lock

    store = open_store(store_url, busy_timeout=0.3)
    incident_id = _report(store, "before")
    worker = hold_write_lock(store_url, 1.5)
    try:
        assert store.incident(incident_id).status == "reported"  # reads go on
        with pytest.raises(StoreBusy):
            store.create_token("viewer")
        with pytest.raises(StoreBusy):
            _report(store, "during")
    finally:
        worker.join()
    assert store.tokens() == [] and store.count_incidents(IncidentFilter()) == 1
    store.create_token("viewer")
    release_store(store)


def test_a_request_reads_its_token_version_and_taxonomy_on_one_connection(pg_url):
    """A web request's first read, the token, brings the current version and the taxonomy's
    revision along in the same statement; the request's later reads of them go to no database
    connection, and give what separate reads give. On an empty store (nothing published, no
    taxonomy saved) they are None, as separate reads say."""
    import webcity

    from gridmap.taxonomy import default

    store = open_store(pg_url)
    token = store.create_token("viewer", "看板")
    store.remember()
    try:
        assert store.check_token(token).name == "看板"
        assert store._memo() == {"current_version": None, "taxonomy_revision": None}
        assert store.current_version() is None and store._taxonomy_revision() is None
    finally:
        store.forget()
    webcity.publish_city(store)
    token = store.create_token("dispatcher", "值班员")
    store.save_taxonomy(default(), actor="t")
    expected = (store.current_version(), store._taxonomy_revision())
    assert store.taxonomy() == default()  # parsed once per revision, as a running server has it
    connections = []
    real_conn = store._conn

    def counted():
        connections.append(1)
        return real_conn()

    store._conn = counted
    store.remember()
    try:
        assert store.check_token(token).role == "dispatcher"
        assert len(connections) == 1
        assert (store.current_version(), store._memoized("taxonomy_revision", None)) == expected
        assert store.taxonomy() == default()
        assert len(connections) == 1  # both were kept from the token's round trip
    finally:
        store.forget()
        store._conn = real_conn
    store.remember()  # a revoked or unknown token is refused the same way
    assert store.check_token(token + "x") is None
    store.forget()
    store.revoke_token(store.check_token(token).id)
    store.remember()
    assert store.check_token(token) is None and store.current_version() == expected[0]
    store.forget()
    release_store(store)
