"""Hostile input thrown at every endpoint that ``/openapi.json`` lists: never a 5xx, always JSON.

Each family (numbers, unicode, types, headers, sizes) is a table of raw values; every test walks
every operation of the OpenAPI document, puts each value into each query parameter, body field
and path parameter in turn, and collects every answer that is a server error or (for an API
answer) not JSON. The cases of issue 10 come first. At the end of each test the app must still
answer a plain request. ``test_schemathesis`` then lets schemathesis generate requests from the
same document (a bounded number of examples per operation).
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from webcity import bearer, publish_city

CITY_LON, CITY_LAT = 120.71, 30.71  # a point inside the test city (webcity.py)
GRID = "330402001001001"

# Valid bodies per operation: each hostile value replaces one field of these.
BODIES = {
    "api.create_incident": {
        "type": "garbage",
        "description": "x",
        "lon": CITY_LON,
        "lat": CITY_LAT,
        "crs": "wgs84",
        "address": "",
    },
    "api.transition": {"action": "accept", "note": "x"},
    "open311.create_request": {
        "service_code": "garbage",
        "lat": CITY_LAT,
        "long": CITY_LON,
        "description": "x",
        "address_string": "",
    },
    "auth.login_post": {"token": "not-a-token", "next": "/"},
}
HTML_OPERATIONS = {"map.index", "auth.login"}  # pages: an HTML answer is right there


@dataclass(frozen=True)
class Op:
    path: str
    method: str
    operation_id: str
    query: tuple[str, ...]
    path_params: dict
    body_types: tuple[str, ...]


def _operations(spec: dict) -> list[Op]:
    ops = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            params = op.get("parameters", [])
            body = op.get("requestBody", {}).get("content", {})
            ops.append(
                Op(
                    path=path,
                    method=method.upper(),
                    operation_id=op["operationId"],
                    query=tuple(p["name"] for p in params if p["in"] == "query"),
                    path_params={p["name"]: p["schema"] for p in params if p["in"] == "path"},
                    body_types=tuple(body),
                )
            )
    return ops


def _valid_path_value(schema: dict) -> str:
    if "enum" in schema:
        return str(schema["enum"][0])
    return "1" if schema.get("type") == "integer" else GRID


def _url(op: Op, override: dict | None = None) -> str:
    url = op.path
    for name, schema in op.path_params.items():
        value = (override or {}).get(name)
        url = url.replace(
            "{" + name + "}", value if value is not None else _valid_path_value(schema)
        )
    return url


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """An app on a published city with one incident, its admin header and its operations."""
    from gridmap.store import open_store
    from web import create_app

    folder = tmp_path_factory.mktemp("hostile")
    store = open_store(folder / "city.sqlite")
    publish_city(store)
    admin = store.create_token("admin", "admin-user", ())
    store.close()
    app = create_app(
        {"DB": str(folder / "city.sqlite"), "SSE_MAX_SECONDS": 0.2, "SSE_POLL_SECONDS": 0.05}
    )
    client = app.test_client()
    auth = bearer(admin)
    created = client.post("/api/incidents", json=BODIES["api.create_incident"], headers=auth)
    assert created.status_code == 201, created.get_json()
    spec = client.get("/openapi.json").get_json()
    return client, auth, _operations(spec), admin


class Problems(list):
    """Every bad answer of a test, reported together."""

    def check(self, op: Op, what: str, response) -> None:
        label = f"{op.method} {op.path} [{what[:120]!r}]"
        if response.status_code >= 500:
            self.append(f"{label}: {response.status_code} {response.get_data(as_text=True)[:200]}")
            return
        html_ok = op.operation_id in HTML_OPERATIONS or (
            op.operation_id == "auth.login_post" and response.mimetype == "text/html"
        )
        if response.status_code >= 400 and not html_ok and not response.is_json:
            self.append(f"{label}: {response.status_code} answered {response.mimetype}")
        if response.is_json:
            data = response.get_data()
            if response.headers.get("Content-Encoding") == "gzip":
                data = gzip.decompress(data)
            try:
                json.loads(data)
            except ValueError:
                self.append(f"{label}: invalid JSON")
        response.close()  # a stream's generator ends here, not at garbage collection

    def assert_none(self, client, auth) -> None:
        still = client.get("/api/config", headers=auth)
        assert still.status_code == 200, "the app stopped answering"
        assert not self, f"{len(self)} bad answers:\n" + "\n".join(self[:40])


def _send(client, op: Op, auth: dict, *, url=None, query=b"", body=None, content_type=None,
          headers=None):  # fmt: skip
    query_string = query.decode("latin-1") if isinstance(query, bytes) else query
    if "/stream" in op.path:  # never wait on a live stream
        query_string += "&once=1"
    kwargs = {"query_string": query_string, "headers": {**auth, **(headers or {})}}
    if body is not None:
        kwargs["data"] = body
        kwargs["content_type"] = content_type or "application/json"
    return client.open(url or _url(op), method=op.method, **kwargs)


def _throw_query(hostile, values: list[str]) -> None:
    client, auth, ops, _ = hostile
    problems = Problems()
    for op in ops:
        for name in op.query or ("unknown",):
            for value in values:
                r = _send(client, op, auth, query=f"{name}={value}")
                problems.check(op, f"?{name}={value}", r)
    problems.assert_none(client, auth)


def _throw_body(hostile, fragments: list[str | bytes]) -> None:
    # Each raw JSON fragment replaces each field of the operation's valid body in turn.
    client, auth, ops, _ = hostile
    problems = Problems()
    for op in ops:
        if op.method != "POST":
            continue
        base = BODIES.get(op.operation_id, {"field": "x"})
        for name in base:
            for fragment in fragments:
                raw = fragment if isinstance(fragment, bytes) else fragment.encode("utf-8")
                text = json.dumps({**base, name: "\x00HOLE\x00"}, ensure_ascii=False).encode()
                body = text.replace(json.dumps("\x00HOLE\x00").encode(), raw)
                r = _send(client, op, auth, body=body)
                problems.check(op, f"{name}={raw[:60]!r}", r)
    problems.assert_none(client, auth)


def _throw_path(hostile, values: list[str]) -> None:
    client, auth, ops, _ = hostile
    problems = Problems()
    for op in ops:
        for name in op.path_params:
            for value in values:
                r = _send(client, op, auth, url=_url(op, {name: value}))
                problems.check(op, f"{{{name}}}={value}", r)
    problems.assert_none(client, auth)


# -- the cases of issue 10 -----------------------------------------------------------------------


def test_issue_10_cases(hostile):
    client, auth, ops, admin = hostile
    problems = Problems()
    by_id = {op.operation_id: op for op in ops}
    huge = "1" + "0" * 400
    incident, open311 = by_id["api.create_incident"], by_id["open311.create_request"]
    login, transition = by_id["auth.login_post"], by_id["api.transition"]
    cases = [
        (incident, f'{{"type":"garbage","description":"x","lon":{huge},"lat":30.71}}'),
        (incident, f'{{"type":"garbage","description":"x","lon":120.71,"lat":{huge}}}'),
        (open311, f'{{"service_code":"garbage","lat":{huge},"long":120.71}}'),
        (incident, '{"type":"garbage","description":"\\ud800","lon":120.71,"lat":30.71}'),
        (transition, '{"action":"accept","note":"\\ud800"}'),
        (login, '{"token":"\\ud800"}'),
        (open311, '{"service_code":["garbage"],"lat":30.71,"long":120.71}'),
        (login, "[1]"),
        (login, '"x"'),
        (login, "1"),
        (login, '{"token":"t","next":5}'),
        (login, '{"token":"t","next":"/\\n/x"}'),
        (incident, '{"type":"garbage","description":"   \\t\\n ","lon":120.71,"lat":30.71}'),
    ]
    for op, body in cases:
        r = _send(client, op, auth, body=body.encode())
        problems.check(op, body, r)
        if r.status_code < 400:
            problems.append(f"{op.path} accepted {body[:80]!r}: {r.status_code}")
    # Invalid UTF-8 inside a JSON string is refused, not stored as U+FFFD.
    bad = b'{"type":"garbage","description":"bad \xff byte","lon":120.71,"lat":30.71}'
    r = _send(client, incident, auth, body=bad)
    problems.check(incident, "invalid utf-8", r)
    if r.status_code != 400:
        problems.append(f"invalid UTF-8 answered {r.status_code}")
    # The same in a form body (Open311 and the login form) and in a query string.
    form = b"service_code=garbage&lat=30.71&long=120.71&description=bad%FFbyte"
    r = _send(client, open311, auth, body=form, content_type="application/x-www-form-urlencoded")
    problems.check(open311, "form with invalid utf-8", r)
    if r.status_code != 400:
        problems.append(f"invalid UTF-8 in a form answered {r.status_code}")
    # An Open311 id that isdigit() but is no number.
    listing = by_id["open311.list_requests"]
    r = _send(client, listing, {}, query=f"service_request_id=%C2%B2&api_key={admin}")
    problems.check(listing, "service_request_id=²", r)
    if r.status_code != 400:
        problems.append(f"service_request_id=² answered {r.status_code}")
    problems.assert_none(client, auth)


# -- numbers -------------------------------------------------------------------------------------

NUMBER_TEXT = [
    "1" + "0" * 400, "-" + "9" * 5000, "1e400", "-1e400", "1e-400", "NaN", "nan", "Infinity",
    "-Infinity", "-0", "18446744073709551616", "9223372036854775808", "-1", "1.5", "%C2%B2",
    "%D9%A1%D9%A2", "%EF%BC%91", "1_0", "0x10", "+1", "%201", "1e5", "0.0000001", "",
]  # fmt: skip
NUMBER_JSON = [
    "1" + "0" * 400, "-" + "9" * 401, "1e400", "-1e400", "1.0e-400", "NaN", "Infinity",
    "-Infinity", "-0", "18446744073709551616", "-1", "1.5", "true", "false", "null", '"1e400"',
    '"NaN"', '"\u00b2"', '"\u0661"', '"1_0"', '"0x10"', '"  "', "0.1e99999",
]  # fmt: skip


def test_numbers_in_queries(hostile):
    _throw_query(hostile, NUMBER_TEXT)


def test_numbers_in_bodies(hostile):
    _throw_body(hostile, NUMBER_JSON)


def test_numbers_in_paths(hostile):
    _throw_path(hostile, ["0", "-1", "1" + "0" * 400, "9223372036854775808", "%C2%B2", "1.5",
                          "%EF%BC%91"])  # fmt: skip


# -- unicode -------------------------------------------------------------------------------------

UNICODE_TEXT = [
    "%FF", "%C0%AF", "%ED%A0%80", "%ED%BF%BF", "%00", "%E2%80%AE", "%F0%9F%92%A9",
    "%E3%80%80", "%0A", "%0D%0A", "%09", "%EF%BF%BD", "%EF%BB%BF", "%F4%90%80%80",
    "x" * 5000, "%E2%80%8B", "a%CC%81" * 50,
]  # fmt: skip
UNICODE_JSON: list[str | bytes] = [
    '"\\ud800"', '"\\udfff\\ud800"', '"x\\ud83d"', '"\\u0000"', '"\\u202e"', '"\u3000 \t"',
    '"\\ufeff"', '"💩"', '"\\uffff"', '"' + "界" * 5000 + '"', b'"\xff"', b'"\xc0\xaf"',
    b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"', b'"a\xe2\x80"',
]  # fmt: skip


def test_unicode_in_queries(hostile):
    _throw_query(hostile, UNICODE_TEXT)


def test_unicode_in_bodies(hostile):
    _throw_body(hostile, UNICODE_JSON)


def test_unicode_in_paths(hostile):
    _throw_path(hostile, ["%FF", "%ED%A0%80", "%00", "%E2%80%AE", "%F0%9F%92%A9", "..%2F..",
                          "%2E%2E", "x" * 3000])  # fmt: skip


# -- types ---------------------------------------------------------------------------------------

TYPE_TEXT = ["", ",", ",,,", "[]", "{}", "null", "true", "a,b,c," * 200, "%5B1%5D", "1&{name}=2"]
TYPE_JSON = [
    "[]", "[1]", '["garbage"]', "{}", '{"a": 1}', "null", "true", "0", '""', '"x"',
    "[" * 50 + "]" * 50, '{"$ref": "#"}',
]  # fmt: skip
WHOLE_BODIES = [
    b"", b"[1]", b'"x"', b"1", b"null", b"true", b"{", b"}", b'{"a":1,"a":2}', b"\xef\xbb\xbf{}",
    '{"token":"x"}'.encode("utf-16"), b"[" * 100_000, b'{"a":' * 50_000, b"\x00", b"{}" * 1000,
]  # fmt: skip


def test_types_in_queries(hostile):
    _throw_query(hostile, TYPE_TEXT)


def test_types_in_bodies(hostile):
    _throw_body(hostile, TYPE_JSON)


def test_whole_bodies_of_every_shape(hostile):
    client, auth, ops, _ = hostile
    problems = Problems()
    for op in ops:
        if op.method != "POST":
            continue
        for body in WHOLE_BODIES:
            for content_type in ("application/json", "text/plain", None):
                r = _send(client, op, auth, body=body, content_type=content_type)
                problems.check(op, f"{content_type}: {body[:40]!r}", r)
    problems.assert_none(client, auth)


# -- headers -------------------------------------------------------------------------------------

HEADERS = [
    {"Content-Type": "application/x-www-form-urlencoded"},
    {"Content-Type": "multipart/form-data"},
    {"Content-Type": "multipart/form-data; boundary=x"},
    {"Content-Type": "application/json; charset=latin-1"},
    {"Content-Type": "application/json; charset=utf-16"},
    {"Content-Type": "text/html"},
    {"Content-Type": ""},
    {"Authorization": "Bearer " + "é" * 50},
    {"Authorization": "Bearer " + "x" * 10_000},
    {"Authorization": "Bearer \t"},
    {"Authorization": "Basic ????"},
    {"Last-Event-ID": "9" * 400},
    {"Last-Event-ID": "-1"},
    {"Last-Event-ID": "²"},
    {"Accept": "application/json;q=abc, */*;q=NaN"},
    {"Accept-Encoding": "gzip;q=NaN, br;q=-1"},
    {"Origin": "null"},
    {"Origin": "http://[::1"},
    {"Referer": "::::"},
    {"Cookie": "session=garbage"},
    {"Cookie": "session=" + "x" * 4000},
    {"Cookie": "session=eyJzaWQiOiIxIn0.invalid.sig"},
    {"If-None-Match": '"' + "x" * 2000 + '"'},
    {"Range": "bytes=999999999-"},
    {"X-Forwarded-For": "1.1.1.1, " * 100},
]


def test_headers(hostile):
    client, auth, ops, _ = hostile
    problems = Problems()
    for op in ops:
        body = json.dumps(BODIES.get(op.operation_id, {})).encode() if op.method == "POST" else None
        for headers in HEADERS:
            content_type = headers.get("Content-Type")
            others = {k: v for k, v in headers.items() if k != "Content-Type"}
            for who in (auth, {}):
                if "Authorization" in others and who:
                    continue
                r = _send(client, op, who, body=body, content_type=content_type, headers=others)
                problems.check(op, f"{headers}"[:80], r)
    problems.assert_none(client, auth)


# -- sizes ---------------------------------------------------------------------------------------


def test_sizes(hostile):
    client, auth, ops, _ = hostile
    problems = Problems()
    big = b'{"description":"' + b"x" * (2 * 1024 * 1024) + b'"}'
    many = "&".join(f"p{i}=1" for i in range(5000))
    for op in ops:
        r = _send(client, op, auth, query="q=" + "x" * 100_000)
        problems.check(op, "100 kB query", r)
        r = _send(client, op, auth, query=many)
        problems.check(op, "5,000 parameters", r)
        if op.method == "POST":
            r = _send(client, op, auth, body=big)
            problems.check(op, "2 MB body", r)
            if r.status_code != 413 and op.operation_id != "api.publish_version":
                problems.append(f"{op.path}: a 2 MB body answered {r.status_code}, not 413")
            fields = {f"f{i}": "x" for i in range(20_000)}
            r = _send(client, op, auth, body=json.dumps(fields).encode())
            problems.check(op, "20,000 fields", r)
    problems.assert_none(client, auth)


def test_every_operation_is_thrown_at(hostile):
    # The walk above covers the whole document: nothing it lists is left out.
    _client, _auth, ops, _ = hostile
    ids = {op.operation_id for op in ops}
    for needed in ("api.create_incident", "api.transition", "open311.create_request",
                   "auth.login_post", "open311.list_requests", "api.incidents"):  # fmt: skip
        assert needed in ids
    assert re.search(r"\{\w+\}", " ".join(op.path for op in ops)), "no path parameters seen"
    assert quote("²") == "%C2%B2"


# -- schemathesis ------------------------------------------------------------------------------

import schemathesis  # noqa: E402  (the test extras: a missing install fails, never skips)
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402

SCHEMATHESIS_EXAMPLES = 6  # per operation: bounded, so the suite stays quick


def test_schemathesis(hostile):
    """schemathesis generates requests for every operation of /openapi.json, valid ones and
    ones that break the schema (both generation modes): no server error."""
    client, auth, _ops, _ = hostile
    schema = schemathesis.openapi.from_wsgi("/openapi.json", client.application)
    seen = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation, mode in itertools.product(operations, GenerationMode):
        seen.append(operation.label)

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=SCHEMATHESIS_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            if case.path == "/api/stream":  # a live stream would run until SSE_MAX_SECONDS
                case.query = {**(case.query or {}), "once": "true"}
            response = case.call(headers=auth)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            run()
        except Unsatisfiable:  # nothing to break in an operation without parameters or body
            assert mode == GenerationMode.NEGATIVE, operation.label
    assert len(set(seen)) >= 15, seen
