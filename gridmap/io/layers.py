"""The layer readers: read a file, check it, and return a typed GeoDataFrame in EPSG:4490.

``check_file`` does the work and returns every problem (``gridmap validate`` prints them);
``read_boundaries`` and friends raise ``InputError`` with the problems instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap import crs as gcrs
from gridmap.errors import InputError, Problem
from gridmap.io.checks import (
    Findings,
    UniqueIds,
    canonical_columns,
    check_attributes,
    guess_kind,
)
from gridmap.io.formats import CsvPart, RawTable, iter_tables
from gridmap.io.geometry import (
    CRSConflict,
    check_coordinates,
    check_geometry,
    is_lonlat,
    source_crs,
)
from gridmap.io.memory import release_unused
from gridmap.io.parquet import ParquetPart
from gridmap.model import ADDRESS_COMPONENTS, LAYERS, STORAGE_CRS, Layer

MAX_RAISED_PROBLEMS = 50
EMPTY_FILE = "no {where}s: the file holds no data"
CHUNK_ROWS = 250_000  # CSV rows checked at a time when only validating
# Optional free-text columns: a blank is "" (codes and ids stay missing, NaN, when blank).
BLANK_AS_EMPTY = set(ADDRESS_COMPONENTS) | {"name", "kind", "flags"}


@dataclass
class Report:
    """What checking one file found."""

    path: str
    kind: str | None
    count: int  # records read
    problems: list[Problem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    frame: gpd.GeoDataFrame | None = None  # the typed layer, when there was no problem
    counts: dict[str, int] = field(default_factory=dict)  # problems per check, all of them
    first_row: int = 1  # user-facing number of the first record (a CSV's line 2: its header is 1)
    id_records: np.ndarray | None = None  # check_file(ids_elsewhere=True): the ids' hashes

    @property
    def problem_count(self) -> int:
        """All problems found, including those beyond the listing limit."""
        return sum(self.counts.values())


def check_file(
    path: str | Path,
    kind: str | None = None,
    *,
    crs: str | None = None,
    repair: bool = False,
    limit: int | None = None,
    build: bool = True,
    chunk_rows: int = CHUNK_ROWS,
    columns: Sequence[str] | None = None,
    points: bool = True,
    transform: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    ids_elsewhere: bool = False,
) -> Report:
    """Read and check one file; ``kind`` is guessed from its columns when None.

    A CSV or Parquet file is read in chunks of ``chunk_rows`` rows; ``build=False`` (validation
    only) skips making the typed GeoDataFrame, so a file of any length is checked in bounded
    memory. ``points=False``: a point layer's typed frame is a DataFrame with lon/lat and no
    geometry column (a shapely point costs more than the rest of an address row).

    ``columns`` (with ``kind``): read and check only these columns of the layer (the others
    are never read: a partitioner needs six of an address library's twenty); see ``subset``.
    ``transform``: applied to each checked chunk before the chunks are joined (e.g. to replace
    text columns by integer codes while only one chunk of them is in memory).

    ``path`` may be a part of a file (``CsvPart``, ``ParquetPart``). ``ids_elsewhere``: repeated ids
    are not looked for here; the ids' records go to ``Report.id_records`` for a
    ``UniqueIds`` over all the parts of the file (see :class:`gridmap.io.parts.PartsCheck`).

    Raises InputError only when the file cannot be read at all (missing, unknown format,
    corrupt) or ``crs`` is not a coordinate system; everything else is in ``Report.problems``.
    """
    if columns is not None:
        columns = subset(LAYERS[kind], columns).columns
    # Always in chunks: a chunk's text columns and check temporaries are freed before the
    # next is read, so a multi-million-row CSV costs its typed result plus one chunk.
    tables = iter_tables(path, rows=chunk_rows, columns=columns)
    table = next(tables)
    table.frame = canonical_columns(table.frame)
    if kind is None:
        types = [] if table.geometry is None else pd.unique(shapely.get_type_id(table.geometry))
        names = ["", "LineString", "", "Polygon", "", "MultiLineString", "MultiPolygon", ""]
        kind = guess_kind(table.frame.columns, [names[t] for t in types if 0 <= t < len(names)])
    if kind is not None and kind not in LAYERS:
        raise InputError.one(table.path, f"unknown kind {kind!r}: one of {', '.join(LAYERS)}")
    first_row = table.number(0) if len(table.frame) else (2 if table.format == "CSV" else 1)
    report = Report(path=table.path, kind=kind, count=0, first_row=first_row)
    f = Findings(table, limit)
    source = None
    if len(table.frame) and kind is not None:
        try:
            source = source_crs(crs, table.crs)
        except CRSConflict as error:
            f.add(str(error), field="crs", check="crs conflict")
        except ValueError as error:
            raise InputError.one(table.path, str(error), field="crs") from None
    layer = LAYERS.get(kind or "")
    if layer is not None and columns is not None:
        layer = subset(layer, columns)
    unique = UniqueIds(layer.key) if layer is not None and layer.key else None
    frames = []
    for chunk in itertools.chain([table], tables):
        chunk.frame = canonical_columns(chunk.frame)
        f.table = chunk
        report.count += len(chunk.frame)
        for check, problem in chunk.problems:
            f.problems.append(problem)
            f.counts[check] += 1
        if source is not None and len(chunk.frame) and not f.counts["missing column"]:
            # (a missing column is said once for the file, not once per chunk)
            typed = _check(
                chunk, layer, f, source, unique, repair=repair, build=build, points=points
            )
            if typed is not None:
                frames.append(typed if transform is None else transform(typed))
    if unique is not None and ids_elsewhere:
        report.id_records = unique.records()
    elif unique is not None:
        unique.finish(f, lambda: reread_ids(path, unique.column, chunk_rows))
    if frames and not f.problems:
        report.frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    del frames
    release_unused()  # chunks and check temporaries are gone: hand their memory back
    if report.count == 0 and not isinstance(path, CsvPart | ParquetPart):  # said for the file
        f.add(EMPTY_FILE.format(where=table.where), check="empty file")
    elif kind is None:
        f.add("cannot tell which layer this is from its columns: pass --kind", check="unknown kind")
    f.finish()
    report.problems = sorted(f.problems, key=_reading_order)
    report.notices = [text for _, text in sorted(f.notices, key=lambda pair: pair[0])]
    report.counts = {check: n for check, n in f.counts.items() if n}
    if report.problems:
        report.frame = None
    return report


def reread_ids(path, key: str, chunk_rows: int = CHUNK_ROWS):
    """(numbers, ids) of a file's id column chunk by chunk: what ``UniqueIds.finish`` reads
    again to name the repeats it found."""
    for chunk in iter_tables(path, rows=chunk_rows, columns=[key]):
        frame = canonical_columns(chunk.frame)
        if key in frame.columns:
            yield chunk.numbers(), frame[key].where(frame[key].notna(), None)


def subset(layer: Layer, columns: Sequence[str]) -> Layer:
    """``layer`` reduced to ``columns`` (kept in the layer's order); unknown names are errors.

    Layers with cross-column rules (boundaries, grids) keep every required column.

    >>> from gridmap.model import ADDRESS
    >>> subset(ADDRESS, ["lat", "lon", "households"]).columns
    ('lon', 'lat', 'households')
    """
    wanted = set(columns) | ({"lon", "lat"} if layer.geometry == "point" else set())
    unknown = wanted - set(layer.columns)
    if unknown:
        raise ValueError(f"{layer.name} has no column {', '.join(sorted(unknown))}")
    keep_required = layer.name in ("boundaries", "grids")
    return replace(
        layer,
        required=tuple(c for c in layer.required if keep_required or c in wanted),
        optional=tuple(c for c in layer.optional if c in wanted),
        key=layer.key if layer.key in wanted else None,
    )


def _reading_order(problem: Problem) -> tuple[int, int]:
    """File-level problems first, then by row/feature, "... and N more" lines last."""
    position = problem.row if problem.row is not None else problem.feature
    if position is None:
        return (2 if problem.message.startswith("...") else 0, 0)
    return (1, position)


def _check(
    table: RawTable,
    layer: Layer,
    f: Findings,
    source,
    unique: UniqueIds | None,
    *,
    repair: bool,
    build: bool,
    points: bool = True,
):
    frame = table.frame
    if layer.geometry == "point" and table.geometry is not None:
        _lonlat_from_points(table)
    clean = check_attributes(table, layer, f)
    if clean is None:
        return None
    if unique is not None:
        unique.check(f, clean[layer.key])
    if layer.geometry == "point":
        lon = clean["lon"].to_numpy(dtype=float)
        lat = clean["lat"].to_numpy(dtype=float)
        known = np.isfinite(lon) & np.isfinite(lat)
        if not is_lonlat(source):
            lon, lat = _to_lonlat(lon, lat, known, source)
        check_coordinates(f, lon, lat, known)
        if f.problems or not build:
            return None
        if is_lonlat(source):
            lon, lat = gcrs.to_cgcs2000(lon, lat, source)
        clean["lon"], clean["lat"] = (
            pd.Series(lon, index=frame.index),
            pd.Series(lat, index=frame.index),
        )
        geometry = gpd.points_from_xy(lon, lat, crs=STORAGE_CRS) if points else None
    else:
        if table.geometry is None:
            if f.counts["no geometry"]:
                return None  # said for an earlier chunk
            f.add(
                f"a {layer.name} file needs {layer.geometry} geometry: use GeoJSON, GeoPackage "
                "or Shapefile",
                field="geometry",
                check="no geometry",
            )
            return None
        geometry, usable = check_geometry(
            f, table.geometry, table.broken, layer.geometry, repair=repair
        )
        series = gpd.GeoSeries(geometry, index=frame.index)
        if not is_lonlat(source) and usable.any():
            series[usable] = gcrs.transform_geoseries(series[usable], source, "cgcs2000").values
        bounds = np.full((len(series), 4), np.nan)
        if usable.any():
            bounds[usable] = shapely.bounds(series.values[usable])
        check_coordinates(
            f,
            (bounds[:, 0] + bounds[:, 2]) / 2,
            (bounds[:, 1] + bounds[:, 3]) / 2,
            usable,
            field="geometry",
        )
        if f.problems or not build:
            return None
        if is_lonlat(source):
            series = gcrs.transform_geoseries(series, source, "cgcs2000")
        geometry = series.set_crs(STORAGE_CRS, allow_override=True).values
    return _typed(layer, frame, clean, geometry)


def _lonlat_from_points(table: RawTable) -> None:
    """A vector address file may carry its points as geometry instead of lon/lat columns."""
    frame = table.frame
    if "lon" in frame.columns and "lat" in frame.columns:
        return
    points = table.geometry
    is_point = pd.notna(points) & (shapely.get_type_id(points) == 0)
    x = np.full(len(points), np.nan)
    y = np.full(len(points), np.nan)
    x[is_point] = shapely.get_x(points[is_point])
    y[is_point] = shapely.get_y(points[is_point])
    frame["lon"], frame["lat"] = x, y


def _to_lonlat(x, y, known, source):
    lon = np.full(len(x), np.nan)
    lat = np.full(len(y), np.nan)
    if known.any():
        lon[known], lat[known] = gcrs.to_cgcs2000(x[known], y[known], source)
    return lon, lat


def _typed(
    layer: Layer, frame: pd.DataFrame, clean: dict, geometry
) -> gpd.GeoDataFrame | pd.DataFrame:
    """The CONTRACT columns in order with their types, then any other columns the file had."""
    columns = {}
    for col in layer.columns:
        kind = layer.kinds.get(col, "str")
        if col not in clean:
            if col in BLANK_AS_EMPTY:
                columns[col] = pd.Series("", index=frame.index, dtype="str")
            elif kind == "int":
                columns[col] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
            else:
                columns[col] = pd.Series(np.nan, index=frame.index, dtype="str")
            continue
        values = clean[col]
        if kind == "int":
            values = values.astype("int64") if values.notna().all() else values.astype("Int64")
        elif kind == "float":
            values = values.astype("float64")
        else:
            values = values.astype("str")
            if col in BLANK_AS_EMPTY:
                values = values.fillna("")
        columns[col] = values
    for col in frame.columns:
        if col not in columns and col != "geometry":
            columns[col] = frame[col]
    if geometry is None:  # points=False: lon/lat only
        return pd.DataFrame(columns)
    return gpd.GeoDataFrame(columns, geometry=geometry, crs=STORAGE_CRS)


def _raise_or_return(report: Report) -> gpd.GeoDataFrame:
    if report.problems:
        shown = [p for p in report.problems if not p.message.startswith("...")]
        shown = shown[:MAX_RAISED_PROBLEMS]
        more = max(report.problem_count, len(report.problems)) - len(shown)
        if more > 0:
            shown.append(
                Problem(
                    report.path,
                    f"... and {more} more problems: "
                    f"`gridmap validate {report.path}` lists them all",
                )
            )
        raise InputError(shown)
    frame = report.frame
    frame.attrs["notices"] = list(report.notices)
    frame.attrs["first_row"] = report.first_row  # the number a person finds row 0 under
    return frame


def read_layer(
    path: str | Path,
    kind: str,
    *,
    crs: str | None = None,
    repair: bool = False,
    columns: Sequence[str] | None = None,
    points: bool = True,
    transform: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read a layer of ``kind`` (boundaries, addresses, barriers, sites, grids); raises InputError.

    Repairs made with ``repair=True`` are listed in ``frame.attrs["notices"]``. ``columns``:
    only these columns are read (see ``subset``). ``points=False``: a point layer comes as
    a DataFrame with lon/lat and no geometry.
    """
    return _raise_or_return(
        check_file(
            path,
            kind,
            crs=crs,
            repair=repair,
            limit=MAX_RAISED_PROBLEMS,
            columns=columns,
            points=points,
            transform=transform,
        )
    )


def read_boundaries(
    path: str | Path, *, crs: str | None = None, repair: bool = False
) -> gpd.GeoDataFrame:
    """Administrative units: code, name, level, parent_code (derived when absent), polygon."""
    return read_layer(path, "boundaries", crs=crs, repair=repair)


def read_addresses(
    path: str | Path,
    *,
    crs: str | None = None,
    columns: Sequence[str] | None = None,
    points: bool = True,
    transform: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Standard addresses: address_id, address, lon, lat (CGCS2000), households, population, ...

    ``columns``: read only these (e.g. ``["address_id", "lon", "lat", "households"]``);
    ``points=False``: a DataFrame with lon/lat and no point geometry; ``transform``: applied
    to each chunk as it is read (see ``check_file``).
    """
    return read_layer(
        path, "addresses", crs=crs, columns=columns, points=points, transform=transform
    )


def read_barriers(
    path: str | Path, *, crs: str | None = None, repair: bool = False
) -> gpd.GeoDataFrame:
    """Barriers (roads, rails, rivers, walls): kind, name, line geometry."""
    return read_layer(path, "barriers", crs=crs, repair=repair)


def read_sites(
    path: str | Path, *, crs: str | None = None, repair: bool = False
) -> gpd.GeoDataFrame:
    """Sites for exclusive grids: site_id, name, category, headcount, polygon."""
    return read_layer(path, "sites", crs=crs, repair=repair)


def read_grids(path: str | Path) -> gpd.GeoDataFrame:
    """Grids as written by ``gridmap partition`` (EPSG:4490, CONTRACT grid columns)."""
    return read_layer(path, "grids")
