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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ParquetPart:
    """Row groups of one file of a (Geo)Parquet dataset, the first of them row ``first_row``
    of the whole dataset: a piece that a worker reads and checks on its own.

    It names its dataset when shown, so a problem in it reads like one in the whole dataset.
    """

    dataset: Path
    file: str
    row_groups: tuple[int, ...]
    first_row: int

    def __str__(self) -> str:
        return str(self.dataset)


PART_ROWS = 250_000


def parquet_parts(path: str | Path, part_rows: int | None = None) -> list[ParquetPart]:
    """A dataset's row groups in parts of at most ``part_rows`` rows (whole row groups: a bigger
    one is a part of its own; never two files in one part), in the dataset's row order. Reads
    only the files' footers.

    >>> import tempfile, pathlib, pandas as pd
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"a": range(10)}).to_parquet(folder / "t.parquet", row_group_size=3)
    >>> [(p.row_groups, p.first_row) for p in parquet_parts(folder / "t.parquet", 5)]
    [((0,), 1), ((1,), 4), ((2, 3), 7)]
    """
    part_rows = part_rows or PART_ROWS
    dataset = _dataset(Path(path), str(path))
    parts: list[ParquetPart] = []
    first = 1
    for fragment in dataset.get_fragments():
        sizes = [g.num_rows for g in fragment.row_groups]
        for groups, rows in _runs(sizes, part_rows):
            parts.append(ParquetPart(Path(path), fragment.path, groups, first))
            first += rows
    return parts


def _runs(sizes: Sequence[int], limit: int) -> Iterator[tuple[tuple[int, ...], int]]:
    """(indices, total) of consecutive ``sizes`` whose total stays within ``limit`` (a size
    above it alone).

    >>> list(_runs([3, 3, 3, 1, 9], 5))
    [((0,), 3), ((1,), 3), ((2, 3), 4), ((4,), 9)]
    """
    run: list[int] = []
    held = 0
    for index, size in enumerate(sizes):
        if run and held + size > limit:
            yield tuple(run), held
            run, held = [], 0
        run.append(index)
        held += size
    if run:
        yield tuple(run), held


def iter_parquet_tables(
    path: str | Path,
    *,
    name: str | None = None,
    columns: Sequence[str] | None = None,
    rows: int | None = None,
    part: ParquetPart | None = None,
) -> Iterator:
    """The dataset as ``RawTable``s of at most ``rows`` rows (None: one table).

    ``columns``: attribute columns to read (matched after stripping and lower-casing); the
    geometry column is read as well when the layer has one. Unknown names are skipped.
    ``part``: read only that part's rows (numbered as in the whole dataset).
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
    if part is None:
        batches = dataset.to_batches(columns=read, batch_size=rows or BATCH_ROWS)
    else:
        (fragment,) = [f for f in dataset.get_fragments() if f.path == part.file]
        fragment = fragment.subset(row_group_ids=list(part.row_groups))
        batches = fragment.to_batches(
            schema=dataset.schema, columns=read, batch_size=rows or BATCH_ROWS
        )
    number = 1 if part is None else part.first_row
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


class ParquetAppender:
    """Frames written one after another into one GeoParquet file, in bounded memory (one row
    group each). The ``geo`` metadata is the first frame's without ``bbox`` (optional in
    GeoParquet; the file's extent is known only at the end); the frames must have the same
    columns, and geometries of the first frame's types.

    >>> import tempfile, pathlib, geopandas as gpd
    >>> from shapely import Point
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "a.parquet"
    >>> parts = [gpd.GeoDataFrame({"n": [k]}, geometry=[Point(k, k)], crs=4490) for k in (1, 2)]
    >>> with ParquetAppender(f) as out:
    ...     for part in parts:
    ...         out.write(part)
    >>> gpd.read_parquet(f)["n"].tolist()
    [1, 2]
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.writer = None
        self.schema = None

    def write(self, frame) -> None:
        import geopandas as gpd
        import pyarrow as pa
        import pyarrow.parquet as pq
        from geopandas.io.arrow import _geopandas_to_arrow

        if isinstance(frame, gpd.GeoDataFrame):
            table = _geopandas_to_arrow(frame, index=False)
        else:
            table = pa.Table.from_pandas(pd.DataFrame(frame), preserve_index=False)
        if self.writer is None:
            self.schema = _open_schema(table.schema)
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        self.writer.write_table(table.select(self.schema.names).cast(self.schema))

    def __enter__(self) -> ParquetAppender:
        return self

    def __exit__(self, *exc) -> None:
        if self.writer is not None:
            self.writer.close()


def _open_schema(schema):
    """The schema of a file written in pieces: text for columns the first piece had only
    missing values in, and ``geo`` metadata without the first piece's bbox."""
    import pyarrow as pa

    fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in schema]
    metadata = dict(schema.metadata or {})
    if b"geo" in metadata:
        geo = json.loads(metadata[b"geo"])
        for column in geo.get("columns", {}).values():
            column.pop("bbox", None)
        metadata[b"geo"] = json.dumps(geo).encode()
    metadata.pop(b"pandas", None)  # pandas' index and dtypes of the first piece only
    return pa.schema(fields, metadata=metadata)


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
