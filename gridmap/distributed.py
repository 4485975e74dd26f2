"""Spreading partition, assign and geocode over a Dask cluster (``--scheduler``).

``--scheduler local`` (or ``local:N``) starts a ``dask.distributed.LocalCluster`` of N worker
processes (default: one per core) for the length of the command; ``--scheduler
tcp://HOST:PORT`` connects to a running cluster (``dask scheduler`` + ``dask worker``), whose
workers must have gridmap installed and see the input files under the same paths. Without
``--scheduler`` nothing here runs and every command works in one process as before.

How each command is split, and why the output is byte-identical either way:

- **partition**: one Dask task per community (the unit the engine already runs in parallel);
  results come back in community order and the same code assembles, numbers and checks them.
- **assign**: the points are cut into spatially compact partitions (sorted by Hilbert distance,
  equal counts); each partition goes out with only the grids whose bounds touch its points'
  box, and a worker applies the one edge rule (``GridIndex``) to it. A point's candidates are
  all grids that cover it, all of which touch that box, so every point gets the same winner.
- **geocode**: the queries go out in batches; each worker builds the ``Geocoder`` (address index)
  once, or loads it from a current ``--index`` file (one worker writes the file when it is
  missing or stale), keeps it in its process, and answers every batch it is given with it.

A worker that dies mid-task is replaced by its nanny and Dask re-runs its tasks elsewhere
(``distributed.scheduler.allowed-failures``, 3 by default); results are only taken from finished
tasks, so the output is complete and the same.

>>> parse_scheduler("local:3"), parse_scheduler("tcp://10.0.0.5:8786").address
(Scheduler(address=None, workers=3), 'tcp://10.0.0.5:8786')
>>> with client_for(None) as client:
...     client is None
True
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from gridmap import gcpause

#: points per assign partition (a few MB of coordinates and candidate pairs per task)
ASSIGN_PARTITION = 250_000
#: Settings of a local cluster (its scheduler, in this process, and its workers). An event loop
#: that wakes takes the interpreter lock from the thread running a task: Dask's loop checks its
#: own health every 20 ms and samples a profile for the dashboard every 10 ms. On a partition
#: task that cost 10-20% of its time in a worker (local:1 against one process, same tasks); the
#: client's serial steps share a process with the scheduler's loop and pay it too.
QUIET_LOOPS = {"distributed.admin.tick.interval": "1s", "distributed.worker.profile.enabled": False}
#: queries per geocode task (about a second of matching: a killed worker loses little)
GEOCODE_BATCH = 5_000


@dataclass(frozen=True)
class Scheduler:
    """Where to run: ``address`` of a running scheduler, or a local cluster of ``workers``."""

    address: str | None = None
    workers: int | None = None


def parse_scheduler(text: str) -> Scheduler:
    """``local``, ``local:N`` or ``tcp://HOST:PORT`` (also ``tls://``); ValueError otherwise.

    >>> parse_scheduler("local")
    Scheduler(address=None, workers=None)
    >>> parse_scheduler("local:0")
    Traceback (most recent call last):
    ...
    ValueError: --scheduler local:N needs N >= 1 worker, got 'local:0'
    """
    value = text.strip()
    match = re.fullmatch(r"local(?::(\d+))?", value)
    if match:
        workers = int(match.group(1)) if match.group(1) else None
        if workers is not None and workers < 1:
            raise ValueError(f"--scheduler local:N needs N >= 1 worker, got {text!r}")
        return Scheduler(workers=workers)
    if re.fullmatch(r"(tcp|tls|ucx|inproc)://\S+", value):
        return Scheduler(address=value)
    raise ValueError(f"--scheduler must be local, local:N or tcp://HOST:PORT, got {text!r}")


def scheduler_option(what: str) -> Callable:
    """The ``--scheduler`` click option of partition, assign and geocode (checked: exit 2)."""
    import click

    def check(_ctx, _param, value):
        if value is None:
            return None
        try:
            parse_scheduler(value)
        except ValueError as error:
            raise click.BadParameter(str(error).removeprefix("--scheduler ")) from None
        return value

    return click.option(
        "--scheduler",
        default=None,
        metavar="local[:N]|tcp://HOST:PORT",
        callback=check,
        help=f"Spread {what} over a Dask cluster: local[:N] starts N worker processes "
        "(default one per core), tcp://HOST:PORT uses a running scheduler whose workers have "
        "gridmap and see the same file paths. The output is the same as without.",
    )


@contextlib.contextmanager
def client_for(scheduler: str | None, *, quiet: bool = True) -> Iterator[object | None]:
    """A ``dask.distributed.Client`` for ``--scheduler`` (None: yields None, runs nothing).

    A local cluster lives as long as the block: one single-threaded worker process per core
    (the work is Python and GEOS code that holds the GIL), no dashboard, no memory cap beyond
    the machine's. It starts in the background: the block reads its inputs while the worker
    processes start (two seconds on two cores), and waits for them only when it first uses
    the client.
    """
    if scheduler is None:
        yield None
        return
    where = parse_scheduler(scheduler)
    import dask

    if quiet:  # the command prints its own summary; Dask's INFO lines would bury it
        for name in ("distributed", "distributed.nanny", "distributed.scheduler"):
            logging.getLogger(name).setLevel(logging.WARNING)
    with contextlib.ExitStack() as stack:
        if where.address is None:
            stack.enter_context(dask.config.set(QUIET_LOOPS))
        starting = StartingClient(partial(_connect, where, quiet))
        stack.callback(starting.close)
        yield starting


def _connect(where: Scheduler, quiet: bool, stack: contextlib.ExitStack):
    """A client of ``where`` (a running scheduler, or a new local cluster kept by ``stack``)."""
    from distributed import Client, LocalCluster

    # close() rather than ``with``: a Client's ``with`` sets a context variable in this
    # thread that its exit, in the command's thread, could not reset
    if where.address is not None:
        client = Client(where.address, timeout="20s")
        stack.callback(client.close)
        return client
    cluster = LocalCluster(
        n_workers=where.workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # a free port: other clusters may run here
        memory_limit=0,
        silence_logs=logging.WARNING if quiet else logging.INFO,
    )
    stack.callback(cluster.close)
    client = Client(cluster)
    stack.callback(client.close)
    return client


class StartingClient:
    """A Dask client being connected in a background thread: every attribute waits for it.

    ``close()`` waits for a start still under way (its worker processes must not outlive the
    command), then closes the client and the cluster it started. An error of the start is
    raised where the client is first used; a block that never used it (its inputs were bad)
    ends with its own error, not the cluster's.
    """

    def __init__(self, connect: Callable[[contextlib.ExitStack], object]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._stack = contextlib.ExitStack()
        pool = ThreadPoolExecutor(1, thread_name_prefix="dask-start")
        self._client = pool.submit(connect, self._stack)
        pool.shutdown(wait=False)  # the thread ends when the start does

    def __getattr__(self, name: str):
        return getattr(self._client.result(), name)

    def close(self) -> None:
        from concurrent.futures import wait

        wait([self._client])
        self._stack.close()


def worker_count(client) -> int:
    """Workers the scheduler knows now (at least 1)."""
    return max(1, len(client.scheduler_info(n_workers=-1)["workers"]))


def batch_size(client, count: int, *, most: int, least: int = 1) -> int:
    """Items per task when ``count`` items go to the cluster: about four tasks per worker (the
    scheduler balances them, and a small job still reaches every worker), at most ``most``."""
    return max(least, min(most, -(-count // (4 * worker_count(client)))))


# --- ordered map (partition) ------------------------------------------------------------------
class DaskExecutor:
    """The one method of ``concurrent.futures.Executor`` the partition engine uses: ``map``.

    Unlike ``Client.get_executor()``, tasks are not hashed into keys (a community task holds
    shapely geometries, which Dask would tokenise slowly) and results come back in input order.
    """

    def __init__(self, client) -> None:
        self.client = client

    def map(self, fn: Callable, items: Iterable, **_ignored) -> Iterator:
        return ordered_map(self.client, fn, items)


def executor(client) -> DaskExecutor | None:
    """A ``DaskExecutor`` for ``client``, None without one (the engine then runs as before)."""
    return None if client is None else DaskExecutor(client)


def ordered_map(client, fn: Callable, items: Iterable, **kwargs) -> Iterator:
    """``map(fn, items)`` on the cluster, yielding results in input order as they finish.

    Every task is submitted before the first result is awaited (the scheduler balances them),
    each as soon as ``items`` gives it: workers start on the first while a lazy ``items``
    finds the next. Each result is released as soon as it is yielded so the cluster does not
    hold them all. ``kwargs`` go to every call (a future among them arrives as its value).
    """
    futures = []
    try:
        for item in items:
            futures.append(client.submit(fn, item, pure=False, **kwargs))
        for future in futures:
            yield future.result()
            future.release()
    finally:
        client.cancel([f for f in futures if not f.done()])


# --- assign ---------------------------------------------------------------------------------
@dataclass
class _AssignPart:
    """One spatial partition: point positions, their coordinates, the grids that may hold them."""

    rows: np.ndarray  # positions in the full point arrays
    lon: np.ndarray
    lat: np.ndarray
    grids: np.ndarray  # positions in the full grid arrays
    codes: np.ndarray
    kinds: np.ndarray
    geometries: np.ndarray = field(repr=False)


def _assign_part(part: _AssignPart) -> tuple[np.ndarray, np.ndarray, int]:
    """Winning grid (global position, -1: none) of each point of one partition, and ties."""
    import shapely

    from gridmap.rules.grid_index import GridIndex

    if len(part.grids) == 0:
        return part.rows, np.full(len(part.rows), -1, dtype=np.int64), 0
    index = GridIndex(part.codes, part.kinds, part.geometries)
    local, ties = index.assign_points_counted(shapely.points(part.lon, part.lat))
    winners = np.where(local >= 0, part.grids[np.maximum(local, 0)], -1)
    return part.rows, winners, ties


def spatial_partitions(lon: np.ndarray, lat: np.ndarray, size: int) -> list[np.ndarray]:
    """Point positions cut into runs of ``size`` along the Hilbert curve (compact in space).

    >>> parts = spatial_partitions(np.array([0.0, 9, 0.1, 9.1]), np.array([0.0, 9, 0.1, 9.1]), 2)
    >>> sorted(sorted(p.tolist()) for p in parts)
    [[0, 2], [1, 3]]
    """
    if len(lon) == 0:
        return []
    import geopandas as gpd

    known = np.isfinite(lon) & np.isfinite(lat)
    keys = np.full(len(lon), np.iinfo(np.int64).max, dtype=np.int64)
    if known.any():
        points = gpd.GeoSeries(gpd.points_from_xy(lon[known], lat[known]))
        keys[known] = points.hilbert_distance(total_bounds=points.total_bounds).to_numpy()
    order = np.argsort(keys, kind="stable")
    return [order[start : start + size] for start in range(0, len(order), size)]


def assign_points(
    client, grids, lon: Sequence[float], lat: Sequence[float], *, size: int | None = None
) -> tuple[np.ndarray, int]:
    """Winning grid position (into ``grids`` rows, -1: none) of every point, and the number of
    points decided by the edge rule; the same answer ``GridIndex(grids)`` gives in one process.
    """
    import shapely

    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    winners = np.full(len(lon), -1, dtype=np.int64)
    if len(lon) == 0 or len(grids) == 0:
        return winners, 0
    size = size or batch_size(client, len(lon), most=ASSIGN_PARTITION, least=1_000)
    codes = np.asarray(grids["grid_code"].astype(str), dtype=object)
    kinds = (
        grids["kind"].astype(str).to_numpy()
        if "kind" in grids.columns
        else np.full(len(grids), "comprehensive", dtype=object)
    )
    geometries = np.asarray(grids.geometry.values, dtype=object)
    envelopes = shapely.STRtree(shapely.envelope(geometries))
    parts = []
    for rows in spatial_partitions(lon, lat, size):
        x, y = lon[rows], lat[rows]
        known = np.isfinite(x) & np.isfinite(y)
        if not known.any():
            continue  # points without coordinates are in no grid
        box = shapely.box(x[known].min(), y[known].min(), x[known].max(), y[known].max())
        near = np.sort(envelopes.query(box))
        parts.append(_AssignPart(rows, x, y, near, codes[near], kinds[near], geometries[near]))
    ties = 0
    for rows, found, tied in ordered_map(client, _assign_part, parts):
        winners[rows] = found
        ties += tied
    return winners, ties


def assign_parts(client, parts: Sequence, index, *, crs: str | None, as_csv: bool) -> Iterator:
    """``gridmap.geocode.assign.assign_part`` of every part of an address library, on the cluster:
    the grid index goes to every worker once; the reports come back in file order."""
    from gridmap.geocode.assign import assign_part

    shared = client.scatter(index, broadcast=True, hash=False)
    return ordered_map(client, assign_part, parts, index=shared, crs=crs, as_csv=as_csv)


# --- geocode --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SavedIndex:
    """A ``geocode --index`` file: workers load it when ``current``, else one of them writes
    the geocoder they built there (see :mod:`gridmap.geocode.index_file`)."""

    path: str
    key: object  # index_file.IndexKey
    current: bool

    def write(self, geocoder) -> None:
        from gridmap.geocode import index_file

        index_file.save(geocoder, self.path, self.key)


@dataclass(frozen=True)
class GeocoderSpec:
    """What a process needs to build the ``Geocoder`` of a geocode command: a worker of the
    cluster, or the command's own process (:meth:`build` is the one rule for both).

    Workers cache the built geocoder by ``token`` (made once on the client), not by the
    options' values: an option object such as a trained parser arrives as a new copy with
    every task, and must not make each batch rebuild the index.
    """

    token: str
    library: str = field(compare=False)
    grids: str | None = field(default=None, compare=False)
    boundaries: str | None = field(default=None, compare=False)
    crs: str | None = field(default=None, compare=False)
    # Geocoder keyword options, sorted (a dict option as sorted pairs)
    options: tuple[tuple[str, object], ...] = field(default=(), compare=False)
    index: SavedIndex | None = field(default=None, compare=False)

    @classmethod
    def of(
        cls, library, grids=None, boundaries=None, *, crs=None, index=None, **options
    ) -> GeocoderSpec:
        import uuid

        frozen = tuple(
            sorted(
                ((key, tuple(sorted(value.items())) if isinstance(value, dict) else value)
                 for key, value in options.items()),
                key=lambda pair: pair[0],
            )
        )  # fmt: skip
        return cls(
            uuid.uuid4().hex,
            str(library),
            grids and str(grids),
            boundaries and str(boundaries),
            crs,
            frozen,
            index,
        )

    def build(self):
        from gridmap.errors import InputError
        from gridmap.geocode import index_file
        from gridmap.geocode.geocoder import Geocoder

        if self.index is not None and self.index.current:
            geocoder = index_file.load(self.index.path, self.index.key)
            if geocoder is None:  # the client saw it current
                raise InputError.one(
                    self.index.path,
                    "this worker does not see the index the client read (replaced since, or "
                    "not at this path on the worker's machine): workers need the same files",
                )
            return geocoder
        options = {k: dict(v) if k == "aliases" and v is not None else v for k, v in self.options}
        return Geocoder.from_files(
            self.library, self.grids, self.boundaries, crs=self.crs, **options
        )


# One Geocoder per worker process and spec: built by the first task that needs it, then reused
# by every later batch (a worker restarted after a crash builds it again).
_GEOCODERS: dict[GeocoderSpec, object] = {}
_GEOCODER_LOCK = threading.Lock()


def worker_geocoder(spec: GeocoderSpec):
    """This process's Geocoder for ``spec``, built on first use."""
    with _GEOCODER_LOCK:
        geocoder = _GEOCODERS.get(spec)
        if geocoder is None:
            geocoder = _GEOCODERS[spec] = spec.build()
        return geocoder


