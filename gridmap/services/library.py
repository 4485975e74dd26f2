"""A published version's address library, grids and admin units as the geocoder reads them.

The web app builds its warm geocoder from these frames (:mod:`web.geocoding`); a background job
(the browser's batch geocoding) builds its own in its worker process the same way.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from gridmap.model import STORAGE_CRS
from gridmap.store import Store


def address_frame(store: Store, version_id: int) -> pd.DataFrame:
    """A stored version's address library as a frame: the fields of
    :class:`~gridmap.store.Address`, its components as columns (the geocoder, a plan and an
    export read it so)."""
    return pd.DataFrame.from_records(
        [
            {
                "address_id": a.address_id,
                "address": a.address,
                "lon": a.lon,
                "lat": a.lat,
                "households": a.households,
                "population": a.population,
                "community_code": a.community_code,
                "grid_code": a.grid_code,
                **a.components,
            }
            for a in store.addresses(version_id)
        ]
    )


def frames(store: Store, version_id: int) -> tuple[gpd.GeoDataFrame, ...]:
    """(addresses, grids, boundaries) of a stored version, with the CONTRACT columns."""
    addresses = address_frame(store, version_id)
    if addresses.empty:
        addresses = pd.DataFrame(columns=["address_id", "address", "lon", "lat"])
    addresses = gpd.GeoDataFrame(
        addresses,
        geometry=shapely.points(addresses["lon"].astype(float), addresses["lat"].astype(float)),
        crs=STORAGE_CRS,
    )
    grids = _layer_frame(store, version_id, ("grid", "exclusive"))
    boundaries = _layer_frame(store, version_id, ("district", "street", "community"))
    return addresses, grids, boundaries


def _layer_frame(store: Store, version_id: int, layers: tuple[str, ...]) -> gpd.GeoDataFrame:
    rows = store.layer_geometries(version_id, layers)
    props = [dict(f.props) for f in rows]
    geoms = [f.geometry for f in rows]
    return gpd.GeoDataFrame(pd.DataFrame.from_records(props), geometry=geoms, crs=STORAGE_CRS)


def geocoder(store: Store, version_id: int):
    """A new :class:`gridmap.geocode.Geocoder` over the version's library."""
    from gridmap.geocode import Geocoder

    return Geocoder.from_frames(*frames(store, version_id))


__all__ = ["address_frame", "frames", "geocoder"]
