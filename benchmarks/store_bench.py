"""Both stores side by side: concurrent reports, map endpoints at city scale, KPIs at 1,000,000.

For each backend — an SQLite file, and PostgreSQL + PostGIS (a throwaway cluster started with
``.ci/pg-cluster start --durable``, i.e. PostgreSQL's own durable defaults, or ``--pg-url``) —
a synthetic city of 10,000 comprehensive grids (``tests/synthetic_city.py``) is published into
an empty store and served by ``gridmap serve`` (the production server) in a subprocess. Then:

1. **Reports**: 50 concurrent clients (threads, one keep-alive connection each) POST 40 reports
   each to ``/api/incidents``, after an untimed round of 5 each (the warm-up of a server that
   has been running: connections open, statements prepared, every worker's geocoder built).
   Per request latency (p50/p95), HTTP 5xx answers, and afterwards the store is asked for
   every report by its unique description: lost (acknowledged 201 but not stored, or never
   stored), duplicated (stored more than once).
2. **Map endpoints** at 100,000 incidents: ``/api/layers/grid`` and ``/api/incidents`` (which
   aggregates to clusters above 2,000 matches) over views at zooms 12-16 around the city; p95.
3. **KPI by grid** over 1,000,000 incidents: ``GET /api/kpi?level=grid`` (median of 5).

The 100,000 / 1,000,000 incidents are bulk-loaded test data (COPY for PostgreSQL, one
transaction for SQLite) with a realistic mix of states and deadlines; only the timed steps go
through the app. Targets (issue 8): reports p95 < 150 ms with 0 lost, 0 duplicated, 0 5xx;
map endpoints p95 < 100 ms; KPI < 1 s.

    python benchmarks/store_bench.py [--backends sqlite,postgis] [--pg-url URL]
        [--side 100] [--clients 50] [--reports 40] [--incidents 100000] [--kpi-incidents 1000000]
        [--paced-interval 0.5] [--workers 1]

The reports figure is a closed loop (each client sends its next report as soon as the last is
answered: 50 requests in flight at every moment, a saturation test). A second figure, labelled
PACED and not part of the targets, has each client send one report every ``--paced-interval``
seconds (100 reports/s offered by default) and times each from its scheduled start.

Last line: the figures of both stores.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from synthetic_city import publish_city, synthetic_city  # noqa: E402
from tqdm import tqdm  # noqa: E402

from gridmap.rules.workflow import INCIDENT_TYPES  # noqa: E402
from gridmap.store import IncidentFilter, open_store  # noqa: E402

VIEWPORT = (1920, 1080)
TARGET_REPORT_MS = 150.0
TARGET_MAP_MS = 100.0
TARGET_KPI_S = 1.0
CLUSTER_SCRIPT = ROOT / ".ci" / "pg-cluster"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``.

    >>> percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)
    10
    """
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# -- where each store lives ------------------------------------------------------------------------


class PgCluster:
    """A throwaway durable cluster (``.ci/pg-cluster start --durable``) for one run."""

    def __init__(self) -> None:
        done = subprocess.run(
            [str(CLUSTER_SCRIPT), "start", "--durable"], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"store_bench: cannot start PostgreSQL: {done.stderr.strip()}")
        values = dict(
            line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines()
        )
        self.url, self.directory = values["GRIDMAP_TEST_PG_URL"], values["GRIDMAP_TEST_PG_DIR"]

    def stop(self) -> None:
        subprocess.run([str(CLUSTER_SCRIPT), "stop", self.directory], check=False)


def fresh_pg_database(url: str) -> str:
    """A new empty database (with postgis) on the server of ``url``; returns its URL."""
    import psycopg

    name = f"store_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    new_url = url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(new_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return new_url


