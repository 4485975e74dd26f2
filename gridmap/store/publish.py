"""Publish a grid version: admin units, grids, roads and the address library into the store.

Display geometry is simplified at publish time for each zoom band (tolerance about one screen pixel
at the band's deepest zoom; coverage simplification keeps neighbouring polygons edge-matched) and
rounded to the precision that pixel needs, so the map endpoints only concatenate stored text.
"""

from __future__ import annotations

import json
from collections import Counter

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import InputError
from gridmap.model import ADDRESS_COMPONENTS, STORAGE_CRS
from gridmap.store.sqlite import BANDS, SQLiteStore, pixel_degrees

# Decimal places that keep a pixel or better at each band (0.0001 deg is 0.15 px at zoom 11;
# full detail: ~1 cm).
DECIMALS = {9: 4, 11: 4, 13: 5, 15: 6, 99: 7}


def publish(
    store: SQLiteStore,
    grids: gpd.GeoDataFrame,
    boundaries: gpd.GeoDataFrame,
    addresses: pd.DataFrame,
    barriers: gpd.GeoDataFrame | None = None,
    *,
    note: str = "",
    city: str | None = None,
    published_by: str = "",
    progress=None,
) -> dict:
    """Store a grid version and make it current; returns a summary dict (with ``version_id``).

    ``progress`` is an optional callable ``progress(step_name)`` for a CLI progress bar.
    """
    tick = progress or (lambda _name: None)
    _require(grids, "grids", ("grid_code", "kind", "community_code"))
    _require(boundaries, "boundaries", ("code", "name", "level"))
    _require(addresses, "addresses", ("address_id", "address", "lon", "lat"))
    grids = _to_storage(grids, "grids")
    boundaries = _to_storage(boundaries, "boundaries")

    features: list[dict] = []
    for level in ("district", "street", "community"):
        units = boundaries[boundaries["level"].astype(str) == level]
        props = [
            {
                "code": str(r.code),
                "name": str(r.name),
                "level": level,
                "parent_code": _text(getattr(r, "parent_code", None)),
            }
            for r in units.itertuples()
        ]
        features += _features(level, units.geometry.values, props, coverage=True)
        tick(level)
    if not any(f["layer"] == "district" for f in features):
        raise InputError.one(
            "boundaries", "no district-level unit: the city outline is unknown", field="level"
        )

    grid_props = [_grid_props(r) for r in grids.itertuples()]
    kinds = grids["kind"].astype(str).to_numpy()
    for layer, kind in (("grid", "comprehensive"), ("exclusive", "exclusive")):
        mask = kinds == kind
        features += _features(
            layer,
            grids.geometry.values[mask],
            [p for p, m in zip(grid_props, mask, strict=True) if m],
            coverage=(layer == "grid"),
        )
        tick(layer)

    if barriers is not None and len(barriers):
        barriers = _to_storage(barriers, "barriers")
        props = [
            {"name": _text(getattr(r, "name", None)) or "", "kind": _text(getattr(r, "kind", None))}
            for r in barriers.itertuples()
        ]
        features += _features("roads", barriers.geometry.values, props, coverage=False)
        tick("roads")

    address_rows, grid_of_address = _address_rows(addresses, grids)
    tick("addresses")
    districts = boundaries[boundaries["level"].astype(str) == "district"]
    bounds = tuple(float(v) for v in districts.total_bounds)
    city_name = city if city is not None else _city_name(addresses)
    summary = {
        "districts": int((boundaries["level"] == "district").sum()),
        "streets": int((boundaries["level"] == "street").sum()),
        "communities": int((boundaries["level"] == "community").sum()),
        "grids": int((kinds == "comprehensive").sum()),
        "exclusive_grids": int((kinds == "exclusive").sum()),
        "roads": 0 if barriers is None else len(barriers),
        "addresses": len(address_rows),
        "addresses_without_grid": int(sum(g is None for g in grid_of_address)),
    }
    version_id = store.add_version(
        note=note,
        city=city_name,
        bounds=bounds,
        features=features,
        addresses=address_rows,
        summary=summary,
        published_by=published_by,
    )
    tick("stored")
    return {"version_id": version_id, "city": city_name, "bounds": bounds, **summary}


