"""Reading input files into a raw table: attributes as read, geometries, the file's CRS.

Formats: GeoJSON, GeoPackage (first layer, or ``path.gpkg:layer``), Shapefile (``.cpg`` honoured;
without one, a DBF in GBK is detected) and CSV (UTF-8, UTF-8 with BOM or GBK, detected). Nothing is
checked or converted here beyond decoding; ``checks.py`` judges the content.

Rows are numbered as a user sees them: a CSV row is its line number in the file (header = 1), a
vector feature is its 1-based position in the layer.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely

from gridmap.errors import InputError, Problem
from gridmap.io.encoding import SAMPLE_BYTES, detect_encoding, scan_encoding
from gridmap.io.parquet import ParquetPart, is_parquet, iter_parquet_tables

VECTOR_SUFFIXES = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".shp": "Shapefile"}
TABLE_SUFFIXES = {".csv": "CSV"}
# Columns read from a CSV as numbers when clean (anything else is read as text, never guessed).
NUMERIC_COLUMNS = {
    "lon",
    "lat",
    "households",
    "population",
    "headcount",
    "area_m2",
    "polsby_popper",
}
_SKIPPED_LINE = re.compile(r"Skipping line (\d+): ([^\n]*)")
_CUT_FIRST_ROW = "Length of header or names does not match length of data"


@dataclass
class RawTable:
    """One input file as read: ``frame`` (attributes), ``geometry`` (shapely array; None: CSV)."""

    path: str
    format: str
    frame: pd.DataFrame
    geometry: np.ndarray | None = None
    crs: str | None = None  # the file's own CRS (WKT/authority string), None when it has none
    encoding: str | None = None
    # Features whose geometry could not even be decoded (e.g. a ring that is not closed):
    # position -> (reason, best-effort fixed geometry or None).
    broken: dict[int, tuple[str, object]] = field(default_factory=dict)
    # Problems found while reading (check name, problem): mixed encodings, malformed rows.
    problems: list[tuple[str, Problem]] = field(default_factory=list)
    # CSV line number of each row when blank lines were dropped (None: row i is on line i + 2).
    line_numbers: np.ndarray | None = None

    @property
    def where(self) -> str:
        """The word naming a position in this file: ``row`` (CSV, Parquet) or ``feature``."""
        return "row" if self.format in ("CSV", "Parquet") else "feature"

    def numbers(self) -> np.ndarray:
        """User-facing number of every record (CSV line or feature number)."""
        if self.line_numbers is not None:
            return np.asarray(self.line_numbers, dtype=np.int64)
        return np.arange(len(self.frame), dtype=np.int64) + (2 if self.format == "CSV" else 1)

    def number(self, index: int) -> int:
        """User-facing number of the record at 0-based ``index`` (CSV line or feature number)."""
        if self.line_numbers is not None:
            return int(self.line_numbers[index])
        return int(index) + (2 if self.format == "CSV" else 1)

    def position(self, index: int) -> dict:
        """``Problem`` keyword for the record at 0-based ``index``: row=.. or feature=.."""
        return {self.where: self.number(index)}


@dataclass(frozen=True)
class CsvPart:
    """Whole lines ``[start, stop)`` (byte offsets) of a CSV, the first of them on line
    ``first_line``: a piece that a worker reads and checks on its own (see :func:`csv_parts`).

    It names its file when shown, so a problem in it reads like one in the whole file.
    """

    file: Path
    start: int
    stop: int
    first_line: int

    def __str__(self) -> str:
        return str(self.file)

    def read(self) -> bytes:
        with open(self.file, "rb") as handle:
            handle.seek(self.start)
            return handle.read(self.stop - self.start)

    def header(self) -> bytes:
        """The file's header line, as it is in the file."""
        with open(self.file, "rb") as handle:
            end, _ = _line_end(handle, 0, 0)
            handle.seek(0)
            return handle.read(end or 0)


PART_BYTES = 16 << 20


