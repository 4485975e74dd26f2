"""How geometry is prepared for the map: zoom bands, their simplification and precision.

A band serves every zoom up to its number; its geometry is simplified to about one screen pixel
at that zoom (coverage simplification keeps neighbouring polygons edge-matched) and rounded to
the decimals that pixel needs. Publishing computes it once per feature; every backend stores the
texts and the map endpoints send them as they are.

>>> band_for_zoom(10), band_for_zoom(16), band_for_zoom(None)
(11, 99, 99)
"""

from __future__ import annotations

import math

import numpy as np
import shapely

BANDS = (9, 11, 13, 15, 99)
# Decimal places that keep a pixel or better at each band (0.0001 deg is 0.15 px at zoom 11;
# full detail: ~1 cm).
DECIMALS = {9: 4, 11: 4, 13: 5, 15: 6, 99: 7}


def band_for_zoom(zoom: float | None) -> int:
    """The stored zoom band serving ``zoom`` (None: full detail)."""
    if zoom is None:
        return BANDS[-1]
    return next(b for b in BANDS if zoom <= b)


def pixel_degrees(zoom: float) -> float:
    """Width of one 256-px web map tile pixel in degrees of longitude at ``zoom``.

    >>> round(pixel_degrees(0), 4)
    1.4062
    """
    return 360.0 / (256 * 2**zoom)


# Finest quadtree level a cluster cell is snapped to (360 / 2**26 degrees: about 0.6 m).
FINEST_CELL_LEVEL = 26


def quadtree_level(degrees: float) -> int:
    """The level whose cells of ``360 / 2**level`` degrees are nearest ``degrees`` in size.

    Cluster and heat-map cells are these quadtree squares, aligned on (-180, -90): a cell of
    one zoom splits into four of the next, and a store can index them (SQLite: one key range
    per cell, :mod:`gridmap.store.zorder`).

    >>> quadtree_level(360.0), quadtree_level(pixel_degrees(12) * 60), quadtree_level(1e-12)
    (0, 14, 26)
    >>> quadtree_level(float("inf")), quadtree_level(5e-324), quadtree_level(float("nan"))
    (0, 26, 26)
    """
    if not degrees > 0:  # zero, negative or NaN: the finest
        return FINEST_CELL_LEVEL
    if degrees >= 360.0:
        return 0
    ratio = 360.0 / degrees
    if not math.isfinite(ratio):  # a subnormal size
        return FINEST_CELL_LEVEL
    return min(max(round(math.log2(ratio)), 0), FINEST_CELL_LEVEL)


def quadtree_cell(degrees: float) -> float:
    """``degrees`` snapped to the nearest quadtree cell size (see :func:`quadtree_level`).

    >>> quadtree_cell(1.0), quadtree_cell(pixel_degrees(12) * 60) == pixel_degrees(12) * 64
    (1.40625, True)
    """
    return 360.0 / 2 ** quadtree_level(degrees)


def display_texts(geoms: np.ndarray, *, coverage: bool) -> dict[int, list[str]]:
    """band -> GeoJSON geometry text of each geometry, simplified and rounded for that band.

    >>> texts = display_texts(np.array([shapely.box(0, 0, 1, 1)]), coverage=True)
    >>> sorted(texts) == list(BANDS), texts[99][0][:20]
    (True, '{"type":"Polygon","c')
    """
    geoms = np.asarray(geoms, dtype=object)
    out: dict[int, list[str]] = {}
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
        out[band] = list(shapely.to_geojson(rounded))
    return out
