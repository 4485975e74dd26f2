"""``GET /openapi.json``: an OpenAPI 3 description of every endpoint of the app."""

from __future__ import annotations

from flask import Blueprint, jsonify

from gridmap.rules.labels import LAYERS
from gridmap.rules.workflow import ACTIONS, INCIDENT_TYPES, STATES

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/responses/Error"}
BBOX = {
    "name": "bbox",
    "in": "query",
    "description": "w,s,e,n in the display datum",
    "schema": {"type": "string", "example": "120.6,30.6,120.9,30.9"},
}
ZOOM = {"name": "zoom", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 24}}
FILTERS = [
    BBOX,
    ZOOM,
    {
        "name": "status",
        "in": "query",
        "description": "comma-separated",
        "schema": {"type": "string"},
    },
    {"name": "type", "in": "query", "description": "comma-separated", "schema": {"type": "string"}},
    {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {
        "name": "grid",
        "in": "query",
        "description": "grid or division code",
        "schema": {"type": "string"},
    },
]


def _path_param(name: str, kind: str = "string") -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _op(summary: str, role: str | None, params=(), body=None, ok="200", content="application/json"):
    op: dict = {
        "summary": summary,
        "parameters": list(params),
        "responses": {ok: {"description": "OK", "content": {content: {}}}, "4XX": ERROR},
    }
    if role:
        op["description"] = f"Needs role {role} or higher."
        op["security"] = [{"bearer": []}, {"session": []}]
    else:
        op["security"] = []
    if body:
        op["requestBody"] = {"required": True, "content": body}
    return op


INCIDENT_BODY = {
    "application/json": {
        "schema": {
            "type": "object",
            "required": ["type", "description"],
            "properties": {
                "type": {"type": "string", "enum": list(INCIDENT_TYPES)},
                "description": {"type": "string", "maxLength": 4000},
                "lon": {"type": "number"},
                "lat": {"type": "number"},
                "crs": {"type": "string", "example": "wgs84"},
                "address": {"type": "string", "maxLength": 500},
            },
        }
    }
}
TRANSITION_BODY = {
    "application/json": {
        "schema": {
            "type": "object",
            "required": ["action"],
            "properties": {
                "action": {"type": "string", "enum": list(ACTIONS)},
                "note": {"type": "string", "maxLength": 4000},
            },
        }
    }
}
OPEN311_POST = {
    "application/x-www-form-urlencoded": {
        "schema": {
            "type": "object",
            "required": ["api_key", "service_code"],
            "properties": {
                "api_key": {"type": "string"},
                "service_code": {"type": "string", "enum": list(INCIDENT_TYPES)},
                "lat": {"type": "number"},
                "long": {"type": "number"},
                "address_string": {"type": "string"},
                "description": {"type": "string", "maxLength": 4000},
            },
        }
    }
}
LOGIN_BODY = {
    "application/x-www-form-urlencoded": {
        "schema": {"type": "object", "properties": {"token": {"type": "string"}}}
    },
    "application/json": {"schema": {"type": "object", "properties": {"token": {"type": "string"}}}},
}


def spec() -> dict:
    """The OpenAPI document (a plain dict)."""
    paths = {
        "/": {
            "get": _op(
                "The one map page (HTML; redirects to /login without a session)",
                "viewer",
                content="text/html",
            )
        },
        "/login": {
            "get": _op("Login page (HTML)", None, content="text/html"),
            "post": _op("Exchange a token for a session cookie", None, body=LOGIN_BODY),
        },
        "/logout": {"post": _op("End the session", None)},
        "/api/config": {"get": _op("Map configuration, user and current version", "viewer")},
        "/api/meta": {
            "get": _op("States, legal moves, roles, labels, KPI formulas, limits", "viewer")
        },
        "/api/layers/{name}": {
            "get": _op(
                "GeoJSON of a layer by bbox, simplified for the zoom",
                "viewer",
                [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": list(LAYERS)},
                    },
                    BBOX,
                    ZOOM,
                ],
            )
        },
        "/api/incidents": {
            "get": _op("Incidents as GeoJSON (clusters above 2,000)", "viewer", FILTERS),
            "post": _op("Report an incident", "field", body=INCIDENT_BODY, ok="201"),
        },
        "/api/incidents/heat": {
            "get": _op("Heat map points [lat, lon, weight]", "viewer", FILTERS)
        },
        "/api/incidents/{incident_id}": {
            "get": _op(
                "One incident with history and allowed actions",
                "viewer",
                [_path_param("incident_id", "integer")],
            )
        },
        "/api/incidents/{incident_id}/transition": {
            "post": _op(
                f"Workflow action; states: {', '.join(STATES)}",
                "field (start/resolve in own grids) or dispatcher",
                [_path_param("incident_id", "integer")],
                body=TRANSITION_BODY,
            )
        },
        "/api/stream": {
            "get": _op(
                "Server-sent incident events (Last-Event-ID resumes)",
                "viewer",
                [
                    {"name": "last_id", "in": "query", "schema": {"type": "integer"}},
                    {"name": "once", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "max_seconds", "in": "query", "schema": {"type": "number"}},
                ],
                content="text/event-stream",
            )
        },
        "/api/geocode": {
            "get": _op(
                "Match an address; its grid",
                "viewer",
                [
                    {
                        "name": "q",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 200},
                    }
                ],
            )
        },
        "/api/kpi": {
            "get": _op(
                "KPIs per level (JSON or CSV)",
                "viewer",
                [
                    {
                        "name": "level",
                        "in": "query",
                        "schema": {
                            "type": "string",
                            "enum": ["grid", "community", "street", "district"],
                        },
                    },
                    {
                        "name": "format",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["json", "csv"]},
                    },
                ],
            )
        },
        "/api/grids/{code}": {
            "get": _op("One grid: properties, KPIs, geometry", "viewer", [_path_param("code")])
        },
        "/api/versions": {
            "get": _op("Published grid versions", "viewer"),
            "post": _op(
                "Publish a grid version from files (multipart: grids, boundaries, addresses, "
                "barriers?, note?)",
                "planner",
                body={"multipart/form-data": {"schema": {"type": "object"}}},
                ok="201",
            ),
        },
        "/api/versions/{version_id}/activate": {
            "post": _op("Make a version current", "planner", [_path_param("version_id", "integer")])
        },
        "/open311/v2/services.json": {"get": _op("GeoReport v2 service list", None)},
        "/open311/v2/requests.json": {
            "get": _op(
                "GeoReport v2 service requests",
                "viewer (api_key or Bearer)",
                [
                    {"name": n, "in": "query", "schema": {"type": "string"}}
                    for n in (
                        "service_request_id",
                        "service_code",
                        "status",
                        "start_date",
                        "end_date",
                        "api_key",
                    )
                ],
            ),
            "post": _op("Create a service request", "field (api_key)", body=OPEN311_POST, ok="201"),
        },
        "/open311/v2/requests/{request_id}.json": {
            "get": _op(
                "One service request",
                "viewer (api_key or Bearer)",
                [_path_param("request_id", "integer")],
            )
        },
        "/openapi.json": {"get": _op("This document", None)},
    }
    from web.api.loop import openapi_paths  # the loop's paths (taxonomy, duplicates, ...)

    paths.update(openapi_paths(_op, _path_param))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "gridmap one map API",
            "version": "1",
            "description": "Grid layers, incidents and their closed loop, KPIs, "
            "Open311 GeoReport v2. "
            "Errors are JSON {error, field} (Open311: [{code, description}]).",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "responses": {
                "Error": {
                    "description": "Bad request, unauthorised, forbidden, not found or conflict",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "error": {"type": "string"},
                                    "field": {"type": "string"},
                                },
                            }
                        }
                    },
                }
            },
        },
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec())
