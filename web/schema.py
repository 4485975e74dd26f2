"""Every request the app accepts, as pydantic models, and ``/openapi.json`` generated from them.

One truth per rule: the limits (``MAX_*``) live here, the enums come from the rule modules, and
the OpenAPI document is built from these models and the app's own URL map, so the document, the
validation and the error messages cannot disagree. Views parse with :func:`parse_json`,
:func:`parse_query` or :func:`parse_form`; a bad request is an :class:`~web.errors.ApiError` 400
naming the field.

Below the models sits the request guard (:func:`guard_request`, installed by
``web.security.register``): before any view runs, a body must be strict UTF-8 and strict JSON
(no NaN, no integer longer than 20 digits, no lone surrogate, no duplicate key, an object at the
top), and form bodies, query strings and paths must be valid UTF-8. The views then never see
what Python would turn into a 500.

>>> parse(IncidentIn, {"type": "garbage", "description": "  ", "lon": 1, "lat": 2})
Traceback (most recent call last):
...
web.errors.ApiError: description: must not be empty
>>> parse(IncidentIn, {"type": "垃圾堆放", "description": "x", "lon": 120, "lat": 30}).type_code
'garbage'
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import unquote_to_bytes

from flask import Flask, g, request
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from gridmap.rules import labels
from gridmap.rules.labels import LAYERS
from gridmap.rules.workflow import ACTIONS, INCIDENT_TYPES, STATES, iso, parse_iso
from gridmap.services.reporting import MAX_ADDRESS, MAX_DESCRIPTION
from web.errors import ApiError

# -- limits (the one place they are written; /api/meta and the views read them from here) -------

# MAX_DESCRIPTION and MAX_ADDRESS belong to the reporting service (gridmap.services.reporting).
MAX_NOTE = 4000
MAX_QUERY = 200
MAX_TOKEN = 200
MAX_NEXT = 2000
MAX_CODE = 32
MAX_INT_DIGITS = 20  # a JSON integer longer than this is refused before it reaches a float()
MAX_ID = 2**63 - 1  # SQLite INTEGER and PostgreSQL bigint
KPI_LEVELS = ("grid", "community", "street", "district")
KPI_FORMATS = ("json", "csv")
OPEN311_STATUSES = ("open", "closed")


def limits() -> dict[str, int]:
    """The limits a client may want to show (``GET /api/meta``)."""
    return {
        "description": MAX_DESCRIPTION,
        "address": MAX_ADDRESS,
        "note": MAX_NOTE,
        "query": MAX_QUERY,
    }


# -- field types -------------------------------------------------------------------------------

_CONTROL_OK = "\t\n\r"


def _no_controls(value: str) -> str:
    # NUL and other control characters break logs, CSV exports and some databases.
    if any(unicodedata.category(c) == "Cc" and c not in _CONTROL_OK for c in value):
        raise ValueError("must not contain control characters")
    return value


def _not_empty(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


def _text(limit: int, required: bool, one_line: bool = False):
    checks: list = [AfterValidator(_no_controls)]
    if one_line:
        checks.append(AfterValidator(_one_line))
    if required:
        checks.append(AfterValidator(_not_empty))
    return Annotated[str, StringConstraints(strip_whitespace=True, max_length=limit), *checks]


def _one_line(value: str) -> str:
    if any(c in value for c in _CONTROL_OK):
        raise ValueError("must be one line")
    return value


_NUMBER_TEXT = re.compile(r"^\s*-?\d{1,15}(\.\d{1,20})?([eE][-+]?\d{1,3})?\s*$")
_INT_TEXT = re.compile(r"^\s*\d{1,19}\s*$")


def _number_in(value: Any) -> Any:
    # JSON numbers and decimal text (Open311 forms); never a bool, never "1_0" or "nan".
    if isinstance(value, bool):
        raise ValueError("must be a number")
    if isinstance(value, str) and not _NUMBER_TEXT.match(value):
        raise ValueError("must be a number")
    return value


def _int_in(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    if isinstance(value, str) and not _INT_TEXT.match(value):
        raise ValueError("must be an integer")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


# Coordinates are finite numbers here; whether they lie in the city (or on Earth: 422) is the
# reporting service's rule, in the datum it names.
Lon = Annotated[float, BeforeValidator(_number_in), AfterValidator(_finite)]
Lat = Annotated[float, BeforeValidator(_number_in), AfterValidator(_finite)]
Zoom = Annotated[float, BeforeValidator(_number_in), Field(ge=0, le=24)]
Id = Annotated[int, BeforeValidator(_int_in), Field(ge=0, le=MAX_ID)]


def _iso(value: str) -> str:
    try:
        return iso(parse_iso(value))
    except (ValueError, OverflowError):
        raise ValueError("must be an ISO 8601 time such as 2026-11-29T08:00:00+08:00") from None


Time = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=40),
    AfterValidator(_iso),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def _comma_list(value: Any) -> Any:
    # A query list is comma-separated text (OpenAPI style=form, explode=false).
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def _enum(values) -> Any:
    return Literal[tuple(values)]  # type: ignore[valid-type]


# Incident types are the store's taxonomy subclasses (a city loads its own) plus the built-in
# types: the view checks them against the store (400 naming the field), not a fixed enum here.
IncidentType = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=60),
    WithJsonSchema(
        {
            "type": "string",
            "description": "a subclass code or name of GET /api/taxonomy, or a built-in type",
            "examples": ["E0101", "暴露垃圾", *INCIDENT_TYPES],
        }
    ),
]
ServiceCode = IncidentType
Channel = _enum(tuple(labels.CHANNELS))
# An action outside the list is a 409 from the workflow ("allowed: ..."), not a parse error.
Action = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
    WithJsonSchema({"type": "string", "enum": list(ACTIONS)}),
]
State = _enum(STATES)
Layer = _enum(tuple(LAYERS))
Code = Annotated[str, StringConstraints(pattern=r"^\d{1,32}$")]


class Model(BaseModel):
    """Base: unknown fields are ignored (clients send extras), nothing is coerced silently."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=False)


