"""Response headers every answer carries, the page's Content-Security-Policy, log redaction.

``register(app)`` (one line in ``create_app``) installs an ``after_request`` hook:

- every HTML answer gets a strict CSP: scripts and styles only from this origin or carrying the
  request's nonce (:func:`csp_nonce`, also ``{{ csp_nonce() }}`` in templates), no ``eval``, no
  plugins, no ``<base>``, forms post only here, no framing by other sites. MapLibre GL builds its
  workers from ``blob:`` URLs, hence ``worker-src``/``child-src blob:``; the basemap's origin (from
  ``BASEMAP_URL``) is added to ``img-src`` and ``connect-src``;
- every other answer gets ``default-src 'none'`` (a JSON answer opened as a page runs nothing);
- ``Referrer-Policy``, ``X-Content-Type-Options``, ``X-Frame-Options`` everywhere;
- ``Cache-Control: no-store`` on API answers (``/api/``, ``/open311/``, ``/login``, ``/logout``)
  unless the view chose its own caching (tiles with an ETag);
- ``Server: gridmap``: neither the WSGI server's nor Python's version is announced.

>>> redact("GET /open311/v2/requests.json?api%5Fkey=s3cret HTTP/1.1")
'GET /open311/v2/requests.json?api%5Fkey=*** HTTP/1.1'
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import unquote_plus

from flask import Flask, Response, current_app, g, request

SERVER_NAME = "gridmap"
NONCE_BYTES = 18
REFERRER_POLICY = (
    "strict-origin-when-cross-origin"  # tile hosts that check referrers see the origin
)
NO_STORE_PREFIXES = ("/api/", "/open311/", "/login", "/logout", "/openapi.json")
#: Query parameter names whose values are secrets: never written to a log.
SECRET_PARAMS = frozenset({"api_key", "apikey", "token", "access_token", "password", "key"})


def csp_nonce() -> str:
    """This request's CSP nonce (random, base64url); the same value for every call in a request.

    Put it on an inline ``<script nonce="...">`` or ``<style nonce="...">``; a cached page can
    hold :data:`NONCE_PLACEHOLDER` and replace it per request with this value.
    """
    if "gridmap_csp_nonce" not in g:
        g.gridmap_csp_nonce = secrets.token_urlsafe(NONCE_BYTES)
    return g.gridmap_csp_nonce


NONCE_PLACEHOLDER = "__GRIDMAP_CSP_NONCE__"


def basemap_source(url: str) -> str | None:
    """The CSP source that admits a basemap tile template's host(s).

    >>> basemap_source("https://t{s}.tianditu.gov.cn/img_w/{z}/{x}/{y}?tk=K")
    'https://*.tianditu.gov.cn'
    >>> basemap_source("http://127.0.0.1:8080/{z}/{x}/{y}.png"), basemap_source("/tiles/{z}")
    ('http://127.0.0.1:8080', None)
    """
    scheme, rest = url.split("://", 1) if "://" in url else ("", "")
    netloc = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    if scheme not in ("http", "https") or not netloc:
        return None  # a relative template is this origin: 'self' covers it
    if "{" in netloc:  # a subdomain template (t{s}.host): CSP allows '*.' as the leftmost label
        netloc = "*." + netloc.split(".", 1)[-1]
    return f"{scheme}://{netloc}"


def page_policy(nonce: str, basemap_url: str = "") -> str:
    """The CSP of an HTML page.

    >>> policy = page_policy("abc", "https://t{s}.example.cn/{z}/{x}/{y}.png")
    >>> "script-src 'self' 'nonce-abc'" in policy and "worker-src 'self' blob:" in policy
    True
    >>> "img-src 'self' data: blob: https://*.example.cn" in policy
    True
    """
    source = basemap_source(basemap_url) if basemap_url else None
    extra = f" {source}" if source else ""
    directives = [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        # style="..." attributes (MapLibre popups) cannot run script; <style> needs the nonce
        "style-src-attr 'unsafe-inline'",
        f"img-src 'self' data: blob:{extra}",
        f"connect-src 'self'{extra}",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "child-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
    return "; ".join(directives)


DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


def _secure(response: Response) -> Response:
    headers = response.headers
    if response.mimetype == "text/html":
        policy = page_policy(csp_nonce(), current_app.config.get("BASEMAP_URL") or "")
        headers.setdefault("Content-Security-Policy", policy)
    else:
        headers.setdefault("Content-Security-Policy", DATA_POLICY)
    headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    if request.path.startswith(NO_STORE_PREFIXES) and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    headers["Server"] = SERVER_NAME  # werkzeug and waitress keep an app's own Server header
    return response


def register(app: Flask) -> None:
    """Install the request guard (:func:`web.schema.guard_request`), the headers hook and the
    ``csp_nonce()`` template global."""
    from web.schema import guard_request

    app.before_request(guard_request)
    app.after_request(_secure)
    app.add_template_global(csp_nonce, "csp_nonce")


# -- the request log ---------------------------------------------------------------------------


def _decoded_name(name: str) -> str:
    # Decode until stable: api%5Fkey, api%255Fkey and API_KEY all read as api_key.
    for _ in range(5):
        decoded = unquote_plus(name)
        if decoded == name:
            break
        name = decoded
    return name.strip().lower()


def redact_query(query: str) -> str:
    """A query string with the values of secret parameters (:data:`SECRET_PARAMS`) starred.

    >>> redact_query("status=open&API%5FKEY=s3cret&api_key=x%26y&q=1")
    'status=open&API%5FKEY=***&api_key=***&q=1'
    """
    parts = []
    for pair in query.split("&"):
        name, sep, _value = pair.partition("=")
        if sep and _decoded_name(name) in SECRET_PARAMS:
            pair = f"{name}=***"
        parts.append(pair)
    return "&".join(parts)


_TARGET = re.compile(r"(?P<head>\S*?)\?(?P<query>\S*)")


def redact(line: str) -> str:
    """A request line (or path) with secret query values starred, whatever their spelling.

    >>> redact("GET /open311/v2/requests.json?api_key=s3cret&status=open HTTP/1.1")
    'GET /open311/v2/requests.json?api_key=***&status=open HTTP/1.1'
    >>> redact("GET /x?%61pi%5fkey=s3cret HTTP/1.1")
    'GET /x?%61pi%5fkey=*** HTTP/1.1'
    """
    return _TARGET.sub(lambda m: f"{m['head']}?{redact_query(m['query'])}", line)
