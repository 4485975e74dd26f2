"""Geometry and coordinate checks: null, empty, wrong type, invalid (optionally repaired), and
coordinates that are projected metres, swapped lon/lat or outside China.

Vectorised with shapely 2; Python only touches the features that have a problem.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyproj
import shapely

from gridmap import crs as gcrs
from gridmap.io.checks import Findings

EXPECTED_TYPES = {
    "polygon": ("Polygon", "MultiPolygon"),
    "line": ("LineString", "MultiLineString"),
    "point": ("Point",),
}
# shapely.get_type_id -> the usual name
_TYPE_NAMES = np.array(
    [
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    ],
    dtype=object,
)
_POLYGONAL = ("Polygon", "MultiPolygon")
REPAIR_HINT = " (--repair fixes it)"


class CRSConflict(ValueError):
    """``--crs`` names one coordinate system and the file declares another (not just WGS84)."""


def source_crs(user_crs: str | None, file_crs: str | None) -> str | pyproj.CRS:
    """The CRS input coordinates are in: ``--crs`` when given, else the file's own, else CGCS2000.

    ``--crs`` wins over a file labelled WGS84, because GCJ-02/BD-09 data is routinely labelled
    EPSG:4326 (GeoJSON always is); a file declaring any other CRS (CGCS2000, a projected
    ``.prj``) that ``--crs`` contradicts raises CRSConflict rather than being shifted silently.
    Raises ValueError for an unknown name.

    >>> source_crs("gcj02", "EPSG:4326"), source_crs(None, None), source_crs(None, "EPSG:4326")
    ('gcj02', 'cgcs2000', 'wgs84')
    """
    declared = None
    if file_crs:
        try:
            declared = gcrs.parse_crs(pyproj.CRS.from_user_input(file_crs))
        except pyproj.exceptions.CRSError as error:
            raise ValueError(f"the file's coordinate system is not understood: {error}") from None
    if not user_crs:
        return "cgcs2000" if declared is None else declared
    given = gcrs.parse_crs(user_crs)
    if declared is None or declared == "wgs84" or _same_crs(given, declared):
        return given
    raise CRSConflict(
        f"the file declares {_crs_name(declared)} but --crs says {_crs_name(given)}: "
        "leave --crs out for this file, or fix the file's CRS"
    )


def _same_crs(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return a == b or (a.to_epsg() is not None and a.to_epsg() == b.to_epsg())


def _crs_name(crs) -> str:
    if isinstance(crs, str):
        return crs
    code = crs.to_epsg()
    return f"EPSG:{code} ({crs.name})" if code else crs.name


def is_lonlat(crs: str | pyproj.CRS) -> bool:
    """True when coordinates in ``crs`` are lon/lat degrees."""
    return isinstance(crs, str) or crs.is_geographic


def check_coordinates(
    f: Findings, lon: np.ndarray, lat: np.ndarray, checkable: np.ndarray, *, field: str = "lon/lat"
) -> np.ndarray:
    """Flag projected-looking, swapped and outside-China coordinates; returns the mask of bad ones.

    ``lon``/``lat`` are per record (a point, or the centre of a geometry's bounds).
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    ok = np.asarray(checkable, dtype=bool) & np.isfinite(lon) & np.isfinite(lat)
    inside = np.zeros(len(lon), dtype=bool)
    inside[ok] = gcrs.in_china(lon[ok], lat[ok])
    swapped = ok & ~inside
    if swapped.any():
        swapped[swapped] = gcrs.in_china(lat[swapped], lon[swapped])
    f.flag(
        swapped,
        field,
        lambda i: (
            f"lon/lat look swapped (lon={lon[i]:.6f}, lat={lat[i]:.6f}; "
            f"swapped it would lie in China): put longitude first"
        ),
        check="swapped lon/lat",
    )
    projected = ok & ~inside & ~swapped & ((np.abs(lon) > 180) | (np.abs(lat) > 90))
    f.flag(
        projected,
        field,
        lambda i: (
            f"coordinates look like projected metres (x={lon[i]:.1f}, y={lat[i]:.1f}), "
            "not lon/lat: give the file's coordinate system with --crs EPSG:<code>"
        ),
        check="projected coordinates",
    )
    rest = ok & ~projected
    outside = rest & ~inside & ~swapped
    f.flag(
        outside,
        field,
        lambda i: f"coordinates outside China (lon={lon[i]:.6f}, lat={lat[i]:.6f})",
        check="outside China",
    )
    return projected | swapped | outside


def polygonal_part(geometry):
    """The polygonal part of a geometry (e.g. of make_valid's GeometryCollection), or None.

    >>> polygonal_part(shapely.make_valid(shapely.from_wkt(
    ...     "POLYGON ((0 0, 2 2, 2 0, 0 2, 0 0))"))).geom_type
    'MultiPolygon'
    """
    if geometry is None or geometry.is_empty:
        return None
    if geometry.geom_type in _POLYGONAL:
        return geometry
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in _POLYGONAL]
    parts = [q for p in parts for q in shapely.get_parts(p)]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def check_geometry(
    f: Findings,
    geometry: np.ndarray,
    broken: dict[int, tuple[str, object]],
    expected: str,
    *,
    repair: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Check every feature's geometry; returns (geometry after repairs, mask of usable features)."""
    geometry = np.array(geometry, dtype=object, copy=True)
    n = len(geometry)
    was_broken = np.zeros(n, dtype=bool)
    broken_reason = np.full(n, "", dtype=object)
    for index, (reason, fixed) in broken.items():  # only the undecodable features
        fixed = polygonal_part(shapely.make_valid(fixed)) if fixed is not None else None
        if repair and expected == "polygon" and fixed is not None:
            geometry[index] = fixed
            f.notice(f"repaired geometry ({reason}) with make_valid", index=index)
        else:
            was_broken[index] = True
            fixable = expected == "polygon" and fixed is not None
            broken_reason[index] = reason + (REPAIR_HINT if fixable else "")
    f.flag(
        was_broken,
        "geometry",
        lambda i: f"invalid geometry: {broken_reason[i]}",
        check="invalid geometry",
    )
    null = pd.isna(geometry) & ~was_broken
    f.flag(null, "geometry", "no geometry (null)", check="no geometry")
    present = ~null & ~was_broken
    empty = present & shapely.is_empty(geometry)
    f.flag(empty, "geometry", "empty geometry", check="empty geometry")
    present &= ~empty
    type_names = np.full(n, "", dtype=object)
    type_names[present] = _TYPE_NAMES[shapely.get_type_id(geometry[present])]
    wanted = EXPECTED_TYPES[expected]
    wrong = present & ~np.isin(type_names, wanted)
    f.flag(
        wrong,
        "geometry",
        lambda i: f"a {type_names[i]} where a {expected} is expected",
        check="wrong geometry type",
    )
    usable = present & ~wrong
    if expected == "polygon" and usable.any():
        invalid = usable.copy()
        invalid[usable] = ~shapely.is_valid(geometry[usable])
        reasons = np.full(n, "", dtype=object)
        reasons[invalid] = shapely.is_valid_reason(geometry[invalid])
        if repair:
            for index in np.flatnonzero(invalid):
                fixed = polygonal_part(shapely.make_valid(geometry[index]))
                if fixed is not None:
                    geometry[index] = fixed
                    invalid[index] = False
                    f.notice(
                        f"repaired invalid polygon ({reasons[index]}) with make_valid, "
                        "kept polygonal parts",
                        index=index,
                    )
        hint = "" if repair else REPAIR_HINT
        f.flag(
            invalid,
            "geometry",
            lambda i: f"invalid geometry: {reasons[i]}{hint}",
            check="invalid geometry",
        )
        usable &= ~invalid
    return geometry, usable