def _require(frame: pd.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError.one(name, f"missing column(s) {', '.join(missing)}", field=missing[0])


def _to_storage(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry is None:
        raise InputError.one(name, "has no geometry")
    if frame.crs is None:
        return frame.set_crs(STORAGE_CRS)
    return frame if frame.crs.to_epsg() == 4490 else frame.to_crs(STORAGE_CRS)


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    text = str(value)
    return text or None


def _number(value, cast):
    try:
        return None if pd.isna(value) else cast(value)
    except (TypeError, ValueError):
        return None


def _grid_props(r) -> dict:
    area = getattr(r, "area_m2", None)
    return {
        "grid_code": str(r.grid_code),
        "kind": str(r.kind),
        "community_code": _text(r.community_code),
        "host_grid_code": _text(getattr(r, "host_grid_code", None)),
        "households": _number(getattr(r, "households", 0), int) or 0,
        "population": _number(getattr(r, "population", 0), int) or 0,
        "area_m2": None if area is None else _number(area, lambda v: round(float(v), 1)),
        # The partitioner's own violation names (below_min, above_max, ...): the planner panel
        # lists them instead of guessing from a household band.
        "flags": _text(getattr(r, "flags", None)) or "",
    }


def _features(layer: str, geoms: np.ndarray, props: list[dict], *, coverage: bool) -> list[dict]:
    """Feature dicts with WKB, bbox and one GeoJSON text per zoom band."""
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return []
    geoms = shapely.make_valid(geoms)
    by_band = {}
    for band in BANDS:
        if band == BANDS[-1]:
            simple = geoms
        else:
            tolerance = pixel_degrees(band)
            simple = None
            if coverage:
                try:
                    simple = shapely.coverage_simplify(geoms, tolerance)
                except shapely.errors.GEOSException:
                    simple = None  # not a polygonal coverage: simplify one by one
            if simple is None:
                simple = shapely.simplify(geoms, tolerance, preserve_topology=True)
            collapsed = shapely.is_empty(simple)
            simple = np.where(collapsed, geoms, simple)
        decimals = DECIMALS[band]
        rounded = shapely.transform(simple, lambda c, d=decimals: np.round(c, d))
        by_band[band] = shapely.to_geojson(rounded)
    bounds = shapely.bounds(geoms)
    wkb = shapely.to_wkb(geoms, hex=True)
    out = []
    for i, p in enumerate(props):
        code = p.get("grid_code") or p.get("code")
        out.append(
            {
                "layer": layer,
                "code": code,
                "name": p.get("name"),
                "props": p,
                "wkb": wkb[i],
                "bbox": tuple(float(v) for v in bounds[i]),
                "geoms": {band: by_band[band][i] for band in BANDS},
            }
        )
    return out


def _address_rows(addresses: pd.DataFrame, grids: gpd.GeoDataFrame) -> tuple[list[tuple], list]:
    """Rows for the addresses table; grid_code from the file or by point-in-polygon."""
    lon = pd.to_numeric(addresses["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(addresses["lat"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~(np.isfinite(lon) & np.isfinite(lat)))
    if len(bad):
        raise InputError.one(
            "addresses", "lon/lat is not a number", row=int(bad[0]) + 2, field="lon"
        )
    if "grid_code" in addresses.columns:
        grid_codes = [_text(v) for v in addresses["grid_code"]]
    else:
        grid_codes = _assign_points(lon, lat, grids)
    components = [c for c in ADDRESS_COMPONENTS if c in addresses.columns]
    rows = []
    for i, r in enumerate(addresses.itertuples(index=False)):
        comp = {c: _text(getattr(r, c)) for c in components}
        rows.append(
            (
                str(r.address_id),
                str(r.address),
                float(lon[i]),
                float(lat[i]),
                _number(getattr(r, "households", 0), int) or 0,
                _number(getattr(r, "population", 0), int) or 0,
                _text(getattr(r, "community_code", None)),
                grid_codes[i],
                json.dumps({k: v for k, v in comp.items() if v}, ensure_ascii=False),
            )
        )
    return rows, grid_codes


def _assign_points(lon: np.ndarray, lat: np.ndarray, grids: gpd.GeoDataFrame) -> list:
    """Grid code of each point (exclusive grids win), None outside every grid."""
    points = shapely.points(lon, lat)
    out: list = [None] * len(points)
    tree = shapely.STRtree(grids.geometry.values)
    point_idx, grid_idx = tree.query(points, predicate="within")
    codes = grids["grid_code"].astype(str).to_numpy()
    exclusive = grids["kind"].astype(str).to_numpy() == "exclusive"
    for p, g in zip(point_idx, grid_idx, strict=True):
        if out[p] is None or exclusive[g]:
            out[p] = codes[g]
    return out


def _city_name(addresses: pd.DataFrame) -> str:
    if "city" not in addresses.columns:
        return ""
    counts = Counter(v for v in addresses["city"].dropna().astype(str) if v)
    return counts.most_common(1)[0][0] if counts else ""
