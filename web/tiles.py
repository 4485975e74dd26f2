"""Vector tiles and the live figures that colour them: blueprint ``bp`` under ``/tiles``.

- ``GET /tiles/layers.json``: the tile layers (titles, zoom ranges), the URL templates for the
  current version and the city's extent - what the map page builds its sources from;
- ``GET /tiles/<layer>/<z>/<x>/<y>.mvt[?v=N]``: one Mapbox Vector Tile (gzip when accepted;
  204 when the tile holds nothing). ``ETag`` per version, tile and encoder; with ``v`` naming the
  version the answer is immutable and cached for a day, without it it is revalidated;
- ``GET /tiles/figures.json[?grids=a,b]``: open, overdue and closure rate per grid, community,
  street and district (only those of the listed grids when ``grids`` is given). The page takes it
  once and then asks only for the grids an event touched.

Every route needs a viewer, like the rest of the API (session, ``Authorization: Bearer`` or
``api_key``).
"""

from __future__ import annotations

import gzip
import re

import numpy as np
import shapely
from flask import Blueprint, Response, current_app, jsonify, request

from gridmap.codes import is_valid_code
from gridmap.rules import kpi as kpi_rules
from gridmap.services import versions as version_service
from gridmap.store import NotFound, Version
from gridmap.tiles import ENCODER_REVISION, MAX_TILE_ZOOM, TILE_LAYERS, TileError, TileId
from gridmap.tiles.cache import TileCache
from web.auth import requires
from web.errors import ApiError

bp = Blueprint("tiles", __name__, url_prefix="/tiles")

MVT_TYPE = "application/vnd.mapbox-vector-tile"
MAX_FIGURE_CODES = 500
KPI_LEVELS = ("grid", "community", "street", "district")
_PARENT_LENGTH = {"community": 12, "street": 9, "district": 6}
_CODE = re.compile(r"^[0-9]{6,20}$")
_EXTENT_LAYERS = {
    6: ("district",),
    9: ("street",),
    12: ("community",),
    15: ("grid", "exclusive", "micro_grid"),
}


def _store():
    return current_app.extensions["gridmap_store"]


def tile_cache() -> TileCache:
    """The app's tile cache (one per app: it holds the loaded versions)."""
    cache = current_app.extensions.get("gridmap_tiles")
    if cache is None:
        datum = current_app.extensions["gridmap_datum"]
        cache = TileCache(
            _store(), datum=datum.name, to_display=None if datum.identity else datum.to_display
        )
        current_app.extensions["gridmap_tiles"] = cache
    return cache


def _version(requested: str | None) -> Version:
    """The version a request names (``v``) or the current one; 404 when there is none."""
    if requested:
        if not requested.isdigit() or len(requested) > 12:
            raise ApiError(400, "v must be a version number", field="v")
        try:
            return _store().version(int(requested))
        except NotFound:
            raise ApiError(404, f"no grid version {requested}", field="v") from None
    version = _store().current_version()
    if version is None:
        raise ApiError(404, "no grid version is published yet: run `gridmap publish`")
    return version


@bp.get("/layers.json")
@requires("viewer")
def layers():
    """What the map page needs to draw the tiles of the current version."""
    version = _version(request.args.get("v"))
    base = f"{request.script_root}/tiles"
    return jsonify(
        {
            "version": version.id,
            "bounds": list(version.bounds),
            "max_zoom": MAX_TILE_ZOOM,
            "layers": [
                {
                    "name": layer.name,
                    "title": layer.title,
                    "min_zoom": layer.min_zoom,
                    "geometry": layer.geometry,
                    "label_layer": layer.label_name if layer.label_layer else None,
                    "tiles": f"{base}/{layer.name}/{{z}}/{{x}}/{{y}}.mvt?v={version.id}",
                }
                for layer in TILE_LAYERS.values()
            ],
            "figures": f"{base}/figures.json",
            # Names of the admin units by code: popups, lists and the feed show names, not codes.
            "names": _store().names(version.id),
        }
    )


