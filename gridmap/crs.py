"""Coordinates: datums used in China, the outline of China, and metric areas and lengths.

Every layer in gridmap is held in EPSG:4490 (CGCS2000 lon/lat), and CGCS2000 and WGS84 lon/lat are
treated as numerically equal: the two definitions (GRS80 vs WGS84 ellipsoid, 0.1 mm apart; ITRF97 at
epoch 2000.0 vs WGS84's ITRF alignment) agree within centimetres. A ground point surveyed today
reads up to about a metre apart in the two, as CGCS2000 is frozen at epoch 2000.0 while the plate
moves ~3 cm a year: still below what a phone's GPS, an address point or a grid boundary resolves.

Commercial web maps use obfuscated datums: GCJ-02 (Amap, Tencent) applies the published formula on
the Krasovsky ellipsoid (moving points by up to 700 m); BD-09 (Baidu) adds a polar twist on top
(0.7-1.5 km from WGS84 in all). Both apply inside China only (`in_china`); elsewhere every datum
here is WGS84. The inverses have no closed form and are solved by fixed-point iteration to 1e-10
degrees (about 0.01 mm).

Areas and lengths are computed in the CGCS2000 3-degree Gauss-Kruger zone (EPSG:4534-4554, central
meridians 75E-135E), never in Web Mercator, which inflates areas by 1/cos(lat)^2 (33% at 30N).

>>> lon, lat = wgs84_to_gcj02(120.7555, 30.7461)
>>> round(lon, 6), round(lat, 6)
(120.759819, 30.7438)
>>> [round(v, 9) for v in gcj02_to_wgs84(lon, lat)]
[120.7555, 30.7461]
>>> wgs84_to_gcj02(139.69, 35.69)  # Tokyo: outside China, unchanged
(139.69, 35.69)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "area_m2",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_cgcs2000",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "gk_zone_epsg",
    "in_china",
    "length_m",
    "parse_crs",
    "to_cgcs2000",
    "to_projected",
    "transform_geoseries",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

Coordinate = float | NDArray[np.float64]
Frame = TypeVar("Frame", gpd.GeoDataFrame, gpd.GeoSeries)

NAMED_DATUMS = ("wgs84", "cgcs2000", "gcj02", "bd09")
_ALIASES = {
    "wgs84": "wgs84",
    "epsg4326": "wgs84",
    "cgcs2000": "cgcs2000",
    "epsg4490": "cgcs2000",
    "gcj02": "gcj02",
    "gcj": "gcj02",
    "bd09": "bd09",
    "bd09ll": "bd09",
    "bd": "bd09",
}

# --- the outline of China ------------------------------------------------------------------------
# Where GCJ-02/BD-09 apply: mainland China, Hainan, Hong Kong and Macau; not Taiwan and Penghu
# (Taipei passes through unchanged), while Kinmen and Matsu, a few km off the Fujian coast, fall
# inside. A bounding box would offset Seoul, Hanoi and half of Mongolia, so this is a real outline.
# Derived once from Natural Earth 1:110m admin-0 countries (public domain): China buffered 1 degree
# out to sea (islands and coastal waters), minus the neighbouring countries' land shrunk by 0.03
# degrees (border towns on rivers lean to China), minus Taiwan buffered 0.5 degrees and Penghu,
# holes dropped, simplified to 0.01 degrees and rounded to 0.01 degrees. Land borders are therefore
# good to a few km: within that distance of a border the decision can go either way. Islands more
# than 1 degree offshore (Xisha, Nansha in the South China Sea) are outside this outline.
_CHINA_OUTLINE_LONLAT = (
    "124.81 39.09, 125.37 39.52, 125.35 39.57, 125.33 39.58, 124.75 39.69, 124.32 39.93, "
    "125.10 40.54, 126.20 41.08, 126.87 41.78, 127.34 41.47, 128.22 41.44, 128.24 41.47, "
    "128.09 41.97, 129.61 42.40, 130.00 42.94, 130.62 42.37, 130.66 42.37, 130.67 42.40, "
    "130.66 42.87, 131.15 42.90, 131.17 42.93, 131.32 44.11, 131.06 44.95, 131.89 45.29, "
    "133.09 45.11, 133.12 45.12, 133.80 46.10, 134.14 47.20, 134.53 47.56, 135.06 48.48, "
    "135.02 48.51, 133.37 48.21, 132.50 47.82, 131.01 47.82, 130.60 48.75, 129.41 49.47, "
    "127.68 49.79, 127.31 50.75, 126.96 51.37, 126.59 51.80, 125.96 52.82, 125.08 53.19, "
    "123.57 53.49, 122.25 53.46, 121.00 53.28, 120.16 52.78, 120.15 52.75, 120.16 52.73, "
    "120.70 52.50, 120.71 51.98, 120.16 51.67, 119.26 50.60, 119.26 50.16, 117.88 49.54, "
    "116.66 49.91, 116.17 49.15, 115.46 48.14, 115.46 48.12, 115.72 47.71, 115.74 47.70, "
    "116.31 47.82, 117.30 47.67, 118.07 48.03, 118.85 47.72, 119.74 47.04, 119.64 46.73, "
    "118.88 46.84, 117.41 46.70, 116.70 46.41, 115.97 45.75, 114.45 45.37, 113.46 44.84, "
    "112.44 45.04, 111.86 45.13, 111.32 44.46, 111.64 44.06, 111.79 43.76, 111.11 43.43, "
    "110.40 42.90, 109.24 42.55, 107.74 42.51, 106.12 42.16, 104.97 41.63, 104.53 41.94, "
    "103.32 41.94, 101.84 42.54, 100.85 42.69, 99.52 42.55, 97.45 42.78, 96.36 42.76, 95.79 "
    "43.34, 95.32 44.27, 94.70 44.38, 93.49 45.00, 92.14 45.14, 90.96 45.31, 90.62 45.73, "
    "91.00 46.88, 90.99 46.91, 90.30 47.72, 88.87 48.10, 88.04 48.62, 87.78 49.31, 87.75 "
    "49.33, 87.34 49.24, 86.59 48.58, 85.75 48.48, 85.69 47.47, 85.16 47.03, 83.17 47.36, "
    "82.44 45.56, 81.94 45.35, 79.94 44.94, 79.94 44.90, 80.82 43.20, 80.16 42.94, 80.23 "
    "42.36, 80.10 42.15, 78.53 41.61, 78.17 41.21, 76.89 41.09, 76.51 40.46, 75.47 40.59, "
    "74.77 40.39, 73.80 39.92, 73.80 39.88, 73.92 39.67, 73.65 39.43, 73.91 38.48, 73.94 "
    "38.48, 74.26 38.57, 74.83 38.36, 74.80 37.99, 74.95 37.41, 75.14 37.11, 75.87 36.65, "
    "76.17 35.88, 77.82 35.47, 78.88 34.31, 78.78 33.50, 79.18 32.98, 79.15 32.52, 78.46 "
    "32.65, 78.43 32.64, 78.43 32.61, 78.71 31.50, 79.71 30.86, 81.10 30.15, 81.53 30.39, "
    "82.31 30.09, 83.32 29.44, 83.88 29.29, 84.22 28.81, 85.00 28.61, 85.81 28.17, 86.95 "
    "27.94, 88.12 27.85, 88.70 28.05, 88.78 27.30, 88.81 27.27, 88.84 27.28, 89.49 28.02, "
    "90.02 28.26, 90.72 28.04, 91.25 28.01, 91.69 27.74, 92.51 27.87, 93.43 28.62, 94.57 "
    "29.25, 95.41 29.00, 96.11 29.41, 96.55 28.83, 96.22 28.43, 96.23 28.39, 97.33 28.23, "
    "97.90 28.30, 98.23 27.73, 98.65 27.49, 98.68 26.74, 98.64 25.93, 97.70 25.10, 97.57 "
    "23.89, 97.61 23.87, 98.64 24.03, 98.88 23.12, 99.49 22.93, 99.21 22.13, 99.22 22.10, "
    "99.97 21.72, 100.41 21.53, 101.12 21.81, 101.15 21.43, 101.25 21.18, 101.80 21.14, "
    "101.83 21.18, 101.69 22.30, 102.18 22.44, 102.71 22.68, 103.51 22.67, 104.48 22.79, "
    "105.33 23.32, 105.80 22.95, 106.69 22.77, 106.54 22.23, 106.55 22.20, 107.03 21.78, "
    "107.98 21.54, 106.86 20.83, 107.80 20.58, 107.99 20.55, 108.28 20.58, 108.59 20.67, "
    "108.44 20.56, 107.88 20.04, 107.77 19.88, 107.69 19.71, 107.63 19.43, 107.66 18.47, "
    "107.68 18.28, 107.74 18.09, 107.90 17.85, 108.05 17.71, 108.21 17.61, 109.21 17.23, "
    "109.50 17.20, 109.69 17.22, 109.87 17.28, 110.83 17.80, 110.99 17.92, 111.12 18.05, "
    "111.23 18.22, 111.42 18.69, 111.72 18.99, 111.85 19.15, 111.94 19.32, 111.99 19.52, "
    "112.01 19.72, 112.00 19.82, 111.96 20.02, 111.92 20.11, 111.69 20.52, 111.99 20.56, "
    "112.18 20.61, 113.58 21.11, 113.75 21.19, 113.86 21.27, 113.99 21.24, 114.19 21.22, "
    "114.48 21.28, 114.66 21.36, 115.13 21.70, 115.99 21.79, 116.25 21.85, 116.41 21.93, "
    "117.84 22.79, 119.15 23.67, 119.15 23.91, 119.19 23.98, 119.24 24.00, 119.50 24.00, "
    "120.44 25.22, 121.24 26.51, 121.71 27.22, 121.94 27.26, 122.13 27.33, 122.22 27.38, "
    "122.37 27.50, 122.50 27.65, 122.60 27.83, 122.64 27.92, 122.89 28.71, 123.09 29.74, "
    "123.09 29.94, 123.05 30.13, 122.97 30.31, 122.80 30.54, 122.87 30.74, 122.89 30.93, "
    "122.91 31.67, 122.88 31.95, 122.81 32.12, 122.72 32.28, 122.02 33.07, 121.51 33.84, "
    "121.11 34.82, 121.00 35.00, 120.88 35.11, 121.10 35.22, 121.26 35.33, 121.39 35.46, "
    "121.64 35.74, 122.71 35.95, 122.90 36.01, 123.15 36.16, 123.29 36.30, 123.40 36.46, "
    "123.50 36.74, 123.51 37.03, 123.48 37.23, 123.31 37.75, 123.24 37.92, 123.07 38.15, "
    "122.93 38.27, 122.75 38.38, 123.25 38.70, 124.47 38.95, 124.65 39.00 "
)


@functools.cache
def _china_polygon() -> shapely.Polygon:
    pairs = "".join(_CHINA_OUTLINE_LONLAT).split(",")
    polygon = shapely.Polygon([tuple(map(float, pair.split())) for pair in pairs if pair.strip()])
    shapely.prepare(polygon)
    return polygon


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return lon_a, lat_a


def _scalar_or_array(lon: ArrayLike, lat: ArrayLike, x: NDArray, y: NDArray) -> tuple:
    """Give back Python floats for scalar input, arrays otherwise."""
    if np.ndim(lon) == 0 and np.ndim(lat) == 0:
        return float(x), float(y)
    return x, y


def in_china(lon: ArrayLike, lat: ArrayLike) -> bool | NDArray[np.bool_]:
    """True where a lon/lat point lies in China (where GCJ-02/BD-09 offsets apply).

    >>> in_china(120.76, 30.75), in_china(126.98, 37.57), in_china(121.56, 25.04)
    (True, False, False)
    >>> in_china([116.4, 139.69], [39.9, 35.69]).tolist()
    [True, False]
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    inside = shapely.contains_xy(_china_polygon(), lon_a, lat_a)
    if np.ndim(lon) == 0 and np.ndim(lat) == 0:
        return bool(inside)
    return np.asarray(inside, dtype=bool)


