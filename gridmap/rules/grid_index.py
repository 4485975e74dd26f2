"""Which grid holds a point: the edge rule, in one place, for every path.

Partition checks, ``gridmap assign``, the geocoder, publishing an address library, the store's
point lookup, the incident API and Open311 all ask :class:`GridIndex` (or :func:`locate_in`,
the same rule over a handful of candidates). One vectorised STRtree query, one deterministic
winner per point.

The edge rule. A point is a candidate of every grid whose interior *or boundary* contains it
(``predicate="intersects"``), so a point exactly on an edge shared by two grids is a candidate of
both. Among its candidates the winner is, in this order:

1. an exclusive grid before a comprehensive one (an exclusive grid is the more specific unit:
   when a partition lets it overlap its host comprehensive grid, the address belongs to the
   exclusive grid);
2. the grid with the smallest ``grid_code`` (the codes are unique, so this always decides).

The rule depends only on codes and kinds, never on the order of rows in the grid file, so the
same inputs always give the same assignment. Points in no grid get ``None``.

>>> from shapely import box
>>> index = GridIndex(["330402001001002", "330402001001001"], None,
...                   [box(1, 0, 2, 1), box(0, 0, 1, 1)])
>>> index.locate_many([0.5, 1.0, 1.5, 5.0], [0.5, 0.5, 0.5, 5.0]).tolist()
['330402001001001', '330402001001001', '330402001001002', None]
>>> index.locate(1.0, 1.0)
'330402001001001'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

#: grid kinds in order of precedence when a point lies in (or on the edge of) several grids
KIND_PRECEDENCE = {"exclusive": 0, "comprehensive": 1}


class GridIndex:
    """A spatial index over grid polygons answering "which grid holds this point?" in bulk.

    ``codes`` are the grid codes, ``kinds`` their kinds (``exclusive``/``comprehensive``; None:
    all alike, as for admin units), ``geometries`` their polygons, in the CRS of the points you
    will ask about (EPSG:4490 in gridmap).
    """

    def __init__(self, codes: Sequence[str], kinds: Sequence[str] | None, geometries) -> None:
        codes = np.asarray([str(c) for c in codes], dtype=object)
        kinds = None if kinds is None else np.asarray([str(k) for k in kinds], dtype=object)
        kind_rank = (
            np.array([KIND_PRECEDENCE.get(k, 2) for k in kinds], dtype=np.int64)
            if kinds is not None
            else np.zeros(len(codes), dtype=np.int64)
        )
        # precedence of each grid: kind first, then code; a single int per grid makes the
        # tie-break one sort.
        by_code = np.argsort(codes.astype(str), kind="stable")
        code_rank = np.empty(len(codes), dtype=np.int64)
        code_rank[by_code] = np.arange(len(codes))
        self.precedence = kind_rank * len(codes) + code_rank
        self.codes = codes
        self.geometries = np.asarray(geometries, dtype=object)
        self.tree = shapely.STRtree(self.geometries)

    @classmethod
    def from_frame(cls, grids, code_column: str = "grid_code") -> GridIndex:
        """From a GeoDataFrame with a ``grid_code`` column (and optionally ``kind``)."""
        kinds = grids["kind"].astype(str).to_numpy() if "kind" in grids.columns else None
        return cls(grids[code_column].astype(str).to_numpy(), kinds, grids.geometry.values)

    def __len__(self) -> int:
        return len(self.codes)

    def locate(self, lon: float, lat: float) -> str | None:
        """The grid code holding one point (None outside every grid): :meth:`locate_many`'s
        answer, without its arrays (a report locates one point at a time)."""
        if len(self.codes) == 0:
            return None
        hits = self.tree.query(shapely.Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        # the edge rule: of the grids holding the point, the one of highest precedence
        best = hits[0] if len(hits) == 1 else hits[np.argmin(self.precedence[hits])]
        return self.codes[best]

    def locate_many(self, lons: Sequence[float], lats: Sequence[float]) -> np.ndarray:
        """Grid code of each point (object array), ``None`` where the point is in no grid."""
        return self.assign(lons, lats)

    def assign_index(self, lon: Sequence[float], lat: Sequence[float]) -> np.ndarray:
        """Index (into the grids) of the winning grid of each point, -1 where none holds it."""
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        points = shapely.points(lon, lat)
        return self.assign_points_index(points)

    def assign_points_index(self, points: np.ndarray) -> np.ndarray:
        """Like :meth:`assign_index` for an array of shapely points (None/empty -> -1)."""
        return self.assign_points_counted(points)[0]

    def assign_points_counted(self, points: np.ndarray) -> tuple[np.ndarray, int]:
        """Winning grid index of each point (-1: none) and how many points lay in or on the
        edge of more than one grid (decided by the edge rule)."""
        result = np.full(len(points), -1, dtype=np.int64)
        if len(points) == 0 or len(self.codes) == 0:
            return result, 0
        point_idx, grid_idx = self.tree.query(points, predicate="intersects")
        if len(point_idx) == 0:
            return result, 0
        first = np.ones(len(point_idx), dtype=bool)
        first[1:] = point_idx[1:] != point_idx[:-1]  # query output is sorted by point
        if first.all():
            # the common case: no point on a shared edge, nothing to break
            result[point_idx] = grid_idx
            return result, 0
        # sort candidate pairs by point, then by precedence; the first pair of each point wins
        order = np.lexsort((self.precedence[grid_idx], point_idx))
        point_idx, grid_idx = point_idx[order], grid_idx[order]
        first = np.ones(len(point_idx), dtype=bool)
        first[1:] = point_idx[1:] != point_idx[:-1]
        result[point_idx[first]] = grid_idx[first]
        return result, _ties(first)

    def assign(self, lon: Sequence[float], lat: Sequence[float]) -> np.ndarray:
        """Grid code of each point (object array), ``None`` where the point is in no grid."""
        index = self.assign_index(lon, lat)
        return self.codes_of(index)

    def codes_of(self, index: np.ndarray) -> np.ndarray:
        """Grid codes for grid indexes from :meth:`assign_index` (``None`` for -1)."""
        out = np.empty(len(index), dtype=object)
        inside = index >= 0
        out[inside] = self.codes[index[inside]]
        return out


def locate_in(
    codes: Sequence[str], kinds: Sequence[str] | None, geometries, lon: float, lat: float
) -> str | None:
    """The edge rule over a few candidate features (e.g. those a database's spatial index
    returned for a point): the same answer :class:`GridIndex` gives over all of them.

    >>> from shapely import box
    >>> locate_in(["b", "a"], ["comprehensive", "comprehensive"], [box(1, 0, 2, 1),
    ...           box(0, 0, 1, 1)], 1.0, 0.5)
    'a'
    """
    if len(codes) == 0:
        return None
    return GridIndex(codes, kinds, geometries).locate(lon, lat)


def _ties(first: np.ndarray) -> int:
    """Number of points with more than one candidate, from the "first pair of a point" mask."""
    starts = np.flatnonzero(first)
    sizes = np.diff(np.r_[starts, len(first)])
    return int((sizes > 1).sum())
