"""Batch geocoding from the browser (批量地址匹配): upload a CSV, watch the job, download.

- ``POST /api/batch-geocode`` (multipart ``file``) checks the upload at once (too large 413, not
  CSV text 415, not UTF-8/GBK 400, no id/address column 422, no published version 409) and
  queues a job (202 ``{"id"}``); one unfinished batch per person at a time (409).
- ``GET /api/batch-geocode`` the caller's batches, newest first; ``GET /api/batch-geocode/<id>``
  one batch: status, progress, message, and when done the counts and the bad rows.
- ``GET /api/batch-geocode/<id>/results.csv`` and ``/review.csv``: the files, with the columns of
  ``gridmap geocode`` (409 until the job is done).
- ``POST /api/batch-geocode/<id>/cancel``.

A batch is seen by the person who uploaded it (and admins). The service is
:mod:`gridmap.services.batch_geocode`; the job runs in the job runner's worker process.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Response, current_app, jsonify, request

from gridmap.rules import jobs as job_rules
from gridmap.services import batch_geocode as batch
from gridmap.services.jobs import read_file
from gridmap.store import NotFound
from web.api import FORM_MARGIN, allow_upload, bp, current_version, store
from web.auth import require_user
from web.errors import ApiError
from web.schema import BatchGeocodeForm, BatchListQuery, parse, parse_query

KIND = "geocode"
ROLE = "viewer"
UPLOAD_STATUS = {
    "too_large": 413,
    "not_csv": 415,
    "empty": 400,
    "undecodable": 400,
    "no_column": 422,
}
FILES = {"results.csv": batch.RESULTS, "review.csv": batch.REVIEW}


def max_bytes(config: Mapping | None = None) -> int:
    """The upload limit (``BATCH_GEOCODE_MAX_BYTES``, default 20 MB)."""
    config = current_app.config if config is None else config
    return int(config.get("BATCH_GEOCODE_MAX_BYTES", batch.MAX_BYTES))


# A list of addresses is bigger than any JSON request: this endpoint gets its own limit.
allow_upload("api.create_batch_geocode", lambda config: max_bytes(config) + FORM_MARGIN)


def _job_json(job) -> dict:
    answer = job.as_json()
    answer.pop("params", None)
    answer["filename"] = job.params.get("filename", "")
    answer["version_id"] = job.params.get("version_id")
    answer["downloads"] = (
        {name: f"/api/batch-geocode/{job.id}/{name}" for name in FILES}
        if job.status == "done"
        else {}
    )
    return answer


def _own_job(job_id: int):
    """The caller's batch job (404 when there is none, it is another kind, or someone else's)."""
    user = require_user(ROLE)
    try:
        job = store().job(job_id)
    except NotFound:
        job = None
    if job is None or job.kind != KIND or (job.owner != user.name and not user.at_least("admin")):
        raise ApiError(404, f"batch {job_id} does not exist", field="id")
    return job


@bp.post("/batch-geocode")
def create_batch_geocode():
    """Upload a CSV of addresses (multipart ``file``: id,address or 编号,地址; UTF-8 or GBK) to
    be matched against the current version's library -> ``{"id"}`` of the job."""
    user = require_user(ROLE)
    parse(BatchGeocodeForm, request.form.to_dict())
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(400, "missing file: send the CSV as multipart field file", field="file")
    data = upload.read(max_bytes() + 1)
    try:
        checked = batch.check_upload(data, upload.filename, max_bytes=max_bytes())
    except batch.UploadError as error:
        raise ApiError(UPLOAD_STATUS[error.kind], error.message, field="file") from None
    version = current_version()
    mine = [j for j in store().jobs(KIND, limit=200) if j.owner == user.name]
    if any(not job_rules.is_final(j.status) for j in mine):
        raise ApiError(409, "a batch of yours is still running: wait for it or cancel it")
    params = {
        "filename": upload.filename.rsplit("/", 1)[-1][:200],
        "version_id": version.id,
        "rows": len(checked.queries),
        "encoding": checked.encoding,
    }
    runner = current_app.extensions["gridmap_jobs"]
    job_id = runner.submit(store(), KIND, user.name, params, {batch.UPLOAD: data})
    response = jsonify(
        {
            "id": job_id,
            "status": store().job(job_id).status,
            "rows": len(checked.queries),
            "bad_rows": len(checked.problems),
            "encoding": checked.encoding,
        }
    )
    response.status_code = 202
    response.headers["Location"] = f"/api/batch-geocode/{job_id}"
    return response


@bp.get("/batch-geocode")
def list_batch_geocode():
    """The caller's batches, newest first (``limit``, default 20)."""
    user = require_user(ROLE)
    query = parse_query(BatchListQuery)
    mine = [j for j in store().jobs(KIND, limit=200) if j.owner == user.name]
    return jsonify(
        {
            "batches": [_job_json(j) for j in mine[: query.limit]],
            "limits": {
                "max_bytes": max_bytes(),
                "suffixes": list(batch.SUFFIXES),
                "columns": {"id": "id", "address": "address"}
                | {alias: column for alias, column in batch.ALIASES.items()},
            },
        }
    )


@bp.get("/batch-geocode/<int:job_id>")
def batch_geocode_status(job_id: int):
    """One batch: status, progress (0-1), message; when done the counts and the bad rows."""
    return jsonify(_job_json(_own_job(job_id)))


@bp.get("/batch-geocode/<int:job_id>/results.csv", defaults={"name": "results.csv"})
@bp.get("/batch-geocode/<int:job_id>/review.csv", defaults={"name": "review.csv"})
def batch_geocode_file(job_id: int, name: str):
    """The results (columns of ``gridmap geocode``) or the review list of a finished batch."""
    job = _own_job(job_id)
    if job.status != "done":
        raise ApiError(409, f"batch {job_id} is {job.status}, not done: no {name} yet")
    data = read_file(store(), job_id, FILES[name])
    if data is None:
        raise ApiError(404, f"batch {job_id} has no {name}", field="name")
    stem = job.params.get("filename", "batch").rsplit(".", 1)[0] or "batch"
    suffix = "results" if name == "results.csv" else "review"
    response = Response(data, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    ascii_name = f"batch-{job_id}-{suffix}.csv"
    from urllib.parse import quote

    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(f'{stem}.{suffix}.csv')}"
    )
    return response


@bp.post("/batch-geocode/<int:job_id>/cancel")
def cancel_batch_geocode(job_id: int):
    """Cancel a queued or running batch (a finished one stays as it is)."""
    job = _own_job(job_id)
    if not job_rules.is_final(job.status):
        job = current_app.extensions["gridmap_jobs"].cancel(store(), job_id)
    return jsonify(_job_json(job))
