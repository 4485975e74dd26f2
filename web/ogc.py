"""OGC API - Features (Part 1: Core, GeoJSON, OAS 3.0) over the current grid version: blueprint
``bp`` under ``/ogc``, so QGIS and GDAL (``OAPIF:http://host/ogc``) read the live layers.

- ``/ogc`` landing page, ``/ogc/conformance``, ``/ogc/collections``, ``/ogc/collections/{id}``;
- ``/ogc/collections/{id}/items`` with ``bbox`` (w,s,e,n lon/lat), ``limit`` (1..10,000, default
  100) and ``offset``; ``numberMatched``/``numberReturned``, ``self``/``next``/``prev`` links;
- ``/ogc/collections/{id}/items/{featureId}``.

Collections: districts, streets, communities, grids, exclusive_grids, micro_grids (when the
version has any) and incidents. Coordinates are CGCS2000 (EPSG:4490) longitude/latitude, which
the GeoJSON default CRS84 equals to within centimetres; every collection says so in its
description and ``storageCrs``. The same roles as the rest of the API apply: a viewer token as
``Authorization: Bearer`` (or a session). Feature ids are the unit/grid codes, incident ids.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import shapely
from flask import Blueprint, Response, current_app, json, request

from gridmap.rules import labels
from gridmap.store import IncidentFilter, NotFound
from web.auth import requires
from web.errors import ApiError

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CGCS2000 = "http://www.opengis.net/def/crs/EPSG/0/4490"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
GEOJSON = "application/geo+json"


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    layers: tuple[str, ...]  # store layers (empty: incidents)


COLLECTIONS = {
    c.id: c
    for c in (
        Collection("districts", "区", ("district",)),
        Collection("streets", "街道（镇）", ("street",)),
        Collection("communities", "社区（村）", ("community",)),
        Collection("grids", "综合网格", ("grid",)),
        Collection("exclusive_grids", "专属网格", ("exclusive",)),
        Collection("micro_grids", "微网格", ("micro_grid",)),
        Collection("incidents", "事件", ()),
    )
}


def _store():
    return current_app.extensions["gridmap_store"]


def _answer(body: dict, mimetype: str = "application/json") -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), mimetype=mimetype)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _base() -> str:
    return request.host_url.rstrip("/") + request.script_root + "/ogc"


def _version():
    version = _store().current_version()
    if version is None:
        raise ApiError(404, "no grid version is published yet: run `gridmap publish`")
    return version


# -- the features of one layer, loaded once per version ------------------------------------


@dataclass
class _Layer:
    codes: list[str]
    props: list[dict]
    geoms: np.ndarray
    tree: shapely.STRtree
    index: dict[str, int]


_cache: dict[tuple[int, str], _Layer] = {}
_lock = threading.Lock()


def _layer(version_id: int, collection: Collection) -> _Layer:
    key = (version_id, collection.id)
    with _lock:
        found = _cache.get(key)
        if found is None:
            rows = _store().layer_geometries(version_id, collection.layers)
            rows = sorted(rows, key=lambda r: r.code or "")
            geoms = np.array([r.geometry for r in rows], dtype=object)
            codes = [r.code or "" for r in rows]
            found = _Layer(
                codes,
                [dict(r.props) for r in rows],
                geoms,
                shapely.STRtree(geoms),
                {c: i for i, c in enumerate(codes)},
            )
            for old in [k for k in _cache if k[0] != version_id]:
                del _cache[old]
            _cache[key] = found
        return found


def _feature(code: str, props: dict, geometry) -> dict:
    return {
        "type": "Feature",
        "id": code,
        "properties": props,
        "geometry": json.loads(shapely.to_geojson(geometry)),
    }


def _incident_feature(r) -> dict:
    props = {
        "id": r.id,
        "type": r.type,
        "type_name": labels.TYPES.get(r.type, r.type),
        "status": r.status,
        "status_name": labels.STATES.get(r.status, r.status),
        "overdue": bool(r.overdue),
        "grid_code": r.grid_code,
        "community_code": r.community_code,
        "created_at": r.created_at,
        "due_at": r.due_at,
        "address": r.address,
        "description": r.description,
    }
    return {
        "type": "Feature",
        "id": r.id,
        "properties": props,
        "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
    }


# -- request parameters --------------------------------------------------------------------


def _collection(collection_id: str) -> Collection:
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise ApiError(404, f"no collection {collection_id!r}; one of {', '.join(COLLECTIONS)}")
    return found


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or len(text) > 9 or not low <= int(text) <= high:
        raise ApiError(400, f"{name} must be a whole number in {low}..{high}", field=name)
    return int(text)


def _bbox() -> tuple[float, float, float, float] | None:
    text = request.args.get("bbox")
    if not text:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ApiError(400, "bbox must be four numbers w,s,e,n", field="bbox") from None
    if len(values) != 4 or not all(np.isfinite(values)):
        raise ApiError(400, "bbox must be four numbers w,s,e,n", field="bbox")
    w, s, e, n = values
    if w > e or s > n or not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= n <= 90):
        raise ApiError(400, "bbox must be w,s,e,n with w <= e and s <= n in degrees", field="bbox")
    return (w, s, e, n)


# -- views ---------------------------------------------------------------------------------


@bp.get("")
@bp.get("/")
@requires("viewer")
def landing():
    """The landing page: links to the API definition, conformance and collections."""
    base = _base()
    version = _version()
    return _answer(
        {
            "title": f"{version.city or ''}网格化治理 OGC API - Features".strip(),
            "description": "Published grid version "
            f"{version.id}: divisions, grids and incidents (CGCS2000 lon/lat).",
            "links": [
                _link(base, "self", "application/json", "this document"),
                _link(
                    request.host_url.rstrip("/") + "/openapi.json",
                    "service-desc",
                    "application/vnd.oai.openapi+json;version=3.0",
                    "the API definition",
                ),
                _link(base + "/conformance", "conformance", "application/json", "conformance"),
                _link(base + "/collections", "data", "application/json", "collections"),
            ],
        }
    )


@bp.get("/conformance")
@requires("viewer")
def conformance():
    """The conformance classes implemented."""
    return _answer({"conformsTo": CONFORMANCE})


@bp.get("/collections")
@requires("viewer")
def collections():
    """Every collection of the current version."""
    version = _version()
    base = _base()
    present = [c for c in COLLECTIONS.values() if c.id != "micro_grids" or _has(version, c)]
    return _answer(
        {
            "links": [_link(base + "/collections", "self", "application/json", "collections")],
            "collections": [_describe(c, version, base) for c in present],
        }
    )


@bp.get("/collections/<collection_id>")
@requires("viewer")
def collection(collection_id: str):
    """One collection's description."""
    found = _collection(collection_id)
    return _answer(_describe(found, _version(), _base()))


