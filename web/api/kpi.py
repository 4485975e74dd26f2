"""KPI views: per grid, community, street or district (JSON or CSV) under any grid version; one
grid with its KPIs. Formulas are :mod:`gridmap.rules.kpi`'s; this module only shapes them."""

from __future__ import annotations

import csv
import io
import json

from flask import Response, current_app, jsonify

from gridmap.rules import kpi as kpi_rules
from gridmap.rules import labels
from gridmap.rules.workflow import iso, utc_now
from gridmap.services import versions as version_service
from gridmap.store import KpiCounts, NotFound, Version
from web.api import bp, current_version, datum, store
from web.auth import requires
from web.errors import ApiError
from web.schema import KpiQuery, parse_query

CSV_COLUMNS = ["code", "name", *kpi_rules.INDICATORS]


def _row(counts: KpiCounts, names: dict[str, str]) -> dict:
    return {"code": counts.code, "name": names.get(counts.code, counts.code)} | (
        kpi_rules.indicators(counts)
    )


def kpi_table(
    level: str, version: Version | None, code: str | None = None, codes=None, with_names=True
) -> tuple[list[dict], dict]:
    """(rows of a level, the city's row) with names and rates; the city row is the sum of every
    unit's counts (so its rates agree with the table's). ``version`` None: incidents where they
    are now (see :func:`gridmap.services.versions.kpis`)."""
    named = version or current_version(required=False)
    names = store().names(named.id) if named and with_names else {}
    counts = version_service.kpis(store(), level, version, code=code, codes=codes)
    city = version_service.city_total(counts)
    city_row = kpi_rules.indicators(city) | {
        "code": "city",
        "name": (named.city if named else "") or labels.LEVELS["city"],
    }
    return [_row(c, names) for c in counts], city_row


def grid_stats(codes: list[str]) -> dict[str, tuple[int, int, float | None]]:
    """grid_code -> (open, overdue, closure_rate) of ``codes`` under the current version.

    Cached until the next incident event or minute; after an event only the grids a request
    shows are counted again (a view's few thousand grids, not the whole city).
    """
    grid_stats_key()
    stats = current_app.extensions["gridmap_cache"]["grid_stats"]
    missing = [c for c in codes if c not in stats]
    if missing:
        fresh = {c: (0, 0, None) for c in missing}
        for r in store().kpis("grid", codes=missing):
            fresh[r.code] = (r.open, r.overdue, kpi_rules.closure_rate(r))
        stats.update(fresh)
    return stats


def grid_stats_key() -> tuple[int, str]:
    """What the cached grid stats are valid for (the last incident event and the minute);
    a new key empties the cache."""
    key = (store().last_event_id(), iso(utc_now())[:16])
    cache = current_app.extensions["gridmap_cache"]
    if cache.get("grid_stats_key") != key:
        cache["grid_stats"] = {}
        cache["grid_stats_key"] = key
    return key


def _version_arg(version_id: int | None) -> Version | None:
    if version_id is None:
        return None
    try:
        return store().version(version_id)
    except NotFound as error:
        raise ApiError(404, str(error), field="version") from None


@bp.get("/kpi")
@requires("viewer")
def kpi():
    """KPIs per grid, community, street or district (``?version=``: under that grid version),
    as JSON (with the city's row) or CSV."""
    args = parse_query(KpiQuery)
    level, fmt = args.level, args.format
    version = _version_arg(args.version)
    rows, city = kpi_table(level, version)
    if fmt == "json":
        return jsonify(
            {
                "level": level,
                # null: by the grid each incident is in now; an id: under that version.
                "version": version.id if version else None,
                "rows": rows,
                "city": city,
            }
        )
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for row in rows:
        # A spreadsheet would run a cell starting with = + - @ as a formula: quote it as text.
        writer.writerow({k: _csv_safe(row[k]) for k in CSV_COLUMNS})
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
    feature = store().feature(version.id, "grid", code) or store().feature(
        version.id, "exclusive", code
    )
    if feature is None:
        raise ApiError(404, f"no grid {code} in the current version", field="code")
    rows = store().kpis("grid", code=code)
    kpis = kpi_rules.indicators(rows[0] if rows else kpi_rules.empty(code))
    geometry = json.loads(datum().geojson_to_display([feature.geojson])[0])
    return jsonify(dict(feature.props) | {"kpi": kpis, "geometry": geometry})
