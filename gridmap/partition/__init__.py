"""The partitioner: divide every community into comprehensive and exclusive grids.

Pipeline per community (``community.py``): atomic units from barriers and address cells
(``units.py``), exclusive grids from qualifying sites (``exclusive.py``), comprehensive grids by
recursive bisection and repair within the household bounds (``regionalize.py``); then codes
(``codes.py``), the guarantees (``checks.py``) and the summary (``report.py``).

>>> import geopandas as gpd, pandas as pd, shapely
>>> from gridmap.partition import partition
>>> boundaries = gpd.GeoDataFrame({"code": ["330402001001"], "name": ["c"], "level": ["community"]},
...                               geometry=[shapely.box(120.70, 30.70, 120.71, 30.71)], crs=4490)
>>> addresses = pd.DataFrame({"address_id": [str(i) for i in range(20)],
...     "lon": [120.7005 + 0.0005 * (i % 10) for i in range(20)],
...     "lat": [120.7 * 0 + 30.703 + 0.004 * (i // 10) for i in range(20)],
...     "households": [40] * 20, "population": [100] * 20})
>>> result = partition(boundaries, addresses)
>>> result.grids["households"].tolist(), result.ok
([400, 400], True)
"""

from __future__ import annotations

import importlib

__all__ = ["PartitionConfig", "PartitionResult", "partition"]
_HOMES = {"PartitionConfig": "config", "PartitionResult": "engine", "partition": "engine"}


def __getattr__(name: str):
    # Imported on first use: a worker process that runs communities imports only
    # gridmap.partition.community (numpy, shapely, scipy), not geopandas and pandas (~110 MB).
    if name in _HOMES:
        return getattr(importlib.import_module(f"gridmap.partition.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
