"""The display datum: what the map's base tiles use, and the shift overlays need to match them.

The store holds EPSG:4490 (numerically WGS84). With a GCJ-02 base map (Amap, Tencent) every point
and geometry the API returns is shifted to GCJ-02, and every bbox it is asked for is shifted back.
Points sent to the API may name their own ``crs`` (wgs84, cgcs2000, gcj02, bd09, EPSG:n).

>>> Datum("wgs84").to_display(120.75, 30.75)
(120.75, 30.75)
"""

from __future__ import annotations

import numpy as np
import shapely

IDENTITY = ("wgs84", "cgcs2000", "epsg:4326", "epsg:4490")


class Datum:
    """Conversions between the store (EPSG:4490) and one display datum."""

    def __init__(self, name: str = "wgs84"):
        name = (name or "wgs84").strip().lower()
        if name not in IDENTITY + ("gcj02",):
            raise ValueError(f"unsupported base map datum {name!r}: wgs84, cgcs2000 or gcj02")
        self.name = name
        self.identity = name in IDENTITY

    def to_display(self, lon, lat):
        from gridmap.crs import wgs84_to_gcj02

        return self._shift(wgs84_to_gcj02, lon, lat)

    def from_display(self, lon, lat):
        from gridmap.crs import gcj02_to_wgs84

        return self._shift(gcj02_to_wgs84, lon, lat)

    def _shift(self, convert, lon, lat):
        """``convert`` applied unless the display datum is the store's; scalars stay floats."""
        if self.identity:
            return lon, lat
        x, y = convert(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        if np.ndim(x) == 0:
            return float(x), float(y)
        return x, y

    def bbox_from_display(self, bbox):
        """A display-datum bbox as a storage bbox, padded so the shift never loses an edge."""
        if self.identity or bbox is None:
            return bbox
        w, s, e, n = bbox
        xs, ys = self.from_display(np.array([w, e, w, e]), np.array([s, s, n, n]))
        pad = 0.01  # GCJ-02 offsets vary by less than this across a view
        return (xs.min() - pad, ys.min() - pad, xs.max() + pad, ys.max() + pad)

    def geojson_to_display(self, texts: list[str], decimals: int = 7) -> list[str]:
        """GeoJSON geometry texts shifted to the display datum, rounded to ``decimals``."""
        if self.identity or not texts:
            return texts
        geoms = shapely.from_geojson(texts)

        def shift(coords: np.ndarray) -> np.ndarray:
            x, y = self.to_display(coords[:, 0], coords[:, 1])
            return np.round(np.column_stack([x, y]), decimals)

        return list(shapely.to_geojson(shapely.transform(geoms, shift)))


def point_to_storage(lon: float, lat: float, crs: str | None) -> tuple[float, float]:
    """A point sent in ``crs`` (default wgs84) as EPSG:4490 lon/lat; ValueError on unknown crs."""
    name = (crs or "wgs84").strip().lower()
    if name in IDENTITY:
        return float(lon), float(lat)
    from gridmap.crs import to_cgcs2000

    x, y = to_cgcs2000(lon, lat, crs)
    return float(x), float(y)