def csv_parts(path: str | Path, part_bytes: int | None = None) -> list[CsvPart]:
    r"""A CSV's data lines cut into parts of about ``part_bytes`` (default ``PART_BYTES``), at
    line ends outside quotes.

    Reads the file once, in blocks (memory: one block). A line break inside a quoted value is
    never a cut: quotes are counted from the last cut, and a cut needs an even count. Empty
    list when the file holds no data line (or no header line).

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = f.write_bytes(b'id,name\n1,"two\nlines"\n2,b\n3,c\n')
    >>> [(p.first_line, p.read()) for p in csv_parts(f, part_bytes=4)]
    [(2, b'1,"two\nlines"\n'), (4, b'2,b\n'), (5, b'3,c\n')]
    """
    return list(iter_csv_parts(path, part_bytes))


def iter_csv_parts(path: str | Path, part_bytes: int | None = None) -> Iterator[CsvPart]:
    """:func:`csv_parts` one part at a time, each as soon as its end is found: a Dask client
    sends the first parts to its workers while it looks for the next (finding the 34 parts
    of the 2M city's 560 MB library takes a second)."""
    part_bytes = part_bytes or PART_BYTES
    file = Path(path)
    size = file.stat().st_size
    with open(file, "rb") as handle:
        header_end, _ = _line_end(handle, 0, 0)
        if header_end is None:
            return
        start, line = header_end, 2
        while start < size:
            end, lines = _line_end(handle, start, min(size, start + part_bytes) - start)
            stop = size if end is None else end
            yield CsvPart(file, start, stop, line)
            start, line = stop, line + lines


def _line_end(handle, start: int, skip: int) -> tuple[int | None, int]:
    """Offset just past the first line break outside quotes in the text from ``start`` (a line
    start, where quote counting begins) whose byte ``skip`` it ends or follows (None at the end
    of the file), and how many line breaks that text holds up to there: one pass over it."""
    quotes = lines = 0
    position = start
    handle.seek(start)
    want = start + max(0, skip - 1)
    while True:
        block = handle.read(1 << 20)
        if not block:
            return None, lines
        offset = max(0, want - position)
        while True:
            found = block.find(b"\n", offset)
            if found < 0:
                break
            if (quotes + block.count(b'"', 0, found)) % 2 == 0:
                return position + found + 1, lines + block.count(b"\n", 0, found + 1)
            offset = found + 1
        quotes += block.count(b'"')
        lines += block.count(b"\n")
        position += len(block)


def split_layer(path: str | Path) -> tuple[Path, str | None]:
    """Split ``file.gpkg:layer`` into the file and the layer name (None when not given).

    >>> split_layer("data/b.gpkg:communities")
    (PosixPath('data/b.gpkg'), 'communities')
    >>> split_layer("data/b.gpkg")
    (PosixPath('data/b.gpkg'), None)
    """
    text = str(path)
    match = re.match(r"^(.*\.gpkg):([^/\\]+)$", text, flags=re.IGNORECASE)
    if match and not Path(text).exists():
        return Path(match.group(1)), match.group(2)
    return Path(text), None


def read_table(path: str | Path, *, columns: Sequence[str] | None = None) -> RawTable:
    """Read any supported file; raises InputError when it cannot be read at all.

    ``columns``: read only these attribute columns (names as ``canonical_name`` sees them),
    plus the geometry; None reads every column.
    """
    return next(iter_tables(path, columns=columns))


def _check_readable(file: Path, name: str) -> None:
    if not file.exists():
        raise InputError.one(name, "file not found")
    if is_parquet(file):
        return
    if file.is_dir():
        raise InputError.one(name, "is a folder, not a file")
    suffix = file.suffix.lower()
    if suffix not in VECTOR_SUFFIXES and suffix not in TABLE_SUFFIXES:
        known = ", ".join(sorted(set(VECTOR_SUFFIXES) | set(TABLE_SUFFIXES) | {".parquet"}))
        hint = " (save the sheet as CSV)" if suffix in (".xls", ".xlsx", ".et") else ""
        raise InputError.one(
            name, f"unknown format {suffix or '(no suffix)'!r}: expected {known}{hint}"
        )
    if file.stat().st_size == 0:
        raise InputError.one(name, "file is empty (0 bytes)")


