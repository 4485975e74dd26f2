"""KPI views: per grid, community, street or district (JSON or CSV); one grid with its KPIs."""

from __future__ import annotations

import csv
import io
import json

from flask import Response, current_app, jsonify, request

from gridmap.store.workflow import iso, utc_now
from web.api import KPI_LEVELS, bp, current_version, datum, store
from web.auth import requires
from web.errors import ApiError


def kpi_rows(
    level: str, code: str | None = None, codes=None, with_names: bool = True
) -> list[dict]:
    """KPI rows of a level with names and rates (rates null when there is nothing to rate).

    closure_rate = closed / (total - rejected); on_time_rate = closed on time / closed.
    """
    version = current_version(required=False)
    names = store().names(version["id"]) if version and with_names else {}
    rows = []
    for r in store().kpis(level, code=code, codes=codes):
        valid = r["total"] - r["rejected"]
        rows.append(
            {
                "code": r["code"],
                "name": names.get(r["code"], r["code"]),
                "total": r["total"],
                "open": r["open"],
                "closed": r["closed"],
                "rejected": r["rejected"],
                "closure_rate": round(r["closed"] / valid, 4) if valid else None,
                "on_time_rate": round(r["closed_on_time"] / r["closed"], 4)
                if r["closed"]
                else None,
                "overdue": r["overdue"],
                "rework": r["rework"],
            }
        )
    return rows


def grid_stats(codes: list[str]) -> dict[str, tuple[int, int, float | None]]:
    """grid_code -> (open, overdue, closure_rate) of ``codes``.

    Cached until the next incident event or minute; after an event only the grids a request
    shows are counted again (a view's few thousand grids, not the whole city).
    """
    key = (store().last_event_id(), iso(utc_now())[:16])
    cache = current_app.extensions["gridmap_cache"]
    if cache.get("grid_stats_key") != key:
        cache["grid_stats"] = {}
        cache["grid_stats_key"] = key
    stats = cache["grid_stats"]
    missing = [c for c in codes if c not in stats]
    if missing:
        fresh = {c: (0, 0, None) for c in missing}
        for r in kpi_rows("grid", codes=missing, with_names=False):
            fresh[r["code"]] = (r["open"], r["overdue"], r["closure_rate"])
        stats.update(fresh)
    return stats


@bp.get("/kpi")
@requires("viewer")
def kpi():
    """KPIs per grid, community, street or district, as JSON or CSV."""
    level = request.args.get("level", "grid")
    if level not in KPI_LEVELS:
        raise ApiError(400, f"level must be one of {', '.join(KPI_LEVELS)}", field="level")
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ApiError(400, "format must be json or csv", field="format")
    rows = kpi_rows(level)
    if fmt == "json":
        return jsonify({"level": level, "rows": rows})
    buffer = io.StringIO()
    columns = ["code", "name", "total", "open", "closed", "rejected", "closure_rate"]
    columns += ["on_time_rate", "overdue", "rework"]
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        # A spreadsheet would run a cell starting with = + - @ as a formula: quote it as text.
        writer.writerow({k: _csv_safe(row[k]) for k in columns})
    return Response(
        "\ufeff" + buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=kpi_{level}.csv"},
    )


def _csv_safe(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return "" if value is None else value


@bp.get("/grids/<code>")
@requires("viewer")
def grid(code: str):
    """One grid's properties, KPIs and geometry."""
    version = current_version()
    feature = store().feature(version["id"], "grid", code) or store().feature(
        version["id"], "exclusive", code
    )
    if feature is None:
        raise ApiError(404, f"no grid {code} in the current version", field="code")
    rows = kpi_rows("grid", code=code)
    empty = {"total": 0, "open": 0, "closed": 0, "rejected": 0, "closure_rate": None}
    empty |= {"on_time_rate": None, "overdue": 0, "rework": 0}
    kpis = {k: v for k, v in (rows[0] if rows else empty).items() if k not in ("code", "name")}
    geometry = json.loads(datum().geojson_to_display([feature["geometry"]])[0])
    return jsonify(feature["props"] | {"kpi": kpis, "geometry": geometry})
