"""Put address points on grids (``gridmap assign``): the edge rule of
:mod:`gridmap.rules.grid_index` applied to a whole library.

>>> import geopandas as gpd
>>> from shapely import box
>>> grids = gpd.GeoDataFrame({"grid_code": ["330402001001001"]}, geometry=[box(0, 0, 1, 1)])
>>> assign_grids([0.5, 2.0], [0.5, 2.0], grids).tolist()
['330402001001001', None]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gridmap.rules.grid_index import KIND_PRECEDENCE
from gridmap.rules.grid_index import GridIndex as _RuleIndex

__all__ = ["KIND_PRECEDENCE", "GridIndex", "assign_grids"]


class GridIndex(_RuleIndex):
    """:class:`gridmap.rules.grid_index.GridIndex` built from a grids GeoDataFrame (the
    geocoder's way of calling it; new code uses ``GridIndex.from_frame``)."""

    def __init__(self, grids) -> None:
        kinds = grids["kind"].astype(str).to_numpy() if "kind" in grids.columns else None
        super().__init__(grids["grid_code"].astype(str).to_numpy(), kinds, grids.geometry.values)


def assign_grids(lon: Sequence[float], lat: Sequence[float], grids) -> np.ndarray:
    """Grid code for each lon/lat point (``None`` outside every grid); see the edge rule."""
    return _RuleIndex.from_frame(grids).locate_many(lon, lat)
