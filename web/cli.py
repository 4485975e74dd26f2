"""``gridmap serve``: run the map app under waitress, a production WSGI server.

Why waitress (not gunicorn with threads): one process with a pool of threads, so the app's
in-memory state (the geocoder of the published version, ~the address library; the shifted
geometry cache) is built once, not once per worker; SQLite connections are per thread anyway;
it runs wherever Python does (no fork, no Unix-only pieces); and it streams: a WSGI iterable is
sent chunk by chunk (``send_bytes=1``), so ``/api/stream`` events leave as they happen. Each
open event stream holds one thread until ``SSE_MAX_SECONDS`` (the browser then reconnects), so
``--threads`` must exceed the number of live viewers plus the concurrent API calls.
The server announces no version (waitress's own ``Server`` header is off; the app sends
``Server: gridmap``, see :mod:`web.security`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from functools import partial
from pathlib import Path

import click

from gridmap.errors import InputError
from gridmap.store import DEFAULT_BUSY_TIMEOUT, DEFAULT_DB
from web.security import redact  # token values starred whatever their spelling

log = logging.getLogger("gridmap.access")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--db",
    default=DEFAULT_DB,
    show_default=True,
    help="Store: SQLite path, sqlite:///path or postgresql://user@host/db.",
)
@click.option("--basemap-url", default="", help="Tile URL template {z}/{x}/{y}; empty: no tiles.")
@click.option(
    "--basemap-datum",
    default="wgs84",
    show_default=True,
    type=click.Choice(["wgs84", "cgcs2000", "gcj02"]),
    help="Datum of the tiles; on gcj02 every overlay is shifted to line up.",
)
@click.option("--basemap-attribution", default="", help="Attribution text of the tiles.")
@click.option(
    "--time-limits",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help='JSON {"type or *": {"state": hours}} overriding the default step time limits.',
)
@click.option(
    "--threads",
    default=32,
    show_default=True,
    type=click.IntRange(2, 1024),
    help="Worker threads: live map viewers (one event stream each) plus concurrent requests.",
)
@click.option(
    "--busy-timeout",
    default=DEFAULT_BUSY_TIMEOUT,
    show_default=True,
    type=click.FloatRange(0, 600),
    help="Seconds a write waits for another writer's lock before answering 503 + Retry-After.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port (Unix), to use more than one core; each builds "
    "its own geocoder (memory times N). About one per core.",
)
@click.option(
    "--active",
    default=4,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="Requests per worker that run the app at once, reads and writes counted apart; the "
    "others wait in arrival order. Event streams and answers being sent do not count.",
)
def serve(
    host,
    port,
    db,
    basemap_url,
    basemap_datum,
    basemap_attribution,
    time_limits,
    threads,
    busy_timeout,
    workers,
    active,
):
    """Serve the one map and its API with waitress (a production WSGI server).

    Starts on an empty store too (the page then says to publish first); with a version
    published, the geocoder is built in the background right away. ``--workers N`` forks N
    processes that answer on the same port (see :mod:`web.workers`).
    """
    from web.workers import listen, run_workers

    settings = (db, basemap_url, basemap_datum, basemap_attribution, time_limits, busy_timeout)
    if workers > 1 and not hasattr(os, "fork"):
        raise click.UsageError("--workers above 1 needs os.fork (Linux, macOS)")
    # One way to take the port, whatever the count: a taken port is the same clear error
    # (exit 2) for one worker as for several.
    listener = listen(host, port)
    address = (host, listener.getsockname()[1])
    if workers == 1:
        _serve_process(settings, threads, active, address, sockets=[listener])
        return
    click.echo(f"gridmap: {workers} worker processes on {address[0]}:{address[1]}")

    def serve_one(index: int, turns) -> None:
        take_turn = partial(turns.take_turns, index)
        _serve_process(
            settings, threads, active, address, index == 0, sockets=[listener], take_turn=take_turn
        )

    code = run_workers(workers, serve_one)
    if code:
        raise SystemExit(code)


def _serve_process(
    settings: tuple,
    threads: int,
    active: int,
    address: tuple,
    announce: bool = True,
    *,
    sockets: list,
    take_turn=None,
) -> None:
    """Build the app and serve it with waitress on ``sockets`` (bound by
    :func:`web.workers.listen`) in this process until interrupted. ``announce``: print the
    banner (one worker of several does). ``take_turn(listener)``: with ``--workers``, makes the
    listener take new connections in turn with the other workers (``AcceptTurns.take_turns``)."""
    from waitress.server import create_server

    from web.admission import Admission

    app = build_app(*settings)
    store = app.extensions["gridmap_store"]
    version = store.current_version()
    if announce:
        click.echo(
            f"gridmap one map on http://{address[0]}:{address[1]}/  (store {settings[0]}, "
            f"{threads} threads, {active} active)"
        )
        if version is not None:
            click.echo(
                f"  grid version {version.id} ({version.note or 'no note'}), "
                f"{version.summary.get('grids', 0):,} grids"
            )
        else:
            click.echo("  no grid version published yet: run `gridmap publish` first")
        if not store.tokens():
            click.echo("  no tokens yet: `gridmap token create --role admin` to log in")
    if version is not None:
        warm_geocoder(app, version.id)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # waitress warns "Task queue depth is N" for every request that waits for a free thread: a
    # line per request in any burst (and their cost with it); the access log's times show it.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    try:
        server = create_server(
            AccessLog(Admission(app, active)),
            threads=threads,
            ident="",  # no Server header: nothing announces the server or its version
            channel_timeout=120,
            clear_untrusted_proxy_headers=True,
            sockets=sockets,
        )
        channel = _channel_class()
        for listener in _listeners(server):
            listener.channel_class = channel
            if take_turn is not None:  # --workers: new connections taken in turn (web.workers)
                take_turn(listener)
        if announce:
            server.print_listen("Serving on http://{}:{}")
        server.run()
    finally:
        app.extensions["gridmap_jobs"].shutdown()  # stop the background jobs' workers


def _listeners(server) -> list:
    """The listening servers of what ``create_server`` returned (one, or one per address)."""
    from waitress.server import BaseWSGIServer

    found = [server, *getattr(server, "map", {}).values(), *getattr(server, "_map", {}).values()]
    return [s for s in found if isinstance(s, BaseWSGIServer)]


def _channel_class():
    """waitress's connection (``HTTPChannel``), except that the main loop leaves an answer to
    the worker thread that is sending it.

    A worker sends what the app writes at once (waitress's ``send_bytes=1``), holding the
    connection's output lock; the send releases the interpreter, and the main loop, seeing
    bytes waiting (``writable``), woke for the writable socket, found the lock taken and went
    round again, asking every connection each time. At 50 clients that was about five wasted
    turns per report, and at times a spin that took the interpreter from the workers (the main
    thread's CPU 0.2 -> 4-10 ms per report, p95 0.2 -> 1 s). Now while a worker is sending,
    its bytes are its own: what it could not send it leaves to the loop and wakes it. Past the
    high-water mark (a worker waiting for the loop to drain a large answer) and when the
    connection is to close, the loop writes as before.
    """
    from waitress.channel import HTTPChannel

    class Channel(HTTPChannel):
        _sending = False

        def write_soon(self, data):
            self._sending = True
            try:
                return super().write_soon(data)
            finally:
                self._sending = False
                if self.total_outbufs_len:  # not all sent: the main loop sends the rest
                    self.server.pull_trigger()

        def writable(self):
            if (
                self._sending
                and not (self.will_close or self.close_when_flushed)
                and self.total_outbufs_len <= self.adj.outbuf_high_watermark
            ):
                return False
            return super().writable()

    return Channel


def build_app(db, basemap_url, basemap_datum, basemap_attribution, time_limits, busy_timeout):
    """The app ``gridmap serve`` runs (InputError on a bad store URL, datum or limits file)."""
    from web import create_app

    limits = {}
    if time_limits:
        try:
            limits = json.loads(Path(time_limits).read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise InputError.one(time_limits, f"not valid JSON: {error}") from None
    try:
        return create_app(
            {
                "DB": db,
                "DB_BUSY_TIMEOUT": busy_timeout,
                "BASEMAP_URL": basemap_url,
                "BASEMAP_DATUM": basemap_datum,
                "BASEMAP_ATTRIBUTION": basemap_attribution,
                "INCIDENT_TIME_LIMITS": limits,
                "ESCALATION_SWEEP_SECONDS": 60,  # escalate overdue incidents (web/api/loop.py)
            }
        )
    except ValueError as error:  # a bad store URL, datum or time limit
        raise InputError.one(time_limits or db, str(error)) from None


class AccessLog:
    """WSGI middleware: one access-log line per request, secret query values (Open311
    ``api_key``: a token) starred by :func:`web.security.redact`."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        started = time.monotonic()
        seen = {}

        def _start(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, _start)
        finally:
            query = environ.get("QUERY_STRING", "")
            target = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
            log.info(
                "%s %s %s %s %.0fms",
                environ.get("REMOTE_ADDR", "-"),
                environ.get("REQUEST_METHOD", "-"),
                redact(target),
                seen.get("status", "-"),
                (time.monotonic() - started) * 1000,
            )


def warm_geocoder(app, version_id: int) -> threading.Thread:
    """Build the geocoder (and its nearest-address index) in the background, so neither the first
    address search nor the first report waits for it."""

    def build():
        from web import geocoding

        with app.app_context():
            try:
                geocoding.geocoder(version_id)
            except Exception as error:  # the search endpoint reports it when used
                app.logger.warning("geocoder not ready: %s", error)

    worker = threading.Thread(target=build, name="geocoder-warmup", daemon=True)
    worker.start()
    return worker