# --- GCJ-02 and BD-09 (published formulas), unmasked and vectorised ------------------------------
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_BD_X_PI = math.pi * 3000.0 / 180.0
_TOLERANCE_DEG = 1e-10
_MAX_ITERATIONS = 30
_INVERSE_MARGIN_DEG = 0.1  # GCJ-02 moves a point up to 700 m, BD-09 up to 1.5 km


def _gcj_offset_lat(x: NDArray, y: NDArray) -> NDArray:
    pi = math.pi
    result = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    result += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    result += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    result += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    return result


def _gcj_offset_lon(x: NDArray, y: NDArray) -> NDArray:
    pi = math.pi
    result = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    result += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    result += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    result += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    return result


def _gcj_forward(lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray]:
    d_lat = _gcj_offset_lat(lon - 105.0, lat - 35.0)
    d_lon = _gcj_offset_lon(lon - 105.0, lat - 35.0)
    rad_lat = np.radians(lat)
    magic = 1.0 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / (
        (_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * math.pi
    )
    d_lon = (d_lon * 180.0) / (_KRASOVSKY_A / sqrt_magic * np.cos(rad_lat) * math.pi)
    return lon + d_lon, lat + d_lat


def _bd_forward(lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray]:
    radius = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _BD_X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_X_PI)
    return radius * np.cos(theta) + 0.0065, radius * np.sin(theta) + 0.006


