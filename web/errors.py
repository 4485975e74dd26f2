"""Every error leaves as JSON ``{"error": ..., "field": ...}`` with its HTTP status.

Views raise :class:`ApiError` for bad input; werkzeug's HTTP errors (404, 405, 413 ...) get the same
JSON shape; anything unexpected is logged and answered 500 in JSON (a bug to fix, never by design).
"""

from __future__ import annotations

import re
import sys
import tempfile

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """A request the caller must fix (4xx) or a state the server cannot serve."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def error_body(message: str, field: str | None = None) -> dict:
    body = {"error": message}
    if field:
        body["field"] = field
    return body


def _server_dirs() -> re.Pattern:
    roots = {tempfile.gettempdir(), "/tmp", "/var/tmp", sys.prefix, sys.base_prefix}
    alternatives = "|".join(re.escape(r.rstrip("/")) for r in sorted(roots, key=len, reverse=True))
    return re.compile(rf"(?:{alternatives})/(?:[^\s'\":;,]+/)*([^\s'\":;,/]+)")


_SERVER_PATH = _server_dirs()


def scrub(message: str) -> str:
    """A message without the server's temporary or install paths (only the file's own name).

    >>> scrub("grids: /tmp/gridmap-publish-ddf7a9e5/grids.gpkg: no features")
    'grids: grids.gpkg: no features'
    """
    return _SERVER_PATH.sub(r"\1", message)


def _respond(status: int, message: str, field: str | None = None):
    message = scrub(message)
    if request.path.startswith(
        "/open311/"
    ):  # GeoReport v2 errors are a list of {code, description}
        response = jsonify([{"code": status, "description": message}])
    else:
        response = jsonify(error_body(message, field))
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return _respond(error.status, error.message, error.field)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        response = _respond(error.code or 500, error.description or error.name)
        if error.code == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return _respond(500, "internal error")