def iter_tables(
    path: str | Path | CsvPart | ParquetPart,
    *,
    rows: int | None = None,
    columns: Sequence[str] | None = None,
) -> Iterator[RawTable]:
    """``read_table`` in tables of at most ``rows`` rows (CSV and Parquet; None: one table).

    ``path`` may be a :class:`CsvPart` or a :class:`~gridmap.io.parquet.ParquetPart`: only its
    rows are read, numbered as in the whole file.

    Errors about the file as a whole (missing, unknown format) are raised here, before the
    first table is asked for.
    """
    if isinstance(path, CsvPart):
        _check_readable(path.file, str(path))
        return iter_csv_tables(path.file, name=str(path), rows=rows, columns=columns, part=path)
    if isinstance(path, ParquetPart):
        return iter_parquet_tables(
            path.dataset, name=str(path), columns=columns, rows=rows, part=path
        )
    file, layer = split_layer(path)
    name = str(path)
    _check_readable(file, name)
    if is_parquet(file):
        return iter_parquet_tables(file, name=name, columns=columns, rows=rows)
    if file.suffix.lower() in TABLE_SUFFIXES:
        return iter_csv_tables(file, name=name, rows=rows, columns=columns)
    return iter([read_vector_table(file, layer=layer, name=name, columns=columns)])


# --- vector files ------------------------------------------------------------------------------


def read_vector_table(
    file: Path,
    *,
    layer: str | None = None,
    name: str | None = None,
    columns: Sequence[str] | None = None,
) -> RawTable:
    """Read a GeoJSON/GeoPackage/Shapefile layer with pyogrio; undecodable geometries kept apart."""
    name = name or str(file)
    fmt = VECTOR_SUFFIXES[file.suffix.lower()]
    encoding = shapefile_encoding(file) if fmt == "Shapefile" else None
    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(file)]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as error:
        raise InputError.one(name, f"cannot read as {fmt}: {_first_line(error)}") from None
    if not layers:
        raise InputError.one(name, f"no layer in this {fmt} file")
    if layer is None:
        layer = layers[0]  # the first layer, as the CONTRACT says
    elif layer not in layers:
        raise InputError.one(name, f"no layer {layer!r} (layers: {', '.join(layers)})")
    try:
        with warnings.catch_warnings():
            # GDAL warns about unclosed rings; they are reported per feature below.
            warnings.simplefilter("ignore", RuntimeWarning)
            if columns is not None:
                fields = pyogrio.read_info(file, layer=layer, encoding=encoding)["fields"]
                columns = [str(c) for c in fields if _wanted(c, columns)]
            meta, _, wkb, columns = pyogrio.raw.read(
                file, layer=layer, encoding=encoding, columns=columns
            )
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as error:
        raise InputError.one(name, f"cannot read as {fmt}: {_first_line(error)}") from None
    frame = pd.DataFrame(
        {str(col): values for col, values in zip(meta["fields"], columns, strict=True)}
    )
    if wkb is None:
        wkb = np.full(len(frame), None, dtype=object)
    geometry = shapely.from_wkb(wkb, on_invalid="ignore")
    broken: dict[int, tuple[str, object]] = {}
    for index in np.flatnonzero(pd.notna(wkb) & pd.isna(geometry)):
        broken[int(index)] = _undecodable(wkb[index])
    return RawTable(
        path=name,
        format=fmt,
        frame=frame,
        geometry=geometry,
        crs=meta.get("crs"),
        encoding=meta.get("encoding") or encoding,
        broken=broken,
    )


