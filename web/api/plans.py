"""The planner workspace's API: re-partition plans as background jobs, their diff and preview,
publishing one as a new version (planner role for every call).

A plan runs in the job runner's child process (:mod:`gridmap.services.jobs`), so it survives a
page reload and a planner may start several; the service is :mod:`gridmap.services.plans`.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Response, current_app, jsonify, request

from gridmap.errors import InputError
from gridmap.services import plans as plan_service
from gridmap.store import NotFound
from web.api import allow_upload, bp, datum, store
from web.auth import require_user, requires
from web.errors import ApiError
from web.schema import (
    PlanIn,
    PlanListQuery,
    PlanPublishIn,
    parse,
    parse_json,
    parse_query,
)


def _job(plan_id: int):
    """The plan job (404 when there is none, or the id is another kind of job)."""
    try:
        job = store().job(plan_id)
    except NotFound:
        raise ApiError(404, f"plan {plan_id} does not exist", field="id") from None
    if job.kind != plan_service.KIND:
        raise ApiError(404, f"plan {plan_id} does not exist", field="id")
    return job


def plan_json(job, *, full: bool = True) -> dict:
    """A plan as the API answers it: the job's state and progress, the parameters, and (with
    ``full``) the summary without the per-grid diff rows (``/diff`` has them)."""
    answer = job.as_json()
    summary = dict(answer.get("summary") or {})
    if "diff" in summary:
        summary["diff"] = {k: v for k, v in summary["diff"].items() if k != "grids"}
    if not full:
        summary = {k: summary[k] for k in ("diff", "ok", "published_version") if k in summary}
        if "diff" in summary:
            summary["diff"] = {"counts": summary["diff"].get("counts", {})}
    if job.status == "done":
        summary["published_version"] = plan_service.published_version(store(), job.id)
    answer["summary"] = summary
    return answer


@bp.post("/plans")
def create_plan():
    """Start a re-partition plan (JSON options, or multipart with input files) -> its id."""
    user = require_user("planner")
    files: dict[str, bytes] = {}
    names: dict[str, str] = {}
    if request.mimetype == "multipart/form-data":
        # An empty field is an absent option, except locks: "" there means no locks at all.
        form = {k: v for k, v in request.form.items() if v != "" or k == "locks"}
        options = parse(PlanIn, form)
        for name in plan_service.INPUT_FILES:
            upload = request.files.get(name)
            if upload is None or not upload.filename:
                continue
            suffix = Path(upload.filename).suffix.lower()
            if suffix not in plan_service.INPUT_SUFFIXES:
                allowed = ", ".join(plan_service.INPUT_SUFFIXES)
                raise ApiError(400, f"{name}: use {allowed}", field=name)
            data = upload.read()
            if not data:
                raise ApiError(400, f"{name}: {upload.filename} is empty", field=name)
            job_name = f"input-{name}{suffix}"
            files[job_name] = data
            names[name] = job_name
    else:
        options = parse_json(PlanIn)
    if options.source == "upload" and not names:
        raise ApiError(400, "source upload needs the files boundaries and addresses (multipart)")
    params = plan_service.PlanParams(
        min_households=options.min_households,
        max_households=options.max_households,
        max_population=options.max_population,
        max_area_km2=options.max_area_km2,
        micro_households=options.micro_households,
        locks=None if options.locks is None else tuple(dict.fromkeys(options.locks)),
        exclusive_categories=tuple(options.exclusive_categories),
        exclusive_min_area_m2=options.exclusive_min_area_m2,
        exclusive_min_headcount=options.exclusive_min_headcount,
        exclusive_ratio_limit=options.exclusive_ratio_limit,
        source=options.source,
        files=names,
    )
    try:
        params = plan_service.prepare(store(), params)
    except InputError as error:
        problem = error.problems[0]
        raise ApiError(400, problem.message, field=problem.field) from None
    runner = current_app.extensions["gridmap_jobs"]
    job_id = runner.submit(store(), plan_service.KIND, user.name, params.as_json(), files)
    response = jsonify({"id": job_id, "status": store().job(job_id).status})
    response.status_code = 202
    response.headers["Location"] = f"/api/plans/{job_id}"
    return response


# Input files are as big as a publish's: the same limit, for planners' plan requests only.
allow_upload("api.create_plan", lambda config: config["PUBLISH_MAX_CONTENT_LENGTH"])


@bp.get("/plans/options")
@requires("planner")
def plan_options():
    """What the workspace's form offers: the defaults and bounds of every option (from the
    request model), the site categories, the input sources and the export formats."""
    from gridmap.model import SITE_CATEGORIES
    from gridmap.services import export

    schema = PlanIn.model_json_schema()
    bounds = {}
    for name, prop in schema["properties"].items():
        for option in [prop, *prop.get("anyOf", [])]:
            keys = ("minimum", "maximum", "exclusiveMinimum")
            found = {k: option[k] for k in keys if k in option}
            if found:
                bounds[name] = found
    return jsonify(
        {
            "defaults": PlanIn().model_dump(mode="json"),
            "bounds": bounds,
            "sources": list(plan_service.SOURCES),
            "current_locks": plan_service.current_locks(store()),
            "site_categories": list(SITE_CATEGORIES),
            "input_files": list(plan_service.INPUT_FILES),
            "required_uploads": list(plan_service.REQUIRED_UPLOADS),
            "input_suffixes": list(plan_service.INPUT_SUFFIXES),
            "export": {
                "formats": list(export.FORMATS),
                "layers": list(export.LAYERS),
                "encodings": list(export.ENCODINGS),
            },
        }
    )


@bp.get("/plans")
@requires("planner")
def plans():
    """Recent plans, newest first (state, progress and diff counts)."""
    query = parse_query(PlanListQuery)
    jobs = store().jobs(plan_service.KIND, limit=query.limit)
    return jsonify({"plans": [plan_json(job, full=False) for job in jobs]})


@bp.get("/plans/<int:plan_id>")
@requires("planner")
def plan(plan_id: int):
    """One plan: status queued|running|done|failed|cancelled, progress 0-1, message, summary."""
    return jsonify(plan_json(_job(plan_id)))


@bp.get("/plans/<int:plan_id>/diff")
@requires("planner")
def plan_diff(plan_id: int):
    """A finished plan against the version it started from: codes kept, changed, new and
    retired, and households before and after per grid."""
    job = _job(plan_id)
    if job.status != "done":
        raise ApiError(409, f"plan {plan_id} is {job.status}: the diff exists once it is done")
    diff = job.summary.get("diff") or {}
    return jsonify({"id": plan_id, "base_version": job.summary.get("base_version"), **diff})


@bp.get("/plans/<int:plan_id>/grids")
@requires("planner")
def plan_grids(plan_id: int):
    """A finished plan's grids and the retired ones as GeoJSON (display datum), each with its
    diff status and household change: the map's preview overlay."""
    job = _job(plan_id)
    try:
        features = plan_service.preview_features(store(), job)
    except plan_service.PlanConflict as error:
        raise ApiError(409, str(error)) from None
    shift = datum()
    if not shift.identity:  # storage -> display datum (a GCJ-02 base map)
        texts = shift.geojson_to_display([json.dumps(f["geometry"]) for f in features])
        for feature, text in zip(features, texts, strict=True):
            feature["geometry"] = json.loads(text)
    return Response(
        current_app.json.dumps({"type": "FeatureCollection", "features": features}),
        mimetype="application/geo+json",
    )