def _invert(
    forward: Callable[[NDArray, NDArray], tuple[NDArray, NDArray]], lon: NDArray, lat: NDArray
) -> tuple[NDArray, NDArray]:
    """Solve forward(x, y) = (lon, lat) by fixed-point iteration x <- x - (forward(x) - target).

    The offsets vary slowly (their derivatives are ~1e-4), so each step gains about four digits;
    only the elements not yet within tolerance are recomputed.
    """
    x, y = lon.astype(float, copy=True).ravel(), lat.astype(float, copy=True).ravel()
    target_x, target_y = lon.ravel(), lat.ravel()
    active = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    for _ in range(_MAX_ITERATIONS):
        if active.size == 0:
            break
        fx, fy = forward(x[active], y[active])
        err_x, err_y = fx - target_x[active], fy - target_y[active]
        x[active] -= err_x
        y[active] -= err_y
        still = np.maximum(np.abs(err_x), np.abs(err_y)) >= _TOLERANCE_DEG
        active = active[still]
    else:
        if active.size:
            raise ArithmeticError(f"{active.size} point(s) did not converge in the datum inverse")
    return x.reshape(lon.shape), y.reshape(lat.shape)


def _masked(
    lon: ArrayLike,
    lat: ArrayLike,
    convert: Callable[[NDArray, NDArray], tuple[NDArray, NDArray]],
    inverse: bool,
    inside: Callable[[NDArray, NDArray], bool | NDArray[np.bool_]] | None = None,
) -> tuple:
    """Apply `convert` inside China only; every other point is copied through unchanged.

    A forward conversion tests the point it is given. An inverse is solved only near China (the
    offsets are hundredths of a degree) and kept where the point it finds is inside, so that every
    point inside China round-trips exactly. `inside` tests a point of the *unconverted* datum
    (default: `in_china`, right for WGS84); GCJ-02 points are tested at their WGS84 location.
    """
    inside = inside or in_china
    lon_a, lat_a = _as_arrays(lon, lat)
    out_lon, out_lat = lon_a.copy(), lat_a.copy()
    if inverse:
        min_x, min_y, max_x, max_y = _china_polygon().bounds
        todo = (
            (lon_a > min_x - _INVERSE_MARGIN_DEG)
            & (lon_a < max_x + _INVERSE_MARGIN_DEG)
            & (lat_a > min_y - _INVERSE_MARGIN_DEG)
            & (lat_a < max_y + _INVERSE_MARGIN_DEG)
        )
    else:
        todo = np.asarray(inside(lon_a, lat_a), dtype=bool).reshape(lon_a.shape)
    if todo.any():
        new_lon, new_lat = convert(lon_a[todo], lat_a[todo])
        keep = np.asarray(inside(new_lon, new_lat), dtype=bool) if inverse else True
        out_lon[todo] = np.where(keep, new_lon, lon_a[todo])
        out_lat[todo] = np.where(keep, new_lat, lat_a[todo])
    return _scalar_or_array(lon, lat, out_lon, out_lat)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Coordinate, Coordinate]:
    """WGS84 (or CGCS2000) lon/lat to GCJ-02 (Amap, Tencent). Unchanged outside China.

    >>> [round(v, 9) for v in wgs84_to_gcj02(116.404, 39.915)]
    [116.410244499, 39.916404282]
    """
    return _masked(lon, lat, _gcj_forward, inverse=False)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Coordinate, Coordinate]:
    """GCJ-02 lon/lat to WGS84 by iteration (round trip within 1e-10 degrees). Unchanged outside.

    >>> [round(v, 9) for v in gcj02_to_wgs84(116.410244499169, 39.916404281502)]
    [116.404, 39.915]
    """
    return _masked(lon, lat, functools.partial(_invert, _gcj_forward), inverse=True)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Coordinate, Coordinate]:
    """GCJ-02 lon/lat to BD-09 (Baidu). Unchanged outside China.

    >>> [round(v, 9) for v in gcj02_to_bd09(116.404, 39.915)]
    [116.410369494, 39.921336994]
    """
    return _masked(lon, lat, _bd_forward, inverse=False, inside=_gcj_in_china)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Coordinate, Coordinate]:
    """BD-09 lon/lat to GCJ-02 by iteration. Unchanged outside China.

    >>> [round(v, 9) for v in bd09_to_gcj02(*gcj02_to_bd09(116.404, 39.915))]
    [116.404, 39.915]
    """
    return _masked(
        lon, lat, functools.partial(_invert, _bd_forward), inverse=True, inside=_gcj_in_china
    )