def _build_geocoder(spec: GeocoderSpec) -> None:
    """Build this worker's Geocoder; returns nothing, as ``client.run`` sends every worker's
    return value to the client (a Geocoder is gigabytes at city scale)."""
    worker_geocoder(spec)


def _save_index(spec: GeocoderSpec) -> None:
    """Write this worker's Geocoder to ``spec.index`` (one worker does it for all)."""
    spec.index.write(worker_geocoder(spec))


def _rows_batch(spec: GeocoderSpec, queries: list[tuple]):
    """The output rows of a batch of queries (``gridmap.geocode.cli.result_rows``).

    The worker writes the rows, not the client: a row is nine strings on the wire, an answer
    a graph of matches and candidates that the client, sharing the machine's cores with the
    workers, would unpickle one by one.
    """
    from gridmap.geocode.cli import result_rows

    return result_rows(queries, worker_geocoder(spec).resolve_many([q[2] for q in queries]))


@dataclass
class GeocoderFacts:
    """What the geocode summary reports about the library (read on a worker)."""

    library_size: int
    unassigned: list[str]
    unknown_aliases: list[tuple[str, str]]


def _facts(spec: GeocoderSpec) -> GeocoderFacts:
    geocoder = worker_geocoder(spec)
    return GeocoderFacts(
        len(geocoder.library),
        list(geocoder.unassigned),
        list(geocoder.matcher.vocabulary.unknown_aliases),
    )


