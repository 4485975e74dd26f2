"""The field page (``/field``, 网格员移动端): a phone-sized page for grid staff.

Look an address up (its standard form, grid and staff, candidates when ambiguous), see my grids
on the map, my tasks by deadline, report at a GPS fix or a tapped point with a photo, start and
resolve my tasks, check in on patrol. Same login as the map (``/login?next=/field``).

The page holds no data, no rule and no label: ``static/js/gm-field.js`` reads the user, the
labels, the taxonomy and the photo limits from the API (``/api/config``, ``/api/meta``,
``/api/taxonomy``) and talks only to this server. MapLibre (~450 kB gzipped, most of the page)
is loaded only when the map is first opened, so tasks and look-ups work first on a slow line.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, redirect, render_template, request

from gridmap.rules import labels
from web.auth import current_user
from web.map import STATIC_DIR

bp = Blueprint("field", __name__, template_folder="templates")
PAGE_ASSETS = ("css/field.css", "js/gm-field.js", "js/gm-util.js")


def asset_version() -> str:
    """A short hash of the page's own files (appended to their URLs: a phone left open picks up
    a deploy instead of a stale cache).

    >>> len(asset_version())
    10
    """
    digest = hashlib.sha1()
    for name in PAGE_ASSETS:
        path = STATIC_DIR / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


@bp.get("/field")
def page() -> Response:
    """The field page; without a session, the login page (which comes back here)."""
    user = current_user()
    if user is None:
        return redirect(f"{request.script_root}/login?next=/field")
    if not user.at_least("field"):  # a viewer's token (a wall screen) cannot report or act
        role = labels.label("roles", user.role)
        text = f"此页面供网格员、职能部门和指挥调度人员使用；当前令牌角色为“{role}”。"
        return Response(f"<!DOCTYPE html><meta charset=utf-8><p>{text}</p>", 403)
    html = render_template("field.html", static=f"{request.script_root}/static/", v=asset_version())
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