def _gcj_in_china(lon: NDArray, lat: NDArray) -> NDArray[np.bool_]:
    """Whether GCJ-02 points lie in China, judged at their WGS84 location (the physical place), so
    that GCJ-02 <-> BD-09 agrees with WGS84 <-> GCJ-02 near the outline."""
    return np.asarray(in_china(*gcj02_to_wgs84(lon, lat)), dtype=bool)


def _wgs_to_bd(lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray]:
    return _bd_forward(*_gcj_forward(lon, lat))


def _bd_to_wgs(lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray]:
    return _invert(_gcj_forward, *_invert(_bd_forward, lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Coordinate, Coordinate]:
    """WGS84 lon/lat to BD-09 (through GCJ-02). Unchanged outside China.

    >>> [round(v, 6) for v in wgs84_to_bd09(116.404, 39.915)]
    [116.416627, 39.9227]
    """
    return _masked(lon, lat, _wgs_to_bd, inverse=False)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Coordinate, Coordinate]:
    """BD-09 lon/lat to WGS84 by iteration. Unchanged outside China.

    >>> [round(v, 9) for v in bd09_to_wgs84(*wgs84_to_bd09(116.404, 39.915))]
    [116.404, 39.915]
    """
    return _masked(lon, lat, _bd_to_wgs, inverse=True)