# -- bodies ------------------------------------------------------------------------------------


class IncidentIn(Model):
    """``POST /api/incidents``: a report at ``lon``/``lat`` (display datum or ``crs``) or an
    ``address``."""

    type: IncidentType | None = Field(default=None, description="a built-in incident type")
    category: IncidentType | None = Field(
        default=None, description="taxonomy subclass code or name (GET /api/taxonomy)"
    )
    channel: Channel | None = Field(default=None, description="where the report came from")
    description: _text(MAX_DESCRIPTION, required=True)
    lon: Lon | None = None
    lat: Lat | None = None
    crs: Annotated[str, StringConstraints(max_length=20, pattern=r"^[A-Za-z0-9:_-]+$")] | None = (
        Field(default=None, examples=["wgs84"])
    )
    address: _text(MAX_ADDRESS, required=False) = ""

    @property
    def type_code(self) -> str:
        """The type as its code (a Chinese name is accepted too)."""
        from gridmap.services.reporting import incident_type

        return incident_type(self.type)


class TransitionIn(Model):
    """``POST /api/incidents/{id}/transition``: one workflow action with an optional note."""

    action: Action
    note: _text(MAX_NOTE, required=False) = ""
    department: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="with dispatch: department code or name"
    )
    follow_up: dict[str, Any] | None = Field(
        default=None,
        description="with close: {method: phone|visit, satisfied: bool, note}",
    )


class LoginIn(Model):
    """``POST /login`` (JSON or form): an access token and where to go afterwards."""

    token: Annotated[_text(MAX_TOKEN, required=True, one_line=True), Field()]
    next: _text(MAX_NEXT, required=False, one_line=True) | None = None


