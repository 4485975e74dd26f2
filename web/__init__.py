"""The "one map" web app: ``create_app(config)`` builds a Flask app on a store.

Config keys (all optional): ``DB`` (store path or URL, default data/gridmap.sqlite),
``BASEMAP_URL`` (tile URL template, empty = no tiles), ``BASEMAP_DATUM`` (wgs84/cgcs2000/gcj02),
``BASEMAP_ATTRIBUTION``, ``CITY`` (name when the published version has none),
``MAX_CONTENT_LENGTH`` (bytes, default 1 MB), ``SECRET_KEY`` (default: kept in the store),
``INCIDENT_TIME_LIMITS`` ({type or "*": {state: hours}}), ``SSE_POLL_SECONDS``,
``SSE_KEEPALIVE_SECONDS``, ``SSE_MAX_SECONDS``, ``DB_BUSY_TIMEOUT`` (seconds a write waits for
another writer's lock; then 503 with ``Retry-After``, nothing written), ``JOB_WORKERS`` (worker
processes for background jobs: plans, batch geocoding; default 1), ``JOBS_RECOVER`` (fail the
jobs a previous server left unfinished, default True).

The app talks to storage only through :mod:`gridmap.store` (the protocol and ``open_store``).
"""

from __future__ import annotations

import threading
from datetime import timedelta

from flask import Flask, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface

from gridmap.rules.workflow import TimeLimits, china_calendar
from gridmap.services import jobs
from gridmap.store import DEFAULT_BUSY_TIMEOUT, DEFAULT_DB, StoreBusy, open_store
from web import security
from web.compression import gzip_answer
from web.datum import Datum
from web.errors import error_body, register_error_handlers

DEFAULTS = {
    "DB": DEFAULT_DB,
    "DB_BUSY_TIMEOUT": DEFAULT_BUSY_TIMEOUT,
    "BASEMAP_URL": "",
    "BASEMAP_DATUM": "wgs84",
    "BASEMAP_ATTRIBUTION": "",
    "CITY": "",
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "PUBLISH_MAX_CONTENT_LENGTH": 512 * 1024 * 1024,  # POST /api/versions (planner) only
    "INCIDENT_TIME_LIMITS": {},
    "SSE_POLL_SECONDS": 0.5,
    "SSE_KEEPALIVE_SECONDS": 15.0,
    "SSE_MAX_SECONDS": 300.0,  # the browser's EventSource reconnects (with Last-Event-ID)
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    "JSON_SORT_KEYS": False,
    "JOB_WORKERS": 1,
    "JOBS_RECOVER": True,
}
GZIP_MIN_BYTES = 2048


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that a body nested too deeply to parse is bad input (ValueError, so
    a 400) rather than a RecursionError."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except that a request without the session cookie (an API
    call with a bearer token) gets its empty session without a signing serializer being built
    for it (a tenth of a millisecond of every report, for nothing to verify)."""

    def open_session(self, app, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def create_app(config: dict | None = None) -> Flask:
    """A new app over the store named by ``config["DB"]`` (created and migrated when needed)."""
    app = Flask(__name__, static_folder=None)
    app.json = SafeJSONProvider(app)
    app.session_interface = CookieSessions()
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    store = open_store(
        app.config["DB"],
        TimeLimits(app.config["INCIDENT_TIME_LIMITS"]),
        busy_timeout=float(app.config["DB_BUSY_TIMEOUT"]),
    )
    # Kept for the app's life: a server thread keeps its SQLite connection between requests
    # (reopening it per request, with its PRAGMAs and schema load, cost ~0.5 ms of each).
    app.extensions["gridmap_store"] = store
    china_calendar()  # a bad $GRIDMAP_HOLIDAYS file stops the start (ValueError), not a report
    app.extensions["gridmap_datum"] = Datum(app.config["BASEMAP_DATUM"])
    app.extensions["gridmap_cache"] = {}
    app.extensions["gridmap_lock"] = threading.Lock()
    if app.config["JOBS_RECOVER"]:
        jobs.recover(store)  # their workers died with the previous server
    app.extensions["gridmap_jobs"] = jobs.JobRunner(app.config["DB"], app.config["JOB_WORKERS"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = store.secret_key()

    register_error_handlers(app)
    security.register(app)  # CSP, Referrer-Policy, no-store, Server (web/security.py)

    @app.errorhandler(StoreBusy)
    def _busy(error: StoreBusy):
        # Another writer held the database past the busy timeout: nothing was written, the
        # client may send the same request again.
        if request.path.startswith("/open311/"):
            response = jsonify([{"code": 503, "description": str(error)}])
        else:
            response = jsonify(error_body(f"{error}; try again"))
        response.status_code = 503
        response.headers["Retry-After"] = str(error.retry_after)
        return response

    from web import api, auth, ogc, open311, openapi, tiles
    from web.batch import bp as batch_bp
    from web.field import bp as field_bp
    from web.map import bp as map_bp

    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(open311.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(tiles.bp)
    app.register_blueprint(ogc.bp)
    app.register_blueprint(map_bp)
    app.register_blueprint(field_bp)  # /field: the field staff's phone page
    app.register_blueprint(batch_bp)  # clerk: the batch geocoding page (/batch)
    api.loop.start_sweeper(app)  # escalates overdue incidents (web/api/loop.py)

    @app.before_request
    def _remember():
        store.remember()  # a request reads the current version and taxonomy once (store.memo)

    @app.teardown_request
    def _forget(_exc):
        store.forget()

    @app.after_request
    def _compress(response):
        # Layers and incident collections are large, repetitive JSON: gzip cuts them ~5x.
        if (
            response.direct_passthrough
            or response.is_streamed
            or response.status_code != 200
            or "gzip" not in request.headers.get("Accept-Encoding", "")
            or "Content-Encoding" in response.headers
            or not (response.mimetype or "").endswith("json")
        ):
            return response
        data = response.get_data()
        if len(data) < GZIP_MIN_BYTES:
            return response
        response.set_data(gzip_answer(data))
        response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding"
        return response

    return app