# --- naming a CRS and converting to and from CGCS2000 --------------------------------------------
def parse_crs(text: str | int | pyproj.CRS) -> str | pyproj.CRS:
    """Name of a datum ('wgs84', 'cgcs2000', 'gcj02', 'bd09') or a pyproj CRS for other EPSG codes.

    Case and '-', '_', ' ' are ignored; EPSG:4326 and EPSG:4490 give 'wgs84' and 'cgcs2000'.

    >>> parse_crs("GCJ-02"), parse_crs("epsg:4490"), parse_crs("EPSG:4547").name
    ('gcj02', 'cgcs2000', 'CGCS2000 / 3-degree Gauss-Kruger CM 114E')
    >>> parse_crs("mars")
    Traceback (most recent call last):
    ...
    ValueError: unknown coordinate system 'mars': use wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>
    """
    if isinstance(text, pyproj.CRS):
        code = text.to_epsg()
        return _ALIASES.get(f"epsg{code}", text) if code is not None else text
    if isinstance(text, int) and not isinstance(text, bool):
        text = f"EPSG:{text}"
    if not isinstance(text, str):
        raise ValueError(f"unknown coordinate system {text!r}: {_ACCEPTED}")
    key = "".join(ch for ch in text.strip().lower() if ch not in "-_ :")
    if key in _ALIASES:
        return _ALIASES[key]
    if key.startswith("epsg") and key[4:].isdigit():
        try:
            return pyproj.CRS.from_epsg(int(key[4:]))
        except pyproj.exceptions.CRSError:
            raise ValueError(f"unknown EPSG code in {text!r}: {_ACCEPTED}") from None
    raise ValueError(f"unknown coordinate system {text!r}: {_ACCEPTED}")