@bp.get("/extent/<code>")
@requires("viewer")
def extent(code: str):
    """The bounding box of a district, street, community or grid (to zoom the map to it)."""
    if not _CODE.match(code):
        raise ApiError(404, f"{code[:40]!r} is not a division or grid code")
    version = _version(None)
    layers = _EXTENT_LAYERS.get(len(code), ())
    for layer in layers:
        feature = _store().feature(version.id, layer, code)
        if feature is not None:
            w, s, e, n = shapely.from_geojson(feature.geojson).bounds
            datum = current_app.extensions["gridmap_datum"]
            (w2, e2), (s2, n2) = datum.to_display(np.array([w, e]), np.array([s, n]))
            return jsonify(
                {
                    "code": code,
                    "layer": layer,
                    "name": feature.name,
                    "bbox": [round(float(v), 7) for v in (w2, s2, e2, n2)],
                }
            )
    raise ApiError(404, f"no unit {code} in the current version")


@bp.get("/<layer>/<z>/<x>/<y>.mvt")
@requires("viewer")
def tile(layer: str, z: str, x: str, y: str):
    """One vector tile of one layer."""
    if layer not in TILE_LAYERS:
        raise ApiError(404, f"unknown tile layer {layer!r}; one of {', '.join(TILE_LAYERS)}")
    try:
        tile_id = TileId.parse(z, x, y)
    except TileError as error:
        raise ApiError(404, str(error)) from None
    pinned = request.args.get("v")
    version = _version(pinned)
    cache = tile_cache()
    etag = f"{version.id}-{ENCODER_REVISION}-{cache.datum}-{layer}-{z}-{x}-{y}"
    cache_control = "private, max-age=86400, immutable" if pinned else "private, no-cache"
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        try:
            data = cache.get(version.id, layer, tile_id)
        except NotFound:
            raise ApiError(404, f"no grid version {version.id}") from None
        if not data:
            response = Response(status=204)
        elif "gzip" in request.headers.get("Accept-Encoding", ""):
            response = Response(data, mimetype=MVT_TYPE)
            response.headers["Content-Encoding"] = "gzip"
        else:
            response = Response(gzip.decompress(data), mimetype=MVT_TYPE)
    response.set_etag(etag)
    response.headers["Cache-Control"] = cache_control
    response.headers["Vary"] = "Accept-Encoding"
    return response


@bp.get("/figures.json")
@requires("viewer")
def figures():
    """Live figures per unit: {level: {code: [open, overdue, closure_rate]}}."""
    version = _version(None)
    store = _store()
    grids = _codes(request.args.get("grids"))
    wanted: dict[str, list[str] | None] = dict.fromkeys(KPI_LEVELS)
    if grids is not None:
        wanted = {"grid": grids}
        for level, length in _PARENT_LENGTH.items():
            wanted[level] = sorted({g[:length] for g in grids if len(g) > length})
    event_id = store.last_event_id()
    out: dict = {"version": version.id, "event_id": event_id}
    out["fields"] = ["open", "overdue", "closure_rate"]
    for level, codes in wanted.items():
        # Counts by the KPI service, rates by the KPI rules: this only picks three of them.
        rows = (
            version_service.kpis(store, level, None, codes=codes) if codes is None or codes else []
        )
        figures_of = {r.code: [r.open, r.overdue, kpi_rules.closure_rate(r)] for r in rows}
        if codes is not None:
            # A unit whose last incident left it still needs its zeros to reach the page.
            for code in codes:
                figures_of.setdefault(code, [0, 0, None])
        out[level] = figures_of
    response = jsonify(out)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _codes(text: str | None) -> list[str] | None:
    if text is None:
        return None
    codes = [c for c in (part.strip() for part in text.split(",")) if c]
    if len(codes) > MAX_FIGURE_CODES:
        raise ApiError(400, f"at most {MAX_FIGURE_CODES} grid codes", field="grids")
    for code in codes:
        if not _CODE.match(code) or not is_valid_code(code, "grid"):
            raise ApiError(400, f"{code[:40]!r} is not a grid code", field="grids")
    return codes
