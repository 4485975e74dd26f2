"""Tokens, roles and the browser login session."""

from __future__ import annotations

from webcity import bearer


def test_login_page_renders_a_form(client):
    r = client.get("/login?next=/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert '<form method="post" action="/login">' in page and 'name="token"' in page
    assert "http://" not in page and "https://" not in page  # nothing from outside hosts


def test_login_sets_session_cookie_and_logout_ends_it(client, tokens):
    r = client.post("/login", data={"token": tokens["dispatcher"], "next": "/"})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert tokens["dispatcher"] not in cookie  # only the token id, signed
    user = client.get("/api/config").get_json()["user"]
    assert user == {"name": "dispatcher-user", "role": "dispatcher", "grids": []}
    assert client.post("/logout").status_code == 302
    assert client.get("/api/config").status_code == 401


def test_bad_login_is_refused(client):
    r = client.post("/login", data={"token": "guess"})
    assert r.status_code == 401 and "invalid" in r.get_data(as_text=True)
    r = client.post("/login", json={"token": "guess"})
    assert r.status_code == 401 and r.get_json()["field"] == "token"
    r = client.post("/login", data={})
    assert r.status_code == 401
    r = client.post("/login", data=b'{"token":' + b"[" * 100_000, content_type="application/json")
    assert r.status_code == 401
    assert client.get("/api/config").status_code == 401


def test_json_login_and_no_open_redirect(client, tokens):
    r = client.post("/login", json={"token": tokens["viewer"]})
    assert r.get_json() == {"name": "viewer-user", "role": "viewer"}
    for target in ["https://evil.example/", "//evil.example", "/\\evil"]:
        r = client.post("/login", data={"token": tokens["viewer"], "next": target})
        assert r.headers["Location"] == "/", target


def test_revoking_a_token_ends_its_sessions(client, tokens, city_store):
    client.post("/login", data={"token": tokens["planner"]})
    assert client.get("/api/config").status_code == 200
    token_id = city_store.check_token(tokens["planner"]).id
    city_store.revoke_token(token_id)
    assert client.get("/api/config").status_code == 401
    assert client.get("/api/config", headers=bearer(tokens["planner"])).status_code == 401


def test_map_page_redirects_to_login_without_session(client, tokens):
    if "map.index" not in client.application.view_functions:
        return  # the map page belongs to web.map; checked there when present
    r = client.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    client.post("/login", data={"token": tokens["viewer"]})
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
    client.post("/login", data={"token": tokens["admin"]})
    r = client.post("/api/incidents", data=body)  # a form post riding on the cookie
    assert r.status_code == 415
    r = client.post("/api/incidents", json=body, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    r = client.post("/api/incidents", json=body, headers={"Origin": "http://localhost"})
    assert r.status_code == 201
    # Open311 never takes the cookie: it wants api_key.
    r = client.post(
        "/open311/v2/requests.json", data={"service_code": "garbage", "lat": 30.71, "long": 120.71}
    )
    assert r.status_code == 401
