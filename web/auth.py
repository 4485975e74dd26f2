"""Who is calling: API tokens (``Authorization: Bearer``), the browser login session, roles.

Roles rank viewer < field < dispatcher < planner < admin. Tokens are stored hashed (sha256); the
login page exchanges a token for a server-side session (``store.create_session``): the signed cookie
holds only the session's random id, so logging out (``end_session``) or revoking the token ends it
on the server, and a copied cookie replayed afterwards is worthless.

Logging in and out are writes like any other: a browser must name this site in ``Origin`` (or
``Referer``), so another site cannot log a visitor in as the attacker (login CSRF) nor out.

>>> _safe_next("/\t/evil.example"), _safe_next("/incidents?id=3"), _safe_next("//evil.example")
('/', '/incidents?id=3', '/')
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

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
from web.schema import FORM_TYPES, LoginIn, parse_form

bp = Blueprint("auth", __name__, template_folder="templates")
SESSION_KEY = "sid"  # the cookie holds only the server-side session's id


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
    """The caller of this request (Bearer token, Open311/OGC api_key or session), or None."""
    if "gridmap_user" in g:
        return g.gridmap_user
    token = _bearer()
    if token is None and request.path.startswith("/ogc"):
        # GIS clients (QGIS, GDAL's OAPIF driver) may pass the key in the URL, as Open311 does.
        token = request.args.get("api_key") or None
    if token is None and request.path.startswith("/open311/"):
        token = request.values.get("api_key") or None
        if token is None and request.is_json:  # a JSON body may carry it too
            body = request.get_json(silent=True)
            value = body.get("api_key") if isinstance(body, dict) else None
            token = value if isinstance(value, str) and value else None
    record = None
    if token is not None:
        record = store().check_token(token)
    elif not request.path.startswith("/open311/"):
        # Open311 callers authenticate with api_key as the spec says, never with a cookie.
        sid = session.get(SESSION_KEY)
        record = store().check_session(sid) if isinstance(sid, str) and sid else None
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

        inner.gridmap_role = role  # read by /openapi.json
        return inner

    return wrap


def _source_host() -> str | None:
    """The host a browser says the request comes from (``Origin``, else ``Referer``), or None.

    ``Origin: null`` (a sandboxed frame or a redirect) yields ``"null"``, which matches no host.
    """
    origin = request.headers.get("Origin")
    if origin:
        return origin.split("://", 1)[-1].rstrip("/") if origin != "null" else "null"
    referer = request.headers.get("Referer")
    if referer:
        return urlsplit(referer).netloc or "null"
    return None


def check_same_site() -> None:
    """Refuse a write that a page on another site could have sent from a visitor's browser.

    A browser names its page in ``Origin`` (or ``Referer``): it must be this host. A request that
    names neither must be JSON: an HTML form on another site cannot send JSON without a CORS
    preflight, which this app never grants.
    """
    source = _source_host()
    if source is not None:
        if source != request.host:
            raise ApiError(403, "cross-site request refused")
    elif not request.is_json:
        raise ApiError(415, "send the body as application/json")


def check_cross_site_write() -> None:
    """Refuse a cookie-authenticated write that a page on another site could have sent.

    The session cookie is SameSite=Lax already; on top of that :func:`check_same_site` applies
    to every write riding on the cookie. Bearer callers are exempt (a browser never adds one).
    """
    if request.method in ("GET", "HEAD", "OPTIONS") or _bearer() is not None:
        return
    if SESSION_KEY not in session:
        return
    check_same_site()


_UNSAFE_NEXT = re.compile(r"[\\\s\x00-\x1f\x7f]")


def _safe_next(target: object) -> str:
    # Only a path on this site. Browsers drop tabs and newlines inside URLs ("/\t/evil" becomes
    # "//evil", another host), so any whitespace, control character or backslash is refused.
    if not isinstance(target, str) or not target.startswith("/") or _UNSAFE_NEXT.search(target):
        return "/"
    parts = urlsplit(target)
    if target.startswith("//") or parts.scheme or parts.netloc:
        return "/"
    return target


@bp.get("/login")
def login():
    """The login page: paste an access token issued with ``gridmap token create``."""
    return render_template("login.html", next=_safe_next(request.args.get("next")), error=None)


@bp.post("/login")
def login_post():
    """Check the token and start a session (form post, or JSON ``{"token": ..., "next": ...}``)."""
    check_same_site()
    as_json = request.mimetype not in FORM_TYPES
    try:
        form = parse_form(LoginIn)
    except ApiError as error:
        if as_json:
            raise
        page = render_template("login.html", next="/", error=f"请求无效 (bad request): {error}")
        return page, 400
    target = _safe_next(form.next)
    if form.next is not None and target != form.next and as_json:
        raise ApiError(400, "next must be a path on this site, such as /", field="next")
    record = store().check_token(form.token)
    if record is None:
        if as_json:
            raise ApiError(401, "unknown or revoked token", field="token")
        page = render_template("login.html", next=target, error="令牌无效或已停用 (invalid token)")
        return page, 401
    _end_session()
    session[SESSION_KEY] = store().create_session(record.id)
    session.permanent = True
    if as_json:
        return jsonify({"name": record.name, "role": record.role})
    return redirect(target)


def _end_session() -> None:
    sid = session.get(SESSION_KEY)
    if isinstance(sid, str) and sid:
        store().end_session(sid)
    session.clear()


@bp.post("/logout")
def logout():
    """End the session on the server (a copy of the cookie stops working too)."""
    check_same_site()
    _end_session()
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify({"ok": True})
    return redirect("/login")
