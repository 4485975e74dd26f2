"""Web Mercator tile arithmetic (the XYZ scheme every web map uses), on numpy arrays.

>>> round(tile_bounds_lonlat(0, 0, 0)[0], 6)
-180.0
>>> list(tiles_covering((120.70, 30.70, 120.86, 30.86), 12))[:2]
[TileId(z=12, x=3421, y=1678), TileId(z=12, x=3421, y=1679)]
>>> TileId.parse("12", "3421", "1696")
TileId(z=12, x=3421, y=1696)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS = 6378137.0
HALF_WORLD = math.pi * EARTH_RADIUS  # metres from the centre to the edge of the square world
MAX_LAT = 85.0511287798066
MAX_ZOOM = 22


class TileError(ValueError):
    """A tile address that does not exist (bad zoom, or x/y outside 0..2^z-1)."""


@dataclass(frozen=True)
class TileId:
    """One tile: zoom ``z``, column ``x`` (from the west), row ``y`` (from the north)."""

    z: int
    x: int
    y: int

    @classmethod
    def parse(cls, z: str | int, x: str | int, y: str | int) -> TileId:
        """A checked tile address from URL parts; TileError naming the bad part otherwise."""
        try:
            zi, xi, yi = int(z), int(x), int(y)
        except (TypeError, ValueError):
            raise TileError("z, x and y must be whole numbers") from None
        if not 0 <= zi <= MAX_ZOOM:
            raise TileError(f"zoom {zi} is outside 0..{MAX_ZOOM}")
        side = 1 << zi
        if not (0 <= xi < side and 0 <= yi < side):
            raise TileError(f"tile {xi}/{yi} does not exist at zoom {zi} (0..{side - 1})")
        return cls(zi, xi, yi)

    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in Web Mercator metres."""
        size = 2 * HALF_WORLD / (1 << self.z)
        minx = -HALF_WORLD + self.x * size
        maxy = HALF_WORLD - self.y * size
        return (minx, maxy - size, minx + size, maxy)


def to_mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:4326-like lon/lat degrees -> Web Mercator metres (EPSG:3857)."""
    lat = np.clip(lat, -MAX_LAT, MAX_LAT)
    x = np.radians(lon) * EARTH_RADIUS
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * EARTH_RADIUS
    return x, y


def from_mercator(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator metres -> lon/lat degrees."""
    lon = np.degrees(x / EARTH_RADIUS)
    lat = np.degrees(2 * np.arctan(np.exp(y / EARTH_RADIUS)) - np.pi / 2)
    return lon, lat


def tile_bounds_lonlat(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a tile in degrees."""
    minx, miny, maxx, maxy = TileId(z, x, y).bounds()
    lons, lats = from_mercator(np.array([minx, maxx]), np.array([miny, maxy]))
    return (float(lons[0]), float(lats[0]), float(lons[1]), float(lats[1]))


def tiles_covering(bbox: tuple[float, float, float, float], z: int) -> Iterator[TileId]:
    """Every tile of zoom ``z`` meeting a lon/lat bbox (w, s, e, n), column by column."""
    w, s, e, n = bbox
    xs, ys = to_mercator(np.array([w, e]), np.array([n, s]))
    size = 2 * HALF_WORLD / (1 << z)
    last = (1 << z) - 1
    x0, x1 = (min(last, max(0, int((v + HALF_WORLD) // size))) for v in xs)
    y0, y1 = (min(last, max(0, int((HALF_WORLD - v) // size))) for v in ys)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            yield TileId(z, x, y)
