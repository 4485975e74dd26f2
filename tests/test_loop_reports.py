"""Channels and duplicate reports: one reporting service behind every door."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from webcity import bearer

from gridmap.services.reporting import Places, Report, ReportError, take_report

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
LON, LAT = 120.72, 30.72  # inside grid 330402001001001 (field staff's community)
NORTH_44M = 0.0004  # degrees of latitude: about 44 m
NORTH_67M = 0.0006  # about 67 m


def no_places() -> Places:
    return Places(match=lambda text: None, nearest_address=lambda lon, lat: "")


def report(store, token, category="E0101", lat=LAT, at=T0, channel="", description="垃圾"):
    reporter = store.check_token(token)
    return take_report(
        store,
        Report(type=category, description=description, lon=LON, lat=lat, channel=channel),
        reporter,
        no_places(),
        at=at,
    )


def test_a_report_carries_its_channel(city_store, tokens):
    taken = report(city_store, tokens["dispatcher"], channel="petition")
    assert taken.incident.source == "petition" and taken.duplicate_of is None
    assert report(city_store, tokens["dispatcher"], "S0101", channel="").incident.source == "api"
    with pytest.raises(ReportError) as refused:
        report(city_store, tokens["dispatcher"], channel="fax")
    assert refused.value.field == "channel" and refused.value.kind == "invalid"


def test_same_subclass_within_50_m_and_24_h_is_linked(city_store, tokens):
    first = report(city_store, tokens["dispatcher"])
    again = report(
        city_store, tokens["dispatcher"], lat=LAT + NORTH_44M, at=T0 + timedelta(hours=23)
    )
    assert again.duplicate_of == first.incident.id and again.incident.id == first.incident.id
    assert city_store.duplicate_counts([first.incident.id]) == {first.incident.id: 1}
    [linked] = city_store.duplicates(first.incident.id)
    assert linked.id == again.duplicate_id and linked.lat == pytest.approx(LAT + NORTH_44M)
    assert city_store.count_incidents(_all()) == 1


def _all():
    from gridmap.store import IncidentFilter

    return IncidentFilter()


@pytest.mark.parametrize(
    ("category", "lat", "hours"),
    [
        ("E0102", LAT, 1),  # another subclass
        ("E0101", LAT + NORTH_67M, 1),  # too far
        ("E0101", LAT, 25),  # too late
    ],
)
def test_other_subclass_farther_or_later_opens_a_new_incident(
    city_store, tokens, category, lat, hours
):
    first = report(city_store, tokens["dispatcher"])
    other = report(
        city_store, tokens["dispatcher"], category, lat=lat, at=T0 + timedelta(hours=hours)
    )
    assert other.duplicate_of is None and other.incident.id != first.incident.id


def test_a_closed_or_rejected_incident_takes_no_duplicates(city_store, tokens):
    first = report(city_store, tokens["dispatcher"])
    city_store.transition(first.incident.id, "reject", "d", at=T0 + timedelta(minutes=5))
    again = report(city_store, tokens["dispatcher"], at=T0 + timedelta(hours=1))
    assert again.duplicate_of is None


def test_built_in_types_are_not_deduplicated(city_store, tokens):
    first = report(city_store, tokens["dispatcher"], category="garbage")
    again = report(city_store, tokens["dispatcher"], category="garbage")
    assert again.duplicate_of is None and again.incident.id != first.incident.id


def test_the_nearest_open_incident_is_joined(city_store, tokens):
    south = report(city_store, tokens["dispatcher"])
    north = report(city_store, tokens["dispatcher"], lat=LAT + 0.0007)  # 78 m apart: both open
    assert north.duplicate_of is None
    # 44 m from the south one and 33 m from the north one: both qualify, the nearer wins.
    third = report(city_store, tokens["dispatcher"], lat=LAT + NORTH_44M)
    assert third.duplicate_of == north.incident.id != south.incident.id


# -- over HTTP --------------------------------------------------------------------------------


def post(client, token, body):
    return client.post("/api/incidents", json=body, headers=bearer(token))


def test_api_answers_duplicate_of_and_shows_the_count(client, tokens):
    body = {"category": "E0101", "description": "垃圾", "lon": LON, "lat": LAT, "crs": "cgcs2000"}
    first = post(client, tokens["field"], body | {"channel": "patrol"})
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["source"] == "patrol" and first.get_json()["duplicates"] == 0
    second = post(client, tokens["field"], body | {"channel": "hotline", "description": "又有"})
    assert second.status_code == 200
    answer = second.get_json()
    assert answer["duplicate_of"] == first.get_json()["id"] == answer["id"]
    assert answer["duplicates"] == 1
    listed = client.get(
        f"/api/incidents/{answer['id']}/duplicates", headers=bearer(tokens["viewer"])
    ).get_json()
    assert listed["count"] == 1 and listed["duplicates"][0]["source"] == "hotline"
    assert listed["duplicates"][0]["channel_name"] == "12345 热线"


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"category": "NOPE"}, 400, "category"),
        ({"category": 3}, 400, "category"),
        ({"channel": "fax"}, 400, "channel"),
        ({"channel": 5}, 400, "channel"),
    ],
)
def test_bad_category_or_channel_is_400(client, tokens, change, status, field):
    body = {"category": "E0101", "description": "x", "lon": LON, "lat": LAT} | change
    r = post(client, tokens["dispatcher"], body)
    assert r.status_code == status and r.get_json()["field"] == field


def test_category_by_chinese_name(client, tokens):
    body = {"category": "暴露垃圾", "description": "x", "lon": LON, "lat": LAT}
    r = post(client, tokens["dispatcher"], body)
    assert r.status_code == 201 and r.get_json()["type"] == "E0101"


def test_dispatcher_splits_a_duplicate_off(client, tokens):
    body = {"category": "E0101", "description": "垃圾", "lon": LON, "lat": LAT}
    first = post(client, tokens["dispatcher"], body).get_json()
    dup = post(client, tokens["dispatcher"], body | {"description": "别的事", "channel": "app"})
    dup_id = dup.get_json()["duplicate_id"]
    url = f"/api/incidents/{first['id']}/duplicates/{dup_id}/split"
    assert client.post(url, headers=bearer(tokens["field"])).status_code == 403
    assert client.post(url).status_code == 401
    split = client.post(url, headers=bearer(tokens["dispatcher"]))
    assert split.status_code == 201, split.get_json()
    new = split.get_json()
    assert new["id"] != first["id"] and new["split_from"] == first["id"]
    assert new["description"] == "别的事" and new["source"] == "app" and new["type"] == "E0101"
    assert new["grid_code"] == first["grid_code"]
    again = client.get(f"/api/incidents/{first['id']}", headers=bearer(tokens["viewer"]))
    assert again.get_json()["duplicates"] == 0
    # Split twice, or from another incident, or a made-up one: 404.
    assert client.post(url, headers=bearer(tokens["dispatcher"])).status_code == 404
    other = f"/api/incidents/{new['id']}/duplicates/{dup_id}/split"
    assert client.post(other, headers=bearer(tokens["dispatcher"])).status_code == 404
    missing = f"/api/incidents/999999/duplicates/{dup_id}/split"
    assert client.post(missing, headers=bearer(tokens["dispatcher"])).status_code == 404