@bp.get("/collections/<collection_id>/items")
@requires("viewer")
def items(collection_id: str):
    """Features of a collection, filtered by ``bbox``, paged by ``limit`` and ``offset``."""
    found = _collection(collection_id)
    limit = _int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_arg("offset", 0, 0, 10**9)
    bbox = _bbox()
    version = _version()
    if found.id == "incidents":
        flt = IncidentFilter(bbox=bbox)
        matched = _store().count_incidents(flt)
        features = [_incident_feature(r) for r in _store().incidents(flt, limit, offset)]
    else:
        layer = _layer(version.id, found)
        if bbox is None:
            hits = np.arange(len(layer.codes))
        else:
            hits = np.sort(layer.tree.query(shapely.box(*bbox), predicate="intersects"))
        matched = len(hits)
        page = hits[offset : offset + limit]
        features = [_feature(layer.codes[i], layer.props[i], layer.geoms[i]) for i in page]
    base = f"{_base()}/collections/{found.id}/items"
    keep = {k: v for k, v in request.args.items() if k not in ("offset", "limit")}
    links = [_link(_url(base, keep, limit, offset), "self", GEOJSON, "this page")]
    if offset + limit < matched:
        links.append(_link(_url(base, keep, limit, offset + limit), "next", GEOJSON, "next page"))
    if offset > 0:
        links.append(
            _link(_url(base, keep, limit, max(0, offset - limit)), "prev", GEOJSON, "previous")
        )
    return _answer(
        {
            "type": "FeatureCollection",
            "numberMatched": matched,
            "numberReturned": len(features),
            "timeStamp": _now(),
            "links": links,
            "features": features,
        },
        GEOJSON,
    )


@bp.get("/collections/<collection_id>/items/<feature_id>")
@requires("viewer")
def item(collection_id: str, feature_id: str):
    """One feature by its id (a unit or grid code, an incident number)."""
    found = _collection(collection_id)
    version = _version()
    if found.id == "incidents":
        if not feature_id.isdigit() or len(feature_id) > 12:
            raise ApiError(404, f"no incident {feature_id[:40]!r}")
        try:
            feature = _incident_feature(_store().incident(int(feature_id)))
        except NotFound:
            raise ApiError(404, f"no incident {feature_id}") from None
    else:
        layer = _layer(version.id, found)
        i = layer.index.get(feature_id)
        if i is None:
            raise ApiError(404, f"no feature {feature_id[:40]!r} in {found.id}")
        feature = _feature(layer.codes[i], layer.props[i], layer.geoms[i])
    base = f"{_base()}/collections/{found.id}"
    feature["links"] = [
        _link(f"{base}/items/{feature_id}", "self", GEOJSON, "this feature"),
        _link(base, "collection", "application/json", found.title),
    ]
    return _answer(feature, GEOJSON)


# -- helpers -------------------------------------------------------------------------------


def _link(href: str, rel: str, mimetype: str, title: str) -> dict:
    return {"href": href, "rel": rel, "type": mimetype, "title": title}


def _url(base: str, args: dict, limit: int, offset: int) -> str:
    from urllib.parse import urlencode

    return f"{base}?{urlencode(args | {'limit': limit, 'offset': offset})}"


def _now() -> str:
    from gridmap.rules.workflow import iso, utc_now

    return iso(utc_now())


def _has(version, c: Collection) -> bool:
    return bool(_layer(version.id, c).codes)


def _describe(c: Collection, version, base: str) -> dict:
    w, s, e, n = version.bounds
    return {
        "id": c.id,
        "title": c.title,
        "description": f"{c.title}（网格版本 {version.id}）; coordinates are CGCS2000 "
        "(EPSG:4490) longitude/latitude, equal to CRS84 within centimetres.",
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CGCS2000,
        "extent": {"spatial": {"bbox": [[w, s, e, n]], "crs": CRS84}},
        "links": [
            _link(f"{base}/collections/{c.id}", "self", "application/json", c.title),
            _link(f"{base}/collections/{c.id}/items", "items", GEOJSON, c.title),
        ],
    }
