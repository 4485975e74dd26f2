"""The "one map" page (一张图): blueprint ``bp`` serving ``/``.

The page itself holds no data: its scripts (``static/js/``) fetch layers and incidents from the JSON
API by bounding box and zoom, and follow live changes over ``/api/stream``. The page frame is made
by folium (see ``web.map.page``) with every library served from ``static/vendor/``.

The front-end files live at the repository root in ``static/``. Whether the app factory keeps
Flask's default static route or disables it (``static_folder=None``), registering this blueprint
makes ``/static/...`` serve that folder.
"""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    redirect,
    render_template,
    request,
)
from flask.blueprints import BlueprintSetupState

from web.auth import current_user
from web.map.page import STATIC_DIR, asset_version, render_page

bp = Blueprint(
    "map",
    __name__,
    template_folder="templates",
    static_folder=str(STATIC_DIR),
    static_url_path="/static",
)


@bp.record_once
def _point_app_static_at_repo_static(state: BlueprintSetupState) -> None:
    # An app built with Flask's default static route would shadow ours (its rule is registered
    # first) and look in web/static; point that route at the real folder instead.
    app: Flask = state.app
    if app.has_static_folder and not Path(app.static_folder or "").is_dir():
        app.static_folder = str(STATIC_DIR)


@bp.get("/")
def index() -> Response:
    """The full-screen map; needs a viewer session, otherwise the login page."""
    # Any signed-in user is at least a viewer (the lowest role).
    if current_user() is None:
        return redirect(f"{request.script_root}/login?next=/")
    response = Response(_page_html(), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _page_html() -> str:
    """The page, built once per app and asset version (it holds no per-user data)."""
    version = asset_version(STATIC_DIR)
    cache = current_app.extensions.setdefault("gridmap_map_page", {})
    if version not in cache:
        cache.clear()
        panels = render_template("map_panels.html")
        cache[version] = render_page(panels, version, static_url=f"{request.script_root}/static/")
    return cache[version]
