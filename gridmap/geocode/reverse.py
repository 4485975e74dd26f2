"""Reverse geocoding: a point (any CRS gridmap knows) to its grid, admin units and nearest address.

Distances are measured in the CGCS2000 3-degree Gauss-Kruger zone of the library (never in
degrees or Web Mercator): the library's points are projected once, on the first reverse query,
into an STRtree that answers "nearest address within ``radius_m``".

The admin units come from the boundaries when they are given (the polygon holding the point at
each level, smallest code on a shared edge), else from the grid code's prefix (a grid code is
its community's 12-digit code + 3 digits).
"""

from __future__ import annotations

import numpy as np
import pyproj
import shapely

from gridmap.codes import parent_code
from gridmap.crs import gk_zone_epsg, to_cgcs2000
from gridmap.rules.grid_index import GridIndex

ADMIN_FIELDS = {"community": "community_code", "street": "street_code", "district": "district_code"}


class ReverseIndex:
    """Answers :meth:`reverse` for one library (lon/lat arrays) + grids + optional boundaries."""

    def __init__(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        ids: np.ndarray,
        address: np.ndarray,
        grid_index: GridIndex | None,
        boundaries=None,
    ) -> None:
        self.lon, self.lat, self.ids, self.address = lon, lat, ids, address
        self.grid_index = grid_index
        self.admin_index: dict[str, GridIndex] = {}
        if boundaries is not None and len(boundaries):
            for level in ADMIN_FIELDS:
                layer = boundaries[boundaries["level"].astype(str) == level]
                if len(layer):
                    self.admin_index[level] = GridIndex.from_frame(layer, code_column="code")
        self._tree: shapely.STRtree | None = None
        self._to_plane: pyproj.Transformer | None = None

    def _nearest_tree(self) -> tuple[shapely.STRtree, pyproj.Transformer]:
        # Built on first use; an index shared by threads (the web app's) is built by
        # :meth:`prepare` before it is shared.
        if self._tree is None:
            finite = np.isfinite(self.lon) & np.isfinite(self.lat)
            centre = float(np.median(self.lon[finite])) if finite.any() else 120.0
            epsg = gk_zone_epsg(centre)
            self._to_plane = pyproj.Transformer.from_crs(4490, epsg, always_xy=True)
            x, y = self._to_plane.transform(self.lon, self.lat)
            points = shapely.points(np.asarray(x), np.asarray(y))
            points[~finite] = None
            self._tree = shapely.STRtree(points)
        return self._tree, self._to_plane

    def reverse(self, lon: float, lat: float, crs: str = "wgs84", radius_m: float = 100.0) -> dict:
        """Grid, community, street and district codes at a point, and the nearest address.

        Raises ValueError for an unknown CRS or coordinates that are not finite numbers.
        """
        x, y = to_cgcs2000(float(lon), float(lat), crs)
        x, y = float(x), float(y)
        if not (np.isfinite(x) and np.isfinite(y)):
            raise ValueError(f"coordinates {lon}, {lat} are not finite numbers")
        out: dict = {"lon": x, "lat": y, "grid_code": None}
        if self.grid_index is not None:
            out["grid_code"] = self.grid_index.locate(x, y)
        for level, key in ADMIN_FIELDS.items():
            code = None
            if level in self.admin_index:
                code = self.admin_index[level].locate(x, y)
            elif out["grid_code"]:
                code = parent_code(out["grid_code"], level)
            out[key] = code
        out.update(address_id=None, address=None, distance_m=None)
        nearest = self.nearest(x, y, radius_m)
        if nearest is not None:
            out.update(nearest)
        return out

    def nearest(self, lon: float, lat: float, radius_m: float = 100.0) -> dict | None:
        """The library address nearest a CGCS2000 point within ``radius_m`` (``address_id``,
        ``address``, ``distance_m``), or None; equidistant addresses: the smallest id."""
        if not len(self.ids) or not radius_m > 0:
            return None
        tree, to_plane = self._nearest_tree()
        px, py = to_plane.transform(lon, lat)
        hit, distance = tree.query_nearest(
            shapely.Point(px, py), max_distance=float(radius_m), return_distance=True
        )
        if not len(hit):
            return None
        # a scalar query gives the tree indexes directly; equidistant addresses: the smallest
        # id wins, so answers do not depend on order
        best = min(hit.tolist(), key=lambda r: str(self.ids[r]))
        return {
            "address_id": str(self.ids[best]),
            "address": str(self.address[best]),
            "distance_m": round(float(distance[0]), 2),
        }

    def prepare(self) -> None:
        """Build the nearest-address tree now (it is otherwise built by the first query)."""
        if len(self.ids):
            self._nearest_tree()
