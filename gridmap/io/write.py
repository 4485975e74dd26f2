"""Writing a layer atomically as GeoPackage, GeoJSON or CSV (format from the suffix)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from gridmap.errors import InputError
from gridmap.io.atomic import atomic_output
from gridmap.io.parquet import write_parquet

WRITE_DRIVERS = {
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".csv": "CSV",
    ".parquet": "Parquet",
}
# GDAL stamps a GeoPackage with the current time unless told otherwise; a fixed date makes the
# same data give byte-identical files (partition and sample promise that).
FIXED_GPKG_DATE = "2000-01-01T00:00:00.000Z"


def write_layer(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    layer: str | None = None,
    partition_by: str | None = None,
) -> Path:
    """Write ``frame`` to ``path`` atomically; the layer name defaults to the file stem.

    The file is replaced as a whole (one layer per file). CSV gets the attribute columns only
    (no geometry column), UTF-8. ``.parquet`` is GeoParquet; with ``partition_by`` (Parquet
    only) the target is a folder with one ``column=value/`` sub-folder per value. Raises
    InputError for an unknown suffix. Returns the path.
    """
    target = Path(path)
    driver = WRITE_DRIVERS.get(target.suffix.lower())
    if driver is None:
        known = ", ".join(sorted(WRITE_DRIVERS))
        raise InputError.one(str(target), f"cannot write {target.suffix!r}: expected {known}")
    if driver == "Parquet":
        return write_parquet(frame, target, partition_by=partition_by)
    if partition_by is not None:
        raise InputError.one(str(target), "only .parquet output can be partitioned")
    with atomic_output(target) as temp:
        if driver == "CSV":
            attributes = frame
            if isinstance(frame, gpd.GeoDataFrame):
                attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
            attributes.to_csv(temp, index=False, encoding="utf-8")
        else:
            if not isinstance(frame, gpd.GeoDataFrame):
                raise InputError.one(str(target), f"{driver} output needs a GeoDataFrame")
            options = {"layer": layer or target.stem} if driver == "GPKG" else {}
            with gdal_config(OGR_CURRENT_DATE=FIXED_GPKG_DATE):
                pyogrio.write_dataframe(frame, temp, driver=driver, **options)
    return target


@contextlib.contextmanager
def gdal_config(**options: str) -> Iterator[None]:
    """Set GDAL config options for the duration of a block, then restore the previous values."""
    previous = {key: pyogrio.get_gdal_config_option(key) for key in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(previous)
