"""The store backends every contract test runs on: SQLite and PostgreSQL + PostGIS.

A test or fixture that asks for ``store_url`` runs once per backend (test ids ``[sqlite]`` and
``[postgis]``) and gets the URL of a fresh, empty store: a file under ``tmp_path`` for SQLite, a
schema of its own for PostGIS (``options=-c search_path=<schema>,public`` in the URL, dropped
afterwards), so tests never see each other's rows and need no new database each.

Where the PostgreSQL server comes from, in order:

1. ``GRIDMAP_TEST_PG_URL=postgresql://user@host:port/db`` (a database with the postgis extension,
   or a role allowed to create it): used as is; unreachable is an error, never a skip.
2. Otherwise a throwaway cluster started by ``.ci/pg-cluster`` on first use (one per test run,
   shared by the xdist workers, stopped when the run ends) when the PostgreSQL binaries exist.
3. No binaries: under ``CI=true`` every PostGIS test fails; elsewhere they are skipped with a
   reason saying how to run them, and the run's summary says loudly that PostGIS was not tested.

``GRIDMAP_TEST_BACKENDS=sqlite`` (or ``postgis``) narrows a run to one backend.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

BACKENDS = ("sqlite", "postgis")
ROOT = Path(__file__).resolve().parent.parent
CLUSTER_SCRIPT = ROOT / ".ci" / "pg-cluster"
URL_ENV = "GRIDMAP_TEST_PG_URL"
STATE_ENV = "GRIDMAP_TEST_PG_STATE"  # set by the controlling process: where the cluster is kept
HOW_TO = (
    "install Debian postgresql-15 + postgresql-15-postgis-3 (the tests then start a throwaway "
    f"cluster themselves) or set {URL_ENV}=postgresql://user@host:port/db; see README "
    "'Running on PostgreSQL'"
)


def selected_backends() -> tuple[str, ...]:
    """The backends of this run: all of them unless GRIDMAP_TEST_BACKENDS narrows it."""
    wanted = os.environ.get("GRIDMAP_TEST_BACKENDS", "").replace(",", " ").split()
    unknown = set(wanted) - set(BACKENDS)
    if unknown:
        raise pytest.UsageError(f"GRIDMAP_TEST_BACKENDS: unknown backend(s) {sorted(unknown)}")
    return tuple(b for b in BACKENDS if not wanted or b in wanted)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


# -- the server ---------------------------------------------------------------------------------


@dataclass
class PgServer:
    """A reachable PostgreSQL + PostGIS database; hands out one fresh schema per test."""

    url: str
    schemas: list[str] = field(default_factory=list)

    def admin(self):
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=10)

    @contextmanager
    def fresh_schema(self) -> Iterator[str]:
        """URL of an empty schema of its own (PostGIS stays reachable through ``public``)."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        options = quote(f"-c search_path={name},public")
        try:
            yield f"{self.url}{'&' if '?' in self.url else '?'}options={options}"
        finally:
            self.drop(name)

    def drop(self, name: str) -> None:
        with self.admin() as conn:
            # a connection the test left idle in a transaction must not hang the run
            conn.execute("SET lock_timeout = '10s'")
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def _check(url: str) -> PgServer:
    """Connect and make sure PostGIS is there; any problem fails loudly."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            conn.execute("SELECT postgis_version()")
    except psycopg.Error as error:
        pytest.fail(f"PostgreSQL at {url} is not usable for the PostGIS tests: {error}")
    return PgServer(url)


def _start_shared_cluster() -> str | None:
    """URL of this run's throwaway cluster, starting it on first use (None: no binaries).

    The xdist workers share one cluster: the first to need it starts it under a lock and leaves
    its URL in the state directory the controlling process created (and later stops).
    """
    state = Path(os.environ.get(STATE_ENV) or tempfile.mkdtemp(prefix="gridmap-pgstate-"))
    os.environ[STATE_ENV] = str(state)
    with open(state / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        env_file, absent = state / "cluster.env", state / "absent"
        if absent.exists():
            return None
        if not env_file.exists():
            done = subprocess.run(
                [str(CLUSTER_SCRIPT), "start"], capture_output=True, text=True, timeout=180
            )
            if done.returncode == 3:  # no PostgreSQL binaries on this machine
                absent.write_text(done.stderr)
                return None
            if done.returncode != 0:
                pytest.fail(f"could not start a throwaway PostgreSQL cluster:\n{done.stderr}")
            env_file.write_text(done.stdout)
        values = dict(
            line.removeprefix("export ").split("=", 1)
            for line in env_file.read_text().splitlines()
            if "=" in line
        )
        return values[URL_ENV]


def stop_shared_cluster() -> None:
    """Stop and delete the throwaway cluster of this run, if one was started."""
    state = os.environ.pop(STATE_ENV, None)
    if not state or not Path(state).exists():
        return
    env_file = Path(state) / "cluster.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.startswith("export GRIDMAP_TEST_PG_DIR="):
                directory = line.split("=", 1)[1]
                subprocess.run([str(CLUSTER_SCRIPT), "stop", directory], check=False)
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    """The PostgreSQL server of this run (see the module docstring for where it comes from)."""
    url = os.environ.get(URL_ENV)
    if not url:
        url = _start_shared_cluster()
    if not url:
        message = f"no PostgreSQL server binaries and no {URL_ENV}: {HOW_TO}"
        if in_ci():
            pytest.fail(f"CI=true but the PostGIS backend cannot run: {message}")
        pytest.skip(f"PostGIS backend NOT TESTED: {message}")
    return _check(url)


def release_store(store) -> None:
    """Give back every connection of a store a test opened (a PostGIS pool included)."""
    getattr(store, "dispose", store.close)()


def hold_write_lock(url: str, seconds: float) -> threading.Thread:
    """Another session blocks every write to the store at ``url`` for ``seconds`` while reads go
    on (a long publish, a backup, a GIS user's edit); returns once the lock is held, with the
    thread to join. SQLite: BEGIN IMMEDIATE. PostGIS: LOCK every table of the store's schema IN
    EXCLUSIVE MODE (writers wait, readers do not), the same situation for a writer."""
    ready = threading.Event()

    def hold() -> None:
        if url.startswith("postgresql://"):
            import psycopg

            with psycopg.connect(url) as conn, conn.transaction():
                tables = [
                    r[0]
                    for r in conn.execute(
                        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                    )
                ]
                conn.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")
                ready.set()
                time.sleep(seconds)
            return
        other = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        ready.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    worker = threading.Thread(target=hold, name="hold-write-lock")
    worker.start()
    if not ready.wait(30):
        raise RuntimeError("could not take the store's write lock within 30 s")
    return worker


# -- fixtures the tests use ---------------------------------------------------------------------


@pytest.fixture(params=selected_backends())
def backend(request) -> str:
    """Name of the store backend this test runs on: ``sqlite`` or ``postgis``."""
    return request.param


@pytest.fixture
def store_url_factory(backend, tmp_path, request) -> Iterator[Callable[[], str]]:
    """Make URLs of fresh, empty stores of this test's backend (for tests needing several)."""
    with _Factory(backend, tmp_path, request) as factory:
        yield factory


@pytest.fixture
def store_url(store_url_factory) -> str:
    """URL of a fresh, empty store of this test's backend."""
    return store_url_factory()


@pytest.fixture(scope="module", params=selected_backends())
def module_store_url(request, tmp_path_factory) -> Iterator[str]:
    """Like ``store_url`` for a module-scoped fixture (a served app, a browser): one fresh store
    per backend, shared by the module's tests, which run once per backend."""
    with _Factory(request.param, tmp_path_factory.mktemp(request.param), request) as factory:
        yield factory()


@pytest.fixture
def pg_url(pg_server) -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL schema (for tests of what only PostGIS has)."""
    with pg_server.fresh_schema() as url:
        yield url


class _Factory:
    def __init__(self, backend: str, tmp_path: Path, request) -> None:
        self.backend, self.tmp_path, self.request = backend, tmp_path, request
        self.count = 0
        self.cleanups: list = []

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        for cleanup in reversed(self.cleanups):
            cleanup.__exit__(None, None, None)

    def __call__(self) -> str:
        self.count += 1
        if self.backend == "sqlite":
            return str(self.tmp_path / f"store{self.count}.sqlite")
        server: PgServer = self.request.getfixturevalue("pg_server")
        schema = server.fresh_schema()
        url = schema.__enter__()
        self.cleanups.append(schema)
        return url


# -- hooks (registered from conftest.py through pytest_plugins) --------------------------------


def pytest_configure(config) -> None:
    if not hasattr(config, "workerinput") and not os.environ.get(URL_ENV):
        # The controlling process owns the state directory, so it can stop the cluster at the end
        # whichever worker started it.
        os.environ[STATE_ENV] = tempfile.mkdtemp(prefix="gridmap-pgstate-")


def pytest_unconfigure(config) -> None:
    if not hasattr(config, "workerinput"):
        stop_shared_cluster()


def pytest_report_header(config) -> str:
    url = os.environ.get(URL_ENV)
    where = url or "a throwaway cluster (.ci/pg-cluster) when the binaries exist"
    return f"store backends: {', '.join(selected_backends())}; PostgreSQL: {where}"


def pytest_terminal_summary(terminalreporter) -> None:
    skipped = [
        r
        for r in terminalreporter.stats.get("skipped", [])
        if "PostGIS backend NOT TESTED" in str(getattr(r, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.section("PostGIS backend NOT TESTED", sep="!", red=True, bold=True)
        terminalreporter.write_line(f"{len(skipped)} PostGIS tests were skipped: {HOW_TO}")
