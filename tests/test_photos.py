"""Photos of incidents: checked by content, stored by either store, shown only to whom may see.

Every bad upload is a 4xx JSON error: a text file named .jpg, a GIF, an empty file, a damaged
JPEG, too many bytes, too many pixels, no file at all, a JSON body.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image
from webcity import bearer, grid_centre

from gridmap.rules.photos import MAX_PHOTOS_PER_INCIDENT
from gridmap.services.loop import Caller
from gridmap.services.photos import PhotoError, add_photo, check_photo
from gridmap.store import Location, NotFound, open_store

GRID = "330402001001001"  # inside the field token's community (tests/conftest.py)


def picture(fmt: str = "JPEG", size=(64, 48), colour="orange") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def upload(client, incident_id, data, token, name="site.jpg", mimetype="image/jpeg"):
    return client.post(
        f"/api/incidents/{incident_id}/photos",
        data={"photo": (io.BytesIO(data), name, mimetype)},
        content_type="multipart/form-data",
        headers=bearer(token),
    )


def report(client, token, grid=GRID) -> int:
    lon, lat = grid_centre(grid)
    answer = client.post(
        "/api/incidents",
        json={"category": "S0101", "description": "楼道堆物", "lon": lon, "lat": lat},
        headers=bearer(token),
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


# -- the check by content ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "media_type"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")]
)
def test_jpeg_png_and_webp_are_read_from_their_content(fmt, media_type):
    checked = check_photo(picture(fmt, (30, 20)))
    assert (checked.media_type, checked.width, checked.height) == (media_type, 30, 20)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", "invalid"),
        ("这不是照片，只是一个改名为 .jpg 的文本文件".encode(), "unsupported"),
        (picture("GIF"), "unsupported"),
        (picture("JPEG", (400, 300))[:300], "invalid"),  # cut short in transit
    ],
    ids=["empty", "text-named-jpg", "gif", "truncated-jpeg"],
)
def test_what_is_not_a_whole_photo_is_refused(data, kind):
    with pytest.raises(PhotoError) as refused:
        check_photo(data)
    assert refused.value.kind == kind


def test_too_many_bytes_or_pixels_are_refused():
    with pytest.raises(PhotoError) as refused:
        check_photo(picture("PNG", (200, 200)), max_bytes=100)
    assert refused.value.kind == "too_large"
    # 8000 x 6000 one-bit pixels compress to a few kB: a decompression bomb, not a photo.
    buffer = io.BytesIO()
    Image.new("1", (8000, 6000)).save(buffer, "PNG")
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(PhotoError) as refused:
        check_photo(buffer.getvalue())
    assert refused.value.kind == "too_large"


# -- the store (both backends) -----------------------------------------------------------------


def test_the_store_keeps_photos_as_migration_5(store_url, city_store):
    iid = city_store.create_incident(
        type="S0101",
        description="d",
        lon=120.71,
        lat=30.71,
        location=Location.of_grid(GRID),
        actor="t",
    )
    data = picture("PNG")
    first = city_store.add_photo(
        iid,
        data,
        media_type="image/png",
        width=64,
        height=48,
        sha256="ab" * 32,
        uploaded_by="网格员",
        at="2026-03-02T02:00:00Z",
    )
    assert city_store.photo_data(first) == data
    record = city_store.photo(first)
    assert (record.incident_id, record.size, record.uploaded_at) == (
        iid,
        len(data),
        "2026-03-02T02:00:00Z",
    )
    assert [p.id for p in city_store.photos(iid)] == [first]
    assert city_store.photo_counts([iid, iid + 1]) == {iid: 1}
    assert city_store.schema_version() >= 5
    with pytest.raises(NotFound):
        city_store.photo(first + 1)
    with pytest.raises(NotFound):
        city_store.photo_data(first + 1)
    with pytest.raises(NotFound):
        city_store.add_photo(
            iid + 99,
            data,
            media_type="image/png",
            width=1,
            height=1,
            sha256="0",
            uploaded_by="",
            at="2026-03-02T02:00:00Z",
        )
    # Another store object on the same database sees the table without migrating twice.
    again = open_store(store_url)
    try:
        assert again.photos(iid)[0].sha256 == "ab" * 32
    finally:
        getattr(again, "dispose", again.close)()


def test_the_service_answers_a_retry_with_the_stored_photo_and_caps_the_count(city_store):
    iid = city_store.create_incident(
        type="S0101",
        description="d",
        lon=120.71,
        lat=30.71,
        location=Location.of_grid(GRID),
        actor="t",
    )
    staff = Caller("网格员", "field", ("330402001001",))
    photo, created = add_photo(city_store, iid, picture(colour="red"), staff)
    again, created_again = add_photo(city_store, iid, picture(colour="red"), staff)
    assert created and not created_again and again.id == photo.id
    for i in range(MAX_PHOTOS_PER_INCIDENT - 1):
        add_photo(city_store, iid, picture(colour=(i * 20, 10, 10)), staff)
    with pytest.raises(PhotoError) as refused:
        add_photo(city_store, iid, picture(colour="blue"), staff)
    assert refused.value.kind == "conflict"
    with pytest.raises(PhotoError) as refused:
        add_photo(city_store, iid, picture(colour="green"), Caller("别人", "field", ("330402002",)))
    assert refused.value.kind == "forbidden"


# -- over HTTP -----------------------------------------------------------------------------------


def test_upload_then_served_to_whom_may_see_it(client, tokens):
    iid = report(client, tokens["field"])
    data = picture("JPEG")
    answer = upload(client, iid, data, tokens["field"])
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["media_type"] == "image/jpeg" and body["size"] == len(data)
    assert answer.headers["Location"] == body["url"] == f"/api/photos/{body['id']}"
    # A retry of the same bytes (a slow connection): the same photo, 200.
    again = upload(client, iid, data, tokens["field"])
    assert again.status_code == 200 and again.get_json()["id"] == body["id"]

    for role in ("field", "dispatcher", "admin"):
        served = client.get(body["url"], headers=bearer(tokens[role]))
        assert served.status_code == 200, role
        assert served.data == data
        assert served.headers["Content-Type"] == "image/jpeg"
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in served.headers["Content-Security-Policy"]
        assert served.headers["Cache-Control"].startswith("private")
    listed = client.get(f"/api/incidents/{iid}/photos", headers=bearer(tokens["dispatcher"]))
    assert [p["id"] for p in listed.get_json()["photos"]] == [body["id"]]
    etag = client.get(body["url"], headers=bearer(tokens["field"])).headers["ETag"]
    cached = client.get(body["url"], headers=bearer(tokens["field"]) | {"If-None-Match": etag})
    assert cached.status_code == 304 and cached.data == b""

    # Field staff of another grid, a viewer, nobody: refused, as JSON.
    for token, status in ((tokens["field_other"], 403), (tokens["viewer"], 403)):
        for url in (body["url"], f"/api/incidents/{iid}/photos"):
            refused = client.get(url, headers=bearer(token))
            assert refused.status_code == status and refused.is_json and refused.get_json()["error"]
        assert upload(client, iid, picture(colour="blue"), token).status_code == 403
    assert client.get(body["url"]).status_code == 401
    assert (
        client.get(f"/api/photos/{body['id'] + 100}", headers=bearer(tokens["admin"])).status_code
        == 404
    )
    assert upload(client, iid + 100, data, tokens["dispatcher"]).status_code == 404


def test_the_assigned_department_sees_the_photos_and_no_other(client, tokens, city_store):
    city_store.add_department("hb", "环保局", "district")
    city_store.add_department("sw", "水务集团", "city")
    admin, dispatcher = bearer(tokens["admin"]), bearer(tokens["dispatcher"])
    own = client.post("/api/departments/hb/tokens", headers=admin).get_json()["token"]
    other = client.post("/api/departments/sw/tokens", headers=admin).get_json()["token"]
    iid = report(client, tokens["field"])
    url = upload(client, iid, picture(), tokens["field"]).get_json()["url"]
    assert client.get(url, headers=bearer(own)).status_code == 403  # not dispatched yet
    transition = f"/api/incidents/{iid}/transition"
    client.post(transition, json={"action": "accept"}, headers=dispatcher)
    done = client.post(
        transition, json={"action": "dispatch", "department": "hb"}, headers=dispatcher
    )
    assert done.status_code == 200, done.get_json()
    assert client.get(url, headers=bearer(own)).status_code == 200
    assert client.get(url, headers=bearer(other)).status_code == 403
    # The department adds its own photo of the work done.
    assert upload(client, iid, picture(colour="green"), own).status_code == 201


@pytest.mark.parametrize(
    ("data", "name", "mimetype", "status"),
    [
        (b"", "empty.jpg", "image/jpeg", 400),
        ("一段文字".encode() * 50, "fake.jpg", "image/jpeg", 415),
        (picture("GIF"), "anim.gif", "image/gif", 415),
        (picture("JPEG", (400, 300))[:500], "cut.jpg", "image/jpeg", 400),
    ],
    ids=["empty", "text-named-jpg", "gif", "truncated"],
)
def test_bad_uploads_are_4xx_json(client, tokens, data, name, mimetype, status):
    iid = report(client, tokens["field"])
    answer = upload(client, iid, data, tokens["field"], name, mimetype)
    assert answer.status_code == status, answer.get_json()
    assert answer.is_json and answer.get_json()["field"] == "photo"
    listed = client.get(f"/api/incidents/{iid}/photos", headers=bearer(tokens["field"]))
    assert listed.get_json()["count"] == 0  # nothing half-stored


def test_too_large_uploads_and_wrong_bodies_are_4xx_json(store_url, city_store, tokens):
    from web import create_app

    app = create_app({"DB": store_url, "TESTING": True, "PHOTO_MAX_BYTES": 20_000})
    client = app.test_client()
    try:
        iid = report(client, tokens["field"])
        noisy = Image.effect_noise((400, 400), 80).convert("RGB")
        buffer = io.BytesIO()
        noisy.save(buffer, "PNG")
        big = buffer.getvalue()
        assert len(big) > 20_000 + 64 * 1024
        answer = upload(client, iid, big, tokens["field"], "big.png", "image/png")
        assert answer.status_code == 413 and answer.is_json
        # Just over the photo limit but inside the form margin: the service says so.
        buffer = io.BytesIO()
        Image.effect_noise((100, 100), 80).convert("RGB").save(buffer, "PNG")
        medium = buffer.getvalue()
        assert 20_000 < len(medium) < 20_000 + 64 * 1024
        answer = upload(client, iid, medium, tokens["field"], "m.png", "image/png")
        assert answer.status_code == 413 and "20,000" in answer.get_json()["error"]
        url = f"/api/incidents/{iid}/photos"
        h = bearer(tokens["field"])
        assert client.post(url, json={"photo": "x"}, headers=h).status_code == 415
        missing = client.post(
            url, data={"other": "x"}, content_type="multipart/form-data", headers=h
        )
        assert missing.status_code == 400 and missing.get_json()["field"] == "photo"
        assert client.get(url, headers=h).get_json()["count"] == 0
    finally:
        getattr(app.extensions["gridmap_store"], "dispose", lambda: None)()
