"""Rook adjacency of polygons that were cut from one noded line set, with shared edge lengths.

Faces produced by one ``polygonize`` share their edges vertex for vertex, so two faces are
neighbours exactly when a ring segment of one equals a ring segment of the other. Hashing the
segments finds all neighbours in O(segments log segments), without pairwise geometry tests.

>>> import shapely
>>> squares = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(0, 1, 1, 2)]
>>> left, right, length = shared_edges(squares, metric_scale=(1.0, 1.0))
>>> list(zip(left.tolist(), right.tolist(), length.tolist()))
[(0, 1, 1.0), (0, 2, 1.0)]
"""

from __future__ import annotations

import math

import numpy as np
import shapely

M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_320.0


def metric_scale_for(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and latitude near ``lat`` (local equirectangular scale).

    Used for weights and sweeps only; reported areas and lengths use the Gauss-Kruger zone.
    """
    return (M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat)), M_PER_DEG_LAT)


def shared_edges(
    polygons, metric_scale: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) of polygons sharing ring segments and the shared length in metres.

    Pairs are sorted by (i, j). Polygons touching at a point only are not neighbours.
    """
    polygons = np.asarray(polygons, dtype=object)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, float))
    if len(polygons) < 2:
        return empty
    rings, ring_owner = shapely.get_rings(polygons, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    if len(coords) < 2:
        return empty
    same_ring = coord_ring[:-1] == coord_ring[1:]
    start, end = coords[:-1][same_ring], coords[1:][same_ring]
    owner = ring_owner[coord_ring[:-1][same_ring]]
    # Orient each segment canonically so that both faces produce the same key.
    swap = (start[:, 0] > end[:, 0]) | ((start[:, 0] == end[:, 0]) & (start[:, 1] > end[:, 1]))
    lo = np.where(swap[:, None], end, start)
    hi = np.where(swap[:, None], start, end)
    keys = np.ascontiguousarray(np.hstack([lo, hi]))
    _, group = np.unique(keys.view(np.dtype((np.void, 32))).ravel(), return_inverse=True)
    order = np.lexsort((owner, group))
    group, owner, lo, hi = group[order], owner[order], lo[order], hi[order]
    # A segment shared by two faces appears twice in a row with the same group.
    pair = (group[:-1] == group[1:]) & (owner[:-1] != owner[1:])
    a, b = owner[:-1][pair], owner[1:][pair]
    d = (hi[:-1][pair] - lo[:-1][pair]) * np.asarray(metric_scale)
    seg_length = np.hypot(d[:, 0], d[:, 1])
    i, j = np.minimum(a, b), np.maximum(a, b)
    if len(i) == 0:
        return empty
    pair_key = i.astype(np.int64) * len(polygons) + j
    unique_key, inverse = np.unique(pair_key, return_inverse=True)
    total = np.bincount(inverse, weights=seg_length, minlength=len(unique_key))
    return unique_key // len(polygons), unique_key % len(polygons), total
