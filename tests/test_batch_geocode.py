"""Batch geocoding from the browser: the upload's checks, the job on both stores (a real worker
process), the downloads with `gridmap geocode`'s rows, every bad upload a 4xx JSON answer."""

from __future__ import annotations

import csv
import io

import pytest

from gridmap.geocode.cli import RESULT_COLUMNS, REVIEW_COLUMNS
from gridmap.services import batch_geocode as batch

GOOD = "浙江省嘉兴市南湖区测试路3号"
ROWS = [
    ("a1", GOOD),
    ("a2", "测试路5号"),
    ("a3", "火星基地99号"),  # nowhere: level none, to the review list
]


def gbk_csv(extra_lines: str = "") -> bytes:
    text = "编号,地址\r\n" + "".join(f"{i},{a}\r\n" for i, a in ROWS) + extra_lines
    return text.encode("gbk")


# -- the upload (no store) ------------------------------------------------------------------------


def test_a_gbk_upload_with_chinese_headers_reads_like_gridmap_geocode():
    upload = batch.check_upload(gbk_csv("a4\r\n"), "名单.csv")
    assert upload.encoding == "GBK"
    assert [(q.line, q.id, q.address) for q in upload.queries][:3] == [
        (2, "a1", GOOD),
        (3, "a2", "测试路5号"),
        (4, "a3", "火星基地99号"),
    ]
    bad = upload.queries[3]
    assert (bad.line, bad.id, bad.address) == (5, "a4", "") and "1 field(s)" in bad.problem
    assert [(p.file, p.row, p.field) for p in upload.problems] == [("名单.csv", 5, "address")]


def test_a_row_in_another_encoding_is_reported_and_kept():
    data = gbk_csv() + "a9,测试路7号\r\n".encode() + "a10,测试路8号\r\n".encode("gbk")
    upload = batch.check_upload(data, "mixed.csv")
    assert [q.id for q in upload.queries] == ["a1", "a2", "a3", "a9", "a10"]
    assert [p.row for p in upload.problems] == [5]
    assert "mixed encodings" in upload.problems[0].message
    assert "mixed encodings" in upload.queries[3].problem


def test_extra_fields_are_joined_back_into_the_address():
    upload = batch.check_upload("id,address\n1,测试路,3号\n".encode(), "x.csv")
    assert upload.queries[0].address == "测试路,3号" and upload.problems[0].row == 2


@pytest.mark.parametrize(
    "data, name, kind",
    [
        (b"id,address\n1,x\n", "list.xlsx", "not_csv"),
        (b"PK\x03\x04\x00\x00binary", "list.csv", "not_csv"),
        (b"", "list.csv", "empty"),
        (b"\xef\xbb\xbf\r\n", "list.csv", "empty"),
        (
            bytes(range(128, 256)) * 3 + b"\n" + bytes(range(255, 127, -1)) * 3,
            "x.csv",
            "undecodable",
        ),
        ("名称,电话\n张三,123\n".encode("gbk"), "list.csv", "no_column"),
        (b"id,address\n" + b"1,x\n" * 300, "list.csv", "too_large"),
    ],
)
def test_uploads_that_cannot_be_query_files_are_refused(data, name, kind):
    with pytest.raises(batch.UploadError) as error:
        batch.check_upload(data, name, max_bytes=1000)
    assert error.value.kind == kind
    assert name in error.value.message


# -- the API and the job (both stores) ------------------------------------------------------------


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def upload(client, token, data: bytes, name: str = "名单.csv"):
    return client.post(
        "/api/batch-geocode",
        data={"file": (io.BytesIO(data), name)},
        headers=auth(token),
        content_type="multipart/form-data",
    )


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 with a BOM right
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_upload_progress_and_downloads(app, client, tokens, city_store, tmp_path):
    data = gbk_csv("a4\r\n")
    answer = upload(client, tokens["viewer"], data)
    assert answer.status_code == 202, answer.get_json()
    body = answer.get_json()
    assert (body["rows"], body["bad_rows"], body["encoding"]) == (4, 1, "GBK")
    job_id = body["id"]
    assert answer.headers["Location"] == f"/api/batch-geocode/{job_id}"
    app.extensions["gridmap_jobs"].wait(job_id, city_store, timeout=300)

    state = client.get(f"/api/batch-geocode/{job_id}", headers=auth(tokens["viewer"])).get_json()
    assert state["status"] == "done" and state["progress"] == 1.0
    summary = state["summary"]
    assert summary["rows"] == 4 and summary["encoding"] == "GBK"
    assert summary["statuses"] == {"ok": 2, "review": 1, "bad_row": 1}
    assert summary["problems"] == [
        {"row": 5, "field": "address", "message": "1 field(s), expected 2"}
    ]
    assert set(state["downloads"]) == {"results.csv", "review.csv"}

    results = client.get(state["downloads"]["results.csv"], headers=auth(tokens["viewer"]))
    assert results.status_code == 200 and results.mimetype == "text/csv"
    rows = read_csv(results.data)
    assert tuple(rows[0]) == RESULT_COLUMNS
    assert [r[0] for r in rows[1:]] == ["a1", "a2", "a3", "a4"]  # every row, in order
    by_id = {r[0]: dict(zip(RESULT_COLUMNS, r, strict=True)) for r in rows[1:]}
    assert by_id["a1"]["status"] == "ok" and by_id["a1"]["grid_code"].startswith("330402")
    assert by_id["a3"]["level"] == "none" and by_id["a3"]["status"] == "review"
    assert by_id["a4"]["status"] == "bad_row"

    review = read_csv(
        client.get(state["downloads"]["review.csv"], headers=auth(tokens["viewer"])).data
    )
    assert tuple(review[0]) == REVIEW_COLUMNS
    reasons = {r[0]: r[2] for r in review[1:]}
    assert set(reasons) == {"a3", "a4"} and "1 field(s)" in reasons["a4"]

    # The same rows as `gridmap geocode` writes for the same file against the same library.
    cli_rows = run_cli_geocode(tmp_path, data)
    assert rows == cli_rows

    # Listed for its owner; invisible to someone else.
    listed = client.get("/api/batch-geocode", headers=auth(tokens["viewer"])).get_json()
    assert [b["id"] for b in listed["batches"]] == [job_id]
    assert listed["limits"]["max_bytes"] == batch.MAX_BYTES
    other = client.get(f"/api/batch-geocode/{job_id}", headers=auth(tokens["dispatcher"]))
    assert other.status_code == 404
    assert (
        client.get("/api/batch-geocode", headers=auth(tokens["dispatcher"])).get_json()["batches"]
        == []
    )
    admin = client.get(f"/api/batch-geocode/{job_id}/review.csv", headers=auth(tokens["admin"]))
    assert admin.status_code == 200