class Open311RequestIn(Model):
    """``POST /open311/v2/requests.json`` (form-encoded as in GeoReport v2, or JSON)."""

    service_code: ServiceCode
    lat: Lat | None = None
    long: Lon | None = None
    address_string: _text(MAX_ADDRESS, required=False) = ""
    description: _text(MAX_DESCRIPTION, required=False) = ""
    api_key: Annotated[str, StringConstraints(max_length=MAX_TOKEN)] | None = None
    channel: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        default=None, alias="attribute[channel]", description="where the report came from"
    )

    @model_validator(mode="after")
    def _both(self):
        if (self.lat is None) != (self.long is None):
            raise ValueError("give both lat and long, or address_string")
        return self

    @model_validator(mode="after")
    def _somewhere(self):
        if self.lat is None and not self.address_string:
            raise ValueError("a location is required: lat and long, or address_string")
        return self


class PublishForm(Model):
    """``POST /api/versions`` (multipart): the text field beside the files."""

    note: _text(MAX_NOTE, required=False) = ""


# -- query strings -----------------------------------------------------------------------------


def _bbox(value: list[float]) -> tuple[float, float, float, float]:
    w, s, e, n = value
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= 90 and -90 <= n <= 90):
        raise ValueError("is outside lon -180..180 / lat -90..90")
    if w > e or s > n:
        raise ValueError("must be w,s,e,n with w <= e and s <= n")
    return (w, s, e, n)


BBox = Annotated[
    list[Annotated[float, BeforeValidator(_number_in), AfterValidator(_finite)]],
    BeforeValidator(_comma_list),
    Field(min_length=4, max_length=4, description="w,s,e,n in the display datum"),
    AfterValidator(_bbox),
]


def _list(item) -> Any:
    return Annotated[list[item], BeforeValidator(_comma_list), Field(max_length=64)]


class ViewQuery(Model):
    """``bbox`` and ``zoom`` of a map view."""

    bbox: BBox | None = None
    zoom: Zoom | None = None


class IncidentQuery(ViewQuery):
    """Incident filters: view, states, types, time window, grid or division code."""

    status: _list(State) = []
    type: _list(IncidentType) = []
    since: Time | None = None
    until: Time | None = None
    grid: Code | None = Field(default=None, description="grid or division code")
    # field: the loop's filters (a department's incidents, channels, escalated or not)
    department: _text(32, required=True, one_line=True) | None = Field(
        default=None, description="department code"
    )
    channel: _list(_enum(labels.CHANNELS)) = []
    escalated: bool | None = Field(default=None, description="1: escalated (督办); 0: not")


class GeocodeQuery(Model):
    q: _text(MAX_QUERY, required=True)


class KpiQuery(Model):
    level: _enum(KPI_LEVELS) = "grid"
    format: _enum(KPI_FORMATS) = "json"
    version: Annotated[Id, Field(ge=1)] | None = Field(default=None, description="grid version id")


class StreamQuery(Model):
    last_id: Id | None = None
    once: bool = False
    max_seconds: Annotated[float, BeforeValidator(_number_in), Field(ge=0, le=3600)] | None = None


def _digits_in(value: Any) -> Any:
    if isinstance(value, bool) or (isinstance(value, str) and not re.fullmatch(r"\d{1,40}", value)):
        raise ValueError("must be a request id (digits)")
    return value


class Open311Query(Model):
    """GeoReport v2 ``GET requests.json`` filters."""

    # An id past 64 bits names no request: not found, like any unknown id (see MAX_ID).
    service_request_id: _list(Annotated[int, BeforeValidator(_digits_in), Field(ge=1)]) = []
    service_code: _list(ServiceCode) = []
    status: _list(_enum(OPEN311_STATUSES)) = []
    start_date: Time | None = None
    end_date: Time | None = None
    api_key: Annotated[str, StringConstraints(max_length=MAX_TOKEN)] | None = None


M = TypeVar("M", bound=Model)

# -- parsing -----------------------------------------------------------------------------------


def _message(error: ValidationError) -> tuple[str, str | None]:
    first = error.errors(include_url=False)[0]
    field = ".".join(str(p) for p in first["loc"] if not isinstance(p, int)) or None
    text = first["msg"].removeprefix("Value error, ")
    if first["type"] == "literal_error":
        text = "must be one of " + first["msg"].split("Input should be ", 1)[-1]
    elif first["type"] == "missing":
        text = "is required"
    return (f"{field}: {text}" if field else text), field


