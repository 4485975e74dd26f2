"""Tokens, roles, the browser login session, and the headers every answer carries."""

from __future__ import annotations

import re

import pytest
from webcity import bearer

from web.security import redact

SAME = {"Origin": "http://localhost"}  # what a browser sends with the login form of this site


def _login(client, token, **extra):
    return client.post("/login", data={"token": token, **extra}, headers=SAME)


def test_login_page_renders_a_form(client):
    r = client.get("/login?next=/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert '<form method="post" action="/login">' in page and 'name="token"' in page
    assert "http://" not in page and "https://" not in page  # nothing from outside hosts


def test_login_sets_session_cookie_and_logout_ends_it_on_the_server(client, tokens):
    r = _login(client, tokens["dispatcher"], next="/")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert tokens["dispatcher"] not in cookie  # only a session id, signed
    stolen = client.get_cookie("session").value
    user = client.get("/api/config").get_json()["user"]
    assert user == {"name": "dispatcher-user", "role": "dispatcher", "grids": []}
    assert client.post("/logout", headers=SAME).status_code == 302
    assert client.get("/api/config").status_code == 401
    # The cookie copied before the logout is dead too: the session ended in the store.
    client.set_cookie("session", stolen)
    assert client.get("/api/config").status_code == 401


def test_two_sessions_of_one_token_end_separately(app, tokens):
    first, second = app.test_client(), app.test_client()
    _login(first, tokens["viewer"])
    _login(second, tokens["viewer"])
    first.post("/logout", headers=SAME)
    assert first.get("/api/config").status_code == 401
    assert second.get("/api/config").status_code == 200


def test_bad_login_is_refused(client):
    r = _login(client, "guess")
    assert r.status_code == 401 and "invalid" in r.get_data(as_text=True)
    r = client.post("/login", json={"token": "guess"})
    assert r.status_code == 401 and r.get_json()["field"] == "token"
    r = client.post("/login", data={}, headers=SAME)
    assert r.status_code == 400
    r = client.post("/login", data=b'{"token":' + b"[" * 100_000, content_type="application/json")
    assert r.status_code == 400 and "error" in r.get_json()
    assert client.get("/api/config").status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        b"[1]",
        b'"x"',
        b"1",
        b"null",
        b'{"token": 1}',
        b'{"token": ["x"]}',
        b'{"token": "   "}',
        b'{"token": "\\ud800"}',
        b'{"token": "t", "next": 5}',
        b'{"token": "t", "next": ["/"]}',
        b'{"token": "t", "next": "/\\n/evil.example"}',
        b'{"token": "t", "next": "/\\t/evil.example"}',
        b'{"token": "\xff"}',
    ],
)
def test_malformed_json_logins_are_400_json(client, body):
    r = client.post("/login", data=body, content_type="application/json")
    assert r.status_code == 400, (body, r.status_code)
    assert r.is_json and r.get_json()["error"]
    assert "Set-Cookie" not in r.headers


def test_json_login_and_no_open_redirect(client, tokens):
    r = client.post("/login", json={"token": tokens["viewer"]})
    assert r.get_json() == {"name": "viewer-user", "role": "viewer"}
    evil = [
        "https://evil.example/",
        "//evil.example",
        "/\\evil",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/ /evil.example",
        "/\u3000/evil.example",
        "/\x00/evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
    ]
    for target in evil:
        r = _login(client, tokens["viewer"], next=target)
        assert r.headers.get("Location", "/") == "/", repr(target)
        assert "evil" not in r.headers.get("Location", ""), repr(target)
        r = client.post("/login", json={"token": tokens["viewer"], "next": target})
        assert r.status_code == 400 and r.get_json()["field"] in ("next", None), repr(target)
    r = client.get("/login?next=/%09/evil.example")
    assert 'name="next" value="/"' in r.get_data(as_text=True)  # the tab is refused
    r = _login(client, tokens["viewer"], next="/?layer=grid#here")
    assert r.headers["Location"] == "/?layer=grid#here"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/page"},
        {"Origin": "http://localhost.evil.example"},
        {},  # a form post that names no origin at all: only JSON may do that
    ],
)
def test_login_csrf_is_refused(client, tokens, headers):
    r = client.post("/login", data={"token": tokens["admin"]}, headers=headers)
    assert r.status_code in (403, 415), r.status_code
    assert r.is_json and "Set-Cookie" not in r.headers
    assert client.get("/api/config").status_code == 401


def test_cross_site_logout_is_refused(client, tokens):
    _login(client, tokens["viewer"])
    r = client.post("/logout", headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert client.get("/api/config").status_code == 200
    r = client.post("/logout", headers={"Referer": "http://localhost/"})
    assert r.status_code == 302
    assert client.get("/api/config").status_code == 401


def test_revoking_a_token_ends_its_sessions(client, tokens, city_store):
    _login(client, tokens["planner"])
    assert client.get("/api/config").status_code == 200
    token_id = city_store.check_token(tokens["planner"]).id
    city_store.revoke_token(token_id)
    assert client.get("/api/config").status_code == 401
    assert client.get("/api/config", headers=bearer(tokens["planner"])).status_code == 401


def test_map_page_redirects_to_login_without_session(client, tokens):
    r = client.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    _login(client, tokens["viewer"])
    assert client.get("/").status_code == 200


def test_role_ladder_on_writes(client, tokens):
    body = {"type": "garbage", "description": "x", "lon": 120.71, "lat": 30.71}
    expected = {"viewer": 403, "field": 201, "dispatcher": 201, "planner": 201, "admin": 201}
    for role, status in expected.items():
        r = client.post("/api/incidents", headers=bearer(tokens[role]), json=body)
        assert r.status_code == status, role
    activate = {"viewer": 403, "field": 403, "dispatcher": 403, "planner": 200, "admin": 200}
    for role, status in activate.items():
        r = client.post("/api/versions/1/activate", headers=bearer(tokens[role]))
        assert r.status_code == status, role


def test_malformed_authorization_headers(client):
    for header in ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "token abc", "Bearer " + "x" * 5000]:
        r = client.get("/api/config", headers={"Authorization": header})
        assert r.status_code == 401, header


