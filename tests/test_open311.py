"""Open311 GeoReport v2 over the incidents."""

from __future__ import annotations

from webcity import bearer

BASE = "/open311/v2"


def test_services_list_the_incident_types(client):
    services = client.get(f"{BASE}/services.json").get_json()
    codes = {s["service_code"]: s for s in services}
    assert codes["manhole"]["service_name"] == "井盖破损"
    assert {"metadata", "type", "keywords", "group", "description"} <= set(codes["noise"])
    assert codes["noise"]["type"] == "realtime" and codes["noise"]["metadata"] is False


def test_post_request_with_api_key_and_read_it_back(client, tokens):
    r = client.post(
        f"{BASE}/requests.json",
        data={
            "api_key": tokens["field"],
            "service_code": "garbage",
            "lat": "30.71",
            "long": "120.71",
            "description": "垃圾没人收",
        },
    )
    assert r.status_code == 201, r.get_json()
    rid = r.get_json()[0]["service_request_id"]
    one = client.get(f"{BASE}/requests/{rid}.json?api_key={tokens['viewer']}").get_json()[0]
    assert one["status"] == "open" and one["service_code"] == "garbage"
    assert one["description"] == "垃圾没人收"
    assert (one["lat"], one["long"]) == (30.71, 120.71)
    assert one["expected_datetime"] > one["requested_datetime"]
    listed = client.get(f"{BASE}/requests.json", headers=bearer(tokens["viewer"])).get_json()
    assert [x["service_request_id"] for x in listed] == [rid]
    # The same incident through the JSON API.
    incident = client.get(f"/api/incidents/{rid}", headers=bearer(tokens["viewer"])).get_json()
    assert incident["source"] == "open311" and incident["grid_code"] == "330402001001001"


def test_post_by_address_string_and_json_body(client, tokens):
    r = client.post(
        f"{BASE}/requests.json",
        json={
            "api_key": tokens["dispatcher"],
            "service_code": "noise",
            "address_string": "浙江省嘉兴市南湖区测试路3号",
            "description": "夜间施工",
        },
    )
    assert r.status_code == 201, r.get_json()


def test_status_open_closed_follows_the_loop(client, tokens):
    h = bearer(tokens["admin"])
    rid = client.post(
        f"{BASE}/requests.json",
        data={
            "api_key": tokens["admin"],
            "service_code": "garbage",
            "lat": 30.71,
            "long": 120.71,
        },
    ).get_json()[0]["service_request_id"]
    for action in ["accept", "dispatch", "start", "resolve", "verify", "close"]:
        body = {"action": action}
        if action == "close":  # closing needs a follow-up (回访)
            body["follow_up"] = {"method": "visit", "satisfied": True}
        r = client.post(f"/api/incidents/{rid}/transition", headers=h, json=body)
        assert r.status_code == 200
    got = client.get(f"{BASE}/requests/{rid}.json", headers=h).get_json()[0]
    assert got["status"] == "closed" and got["status_notes"] == "已结案"
    assert client.get(f"{BASE}/requests.json?status=open", headers=h).get_json() == []
    assert len(client.get(f"{BASE}/requests.json?status=closed", headers=h).get_json()) == 1
    by_id = client.get(f"{BASE}/requests.json?service_request_id={rid},9999", headers=h)
    assert [x["service_request_id"] for x in by_id.get_json()] == [rid]


def test_open311_errors_are_geoReport_json(client, tokens):
    key = tokens["admin"]
    cases = [
        ({"service_code": "garbage", "lat": 30.71, "long": 120.71}, 401),  # no api_key
        ({"api_key": "wrong", "service_code": "garbage", "lat": 30.71, "long": 120.71}, 401),
        (
            {"api_key": tokens["viewer"], "service_code": "garbage", "lat": 30.71, "long": 120.71},
            403,
        ),
        ({"api_key": key, "service_code": "ufo", "lat": 30.71, "long": 120.71}, 400),
        ({"api_key": key, "lat": 30.71, "long": 120.71}, 400),
        ({"api_key": key, "service_code": "garbage"}, 400),
        ({"api_key": key, "service_code": "garbage", "lat": "north", "long": 120.71}, 400),
        ({"api_key": key, "service_code": "garbage", "lat": 31.2, "long": 121.5}, 400),
        (
            {
                "api_key": key,
                "service_code": "garbage",
                "lat": 30.71,
                "long": 120.71,
                "description": "x" * 4001,
            },
            400,
        ),
        ({"api_key": key, "service_code": "garbage", "address_string": "不存在的地址"}, 400),
        (
            {"api_key": tokens["field"], "service_code": "garbage", "lat": 30.79, "long": 120.79},
            403,
        ),
    ]
    for data, status in cases:
        r = client.post(f"{BASE}/requests.json", data=data)
        assert r.status_code == status, (data, r.get_json())
        body = r.get_json()
        assert isinstance(body, list) and body[0]["code"] == status and body[0]["description"]
    h = bearer(key)
    assert client.get(f"{BASE}/requests/999.json", headers=h).status_code == 404
    assert client.get(f"{BASE}/requests.json?service_code=ufo", headers=h).status_code == 400
    assert client.get(f"{BASE}/requests.json?status=pending", headers=h).status_code == 400
    assert client.get(f"{BASE}/requests.json?start_date=soon", headers=h).status_code == 400
    assert client.get(f"{BASE}/requests.json?service_request_id=x", headers=h).status_code == 400
    assert client.get(f"{BASE}/requests.json").status_code == 401
    assert client.get(f"{BASE}/requests.xml", headers=h).status_code == 404
    r = client.post(
        f"{BASE}/requests.json?api_key={key}", data=b"{bad", content_type="application/json"
    )
    assert r.status_code == 400 and r.get_json()[0]["code"] == 400
    r = client.post(
        f"{BASE}/requests.json?api_key={key}", data=b"[" * 100_000, content_type="application/json"
    )
    assert r.status_code == 400
