"""The "one map" page (一张图): blueprint ``bp`` serving ``/``.

The page itself holds no data: its scripts (``static/js/``) fetch layers and incidents from the JSON
API by bounding box and zoom, and follow live changes over ``/api/stream``.

The front-end files live at the repository root in ``static/`` (vendored libraries in
``static/vendor/``). Whether the app factory keeps Flask's default static route or disables it
(``static_folder=None``), registering this blueprint makes ``/static/...`` serve that folder.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"

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


def _viewer() -> dict | None:
    """The signed-in user allowed to read the map, or None."""
    try:
        from web import auth
    except ImportError:  # backend auth not there yet: fall back to the plain session
        auth = None
    if auth is not None and hasattr(auth, "current_user"):
        return auth.current_user()
    return session.get("user")


@bp.get("/")
def index():
    """The full-screen map; needs a viewer session, otherwise the login page."""
    if _viewer() is None:
        return redirect(url_for("auth.login", next=request.path) if _has_login() else "/login")
    return render_template("map.html")


def _has_login() -> bool:
    from flask import current_app

    return "auth.login" in current_app.view_functions
