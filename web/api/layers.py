"""What the map draws: its configuration, the layers by bbox and zoom, address search."""

from __future__ import annotations

import json

from flask import current_app, jsonify

from gridmap.rules import labels
from gridmap.rules.display import DECIMALS, band_for_zoom
from gridmap.rules.workflow import ACTIONS, STATES
from gridmap.store import LayerFeature
from web import geocoding
from web.api import (
    LAYERS,
    SHIFT_CACHE_LIMIT,
    bp,
    current_version,
    datum,
    incident_types,
    json_response,
    storage_bbox,
    store,
)
from web.api.kpi import grid_stats
from web.auth import current_user, requires
from web.errors import ApiError
from web.schema import GeocodeQuery, ViewQuery, parse_query


@bp.get("/config")
@requires("viewer")
def config():
    """Everything the map page needs to start: city, extent, base map, layers, types, user."""
    user = current_user()
    version = current_version(required=False)
    cfg = current_app.config
    bounds = version.bounds if version else None
    if bounds:
        w, s = datum().to_display(bounds[0], bounds[1])
        e, n = datum().to_display(bounds[2], bounds[3])
        view = {"center": [(s + n) / 2, (w + e) / 2], "bounds": [[s, w], [n, e]]}
    else:
        view = {"center": None, "bounds": None}
    return jsonify(
        {
            "city": (version.city if version else "") or cfg["CITY"],
            **view,
            "basemap": {
                "url": cfg["BASEMAP_URL"],
                "datum": datum().name,
                "attribution": cfg["BASEMAP_ATTRIBUTION"],
            },
            "datum": datum().name,
            "layers": [{"name": n, "title": labels.LAYERS[n]} for n in LAYERS],
            "incident_types": [{"code": c, "name": n} for c, n in incident_types().items()],
            "statuses": [{"code": s, "name": labels.STATES[s]} for s in STATES],
            "actions": [{"code": a, "name": labels.ACTIONS[a]} for a in ACTIONS],
            "user": user.as_json(),
            "version": (
                {"id": version.id, "note": version.note, "published_at": version.published_at}
                if version
                else None
            ),
            # What the page shows instead of a map while nothing is published.
            "notice": None if version else "尚未发布网格版本：请先运行 gridmap publish 发布。",
        }
    )


@bp.get("/layers/<name>")
@requires("viewer")
def layer(name: str):
    """GeoJSON of one layer meeting the bbox, simplified for the zoom."""
    if name not in LAYERS:
        raise ApiError(404, f"unknown layer {name!r}; one of {', '.join(LAYERS)}", field="name")
    view = parse_query(ViewQuery)
    bbox, zoom = storage_bbox(view.bbox), view.zoom
    version = current_version(required=False)
    if version is None:
        return jsonify({"type": "FeatureCollection", "features": []})
    rows = store().layer_features(version.id, name, bbox, zoom)
    geometries = _display_geometries(rows, band_for_zoom(zoom))
    stats = grid_stats([r.code for r in rows]) if name in ("grid", "exclusive") else {}
    parts = []
    for row, geometry in zip(rows, geometries, strict=True):
        props = dict(row.props)
        if name in ("grid", "exclusive"):
            open_, overdue, rate = stats.get(row.code, (0, 0, None))
            props |= {"open": open_, "overdue": overdue, "closure_rate": rate}
        text = json.dumps(props, ensure_ascii=False, separators=(",", ":"))
        # The geometry is stored GeoJSON text (simplified at publish): sent as it is.
        parts.append(
            f'{{"type":"Feature","id":{row.id},"properties":{text},"geometry":{geometry}}}'
        )
    head = f'{{"type":"FeatureCollection","layer":{json.dumps(name)},"version":{version.id}'
    return json_response(f'{head},"features":[{",".join(parts)}]}}')


def _display_geometries(rows: list[LayerFeature], band: int) -> list[str]:
    """Stored geometry texts in the display datum; shifted ones are cached per feature and band
    (shifting every grid of a city view on each pan would cost more than the query)."""
    if datum().identity:
        return [r.geojson for r in rows]
    cache = current_app.extensions["gridmap_cache"].setdefault("shifted", {})
    missing = [r for r in rows if (r.id, band) not in cache]
    if missing:
        if len(cache) > SHIFT_CACHE_LIMIT:
            cache.clear()
        shifted = datum().geojson_to_display([r.geojson for r in missing], DECIMALS[band])
        cache.update({(r.id, band): text for r, text in zip(missing, shifted, strict=True)})
    return [cache[(r.id, band)] for r in rows]


@bp.get("/geocode")
@requires("viewer")
def geocode():
    """Match a free-text address against the library; the grid it falls in."""
    query = parse_query(GeocodeQuery).q
    version = current_version()
    found = geocoding.match(version.id, query)
    grid = None
    if found.grid_code:
        layer_name = "grid"
        feature = store().feature(version.id, "grid", found.grid_code)
        if feature is None:
            layer_name = "exclusive"
            feature = store().feature(version.id, "exclusive", found.grid_code)
        if feature is not None:
            geometry = datum().geojson_to_display([feature.geojson])[0]
            grid = {
                "type": "Feature",
                "properties": dict(feature.props) | {"layer": layer_name},
                "geometry": json.loads(geometry),
            }
    # The answer's shape (candidates, approximate point, highlight) is the geocoder's own.
    return jsonify({"match": geocoding.answer(found, datum()), "grid": grid})