def _undecodable(wkb: bytes) -> tuple[str, object]:
    """Why a WKB geometry does not decode, and the closest decodable geometry (or None)."""
    try:
        shapely.from_wkb(wkb, on_invalid="raise")
        reason = "cannot decode geometry"
    except shapely.errors.GEOSException as error:
        reason = str(error).split(":", 1)[-1].strip()
    try:
        fixed = shapely.from_wkb(wkb, on_invalid="fix")
    except shapely.errors.GEOSException:
        fixed = None
    if "closed" in reason.lower():
        reason = "ring is not closed (first and last point differ)"
    return reason, fixed


def shapefile_encoding(shp: Path) -> str | None:
    """Encoding to read a shapefile's DBF with: None to let GDAL use ``.cpg``/the DBF header.

    Without a ``.cpg`` and without a code page byte in the DBF header, GDAL would assume
    ISO-8859-1; Chinese shapefiles are then usually GBK, so the text bytes are sniffed.
    """
    stem = shp.with_suffix("")
    if any(stem.with_suffix(s).exists() for s in (".cpg", ".CPG")):
        return None
    dbf = next(
        (stem.with_suffix(s) for s in (".dbf", ".DBF") if stem.with_suffix(s).exists()), None
    )
    if dbf is None:
        return None
    with open(dbf, "rb") as handle:
        head = handle.read(32)
        if len(head) < 32:
            return None
        if head[29] != 0:  # language driver id: GDAL maps it to a code page itself
            return None
        handle.seek(int.from_bytes(head[8:10], "little"))
        sample = handle.read(SAMPLE_BYTES)
    if sample.isascii():
        return None
    detected = detect_encoding(sample)
    return (
        "UTF-8" if detected.startswith("utf") else "GB18030" if detected == "gb18030" else detected
    )


# --- CSV ---------------------------------------------------------------------------------------


def read_csv_table(file: Path, *, name: str | None = None) -> RawTable:
    """Read a CSV in its detected encoding; known numeric columns as numbers, the rest as text."""
    return next(iter_csv_tables(file, name=name))


def iter_csv_tables(
    file: Path,
    *,
    name: str | None = None,
    rows: int | None = None,
    columns: Sequence[str] | None = None,
    part: CsvPart | None = None,
) -> Iterator[RawTable]:
    """The CSV as tables of at most ``rows`` rows (None: one table), numbered by file line.

    Yields at least one table (an empty one for a header-only file). Mixed-encoding problems
    come with the first table, malformed rows with the table they were found in. ``part``:
    read only that part's lines (the header comes from the file's first line).
    """
    name = name or str(file)
    encoding, delimiter, header = _csv_layout(file, name)
    if columns is not None:
        # only these columns become Python objects: the rest are skipped by the C parser
        header = [col for col in header if _wanted(col, columns)]
    options = {
        "usecols": None if columns is None else (lambda col: _wanted(str(col).strip(), columns)),
        "sep": delimiter,
        "encoding": encoding,
        "encoding_errors": "replace",
        "dtype": {col: "str" for col in header if col.lower() not in NUMERIC_COLUMNS},
        "keep_default_na": False,
        "na_values": [""],
        "skipinitialspace": True,
        "skip_blank_lines": False,  # kept, then dropped: row numbers stay line numbers
        "on_bad_lines": "warn",  # a row with too many fields is reported, not fatal
        # never take a first row with too many fields as the sign of an index column: it is
        # cut short instead (and reported below as malformed, like any other such row)
        "index_col": False,
    }
    where = {} if part is None else {"start": part.start, "stop": part.stop}
    first_line = 2 if part is None else part.first_line  # the header is line 1
    scanned = scan_encoding(
        file, encoding, header, name=name, first_line=first_line - (part is None), **where
    )
    problems = [("mixed encodings", p) for p in scanned]
    skipped: list[int] = []  # malformed lines so far (the parser may report them ahead of rows)
    next_line = first_line
    source = file
    shift = 0  # file line of the parser's line n: n + shift
    if part is not None:  # the part after the file's header line, read as a file of its own
        source = io.BytesIO(part.header() + part.read())
        shift = first_line - 2
    first = True
    try:
        reader = pd.read_csv(source, iterator=True, **options)
    except (pd.errors.ParserError, ValueError) as error:
        raise InputError.one(name, f"cannot read as CSV: {_first_line(error)}") from None
    with reader:
        while True:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", pd.errors.ParserWarning)
                    frame = reader.get_chunk(rows) if rows else reader.read()
            except StopIteration:
                if not first:
                    return
                frame = pd.DataFrame(columns=header)
            except (pd.errors.ParserError, ValueError) as error:
                raise InputError.one(name, f"cannot read as CSV: {_first_line(error)}") from None
            frame.columns = [str(col).strip() for col in frame.columns]
            found = []  # (line, why) of each malformed line the parser skipped (or cut)
            for warning in caught:
                text = str(warning.message)
                found += [(int(n) + shift, why) for n, why in _SKIPPED_LINE.findall(text)]
                if text.startswith(_CUT_FIRST_ROW):  # only ever the first row: it was cut short
                    frame = frame.iloc[1:].reset_index(drop=True)
                    fields = _first_record_fields(source, encoding, delimiter)
                    found.append((next_line, f"expected {len(header)} fields, saw {fields}"))
            for number, why in sorted(found):
                skipped.append(number)
                message = f"malformed row ({why}): quote values that hold a comma"
                problems.append(("malformed row", Problem(name, message, row=number)))
            lines = _next_lines(next_line, len(frame), skipped)
            next_line = int(lines[-1]) + 1 if len(lines) else next_line
            blank = frame.isna().all(axis=1).to_numpy()
            if blank.any():
                frame = frame.loc[~blank].reset_index(drop=True)
                lines = lines[~blank]
            yield RawTable(
                path=name,
                format="CSV",
                frame=frame,
                encoding=encoding,
                problems=problems,
                line_numbers=lines,
            )
            problems, first = [], False
            if not rows:
                return