@bp.get("/plans/<int:plan_id>/file")
@requires("planner")
def plan_file(plan_id: int):
    """A finished plan's GeoPackage (layers grids and micro_grids), as `gridmap partition`
    writes it."""
    from gridmap.services.jobs import read_file

    job = _job(plan_id)
    if job.status != "done":
        raise ApiError(409, f"plan {plan_id} is {job.status}: no result file yet")
    data = read_file(store(), plan_id, plan_service.OUTPUT)
    if data is None:
        raise ApiError(404, f"plan {plan_id} has no result file")
    response = Response(data, mimetype="application/geopackage+sqlite3")
    response.headers["Content-Disposition"] = f'attachment; filename="plan-{plan_id}.gpkg"'
    return response


@bp.post("/plans/<int:plan_id>/publish")
def publish_plan(plan_id: int):
    """Publish a finished plan as a new version and make it current (with a note)."""
    user = require_user("planner")
    body = parse_json(PlanPublishIn) if request.get_data(cache=True) else PlanPublishIn()
    # One publish at a time: two planners publishing the same plan get one version, not two.
    with current_app.extensions["gridmap_lock"]:
        job = _job(plan_id)
        try:
            answer = plan_service.publish_plan(store(), job, note=body.note, published_by=user.name)
        except plan_service.PlanConflict as error:
            raise ApiError(409, str(error)) from None
        except InputError as error:  # an uploaded input went bad since the run (not expected)
            raise ApiError(409, f"plan {plan_id} cannot be published: {error}") from None
    current_app.extensions["gridmap_cache"].clear()
    response = jsonify({"id": plan_id, "version_id": answer["version_id"], "publish": answer})
    response.status_code = 201
    return response


@bp.post("/plans/<int:plan_id>/cancel")
def cancel_plan(plan_id: int):
    """Cancel a queued or running plan (nothing is published; the current version stays)."""
    require_user("planner")
    job = _job(plan_id)
    if job.status not in ("queued", "running"):
        raise ApiError(409, f"plan {plan_id} is {job.status}: only a queued or running plan stops")
    current_app.extensions["gridmap_jobs"].cancel(store(), plan_id)
    return jsonify(plan_json(store().job(plan_id)))
