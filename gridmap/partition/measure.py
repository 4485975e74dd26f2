"""Areas, lengths and compactness in metres (CGCS2000 Gauss-Kruger zone, via ``gridmap.crs``).

>>> import geopandas as gpd, shapely
>>> square = gpd.GeoSeries([shapely.box(121.0, 31.0, 121.01, 31.00857)], crs=4490)
>>> round(float(polsby_popper(square)[0]), 2)  # about 955 m x 948 m: about pi / 4
0.79
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from gridmap.crs import area_m2, length_m, to_projected

__all__ = ["area_m2", "length_m", "polsby_popper", "to_projected"]


def polsby_popper(geoseries: gpd.GeoSeries) -> np.ndarray:
    """4 pi area / perimeter^2 of each polygon (1 for a circle; 0 for an empty geometry)."""
    area = area_m2(geoseries)
    perimeter = length_m(geoseries)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 4.0 * np.pi * area / perimeter**2
    return np.nan_to_num(value, nan=0.0, posinf=0.0)