def test_cookie_writes_must_be_same_site_json(client, tokens):
    body = {"type": "garbage", "description": "x", "lon": 120.71, "lat": 30.71}
    _login(client, tokens["admin"])
    r = client.post("/api/incidents", data=body)  # a form post riding on the cookie
    assert r.status_code == 415
    r = client.post("/api/incidents", json=body, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    r = client.post("/api/incidents", json=body, headers={"Referer": "http://evil.example/x"})
    assert r.status_code == 403
    r = client.post("/api/incidents", json=body, headers=SAME)
    assert r.status_code == 201
    # Open311 never takes the cookie: it wants api_key.
    r = client.post(
        "/open311/v2/requests.json", data={"service_code": "garbage", "lat": 30.71, "long": 120.71}
    )
    assert r.status_code == 401


# -- headers -----------------------------------------------------------------------------------


def _policy(response) -> dict[str, str]:
    text = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.partition(" ")[2] for d in text.split("; ")}


def test_pages_carry_a_strict_csp_with_a_fresh_nonce(client, tokens):
    first, second = client.get("/login"), client.get("/login")
    policy = _policy(first)
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'" and policy["frame-ancestors"] == "'self'"
    assert (
        "'unsafe-inline'" not in policy["script-src"] and "unsafe-eval" not in policy["script-src"]
    )
    assert "blob:" in policy["worker-src"] and "blob:" in policy["child-src"]  # MapLibre workers
    nonce = re.search(r"'nonce-([^']+)'", policy["script-src"]).group(1)
    assert f'<style nonce="{nonce}">' in first.get_data(as_text=True)  # the page's own style
    assert _policy(second)["script-src"] != policy["script-src"]  # one nonce per answer
    _login(client, tokens["viewer"])
    page = client.get("/")
    assert page.status_code == 200 and "'self' 'nonce-" in _policy(page)["script-src"]
    for tag in re.findall(r"<script\b[^>]*>", page.get_data(as_text=True)):
        # every script is a file of this site or carries this answer's nonce
        nonce = re.search(r"'nonce-([^']+)'", _policy(page)["script-src"]).group(1)
        assert "src=" in tag or f'nonce="{nonce}"' in tag, tag


def test_basemap_host_is_allowed_for_images_and_fetches(city_store):
    from web import create_app

    app = create_app({"DB": city_store.path, "BASEMAP_URL": "https://t{s}.example.cn/{z}/{x}/{y}"})
    policy = _policy(app.test_client().get("/login"))
    assert "https://*.example.cn" in policy["img-src"]
    assert "https://*.example.cn" in policy["connect-src"]


def test_api_answers_are_not_stored_and_name_no_versions(client, tokens):
    for path in ["/api/config", "/open311/v2/services.json", "/api/nothing", "/openapi.json"]:
        r = client.get(path, headers=bearer(tokens["viewer"]))
        assert r.headers["Cache-Control"] == "no-store", path
        assert r.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        assert _policy(r)["default-src"] == "'none'", path
        assert r.headers["Server"] == "gridmap", path
        assert not re.search(r"Python|Werkzeug|waitress|/\d", str(r.headers)), path


def test_error_messages_hold_no_server_paths(client, tokens):
    import io

    form = {
        "grids": (io.BytesIO(b"not a geopackage"), "g.gpkg"),
        "boundaries": (io.BytesIO(b"junk"), "b.gpkg"),
        "addresses": (io.BytesIO(b"id,x\n1,2"), "a.csv"),
    }
    r = client.post("/api/versions", data=form, headers=bearer(tokens["planner"]))
    assert r.status_code == 400
    message = r.get_json()["error"]
    assert "grids" in message and "/tmp" not in message and "gridmap-publish-" not in message


@pytest.mark.parametrize(
    "line",
    [
        "GET /open311/v2/requests.json?api_key=SECRET HTTP/1.1",
        "GET /open311/v2/requests.json?api%5Fkey=SECRET HTTP/1.1",
        "GET /open311/v2/requests.json?api%5fkey=SECRET&status=open HTTP/1.1",
        "GET /open311/v2/requests.json?%61%70%69%5F%6B%65%79=SECRET HTTP/1.1",
        "GET /open311/v2/requests.json?API_KEY=SECRET HTTP/1.1",
        "GET /open311/v2/requests.json?status=open&api%255Fkey=SECRET HTTP/1.1",
        "GET /api/config?token=SECRET HTTP/1.1",
        "GET /open311/v2/requests.json?x=1&&api_key=SECRET%26more HTTP/1.1",
    ],
)
def test_tokens_never_reach_the_request_log(line):
    assert "SECRET" not in redact(line)
    assert redact(line).startswith("GET /") and redact(line).endswith(" HTTP/1.1")


def test_percent_encoded_api_key_authenticates_and_is_redacted(client, tokens):
    # The spelling that authenticates is the one that must be redacted.
    r = client.get(f"/open311/v2/requests.json?api%5Fkey={tokens['viewer']}")
    assert r.status_code == 200
    assert tokens["viewer"] not in redact(
        f"GET /open311/v2/requests.json?api%5Fkey={tokens['viewer']}"
    )
