"""What the map draws: its configuration, the layers by bbox and zoom, address search."""

from __future__ import annotations

import hashlib
import json
from array import array
from collections import OrderedDict

from flask import Response, current_app, jsonify, request

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
    storage_bbox,
    store,
)
from web.api.kpi import grid_stats, grid_stats_key
from web.auth import current_user, requires
from web.compression import gunzip, gzip_answer
from web.errors import ApiError
from web.schema import GeocodeQuery, ViewQuery, parse_query

GRID_LAYERS = ("grid", "exclusive")  # their features carry live counts
STAT_KEYS = ("open", "overdue", "closure_rate")
LAYER_ANSWERS_KEPT = 16  # whole answers kept (gzipped: a city-wide one is ~0.6 MB)


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
    """GeoJSON of one layer meeting the bbox, simplified for the zoom.

    The database picks the features (their ids); each feature's text (its properties and its
    geometry in the display datum) is built once per version and band and kept, and the grids'
    live counts are added to it. A whole answer is kept gzipped, with an ETag, until its
    features or the counts change (``If-None-Match`` then gets 304): a city-wide view is sent
    again without being built or compressed again.
    """
    if name not in LAYERS:
        raise ApiError(404, f"unknown layer {name!r}; one of {', '.join(LAYERS)}", field="name")
    view = parse_query(ViewQuery)
    bbox, zoom = storage_bbox(view.bbox), view.zoom
    version = current_version(required=False)
    if version is None:
        return jsonify({"type": "FeatureCollection", "features": []})
    band = band_for_zoom(zoom)
    ids = store().layer_feature_ids(version.id, name, bbox, zoom)
    with_stats = name in GRID_LAYERS
    # An answer is fixed by these: the texts of a version's band (in the display datum) never
    # change, the counts only with the stats key. Their digest is the cache key and the ETag.
    digest = hashlib.blake2b(array("q", ids).tobytes(), digest_size=16)
    stats_key = grid_stats_key() if with_stats else None
    digest.update(repr((version.id, name, band, datum().name, stats_key)).encode())
    etag = digest.hexdigest()
    cache = current_app.extensions["gridmap_cache"]
    answers = cache.setdefault("layer_answers", OrderedDict())
    gz = answers.get(etag)
    if gz is None:
        gz = _layer_answer(version.id, name, band, ids, zoom, with_stats)
        answers[etag] = gz
        while len(answers) > LAYER_ANSWERS_KEPT:
            answers.popitem(last=False)
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    elif "gzip" in request.headers.get("Accept-Encoding", ""):
        response = Response(gz, mimetype="application/json")
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = Response(gunzip(gz), mimetype="application/json")
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["ETag"] = f'"{etag}"'
    response.headers["Cache-Control"] = "private, no-cache"  # may keep it, must revalidate
    return response


def _layer_answer(version_id, name, band, ids, zoom, with_stats) -> bytes:
    """The gzipped GeoJSON of the features ``ids`` of a layer at ``band``."""
    texts = current_app.extensions["gridmap_cache"].setdefault("layer_texts", {})
    if texts.get("version") != version_id:  # another version is current: keep only its texts
        texts.clear()
        texts["version"] = version_id
    known = texts.setdefault((name, band), {})
    if any(i not in known for i in ids):
        # the whole layer at once: a few views in, every view of the band is served from here
        rows = store().layer_features(version_id, name, None, zoom)
        for row, geometry in zip(rows, _display_geometries(rows, band), strict=True):
            known[row.id] = _feature_text(row, geometry, with_stats)
    parts = []
    if with_stats:
        stats = grid_stats([known[i][0] for i in ids])
        rate_texts: dict = {}  # a city has a few hundred distinct rates, not one per grid
        for i in ids:
            code, head, tail = known[i]
            open_, overdue, rate = stats.get(code, (0, 0, None))
            rate_text = rate_texts.get(rate)
            if rate_text is None:
                rate_text = rate_texts[rate] = json.dumps(rate)
            parts.append(
                f'{head}"open":{open_},"overdue":{overdue},"closure_rate":{rate_text}{tail}'
            )
    else:
        parts = [known[i][1] + known[i][2] for i in ids]
    head = f'{{"type":"FeatureCollection","layer":{json.dumps(name)},"version":{version_id}'
    data = f'{head},"features":[{",".join(parts)}]}}'.encode()
    return gzip_answer(data)


def _feature_text(row: LayerFeature, geometry: str, with_stats: bool) -> tuple[str, str, str]:
    """(code, text up to where a grid's live counts go, the rest) of one feature.

    >>> row = LayerFeature(7, "g1", "", {"name": "一"}, "")
    >>> "".join(_feature_text(row, '{"type":"Point"}', False)[1:])
    '{"type":"Feature","id":7,"properties":{"name":"一"},"geometry":{"type":"Point"}}'
    >>> _feature_text(row, "{}", True)[1]
    '{"type":"Feature","id":7,"properties":{"name":"一",'
    """
    props = {k: v for k, v in row.props.items() if not (with_stats and k in STAT_KEYS)}
    text = json.dumps(props, ensure_ascii=False, separators=(",", ":"))[:-1]  # open: no }
    if with_stats and props:
        text += ","
    elif not with_stats:
        text += "}"
    # The geometry is stored GeoJSON text (simplified at publish): sent as it is.
    head = f'{{"type":"Feature","id":{row.id},"properties":{text}'
    tail = ("}" if with_stats else "") + f',"geometry":{geometry}}}'
    return row.code, head, tail


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
