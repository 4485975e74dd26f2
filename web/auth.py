"""Who is calling: API tokens (``Authorization: Bearer``), the browser login session, roles.

Roles rank viewer < field < dispatcher < planner < admin. Tokens are stored hashed (sha256); the
login page exchanges a token for a signed session cookie holding only the token's id, so revoking
the token ends the session too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
)

from gridmap.rules.workflow import ROLES, role_at_least
from web.errors import ApiError

bp = Blueprint("auth", __name__, template_folder="templates")


@dataclass(frozen=True)
class User:
    """The authenticated caller."""

    id: int
    name: str
    role: str
    grids: tuple[str, ...] = ()

    def at_least(self, role: str) -> bool:
        return role_at_least(self.role, role)

    def as_json(self) -> dict:
        return {"name": self.name, "role": self.role, "grids": list(self.grids)}


def store():
    return current_app.extensions["gridmap_store"]


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def current_user() -> User | None:
    """The caller of this request (Bearer token, Open311 api_key or session), or None."""
    if "gridmap_user" in g:
        return g.gridmap_user
    token = _bearer()
    if token is None and request.path.startswith("/open311/"):
        token = request.values.get("api_key") or None
        if token is None and request.is_json:  # a JSON body may carry it too
            body = request.get_json(silent=True)
            value = body.get("api_key") if isinstance(body, dict) else None
            token = value if isinstance(value, str) and value else None
    record = None
    if token is not None:
        record = store().check_token(token)
    elif "token_id" in session and not request.path.startswith("/open311/"):
        # Open311 callers authenticate with api_key as the spec says, never with a cookie.
        record = store().token_by_id(int(session["token_id"]))
    user = User(record.id, record.name, record.role, record.grids) if record else None
    g.gridmap_user = user
    return user


def require_user(role: str = "viewer") -> User:
    """The caller when it holds ``role`` or higher; 401 without credentials, 403 when too low."""
    user = current_user()
    if user is None:
        raise ApiError(401, "authentication required: Authorization: Bearer TOKEN or log in")
    if not user.at_least(role):
        raise ApiError(403, f"needs role {role} or higher; this token is {user.role}")
    return user


def requires(role: str):
    """View decorator: :func:`require_user` before the view runs."""
    if role not in ROLES:
        raise ValueError(role)

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            require_user(role)
            return view(*args, **kwargs)

        return inner

    return wrap


def check_cross_site_write() -> None:
    """Refuse a cookie-authenticated write that a page on another site could have sent.

    The session cookie is SameSite=Lax already; on top of that a write riding on the cookie must
    come from this host when the browser names its Origin, and be JSON when it does not (an HTML
    form on another site cannot send JSON without a CORS preflight). Bearer callers are exempt.
    """
    if request.method in ("GET", "HEAD", "OPTIONS") or _bearer() is not None:
        return
    if "token_id" not in session:
        return
    origin = request.headers.get("Origin")
    if origin:
        if origin.split("://", 1)[-1].rstrip("/") != request.host:
            raise ApiError(403, "cross-site request refused")
    elif not request.is_json:  # no Origin to check: only a body a plain form cannot send
        raise ApiError(415, "send the body as application/json")


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: never redirect a freshly logged-in user to another host.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@bp.get("/login")
def login():
    """The login page: paste an access token issued with ``gridmap token create``."""
    return render_template("login.html", next=_safe_next(request.args.get("next")), error=None)


@bp.post("/login")
def login_post():
    """Check the token and set the session cookie (form post, or JSON ``{"token": ...}``)."""
    data = request.get_json(silent=True) if request.is_json else None
    token = (data or {}).get("token") if isinstance(data, dict) else request.form.get("token")
    target = _safe_next((data or {}).get("next") if data else request.form.get("next"))
    record = (
        store().check_token(token.strip()) if isinstance(token, str) and token.strip() else None
    )
    if record is None:
        if request.is_json:
            raise ApiError(401, "unknown or revoked token", field="token")
        page = render_template("login.html", next=target, error="令牌无效或已停用 (invalid token)")
        return page, 401
    session.clear()
    session["token_id"] = record.id
    session.permanent = True
    if request.is_json:
        return jsonify({"name": record.name, "role": record.role})
    return redirect(target)


@bp.post("/logout")
def logout():
    session.clear()
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify({"ok": True})
    return redirect("/login")
