"""``gridmap serve``: run the map app on a local address."""

from __future__ import annotations

import json
from pathlib import Path

import click
from werkzeug.serving import WSGIRequestHandler

from gridmap.errors import InputError
from gridmap.store import DEFAULT_DB
from web.security import SERVER_NAME, redact


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--db", default=DEFAULT_DB, show_default=True, help="Store path or sqlite:/// URL.")
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
def serve(host, port, db, basemap_url, basemap_datum, basemap_attribution, time_limits):
    """Serve the one map and its API (threaded; live updates need one thread per viewer)."""
    from web import create_app

    limits = {}
    if time_limits:
        try:
            limits = json.loads(Path(time_limits).read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise InputError.one(time_limits, f"not valid JSON: {error}") from None
    try:
        app = create_app(
            {
                "DB": db,
                "BASEMAP_URL": basemap_url,
                "BASEMAP_DATUM": basemap_datum,
                "BASEMAP_ATTRIBUTION": basemap_attribution,
                "INCIDENT_TIME_LIMITS": limits,
            }
        )
    except ValueError as error:  # a bad store URL, datum or time limit
        raise InputError.one(time_limits or db, str(error)) from None
    store = app.extensions["gridmap_store"]
    version = store.current_version()
    click.echo(f"gridmap one map on http://{host}:{port}/  (store {db})")
    if version:
        click.echo(
            f"  grid version {version['id']} ({version['note'] or 'no note'}), "
            f"{version['summary'].get('grids', 0):,} grids"
        )
    else:
        click.echo("  no grid version published yet: run `gridmap publish` first")
        _warm_geocoder(app, version["id"])
    if not store.tokens():
        click.echo("  no tokens yet: `gridmap token create --role admin` to log in")
    app.run(
        host=host, port=port, threaded=True, use_reloader=False, request_handler=RedactingHandler
    )


class RedactingHandler(WSGIRequestHandler):
    """The access log without token values (``web.security.redact``: ``api_key``, ``api%5Fkey``,
    ``token``...), and a ``Server`` header without the server's or Python's version.

    >>> redact("GET /open311/v2/requests.json?api%5Fkey=s3cret&status=open HTTP/1.1")
    'GET /open311/v2/requests.json?api%5Fkey=***&status=open HTTP/1.1'
    """

    def version_string(self) -> str:
        return SERVER_NAME

    def log_request(self, code="-", size="-") -> None:
        # Called once the app has its environ: the logged copies only are rewritten.
        self.requestline = redact(self.requestline)
        if hasattr(self, "path"):
            self.path = redact(self.path)
        super().log_request(code, size)


def _warm_geocoder(app, version_id: int) -> None:
    """Build the geocoder in the background so the first address search does not wait for it."""
    import threading

    def build():
        from web import geocoding

        with app.app_context():
            try:
                geocoding.geocoder(version_id)
            except Exception as error:  # the search endpoint reports it when used
                app.logger.warning("geocoder not ready: %s", error)

    threading.Thread(target=build, name="geocoder-warmup", daemon=True).start()