def run_cli_geocode(tmp_path, data: bytes) -> list[list[str]]:
    """`gridmap geocode` on the same queries with the city's library and grids as files."""
    import webcity

    from gridmap.cli import main

    library = tmp_path / "library.csv"
    webcity.addresses().to_csv(library, index=False)
    grids = tmp_path / "grids.geojson"
    webcity.grids().to_file(grids, driver="GeoJSON")
    boundaries = tmp_path / "boundaries.geojson"
    webcity.boundaries().to_file(boundaries, driver="GeoJSON")
    queries = tmp_path / "queries.csv"
    queries.write_bytes(data.replace("编号,地址".encode("gbk"), b"id,address", 1))
    out = tmp_path / "found.csv"
    argv = ["geocode", "--library", str(library), "--grids", str(grids)]
    argv += ["--boundaries", str(boundaries), "--in", str(queries), "--out", str(out)]
    with pytest.raises(SystemExit):
        main(argv)
    return list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))


def test_bad_uploads_get_4xx_json(app, client, tokens):
    viewer = tokens["viewer"]
    cases = [
        (upload(client, viewer, b"id,address\n1,x\n", "list.xlsx"), 415),
        (upload(client, viewer, "名称\n张三\n".encode("gbk")), 422),
        (upload(client, viewer, bytes(range(128, 256)) * 50), 400),
        (upload(client, viewer, b""), 400),
        (client.post("/api/batch-geocode", headers=auth(viewer), data={}), 400),
        (upload(client, "not-a-token", gbk_csv()), 401),
    ]
    for answer, status in cases:
        assert answer.status_code == status, answer.get_data(as_text=True)
        assert answer.is_json and answer.get_json()["error"]
    app.config["BATCH_GEOCODE_MAX_BYTES"] = 100
    too_large = upload(client, viewer, gbk_csv() * 20)
    assert too_large.status_code == 413 and too_large.is_json
    for path in ("/api/batch-geocode/999", "/api/batch-geocode/999/results.csv"):
        missing = client.get(path, headers=auth(viewer))
        assert missing.status_code == 404 and missing.is_json
    assert client.get("/api/batch-geocode/1/other.csv", headers=auth(viewer)).status_code == 404
    bad_limit = client.get("/api/batch-geocode?limit=0", headers=auth(viewer))
    assert bad_limit.status_code == 400 and bad_limit.get_json()["field"] == "limit"


def test_one_running_batch_per_person_and_downloads_wait_for_done(client, tokens, city_store):
    job_id = city_store.create_job("geocode", "viewer-user", {"filename": "x.csv"})
    again = upload(client, tokens["viewer"], gbk_csv())
    assert again.status_code == 409 and "still running" in again.get_json()["error"]
    early = client.get(f"/api/batch-geocode/{job_id}/results.csv", headers=auth(tokens["viewer"]))
    assert early.status_code == 409 and early.is_json
    cancelled = client.post(
        f"/api/batch-geocode/{job_id}/cancel", headers=auth(tokens["viewer"])
    ).get_json()
    assert cancelled["status"] == "cancelled" and cancelled["downloads"] == {}
    # A plan job is not a batch, whatever its id.
    plan_id = city_store.create_job("plan", "viewer-user", {})
    assert (
        client.get(f"/api/batch-geocode/{plan_id}", headers=auth(tokens["viewer"])).status_code
        == 404
    )


def test_openapi_lists_the_batch_endpoints(client):
    doc = client.get("/openapi.json").get_json()
    post = doc["paths"]["/api/batch-geocode"]["post"]
    schema = post["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["file"] == {"type": "string", "format": "binary"}
    assert "file" in schema["required"] and "202" in post["responses"]
    assert "/api/batch-geocode/{job_id}" in doc["paths"]
    assert "/api/batch-geocode/{job_id}/results.csv" in doc["paths"]
    assert "/api/batch-geocode/{job_id}/review.csv" in doc["paths"]
