"""The batch geocoding page (批量地址匹配, ``/batch``): blueprint ``bp``.

For clerks who never open a terminal: upload a CSV of addresses, watch the progress bar, download
the results and the review list. The page holds no data and no inline script:
``static/js/gm-batch.js`` talks to ``/api/batch-geocode`` (:mod:`web.api.batch`) and takes every
label from ``GET /api/meta``.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request

from web.auth import current_user
from web.map import asset_version

bp = Blueprint("batch", __name__, template_folder="templates")


@bp.get("/batch")
def page() -> Response:
    """The batch geocoding page; needs a session, otherwise the login page."""
    if current_user() is None:
        return redirect(f"{request.script_root}/login?next=/batch")
    html = render_template("batch.html", static=f"{request.script_root}/static/", v=asset_version())
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