class RemoteGeocoder:
    """The part of ``Geocoder`` the geocode command uses, answered by the cluster's workers.

    Building it makes every worker load the library (in parallel, once) and raises the same
    ``InputError`` a local build would for a bad file.
    """

    def __init__(self, client, spec: GeocoderSpec, *, batch: int = GEOCODE_BATCH) -> None:
        self.client, self.spec, self.batch = client, spec, batch
        # Loading on every worker now (client.run) rather than in the first batch keeps the
        # build out of the matching time and reports a bad library before any query is sent.
        # All workers build at once: asking one for the facts first had the others wait for
        # its build before starting their own (two builds end to end on two workers).
        client.run(_build_geocoder, spec)
        if spec.index is not None and not spec.index.current:
            first = sorted(client.scheduler_info(n_workers=-1)["workers"])[:1]
            client.run(_save_index, spec, workers=first)
        self.facts: GeocoderFacts = client.submit(_facts, spec, pure=False).result()

    # The attributes the command's summary reads, with the meaning they have on ``Geocoder``.
    @property
    def library(self) -> range:
        """Stands for the library in ``len(geocoder.library)``."""
        return range(self.facts.library_size)

    @property
    def unassigned(self) -> list[str]:
        return self.facts.unassigned

    @property
    def matcher(self):
        from types import SimpleNamespace

        return SimpleNamespace(
            vocabulary=SimpleNamespace(unknown_aliases=self.facts.unknown_aliases)
        )

    def result_rows(self, queries: Sequence[tuple], *, progress: bool = False):
        """``gridmap.geocode.cli.result_rows`` of every query, written on the workers in
        batches; the same rows in the same order as one process writes."""
        from tqdm import tqdm

        from gridmap.geocode.cli import GeocodeRows

        queries = list(queries)
        size = batch_size(self.client, len(queries), most=self.batch)
        batches = [queries[i : i + size] for i in range(0, len(queries), size)]
        done = []
        with (
            tqdm(
                total=len(queries), desc="geocoding", unit="addr", leave=False,
                disable=not progress,
            ) as bar,
            gcpause.paused(),  # Dask unpickles the rows here; see gridmap.gcpause
        ):  # fmt: skip
            for rows in ordered_map(self.client, partial(_rows_batch, self.spec), batches):
                done.append(rows)
                bar.update(len(rows.results))
        return GeocodeRows.joined(done)
