"""The "one map" page (一张图) and its wall-screen mode: blueprint ``bp``.

- ``/``: the full-screen map (``/?wall=1``: the wall screen), or the login page without a session;
- ``/static/...``: the page's scripts, styles and vendored libraries (``web/static/``), gzipped
  when the browser accepts it, revalidated by ETag so a deploy is picked up at once;
- ``/wall/incidents.json``: what the wall's rolling list shows (overdue and returned incidents).

The page holds no data and no inline script: ``static/js/gm-main.js`` (an ES module) reads the
configuration, the server's labels and the tile layers from the API and draws vector tiles with
MapLibre GL JS.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
)

from gridmap.rules.workflow import OPEN_STATES, STATES, iso, utc_now
from gridmap.store import IncidentFilter
from web.auth import current_user, requires
from web.security import csp_nonce, page_policy

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
PAGE_ASSETS = ("css/map.css", "js/gm-main.js", "js/gm-util.js", "js/gm-map.js")
WALL_ITEMS = 40
_COMPRESSIBLE = {".js", ".mjs", ".css", ".json", ".svg", ".txt", ".md"}

mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/javascript", ".js")

bp = Blueprint("map", __name__, template_folder="templates")


@bp.get("/")
def index() -> Response:
    """The full-screen map; needs a viewer session, otherwise the login page."""
    if current_user() is None:
        wall = "%3Fwall%3D1" if request.args.get("wall") == "1" else ""
        return redirect(f"{request.script_root}/login?next=/{wall}")
    html = render_template(
        "map.html",
        static=f"{request.script_root}/static/",
        v=asset_version(),
        wall=request.args.get("wall") == "1",
    )
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def asset_version(static_dir: Path = STATIC_DIR) -> str:
    """A short hash of the page's own files, appended to their URLs so that a wall screen left
    running picks up new files after a deploy instead of a stale cache.

    >>> len(asset_version())
    10
    """
    digest = hashlib.sha1()
    for path in sorted((static_dir / "js").glob("*.js")) + [static_dir / "css" / "map.css"]:
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


_gzipped: dict[tuple[str, float], bytes] = {}
_gzip_lock = threading.Lock()


@bp.get("/static/<path:name>")
def static(name: str) -> Response:
    """A file of ``web/static``; gzip-compressed once per file version when accepted."""
    path = (STATIC_DIR / name).resolve()
    if STATIC_DIR not in path.parents or not path.is_file():
        abort(404)
    data = path.read_bytes()
    etag = hashlib.sha1(data).hexdigest()[:16]
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(data, mimetype=mimetype)
        if path.suffix in _COMPRESSIBLE and "gzip" in request.headers.get("Accept-Encoding", ""):
            key = (str(path), path.stat().st_mtime)
            with _gzip_lock:
                if key not in _gzipped:
                    _gzipped[key] = gzip.compress(data, compresslevel=9, mtime=0)
                body = _gzipped[key]
            response.set_data(body)
            response.headers["Content-Encoding"] = "gzip"
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Vary"] = "Accept-Encoding"
    if path.suffix in (".js", ".mjs"):
        # A worker runs under the policy of its own script's answer, not the page's: MapLibre's
        # worker fetches tiles, so it gets the page policy (connect-src 'self') rather than the
        # data answers' default-src 'none'.
        response.headers["Content-Security-Policy"] = page_policy(
            csp_nonce(), current_app.config.get("BASEMAP_URL") or ""
        )
    return response


@bp.get("/wall/incidents.json")
@requires("viewer")
def wall_incidents():
    """Open incidents that are overdue or were returned for rework, most pressing first."""
    store = current_app.extensions["gridmap_store"]
    key = (store.last_event_id(), _minute())
    cache = current_app.extensions["gridmap_cache"]
    if cache.get("wall_key") != key:
        rows = store.incidents(IncidentFilter(statuses=OPEN_STATES))
        pressing = [r for r in rows if r.overdue or r.rework]
        overdue = sum(1 for r in pressing if r.overdue)
        pressing.sort(key=lambda r: (not r.overdue, r.due_at or "", r.id))
        cache["wall"] = {
            "overdue": overdue,
            "returned": len(pressing) - overdue,
            "items": [_wall_item(r) for r in pressing[:WALL_ITEMS]],
            "states": list(STATES),
        }
        cache["wall_key"] = key
    return jsonify(cache["wall"])


def _wall_item(r) -> dict:
    return {
        k: getattr(r, k)
        for k in (
            "id",
            "type",
            "status",
            "due_at",
            "grid_code",
            "community_code",
            "address",
            "overdue",
            "rework",
        )
    } | {"overdue": bool(r.overdue)}


def _minute() -> str:
    return iso(utc_now())[:16]
