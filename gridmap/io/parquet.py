"""GeoParquet in and out: one file, or a folder partitioned by a column (``district=330402/``).

Reading projects columns (only those asked for leave the disk) and can stream record batches,
so a province-sized address library is checked in bounded memory. Geometry is the GeoParquet
primary column (WKB) with its CRS from the ``geo`` metadata; a table with no geometry (an
address list with lon/lat) reads as well. Rows are numbered from 1 in file order (for a
folder: its files in name order, as ``pyarrow.dataset`` lists them).

Writing goes through geopandas (GeoParquet 1.x metadata, zstd), atomically: a partitioned
folder is written next to the target and renamed over it.

>>> import tempfile, pathlib, geopandas as gpd
>>> from shapely import Point
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> frame = gpd.GeoDataFrame({"address_id": ["A1", "A2"], "district": ["330402", "330411"]},
...     geometry=[Point(120.7, 30.7), Point(120.8, 30.8)], crs="EPSG:4490")
>>> _ = write_parquet(frame, folder / "a.parquet", partition_by="district")
>>> sorted(p.name for p in (folder / "a.parquet").iterdir())
['district=330402', 'district=330411']
>>> table = next(iter_parquet_tables(folder / "a.parquet", columns=["address_id", "district"]))
>>> table.frame.to_dict("records"), table.crs.startswith("{")
([{'address_id': 'A1', 'district': '330402'}, {'address_id': 'A2', 'district': '330411'}], True)
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from gridmap.errors import InputError

PARQUET_SUFFIXES = (".parquet", ".geoparquet")
BATCH_ROWS = 250_000


def is_parquet(path: Path) -> bool:
    """A ``.parquet`` file, or a folder holding ``.parquet`` files (a partitioned dataset)."""
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return True
    return path.is_dir() and any(path.rglob("*.parquet"))


def _dataset(path: Path, name: str):
    import pyarrow.dataset as ds

    try:
        import pyarrow as pa

        keys = []
        if path.is_dir():  # hive keys from the folder names: district=330402/part-0.parquet
            first = min(path.rglob("*.parquet"))
            keys = [p.split("=")[0] for p in first.relative_to(path).parts[:-1] if "=" in p]
        if not keys:
            return ds.dataset(path, format="parquet")
        # partition keys as text, never guessed as numbers: 330402 is a division code
        hive = ds.partitioning(pa.schema([(key, pa.string()) for key in keys]), flavor="hive")
        return ds.dataset(path, format="parquet", partitioning=hive)
    except (OSError, ValueError) as error:  # pyarrow.ArrowInvalid is a ValueError
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError.one(name, f"cannot read as Parquet: {first}") from None


def _geo_metadata(dataset) -> dict:
    raw = (dataset.schema.metadata or {}).get(b"geo")
    return json.loads(raw) if raw else {}


def iter_parquet_tables(
    path: str | Path,
    *,
    name: str | None = None,
    columns: Sequence[str] | None = None,
    rows: int | None = None,
) -> Iterator:
    """The dataset as ``RawTable``s of at most ``rows`` rows (None: one table).

    ``columns``: attribute columns to read (matched after stripping and lower-casing); the
    geometry column is read as well when the layer has one. Unknown names are skipped.
    """
    from gridmap.io.formats import RawTable

    file = Path(path)
    name = name or str(path)
    dataset = _dataset(file, name)
    geo = _geo_metadata(dataset)
    geometry_column = geo.get("primary_column") if geo else None
    if geometry_column not in dataset.schema.names:
        geometry_column = None
    crs = None
    if geometry_column:
        meta = geo.get("columns", {}).get(geometry_column, {})
        # GeoParquet: a missing "crs" means OGC:CRS84 (lon/lat); null means unknown
        crs = json.dumps(meta["crs"]) if meta.get("crs") else None
        if "crs" not in meta:
            crs = "OGC:CRS84"
    attributes = [n for n in dataset.schema.names if n != geometry_column]
    if columns is not None:
        wanted = {str(c).strip().lower() for c in columns}
        attributes = [n for n in attributes if n.strip().lower() in wanted]
    read = attributes + ([geometry_column] if geometry_column else [])
    batches = dataset.to_batches(columns=read, batch_size=rows or BATCH_ROWS)
    number = 1
    pending: list = []
    count = 0

    def table_of(chunks) -> RawTable:
        nonlocal number
        import pyarrow as pa

        arrow = pa.Table.from_batches(
            chunks, schema=pa.schema([dataset.schema.field(c) for c in read])
        )
        frame = pd.DataFrame({col: _column(arrow.column(col)) for col in attributes})
        geometry = None
        if geometry_column:
            wkb = arrow.column(geometry_column).to_numpy(zero_copy_only=False)
            geometry = shapely.from_wkb(np.asarray(wkb, dtype=object), on_invalid="ignore")
        table = RawTable(
            path=name,
            format="Parquet",
            frame=frame,
            geometry=geometry,
            crs=crs,
            line_numbers=np.arange(number, number + len(frame), dtype=np.int64),
        )
        number += len(frame)
        return table

    emitted = False
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if rows and count >= rows:
            yield table_of(pending)
            pending, count, emitted = [], 0, True
    if pending or not emitted:
        yield table_of(pending)


def _column(values) -> pd.Series:
    """An Arrow column as pandas: text (also dictionary-coded partition keys) as str."""
    import pyarrow as pa

    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values.to_pandas().astype("str")
    return values.to_pandas()


def write_parquet(frame, path: str | Path, *, partition_by: str | None = None) -> Path:
    """Write ``frame`` as GeoParquet (geometry when it is a GeoDataFrame), atomically.

    ``partition_by``: a column whose values become ``column=value/`` sub-folders (hive style),
    the target is then a folder. Rows keep their order within each partition.
    """
    import geopandas as gpd

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:12]}")
    options = {"index": False, "compression": "zstd"}
    try:
        if partition_by is None:
            temp_file = temp.with_suffix(target.suffix)
            if isinstance(frame, gpd.GeoDataFrame):
                frame.to_parquet(temp_file, **options)
            else:
                pd.DataFrame(frame).to_parquet(temp_file, **options)
            os.replace(temp_file, target)
            return target
        temp.mkdir()
        keys = frame[partition_by].astype(str)
        for key in sorted(keys.unique()):
            part = frame.loc[(keys == key).to_numpy()].drop(columns=[partition_by])
            folder = temp / f"{partition_by}={key}"
            folder.mkdir()
            part.to_parquet(folder / "part-0.parquet", **options)
        _replace_folder(temp, target)
        return target
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        with_suffix = temp.with_suffix(target.suffix)
        if with_suffix.exists():
            with_suffix.unlink()
        raise


def _replace_folder(temp: Path, target: Path) -> None:
    """Put the folder ``temp`` where ``target`` is (a file or folder there is replaced)."""
    if target.is_dir():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:12]}")
        os.replace(target, old)
        os.replace(temp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        if target.exists():
            target.unlink()
        os.replace(temp, target)