def drop_pg_database(url: str, admin_url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# -- test data -------------------------------------------------------------------------------------


def incident_rows(city, count: int, seed: int, start_id: int) -> dict[str, np.ndarray]:
    """Columns of ``count`` synthetic incidents near grid centres, in a working mix of states:
    most closed (some late, a few reworked), the open ones recent, a share of them overdue."""
    import shapely

    rng = np.random.default_rng(seed)
    grids = city.grids[city.grids["kind"] == "comprehensive"]
    centres = shapely.centroid(grids.geometry.values)
    xs, ys = shapely.get_x(centres), shapely.get_y(centres)
    codes = grids["grid_code"].to_numpy().astype(str)
    pick = rng.integers(0, len(codes), size=count)
    cell = 0.0016
    now = datetime.now(UTC).replace(microsecond=0)
    states = np.array(["reported", "accepted", "dispatched", "handling", "closed", "rejected"])
    status = states[rng.choice(6, size=count, p=[0.12, 0.08, 0.1, 0.1, 0.55, 0.05])]
    closed = status == "closed"
    final = closed | (status == "rejected")
    age_h = np.where(final, rng.uniform(24, 24 * 90, count), rng.exponential(10.0, count))
    created = np.array([now - timedelta(hours=float(h)) for h in age_h])
    due_in = rng.uniform(-6, 18, count)  # open ones: a quarter are past their step's limit
    due = np.array([now + timedelta(hours=float(h)) for h in due_in])
    grid = codes[pick]
    return {
        "id": np.arange(start_id, start_id + count),
        "type": np.array(INCIDENT_TYPES)[rng.integers(0, len(INCIDENT_TYPES), count)],
        "lon": xs[pick] + rng.normal(0, cell / 5, count),
        "lat": ys[pick] + rng.normal(0, cell / 5, count),
        "grid_code": grid,
        "status": status,
        "created_at": created,
        "due_at": np.where(final, None, due),
        "closed_at": np.where(final, created + timedelta(hours=30), None),
        "late_steps": np.where(closed & (rng.random(count) < 0.2), 1, 0),
        "rework": np.where(closed & (rng.random(count) < 0.05), 1, 0),
    }


def _iso(moment) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def bulk_load(store, url: str, backend: str, city, count: int, seed: int, version_id: int) -> None:
    """Load ``count`` synthetic incidents straight into the store's tables (test data only:
    100,000s of reports through the app would take an hour; the timed steps use the app)."""
    chunk = 100_000
    with tqdm(total=count, desc=f"{backend}: incidents", unit="inc", leave=False) as bar:
        for start in range(0, count, chunk):
            n = min(chunk, count - start)
            with store.transaction() as tx:
                first = _next_id(tx, backend)
                cols = incident_rows(city, n, seed + start, first)
                rows = [
                    (
                        int(cols["id"][k]),
                        str(cols["type"][k]),
                        f"批量 {first + k}",
                        float(cols["lon"][k]),
                        float(cols["lat"][k]),
                        g,
                        g[:12],
                        g[:9],
                        g[:6],
                        str(cols["status"][k]),
                        cols["created_at"][k],
                        cols["created_at"][k],
                        cols["due_at"][k],
                        cols["created_at"][k] + timedelta(hours=72),
                        cols["closed_at"][k],
                        int(cols["late_steps"][k]),
                        int(cols["rework"][k]),
                        "bench",
                        "import",
                        version_id,
                    )
                    for k, g in enumerate(cols["grid_code"])
                ]
                _insert(tx, backend, rows)
            bar.update(n)
    if backend == "postgis":
        # What autovacuum does after a bulk load (migration 7 makes it prompt on incidents): the
        # visibility map lets the map's cluster counts read the covering index alone.
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE incidents")
    else:
        store.conn.execute("ANALYZE")
        # What a running city's next writes do: the last chunk leaves the WAL (SQLite's
        # automatic checkpoint, then the next write transaction starts the WAL again). A
        # reader of a WAL still holding 100,000 incidents looks every page up in it: the KPI
        # query took 0.63 s then against 0.44 s after (measured in one process).
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


COLUMNS = (
    "id, type, description, lon, lat, grid_code, community_code, street_code, district_code, "
    "status, created_at, updated_at, due_at, expected_at, closed_at, late_steps, rework, "
    "reporter, source, version_id"
)


def _next_id(tx, backend: str) -> int:
    return tx.execute("SELECT coalesce(max(id), 0) + 1 FROM incidents").fetchone()[0]


def _insert(tx, backend: str, rows: list[tuple]) -> None:
    if backend == "postgis":
        with tx.cursor() as cur, cur.copy(f"COPY incidents ({COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        tx.execute(
            "SELECT setval(pg_get_serial_sequence('incidents', 'id'), "
            "(SELECT max(id) FROM incidents))"
        )
        return
    text_rows = [r[:10] + tuple(_iso(t) for t in r[10:15]) + r[15:] for r in rows]
    tx.executemany(f"INSERT INTO incidents ({COLUMNS}) VALUES ({','.join('?' * 20)})", text_rows)
    tx.executemany(
        "INSERT INTO incident_rtree VALUES (?, ?, ?, ?, ?)",
        [(r[0], r[3], r[3], r[4], r[4]) for r in rows],
    )


# -- the served app --------------------------------------------------------------------------------


class Server:
    """``gridmap serve --db URL`` in a subprocess on a free port."""

    def __init__(self, db: str, workers: int = 1) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.log = Path(tempfile.mkdtemp(prefix="store_bench-serve-")) / "serve.log"
        command = [
            sys.executable,
            "-m",
            "gridmap.cli",
            "serve",
            "--db",
            db,
            "--port",
            str(self.port),
            "--workers",
            str(workers),
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"gridmap serve exited:\n{tail}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gridmap serve did not start within 120 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Client:
    """One keep-alive HTTP connection with a bearer token."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[float, int, bytes]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept-Encoding": "gzip"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            t0 = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                answer = self.conn.getresponse()
                payload = answer.read()
                ms = (time.perf_counter() - t0) * 1000
                if answer.headers.get("Content-Encoding") == "gzip":
                    payload = gzip.decompress(payload)
                return ms, answer.status, payload
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt == 2 or method != "GET":
                    raise
        raise AssertionError("unreachable")


# -- the measurements ------------------------------------------------------------------------------


def warm_up(port: int, token: str, city, connections: int = 16) -> None:
    """What a server that has been running a while has done: the geocoder built (serve starts
    it in the background; a search waits for it), each endpoint called once. Asked over
    ``connections`` new connections: with ``--workers`` each lands on a worker the kernel picks,
    and every worker builds its own geocoder (16 miss one of two workers once in 30,000)."""
    address = str(city.addresses["address"].iloc[0])
    for _ in range(connections):
        client = Client(port, token)
        for path in ("/api/meta", "/api/config", f"/api/geocode?q={quote(address)}"):
            ms, status, _ = client.request("GET", path)
            if status != 200:
                raise SystemExit(f"warm-up GET {path}: HTTP {status}")
        client.conn.close()


def reports(
    port: int, token: str, city, clients: int, each: int, run: str, interval: float = 0.0
) -> dict:
    """``clients`` threads POST ``each`` reports: latencies, 5xx, acknowledged ids.

    ``interval`` 0 (the issue's figure): closed loop, each client sends its next report the
    moment the last is answered, so all ``clients`` requests are in flight all the time (a
    saturation test). ``interval`` > 0 (a second, labelled figure): each client sends one
    report every ``interval`` seconds on a fixed schedule (staggered starts); a request's time
    counts from its scheduled start, so a server falling behind is charged for the queue."""
    grids = city.grids[city.grids["kind"] == "comprehensive"].geometry.values
    import shapely

    points = shapely.get_coordinates(shapely.point_on_surface(grids))
    start = threading.Barrier(clients)
    results: list[tuple[str, float, int, int | None]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        rng = random.Random(n)
        http_client = Client(port, token)
        start.wait()
        t0 = time.perf_counter() + interval * rng.random()
        for k in range(each):
            lon, lat = points[rng.randrange(len(points))]
            marker = f"{run}-c{n}-r{k}"
            due = t0 + k * interval
            if interval:
                time.sleep(max(0.0, due - time.perf_counter()))
            try:
                ms, status, payload = http_client.request(
                    "POST",
                    "/api/incidents",
                    {"type": "garbage", "description": marker, "lon": lon, "lat": lat},
                )
                if interval:  # from the scheduled start: waiting behind others counts
                    ms = (time.perf_counter() - due) * 1000
                incident_id = json.loads(payload).get("id") if status == 201 else None
            except (ConnectionError, http.client.HTTPException, TimeoutError):
                ms, status, incident_id = float("nan"), 599, None
            with lock:
                results.append((marker, ms, status, incident_id))

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    times = [r[1] for r in results if r[1] == r[1]]
    return {
        "results": results,
        "p50": statistics.median(times),
        "p95": percentile(times, 95),
        "5xx": sum(1 for r in results if r[2] >= 500),
        "4xx": sum(1 for r in results if 400 <= r[2] < 500),
    }


def check_reports(store, results: list, run: str) -> tuple[int, int]:
    """(lost, duplicated): acknowledged or sent reports missing from the store / stored twice."""
    stored: dict[str, int] = {}
    for incident in store.incidents(IncidentFilter(types=("garbage",))):
        if incident.description.startswith(run):
            stored[incident.description] = stored.get(incident.description, 0) + 1
    lost = sum(1 for marker, _ms, status, _id in results if status == 201 and marker not in stored)
    duplicated = sum(n - 1 for n in stored.values() if n > 1)
    return lost, duplicated


def view_bbox(lon: float, lat: float, zoom: float) -> str:
    """The bbox a 1920x1080 screen shows at ``zoom`` around a point."""
    degrees_per_px = 360 / (256 * 2**zoom)
    half_w = VIEWPORT[0] / 2 * degrees_per_px
    half_h = VIEWPORT[1] / 2 * degrees_per_px * math.cos(math.radians(lat))
    return f"{lon - half_w:.5f},{lat - half_h:.5f},{lon + half_w:.5f},{lat + half_h:.5f}"


def map_endpoints(port: int, token: str, bounds, rounds: int) -> dict[str, list[float]]:
    """Times of the grid layer and the incident (cluster) endpoint over random views."""
    rng = random.Random(11)
    client = Client(port, token)
    times: dict[str, list[float]] = {"layers/grid": [], "incidents": []}
    w, s, e, n = bounds
    for step in range(rounds):
        zoom = 12 + step % 5
        lon, lat = rng.uniform(w, e), rng.uniform(s, n)
        q = f"?bbox={view_bbox(lon, lat, zoom)}&zoom={zoom}"
        for name, path in (("layers/grid", "/api/layers/grid"), ("incidents", "/api/incidents")):
            ms, status, _ = client.request("GET", path + q)
            if status != 200:
                raise SystemExit(f"GET {path}{q}: HTTP {status}")
            if step >= 5:  # the first views warm the server's caches, as a running one has them
                times[name].append(ms)
    return times


def kpi_seconds(port: int, token: str, rounds: int = 5) -> tuple[float, int]:
    client = Client(port, token)
    times, units = [], 0
    for _ in range(rounds):
        ms, status, payload = client.request("GET", "/api/kpi?level=grid")
        if status != 200:
            raise SystemExit(f"GET /api/kpi?level=grid: HTTP {status}")
        times.append(ms / 1000)
        units = len(json.loads(payload)["rows"])
    return statistics.median(times), units


def run_backend(backend: str, url: str, args, city) -> dict:
    store = open_store(url)
    t0 = time.perf_counter()
    publish_city(store, city, note="store_bench")
    publish_s = time.perf_counter() - t0
    version = store.current_version()
    token = store.create_token("dispatcher", "store_bench")
    server = Server(url, args.workers)
    figures: dict = {"publish_s": publish_s}
    try:
        warm_up(server.port, token, city)
        # A server that has been taking reports: its database connections open, its
        # statements prepared (psycopg prepares one after 5 uses on a connection). Untimed.
        warm = reports(server.port, token, city, args.clients, 5, f"warm-{uuid.uuid4().hex[:6]}")
        if warm["5xx"] or warm["4xx"]:
            raise SystemExit(f"warm-up reports: {warm['5xx']} 5xx, {warm['4xx']} 4xx")
        run = f"bench-{uuid.uuid4().hex[:6]}"
        answer = reports(server.port, token, city, args.clients, args.reports, run)
        lost, duplicated = check_reports(store, answer["results"], run)
        figures.update(
            reports_p50=answer["p50"],
            reports_p95=answer["p95"],
            lost=lost,
            duplicated=duplicated,
            e5xx=answer["5xx"],
            e4xx=answer["4xx"],
        )
        print(
            f"{backend}: {args.clients} clients x {args.reports} reports: "
            f"p50 {answer['p50']:.0f} ms, p95 {answer['p95']:.0f} ms, lost {lost}, "
            f"duplicated {duplicated}, 5xx {answer['5xx']}, 4xx {answer['4xx']}"
        )
        if args.paced_interval > 0:  # a second, labelled figure; not the target
            paced_run = f"paced-{uuid.uuid4().hex[:6]}"
            paced = reports(
                server.port,
                token,
                city,
                args.clients,
                args.reports,
                paced_run,
                interval=args.paced_interval,
            )
            lost, duplicated = check_reports(store, paced["results"], paced_run)
            figures["paced_p95"] = paced["p95"]
            print(
                f"{backend}: PACED (not the target's closed loop): {args.clients} clients x "
                f"{args.reports} reports, one every {args.paced_interval:g} s each "
                f"({args.clients / args.paced_interval:.0f}/s offered): p50 {paced['p50']:.0f} "
                f"ms, p95 {paced['p95']:.0f} ms from the scheduled start, lost {lost}, "
                f"duplicated {duplicated}, 5xx {paced['5xx']}"
            )
        have = store.count_incidents(IncidentFilter())
        bulk_load(store, url, backend, city, args.incidents - have, 1, version.id)
        times = map_endpoints(server.port, token, version.bounds, args.views)
        for name, values in times.items():
            figures[f"{name}_p95"] = percentile(values, 95)
            print(
                f"{backend}: GET /api/{name} at {args.incidents:,} incidents: "
                f"p50 {statistics.median(values):.0f} ms, p95 {percentile(values, 95):.0f} ms "
                f"({len(values)} views, zoom 12-16)"
            )
        have = store.count_incidents(IncidentFilter())
        bulk_load(store, url, backend, city, args.kpi_incidents - have, 2, version.id)
        figures["kpi_s"], units = kpi_seconds(server.port, token)
        print(
            f"{backend}: GET /api/kpi?level=grid over {args.kpi_incidents:,} incidents: "
            f"{figures['kpi_s']:.2f} s (median of 5, {units:,} grids)"
        )
    finally:
        server.stop()
        getattr(store, "dispose", store.close)()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgis")
    parser.add_argument("--pg-url", default=None, help="a server to use instead of a throwaway")
    parser.add_argument("--side", type=int, default=100, help="grids per side (100: 10,000)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--reports", type=int, default=40)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--kpi-incidents", type=int, default=1_000_000)
    parser.add_argument("--views", type=int, default=105)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="gridmap serve --workers: server processes (2 uses both cores of the machine)",
    )
    parser.add_argument(
        "--paced-interval",
        type=float,
        default=0.5,
        help="after the closed-loop figure, a labelled second one with each client sending a "
        "report every this many seconds (0: skip)",
    )
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    city = synthetic_city(args.side, args.side, seed=7)
    print(
        f"synthetic city: {len(city.grids):,} grids; machine: {os.cpu_count()} cores (shared); "
        f"gridmap serve --workers {args.workers}"
    )
    figures: dict[str, dict] = {}
    workdir = Path(tempfile.mkdtemp(prefix="store_bench-"))
    cluster = None
    try:
        for backend in backends:
            if backend == "sqlite":
                figures[backend] = run_backend(backend, str(workdir / "bench.sqlite"), args, city)
            elif backend == "postgis":
                admin = args.pg_url
                if admin is None:
                    cluster = PgCluster()
                    admin = cluster.url
                url = fresh_pg_database(admin)
                try:
                    figures[backend] = run_backend(backend, url, args, city)
                finally:
                    drop_pg_database(url, admin)
            else:
                raise SystemExit(f"unknown backend {backend!r}")
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    ok = all(
        f["reports_p95"] < TARGET_REPORT_MS
        and f["lost"] == f["duplicated"] == f["e5xx"] == 0
        and f["layers/grid_p95"] < TARGET_MAP_MS
        and f["incidents_p95"] < TARGET_MAP_MS
        and f["kpi_s"] < TARGET_KPI_S
        for f in figures.values()
    )
    parts = [
        f"{name}: reports p95 {f['reports_p95']:.0f} ms lost {f['lost']} dup {f['duplicated']} "
        f"5xx {f['e5xx']}, grid layer p95 {f['layers/grid_p95']:.0f} ms, "
        f"incidents p95 {f['incidents_p95']:.0f} ms, KPI {args.kpi_incidents:,} {f['kpi_s']:.2f} s"
        for name, f in figures.items()
    ]
    print(" | ".join(parts) + f" | targets {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