def _wanted(column: str, columns: Sequence[str]) -> bool:
    """Whether a file's column is one of ``columns`` (known names up to case/DBF cut)."""
    from gridmap.io.checks import canonical_name

    return canonical_name(column) in set(columns)


def _csv_layout(file: Path, name: str) -> tuple[str, str, list[str]]:
    """Encoding, delimiter and header of a CSV."""
    with open(file, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    encoding = detect_encoding(sample)
    header_text = sample.decode(encoding, errors="replace").splitlines()[:1]
    if not header_text or not header_text[0].strip():
        raise InputError.one(name, "no header line (expected column names on the first line)")
    delimiter = sniff_delimiter(header_text[0])
    header = [col.strip() for col in next(csv.reader(header_text, delimiter=delimiter))]
    return encoding, delimiter, header


def _first_record_fields(source, encoding: str, delimiter: str) -> int:
    """How many fields the first record after the header line of a CSV has."""
    if isinstance(source, io.BytesIO):
        head = source.getvalue()[: 1 << 20]
    else:
        with open(source, "rb") as handle:
            head = handle.read(1 << 20)
    reader = csv.reader(io.StringIO(head.decode(encoding, errors="replace")), delimiter=delimiter)
    next(reader, None)
    return len(next(reader, []))


def _next_lines(start: int, count: int, skipped: list[int]) -> np.ndarray:
    """The ``count`` line numbers from ``start`` on that are not malformed (skipped) lines."""
    gaps = np.array([n for n in skipped if n >= start], dtype=int)
    lines = np.arange(start, start + count + len(gaps))
    if len(gaps):
        lines = np.setdiff1d(lines, gaps)
    return lines[:count]


def sniff_delimiter(header: str) -> str:
    """The delimiter of a CSV from its header line: comma unless tab, ';' or '|' clearly is.

    >>> sniff_delimiter("address_id;address;lon;lat"), sniff_delimiter("a,b;c")
    (';', ',')
    """
    counts = {sep: header.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return "," if counts[","] or not counts[best] else best


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
