"""Address geocoding: normalise, parse and match Chinese addresses; put points on grids.

``Geocoder`` (see :mod:`gridmap.geocode.geocoder`) is imported lazily so that the light modules
(``normalize``) load without geopandas.
"""

from __future__ import annotations

__all__ = ["Geocoder"]


def __getattr__(name: str):
    if name == "Geocoder":
        from gridmap.geocode.geocoder import Geocoder

        return Geocoder
    raise AttributeError(f"module 'gridmap.geocode' has no attribute {name!r}")