_ACCEPTED = "use wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>"


@functools.cache
def _transformer(src: pyproj.CRS | str, dst: pyproj.CRS | str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def _crs_of(name: str | pyproj.CRS) -> pyproj.CRS:
    if isinstance(name, pyproj.CRS):
        return name
    return pyproj.CRS.from_epsg(4326 if name == "wgs84" else 4490)


def to_cgcs2000(
    lon: ArrayLike, lat: ArrayLike, crs: str | int | pyproj.CRS
) -> tuple[Coordinate, Coordinate]:
    """Coordinates in `crs` (x/y for a projected EPSG) to CGCS2000 lon/lat.

    >>> [round(v, 6) for v in to_cgcs2000(120.759819, 30.7438, "gcj02")]
    [120.7555, 30.7461]
    >>> [round(v, 6) for v in to_cgcs2000(500000.0, 3400000.0, "EPSG:4549")]
    [120.0, 30.720617]
    """
    return _convert(lon, lat, crs, _FROM_DATUM, towards_storage=True)


def from_cgcs2000(
    lon: ArrayLike, lat: ArrayLike, crs: str | int | pyproj.CRS
) -> tuple[Coordinate, Coordinate]:
    """CGCS2000 lon/lat to coordinates in `crs`.

    >>> [round(v, 6) for v in from_cgcs2000(120.7555, 30.7461, "bd09")]
    [120.766383, 30.749626]
    """
    return _convert(lon, lat, crs, _TO_DATUM, towards_storage=False)


# The obfuscated datums have no EPSG code: their own functions, one table a direction.
_FROM_DATUM = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}
_TO_DATUM = {"gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


def _convert(
    lon: ArrayLike,
    lat: ArrayLike,
    crs: str | int | pyproj.CRS,
    datum_functions: dict[str, Callable],
    towards_storage: bool,
) -> tuple[Coordinate, Coordinate]:
    """Between CGCS2000 lon/lat and `crs`, in the direction `towards_storage` says."""
    other = parse_crs(crs)
    lon_a, lat_a = _as_arrays(lon, lat)
    if other in ("wgs84", "cgcs2000"):
        return _scalar_or_array(lon, lat, lon_a.copy(), lat_a.copy())
    if other in datum_functions:
        return datum_functions[other](lon, lat)
    storage = _crs_of("cgcs2000")
    source, target = (other, storage) if towards_storage else (storage, other)
    x, y = _transformer(source, target).transform(lon_a, lat_a)
    return _scalar_or_array(lon, lat, np.asarray(x, dtype=float), np.asarray(y, dtype=float))


def _transform_xy(
    geoms: NDArray, convert: Callable[[ArrayLike, ArrayLike, str], tuple], crs: str
) -> NDArray:
    """shapely.transform of every x/y through `convert(x, y, crs)`, keeping any z as it is."""

    def apply(coords: NDArray) -> NDArray:
        x, y = convert(coords[:, 0], coords[:, 1], crs)
        out = np.array(coords, dtype=float)
        out[:, 0], out[:, 1] = x, y
        return out

    geoms = np.asarray(geoms, dtype=object)
    result = geoms.copy()
    has_z = shapely.has_z(geoms)
    for with_z in (False, True):
        part = has_z == with_z
        if part.any():
            result[part] = shapely.transform(geoms[part], apply, include_z=with_z)
    return result


def transform_geoseries(
    geoseries: gpd.GeoSeries,
    src: str | int | pyproj.CRS | None,
    dst: str | int | pyproj.CRS,
) -> gpd.GeoSeries:
    """Convert every geometry from `src` to `dst` (src None: the series' own CRS, else EPSG:4490).

    EPSG pairs go through GeoSeries.to_crs; GCJ-02/BD-09 through shapely.transform with the
    vectorised functions above. A GCJ-02/BD-09 result has crs None (no EPSG code describes them).

    >>> from shapely import Point
    >>> s = gpd.GeoSeries([Point(120.7555, 30.7461)], crs=4490)
    >>> out = transform_geoseries(s, "cgcs2000", "gcj02")
    >>> round(float(out.x[0]), 6), round(float(out.y[0]), 6), out.crs
    (120.759819, 30.7438, None)
    """
    if src is None:
        src = geoseries.crs if geoseries.crs is not None else 4490
    source, target = parse_crs(src), parse_crs(dst)
    values = geoseries.geometry.values
    if isinstance(source, str) and isinstance(target, str) and source == target:
        crs = None if source in ("gcj02", "bd09") else _crs_of(source)
        return gpd.GeoSeries(values, index=geoseries.index, crs=crs)
    if source in ("gcj02", "bd09"):
        geoms = _transform_xy(np.asarray(values), to_cgcs2000, source)
        series = gpd.GeoSeries(geoms, index=geoseries.index, crs=4490)
    elif source in ("wgs84", "cgcs2000"):
        series = gpd.GeoSeries(values, index=geoseries.index, crs=4490)
    else:
        series = gpd.GeoSeries(values, index=geoseries.index, crs=source)
        if target in ("gcj02", "bd09", "wgs84", "cgcs2000"):
            series = series.to_crs(4490)
    if target in ("gcj02", "bd09"):
        geoms = _transform_xy(np.asarray(series.values), from_cgcs2000, target)
        return gpd.GeoSeries(geoms, index=geoseries.index, crs=None)
    if target in ("wgs84", "cgcs2000"):
        # Numerically equal lon/lat (see the module docstring): relabel, do not shift.
        return series.set_crs(_crs_of(target), allow_override=True)
    return series.to_crs(target)


# --- Gauss-Kruger zones, areas and lengths -------------------------------------------------------
_GK_FIRST_EPSG, _GK_FIRST_CM, _GK_LAST_CM = 4534, 75, 135


def gk_zone_epsg(lon_or_geometry: float | shapely.Geometry) -> int:
    """EPSG code of the CGCS2000 3-degree Gauss-Kruger zone (CM 75E..135E: EPSG:4534..4554).

    The zone is the central meridian nearest the longitude (of the centroid, for a geometry in
    lon/lat), so no point of a small geometry is more than about 1.5 degrees from it.

    >>> gk_zone_epsg(120.76), gk_zone_epsg(121.6), gk_zone_epsg(75.0), gk_zone_epsg(136.4)
    (4549, 4550, 4534, 4554)
    >>> gk_zone_epsg(140.0)
    Traceback (most recent call last):
    ...
    ValueError: longitude 140.0 is outside the CGCS2000 Gauss-Kruger zones (73.5E to 136.5E)
    """
    if isinstance(lon_or_geometry, shapely.Geometry):
        if lon_or_geometry.is_empty:
            raise ValueError("an empty geometry has no Gauss-Kruger zone")
        lon = float(shapely.get_x(shapely.centroid(lon_or_geometry)))
    else:
        lon = float(lon_or_geometry)
    central = _nearest_central_meridian(np.array([lon]))[0]
    if not (_GK_FIRST_CM <= central <= _GK_LAST_CM):
        raise ValueError(
            f"longitude {lon} is outside the CGCS2000 Gauss-Kruger zones (73.5E to 136.5E)"
        )
    return _GK_FIRST_EPSG + (int(central) - _GK_FIRST_CM) // 3


def _nearest_central_meridian(lon: NDArray) -> NDArray:
    # floor(x + 0.5) rather than round(): Python and numpy round halves to even.
    return 3.0 * np.floor(lon / 3.0 + 0.5)


def _lonlat_series(obj: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoSeries:
    """The geometries in CGCS2000 lon/lat (a layer without a CRS is taken to be EPSG:4490)."""
    series = obj.geometry if isinstance(obj, gpd.GeoDataFrame) else obj
    if series.crs is None:
        return series.set_crs(4490)
    if series.crs.is_geographic:
        return series
    return series.to_crs(4490)


def to_projected(gdf_or_geoseries: Frame) -> Frame:
    """The layer in the Gauss-Kruger zone of the centre of its total bounds (one CRS per layer).

    >>> from shapely import box
    >>> s = gpd.GeoSeries([box(120.70, 30.70, 120.80, 30.80)], crs=4490)
    >>> to_projected(s).crs.to_epsg()
    4549
    """
    lonlat = _lonlat_series(gdf_or_geoseries)
    min_x, _, max_x, _ = lonlat.total_bounds
    if not np.isfinite(min_x):
        raise ValueError("cannot choose a Gauss-Kruger zone for a layer without geometry")
    epsg = gk_zone_epsg((min_x + max_x) / 2.0)
    if gdf_or_geoseries.crs is None:
        gdf_or_geoseries = gdf_or_geoseries.set_crs(4490)
    return gdf_or_geoseries.to_crs(epsg)


def _measure_in_own_zone(
    geoseries: gpd.GeoSeries | gpd.GeoDataFrame, measure: Callable[[NDArray], NDArray]
) -> NDArray[np.float64]:
    """Measure each geometry in its own zone, so a layer spanning zones stays accurate."""
    lonlat = _lonlat_series(geoseries)
    geoms = np.asarray(lonlat.values)
    result = np.full(len(geoms), np.nan)
    present = ~shapely.is_missing(geoms)
    result[present & shapely.is_empty(geoms)] = 0.0
    todo = present & ~shapely.is_empty(geoms)
    if not todo.any():
        return result
    central = _nearest_central_meridian(shapely.get_x(shapely.centroid(geoms[todo])))
    bad = (central < _GK_FIRST_CM) | (central > _GK_LAST_CM)
    if bad.any():
        position = int(np.flatnonzero(todo)[np.argmax(bad)])
        raise ValueError(
            f"geometry {lonlat.index[position]!r} is outside the CGCS2000 Gauss-Kruger zones "
            "(73.5E to 136.5E)"
        )
    values = np.empty(int(todo.sum()))
    source = lonlat.crs
    for cm in np.unique(central):
        in_zone = central == cm
        epsg = _GK_FIRST_EPSG + (int(cm) - _GK_FIRST_CM) // 3
        transformer = _transformer(source, pyproj.CRS.from_epsg(epsg))
        projected = shapely.transform(
            geoms[todo][in_zone], lambda xy, t=transformer: np.column_stack(t.transform(*xy.T))
        )
        values[in_zone] = measure(projected)
    result[todo] = values
    return result


def area_m2(geoseries: gpd.GeoSeries | gpd.GeoDataFrame) -> NDArray[np.float64]:
    """Area of each geometry in square metres (its own Gauss-Kruger zone; NaN for missing).

    >>> from shapely import box
    >>> s = gpd.GeoSeries([box(120.70, 30.70, 120.71, 30.71)], crs=4490)
    >>> round(float(area_m2(s)[0]))  # the geodesic area is 1,062,048 m2
    1062167
    """
    return _measure_in_own_zone(geoseries, shapely.area)


def length_m(geoseries: gpd.GeoSeries | gpd.GeoDataFrame) -> NDArray[np.float64]:
    """Length (perimeter, for polygons) of each geometry in metres, in its own Gauss-Kruger zone.

    >>> from shapely import LineString
    >>> s = gpd.GeoSeries([LineString([(120.0, 30.0), (120.0, 30.01)])], crs=4490)
    >>> round(float(length_m(s)[0]), 2)  # the geodesic length is 1108.53 m
    1108.53
    """
    return _measure_in_own_zone(geoseries, shapely.length)