def parse(model: type[M], data: Any) -> M:
    """``data`` validated as ``model``; ApiError 400 naming the first bad field otherwise."""
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        message, field = _message(error)
        raise ApiError(400, message, field=field) from None


def parse_json(model: type[M]) -> M:
    """The request's JSON body as ``model`` (the guard has checked it is strict JSON)."""
    if not request.get_data(cache=True):
        raise ApiError(400, "request body must be a JSON object")
    return parse(model, _strict_body())


def _strict_body() -> Any:
    """The request body through :func:`strict_json`, parsed once per request (the guard and
    the view both ask)."""
    if "gridmap_body" not in g:
        g.gridmap_body = strict_json(request.get_data(cache=True))
    return g.gridmap_body


def parse_query(model: type[M]) -> M:
    """The query string as ``model`` (a repeated parameter: its first value)."""
    return parse(model, {k: v for k, v in request.args.items()})


def parse_form(model: type[M]) -> M:
    """A form or a JSON body as ``model`` (Open311 and /login take either)."""
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return parse(model, request.form.to_dict())
    return parse_json(model)


# -- the request guard -------------------------------------------------------------------------


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits is too long")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:30]} is out of range")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _object(pairs: list[tuple[str, Any]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in an object")
    return result


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            item.encode("utf-8")  # a lone surrogate (\ud800) raises UnicodeEncodeError
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def strict_json(raw: bytes) -> Any:
    """Parse a body as strict JSON; ApiError 400 saying what is wrong otherwise.

    >>> strict_json(b'{"lon": 1' + b'0' * 400 + b'}')
    Traceback (most recent call last):
    ...
    web.errors.ApiError: malformed JSON: an integer of 401 digits is too long
    >>> strict_json(b'{"note": "\\\\ud800"}')
    Traceback (most recent call last):
    ...
    web.errors.ApiError: malformed JSON: a lone surrogate (\\ud800..\\udfff) is not text
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, f"body is not valid UTF-8 (byte {error.start})") from None
    try:
        value = json.loads(
            text.removeprefix("\ufeff"),
            parse_int=_bounded_int,
            parse_float=_finite_float,
            parse_constant=_no_constant,
            object_pairs_hook=_object,
        )
        _check_strings(value)
    except UnicodeEncodeError:
        message = "a lone surrogate (\\ud800..\\udfff) is not text"
        raise ApiError(400, f"malformed JSON: {message}") from None
    except RecursionError:
        raise ApiError(400, "malformed JSON: nested too deeply") from None
    except ValueError as error:
        raise ApiError(400, f"malformed JSON: {error}") from None
    return value


def _utf8_pairs(raw: bytes, what: str) -> None:
    for pair in raw.split(b"&"):
        for part in pair.split(b"=", 1):
            try:
                unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(400, f"{what} is not valid UTF-8") from None


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def guard_request() -> None:
    """Refuse, before any view, what no endpoint accepts (see the module docstring)."""
    try:
        request.environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise ApiError(404, "the path is not valid UTF-8") from None
    _utf8_pairs(request.query_string, "the query string")
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not 0 <= value <= MAX_ID:
            raise ApiError(404, f"{name} {value} does not exist", field=name)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.mimetype == "multipart/form-data":
        return  # uploads (publish) have their own limit and readers
    raw = request.get_data(cache=True)  # 413 past MAX_CONTENT_LENGTH, as JSON
    if not raw:
        return
    if request.mimetype == "application/x-www-form-urlencoded":
        _utf8_pairs(raw, "the form body")
        return
    data = _strict_body()
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")


# -- /openapi.json -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    """What the OpenAPI document says of one endpoint beyond the URL map and the view."""

    query: type[Model] | None = None
    body: type[Model] | None = None
    body_types: tuple[str, ...] = ("application/json",)
    ok: str = "200"
    content: str = "application/json"
    role: str | None = "viewer"
    files: tuple[str, ...] = ()


#: endpoint name (Flask) -> its document. Endpoints not listed are described from the URL map
#: and the view's docstring alone (no parameters beyond the path).
DOCS: dict[str, Doc] = {
    "map.index": Doc(content="text/html"),
    "auth.login": Doc(content="text/html", role=None),
    "auth.login_post": Doc(
        body=LoginIn,
        body_types=("application/json", "application/x-www-form-urlencoded"),
        role=None,
    ),
    "auth.logout": Doc(role=None),
    "api.layer": Doc(query=ViewQuery),
    "api.incidents": Doc(query=IncidentQuery),
    "api.incidents_heat": Doc(query=IncidentQuery),
    "api.create_incident": Doc(body=IncidentIn, ok="201", role="field"),
    "api.transition": Doc(body=TransitionIn, role="field"),
    "api.stream": Doc(query=StreamQuery, content="text/event-stream"),
    "api.geocode": Doc(query=GeocodeQuery),
    "api.kpi": Doc(query=KpiQuery),
    "api.publish_version": Doc(
        body=PublishForm,
        body_types=("multipart/form-data",),
        ok="201",
        role="planner",
        files=("grids", "boundaries", "addresses", "barriers"),
    ),
    "api.activate_version": Doc(role="planner"),
    "open311.services": Doc(role=None),
    "open311.list_requests": Doc(query=Open311Query),
    "open311.one_request": Doc(),
    "open311.create_request": Doc(
        body=Open311RequestIn,
        body_types=("application/x-www-form-urlencoded", "application/json"),
        ok="201",
        role="field",
    ),
    "openapi.openapi": Doc(role=None),
}
PATH_ENUMS = {("api.layer", "name"): tuple(LAYERS)}
_CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _schema(model: type[Model], defs: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs.update(schema.pop("$defs", {}))
    return schema


def _parameters(rule, endpoint: str, doc: Doc, defs: dict) -> tuple[str, list[dict]]:
    params = []

    def path_param(match: re.Match) -> str:
        converter, name = match.group(1) or "default", match.group(2)
        schema: dict = {"type": "string", "minLength": 1}
        if converter == "int":
            schema = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
        if (endpoint, name) in PATH_ENUMS:
            schema = {"type": "string", "enum": list(PATH_ENUMS[(endpoint, name)])}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    path = _CONVERTER.sub(path_param, rule.rule)
    if doc.query is not None:
        schema = _schema(doc.query, defs)
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if prop.get("type") == "array" or "array" in json.dumps(prop.get("anyOf", "")):
                param |= {"style": "form", "explode": False}
            params.append(param)
    return path, params


def openapi(app: Flask) -> dict:
    """The OpenAPI 3.1 document of every route of ``app`` (static files excepted)."""
    paths: dict[str, dict] = {}
    defs: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        doc = DOCS.get(rule.endpoint, Doc())
        view = app.view_functions[rule.endpoint]
        role = getattr(view, "gridmap_role", doc.role)
        summary = ((view.__doc__ or rule.endpoint).strip().splitlines() or [""])[0]
        path, params = _parameters(rule, rule.endpoint, doc, defs)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict = {
                "operationId": rule.endpoint,
                "summary": summary,
                "parameters": params,
                "responses": {
                    doc.ok: {"description": "OK", "content": {doc.content: {}}},
                    "4XX": {"$ref": "#/components/responses/Error"},
                },
                "security": [{"bearer": []}, {"session": []}] if role else [],
            }
            if role:
                op["description"] = f"Needs role {role} or higher."
            if doc.body is not None:
                schema = _schema(doc.body, defs)
                for name in doc.files:
                    schema["properties"][name] = {"type": "string", "format": "binary"}
                schema.setdefault("required", [])
                schema["required"] += [n for n in doc.files if n != "barriers"]
                op["requestBody"] = {
                    "required": True,
                    "content": {kind: {"schema": schema} for kind in doc.body_types},
                }
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gridmap one map API",
            "version": "1",
            "description": "Grid layers, incidents and their closed loop, KPIs, Open311 "
            "GeoReport v2. Errors are JSON {error, field} (Open311: [{code, description}]).",
        },
        "paths": paths,
        "components": {
            "schemas": defs,
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
                                "type": ["object", "array"],
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


# -- field (issue 12: the field page, photos) --------------------------------------------------


class PhotoForm(Model):
    """``POST /api/incidents/{id}/photos`` (multipart): the file field ``photo`` only."""


class LocateQuery(Model):
    """``GET /api/locate``: a point (``crs`` as for reports: wgs84 by default)."""

    lon: Annotated[Lon, Field(ge=-180, le=180)]
    lat: Annotated[Lat, Field(ge=-90, le=90)]
    crs: _text(40, required=False, one_line=True) | None = None


DOCS |= {
    "api.upload_photo": Doc(
        body=PhotoForm,
        body_types=("multipart/form-data",),
        ok="201",
        role="field",
        files=("photo",),
    ),
    "api.list_photos": Doc(role="field"),
    "api.photo": Doc(role="field", content="image/jpeg"),
    "api.locate_point": Doc(query=LocateQuery, role="field"),
    "api.field_tasks": Doc(role="field"),
    "api.field_grids": Doc(role="field"),
    "field.page": Doc(content="text/html"),
}


# -- clerk: batch geocoding (web/api/batch.py) --------------------------------------------------


class BatchGeocodeForm(Model):
    """``POST /api/batch-geocode`` (multipart): the CSV file ``file`` (columns id,address or
    编号,地址; UTF-8 or GBK; at most ``BATCH_GEOCODE_MAX_BYTES``, default 20 MB)."""


class BatchListQuery(Model):
    limit: Annotated[int, BeforeValidator(_int_in), Field(ge=1, le=100)] = 20


# -- planner (issue 9): plans, version exports ---------------------------------------------------
# Bounds on what a planner may ask for: far beyond any real grid, small enough that no number
# reaches the partitioner as an overflow.
MAX_PLAN_HOUSEHOLDS = 100_000
MAX_PLAN_POPULATION = 10_000_000
MAX_PLAN_LOCKS = 5_000


def _plan_int(low: int, high: int):
    # The bounds before the validator: /openapi.json then says minimum/maximum.
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_int_in)]


def _plan_number(low: float, high: float, *, strict_low: bool = False):
    bound = Field(gt=low, le=high) if strict_low else Field(ge=low, le=high)
    return Annotated[float, bound, BeforeValidator(_number_in), AfterValidator(_finite)]


def _micro_band(value: Any) -> Any:
    # "30-150" (the CLI's form), "off", null or [30, 150]
    from gridmap.partition.micro import parse_band

    if value is None:
        return None
    if isinstance(value, str):
        return parse_band(value)
    if isinstance(value, list) and len(value) == 2:
        return value
    raise ValueError("must be MIN-MAX (e.g. 30-150), [MIN, MAX] or off")


def _band_order(value: tuple[int, int] | None) -> tuple[int, int] | None:
    if value is not None and not (value[0] <= value[1] and value[1] >= 1):
        raise ValueError("must be MIN-MAX with MIN <= MAX and MAX >= 1")
    return value


GridCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{15}$")]


def _plan_categories():
    from gridmap.model import SITE_CATEGORIES

    return _enum(SITE_CATEGORIES)


def _default_categories() -> list[str]:
    from gridmap.partition.config import DEFAULT_EXCLUSIVE_CATEGORIES

    return list(DEFAULT_EXCLUSIVE_CATEGORIES)


class PlanIn(Model):
    """``POST /api/plans``: the options of ``gridmap partition`` under the same names, and where
    the inputs come from (``current``: the current version's boundaries, roads and address
    library; ``upload``: the files of this multipart request). The current version is always the
    earlier layer the plan keeps codes from."""

    source: _enum(("current", "upload")) = "current"
    min_households: _plan_int(0, MAX_PLAN_HOUSEHOLDS) = 300
    max_households: _plan_int(1, MAX_PLAN_HOUSEHOLDS) = Field(default=500, validate_default=True)
    max_population: _plan_int(1, MAX_PLAN_POPULATION) | None = 2500
    max_area_km2: _plan_number(0, 10_000, strict_low=True) | None = None
    micro_households: Annotated[
        tuple[
            Annotated[int, BeforeValidator(_int_in), Field(ge=0, le=MAX_PLAN_HOUSEHOLDS)],
            Annotated[int, BeforeValidator(_int_in), Field(ge=0, le=MAX_PLAN_HOUSEHOLDS)],
        ]
        | None,
        BeforeValidator(_micro_band),
        AfterValidator(_band_order),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "examples": ["30-150", "off"]},
                    {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
                    {"type": "null"},
                ]
            }
        ),
    ] = (30, 150)
    locks: (
        Annotated[list[GridCode], BeforeValidator(_comma_list), Field(max_length=MAX_PLAN_LOCKS)]
        | None
    ) = Field(
        default=None,
        description="grid codes of the current version to keep exactly (absent: the ones "
        "the current version has locked; [] for none)",
    )
    exclusive_categories: Annotated[
        list[_plan_categories()], BeforeValidator(_comma_list), Field(max_length=16)
    ] = Field(default_factory=_default_categories)
    exclusive_min_area_m2: _plan_number(0, 1e9) = 20_000.0
    exclusive_min_headcount: _plan_int(0, MAX_PLAN_POPULATION) = 300
    exclusive_ratio_limit: _plan_number(0, 100) = 0.25

    @field_validator("max_households")
    @classmethod
    def _band(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_households")
        if low is not None and low > value:
            raise ValueError(f"{value} is below min_households {low}")
        return value


_BINARY = WithJsonSchema({"type": "string", "format": "binary"})


class PlanForm(PlanIn):
    """``POST /api/plans`` as multipart: the fields of :class:`PlanIn` (lists comma-separated)
    and the input files (GeoPackage, GeoJSON, CSV or a zipped Shapefile)."""

    boundaries: Annotated[str | None, _BINARY] = None
    addresses: Annotated[str | None, _BINARY] = None
    barriers: Annotated[str | None, _BINARY] = None
    sites: Annotated[str | None, _BINARY] = None


class PlanPublishIn(Model):
    """``POST /api/plans/{id}/publish``: the new version's note."""

    note: _text(MAX_NOTE, required=False) = ""


class PlanListQuery(Model):
    limit: Annotated[int, BeforeValidator(_int_in), Field(ge=1, le=200)] = 20


def _export_formats():
    from gridmap.services.export import ENCODINGS, FORMATS, LAYERS

    return _enum(FORMATS), _enum(tuple(LAYERS)), _enum(tuple(ENCODINGS))


_FORMAT, _EXPORT_LAYER, _ENCODING = _export_formats()


class ExportQuery(Model):
    """``GET /api/versions/{id}/export``: the file format, one layer (default: all) and the
    text encoding of Shapefile and CSV."""

    format: _FORMAT = "gpkg"
    layer: _EXPORT_LAYER | None = None
    encoding: _ENCODING = "utf-8"


DOCS.update(
    {
        "api.create_batch_geocode": Doc(
            body=BatchGeocodeForm,
            body_types=("multipart/form-data",),
            ok="202",
            role="viewer",
            files=("file",),
        ),
        "api.list_batch_geocode": Doc(query=BatchListQuery, role="viewer"),
        "api.batch_geocode_status": Doc(role="viewer"),
        "api.batch_geocode_file": Doc(content="text/csv", role="viewer"),
        "api.cancel_batch_geocode": Doc(role="viewer"),
        "api.create_plan": Doc(
            body=PlanForm,
            body_types=("application/json", "multipart/form-data"),
            ok="202",
            role="planner",
        ),
        "api.plans": Doc(query=PlanListQuery, role="planner"),
        "api.plan": Doc(role="planner"),
        "api.plan_diff": Doc(role="planner"),
        "api.plan_grids": Doc(content="application/geo+json", role="planner"),
        "api.plan_file": Doc(content="application/geopackage+sqlite3", role="planner"),
        "api.publish_plan": Doc(body=PlanPublishIn, ok="201", role="planner"),
        "api.cancel_plan": Doc(role="planner"),
        "api.export_version": Doc(query=ExportQuery, content="application/octet-stream"),
    }
)
