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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridmap.rules.grid_index import KIND_PRECEDENCE
from gridmap.rules.grid_index import GridIndex as _RuleIndex

__all__ = [
    "KIND_PRECEDENCE",
    "AssignedRows",
    "GridIndex",
    "assign_frame",
    "assign_grids",
    "assign_part",
]
UNASSIGNED_COLUMNS = ("address_id", "address", "lon", "lat")
POINTS_AT_ONCE = 100_000  # shapely points made at a time (a point costs more than its row)


class GridIndex(_RuleIndex):
    """:class:`gridmap.rules.grid_index.GridIndex` built from a grids GeoDataFrame (the
    geocoder's way of calling it; new code uses ``GridIndex.from_frame``)."""

    def __init__(self, grids) -> None:
        kinds = grids["kind"].astype(str).to_numpy() if "kind" in grids.columns else None
        super().__init__(grids["grid_code"].astype(str).to_numpy(), kinds, grids.geometry.values)


def assign_grids(lon: Sequence[float], lat: Sequence[float], grids) -> np.ndarray:
    """Grid code for each lon/lat point (``None`` outside every grid); see the edge rule."""
    return _RuleIndex.from_frame(grids).locate_many(lon, lat)


@dataclass
class AssignedRows:
    """Addresses with their grid_code: ``rows`` as CSV text without a header (``as_csv``;
    ``columns`` names its fields) or as the frame; addresses per grid (in index order), edge
    ties, and the rows in no grid."""

    rows: bytes | pd.DataFrame
    columns: list[str]
    count: int
    ties: int
    per_grid: np.ndarray
    unassigned: list[tuple]


def assign_frame(
    frame: pd.DataFrame,
    index: _RuleIndex,
    *,
    as_csv: bool,
    found: tuple[np.ndarray, int] | None = None,
) -> AssignedRows:
    """Put the addresses of ``frame`` (a typed address layer) on the grids of ``index``;
    ``found``: the winners (grid positions, -1: none) and ties, when already known.

    CSV text of separate frames joins into the text of the joined frame (each row is
    formatted on its own), so parts of a file can be assigned anywhere and concatenated.
    """
    winners, ties = _winners(frame, index) if found is None else found
    out = frame.copy()
    out["grid_code"] = index.codes_of(winners)
    outside = winners < 0
    unassigned = out.loc[outside, list(UNASSIGNED_COLUMNS)].itertuples(index=False)
    per_grid = np.bincount(winners[~outside], minlength=len(index))
    if as_csv and "geometry" in out.columns:
        out = out.drop(columns="geometry")
    rows = out.to_csv(index=False, header=False).encode("utf-8") if as_csv else out
    columns = [str(col) for col in out.columns if col != "geometry"]
    return AssignedRows(rows, columns, len(frame), ties, per_grid, [tuple(r) for r in unassigned])


def _winners(frame: pd.DataFrame, index: _RuleIndex) -> tuple[np.ndarray, int]:
    import shapely

    lon = frame["lon"].to_numpy(dtype=np.float64)
    lat = frame["lat"].to_numpy(dtype=np.float64)
    winners = np.empty(len(frame), dtype=np.int64)
    ties = 0
    for start in range(0, len(frame), POINTS_AT_ONCE):
        stop = min(start + POINTS_AT_ONCE, len(frame))
        found, tied = index.assign_points_counted(shapely.points(lon[start:stop], lat[start:stop]))
        winners[start:stop] = found
        ties += tied
    return winners, ties


def assign_part(part, index: _RuleIndex, *, crs: str | None = None, as_csv: bool = True):
    """Read, check and assign one part of an address CSV or GeoParquet (``gridmap.io.parts``): its
    ``PartReport``, whose result is the part's :class:`AssignedRows`."""
    from functools import partial

    from gridmap.io.parts import check_part

    work = partial(assign_frame, index=index, as_csv=as_csv)
    return check_part(part, "addresses", crs=crs, points=not as_csv, work=work)
