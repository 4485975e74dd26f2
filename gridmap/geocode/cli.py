"""`gridmap assign` and `gridmap geocode`: the geocoder from the command line.

``assign`` writes the address library with a ``grid_code`` column (points on a shared edge go
to one grid by the rule in :mod:`gridmap.geocode.assign`) and lists the addresses in no grid
(``OUT.unassigned.csv``; exit 1 when there are any).

``geocode`` reads ``id,address`` queries and writes one result row per input row, always keeping
the id. A guess below ``--review-threshold`` is not written as an answer: its row has level
``none`` and status ``review``, and the guess with its reason goes to the review file. CSV rows
with missing fields are reported and kept (status ``bad_row``); with extra fields (an unquoted
comma in the address, usually) the fields from the address column on are joined back with a
comma, matched, and the row is reported too. Exit 1 when any row was malformed.
"""

from __future__ import annotations

import contextlib
import csv
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

import click
import numpy as np
import pandas as pd

from gridmap.distributed import scheduler_option
from gridmap.errors import InputError, Problem
from gridmap.geocode.assign import UNASSIGNED_COLUMNS
from gridmap.model import MATCH_LEVELS

RESULT_COLUMNS = (
    "id",
    "address",
    "address_id",
    "level",
    "confidence",
    "lon",
    "lat",
    "grid_code",
    "status",
)
REVIEW_COLUMNS = (
    "id",
    "address",
    "reason",
    "guess_level",
    "guess_confidence",
    "guess_address_id",
    "guess_address",
    "guess_grid_code",
)


def _side_file(out: Path, suffix: str) -> Path:
    """``results.csv`` -> ``results.review.csv``."""
    return out.with_name(f"{out.stem}.{suffix}.csv")


def _write_csv(path: Path, columns, rows) -> None:
    from gridmap.io import atomic_output

    with atomic_output(path) as temp, open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


# --- assign ---------------------------------------------------------------------------------
@click.command()
@click.option("--grids", "grids_path", required=True, help="Grids file (grid_code, polygons).")
@click.option(
    "--addresses", "addresses_path", required=True, help="Standard address library (lon/lat)."
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output: the address columns plus grid_code (.csv, .parquet, .gpkg or .geojson).",
)
@click.option("--crs", default=None, help="CRS of the addresses' lon/lat (default CGCS2000).")
@scheduler_option("the addresses (in parts of the file)")
def assign(
    grids_path: str, addresses_path: str, out_path: Path, crs: str | None, scheduler: str | None
) -> None:
    """Put every standard address on exactly one grid.

    A point inside a grid goes to it; a point exactly on an edge shared by grids goes to an
    exclusive grid before a comprehensive one, then to the smallest grid_code. Addresses in no
    grid get an empty grid_code and are listed in OUT.unassigned.csv (exit code 1).

    A CSV library (parts of about 16 MB) or a GeoParquet one (parts of whole row groups) is
    read in parts, each read, checked and assigned on its own (on the cluster's workers with
    --scheduler), and CSV or GeoParquet output is written part by part: memory stays bounded
    at any size. GeoPackage and GeoJSON are read and written whole.
    """
    from gridmap import distributed, io
    from gridmap.io.parts import layer_parts
    from gridmap.rules.grid_index import GridIndex

    started = time.perf_counter()
    with distributed.client_for(scheduler) as client:  # the cluster starts while grids are read
        grids = io.read_grids(grids_path)
        index = GridIndex.from_frame(grids)
        parts = layer_parts(addresses_path)
        as_csv = out_path.suffix.lower() == ".csv"
        if parts is None:
            pieces = [_assign_whole(client, index, grids, addresses_path, crs, as_csv)]
        else:
            pieces = _assign_in_parts(client, index, parts, addresses_path, crs, as_csv)
        summary = _write_assigned(pieces, out_path)
    unassigned_path = _side_file(out_path, "unassigned")
    if summary.unassigned:
        _write_csv(unassigned_path, UNASSIGNED_COLUMNS, summary.unassigned)
    elif unassigned_path.exists():
        unassigned_path.unlink()  # a stale list from an earlier run would mislead
    outside = len(summary.unassigned)
    elapsed = time.perf_counter() - started
    click.echo(f"assign: {summary.count:,} addresses onto {len(index):,} grids -> {out_path}")
    click.echo(f"  assigned      {summary.count - outside:,}")
    click.echo(f"  on an edge    {summary.ties:,} (decided by kind, then smallest grid_code)")
    click.echo(f"  unassigned    {outside:,}")
    click.echo(f"  empty grids   {int((summary.per_grid == 0).sum()):,}")
    click.echo(f"  time          {elapsed:.2f} s")
    if outside:
        shown = ", ".join(str(row[0]) for row in summary.unassigned[:5])
        click.echo(
            f"{outside:,} addresses fall in no grid ({shown}...): listed in {unassigned_path}",
            err=True,
        )
        raise SystemExit(1)


@dataclass
class _AssignSummary:
    count: int = 0
    ties: int = 0
    per_grid: np.ndarray | None = None
    unassigned: list = field(default_factory=list)

    def add(self, piece) -> None:
        self.count += piece.count
        self.ties += piece.ties
        self.per_grid = piece.per_grid if self.per_grid is None else self.per_grid + piece.per_grid
        self.unassigned.extend(piece.unassigned)


def _assign_in_parts(client, index, parts, addresses_path, crs, as_csv):
    """The parts' AssignedRows in file order; raises InputError (after the last part) with
    the file's problems."""
    from functools import partial

    from tqdm import tqdm

    from gridmap import distributed
    from gridmap.geocode.assign import assign_part
    from gridmap.io.parts import PartsCheck

    if client is None:
        reports = map(partial(assign_part, index=index, crs=crs, as_csv=as_csv), parts)
    else:
        reports = distributed.assign_parts(client, parts, index, crs=crs, as_csv=as_csv)
    check = PartsCheck(addresses_path, "addresses")
    with tqdm(total=len(parts), desc="assigning", unit="part", leave=False) as bar:
        for report in reports:
            piece = check.add(report)
            if piece is not None:
                yield piece
            bar.update()
    check.finish()


def _assign_whole(client, index, grids, addresses_path, crs, as_csv):
    """A library in another format than CSV or GeoParquet (GeoPackage, GeoJSON): read whole,
    its points assigned in spatial partitions on the cluster (or in this process)."""
    from gridmap import distributed, io
    from gridmap.geocode.assign import assign_frame

    addresses = io.read_addresses(addresses_path, crs=crs)
    found = None
    if client is not None:
        lon = addresses["lon"].to_numpy(dtype=np.float64)
        lat = addresses["lat"].to_numpy(dtype=np.float64)
        found = distributed.assign_points(client, grids, lon, lat)
    return assign_frame(addresses, index, as_csv=as_csv, found=found)


def _write_assigned(pieces, out_path: Path) -> _AssignSummary:
    """Write the pieces' rows: CSV and GeoParquet as they come, GeoPackage and GeoJSON joined
    at the end."""
    from gridmap import io

    summary = _AssignSummary()
    with io.atomic_output(out_path) as temp, _rows_writer(temp) as write:
        for piece in pieces:
            write(piece)
            summary.add(piece)
    return summary


@contextlib.contextmanager
def _rows_writer(path: Path):
    """A function that writes one piece's AssignedRows into ``path`` (format from its suffix)."""
    from gridmap import io
    from gridmap.io.parquet import ParquetAppender

    suffix = path.suffix.lower()
    if suffix == ".csv":
        with open(path, "wb") as handle:

            def write_text(piece) -> None:
                if handle.tell() == 0:  # the header, as pandas writes it
                    header = pd.DataFrame(columns=piece.columns).to_csv(index=False)
                    handle.write(header.encode("utf-8"))
                handle.write(piece.rows)

            yield write_text
    elif suffix == ".parquet":
        with ParquetAppender(path) as appender:
            yield lambda piece: appender.write(piece.rows)
    else:
        frames: list = []
        yield lambda piece: frames.append(piece.rows)
        io.write_layer(
            frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True), path
        )


# --- geocode --------------------------------------------------------------------------------
def _csv_rows(path: Path, columns: tuple[str, ...]):
    """(lower-cased header, reader) of a UTF-8/GBK CSV that must have ``columns``.

    Raises InputError when the file cannot be read or lacks a column.
    """
    from gridmap.io.formats import detect_encoding

    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError.one(name, f"cannot read: {error.strerror or error}") from None
    encoding = detect_encoding(data[: 1 << 20])
    text = data.decode(encoding, errors="replace")
    # csv over a stream (not splitlines): quoted fields may hold newlines and control characters
    reader = csv.reader(StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise InputError.one(name, f"empty file (expected a header line: {','.join(columns)})")
    header = [h.strip().lower() for h in header]
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError.one(
            name, f"no {' or '.join(missing)} column (found: {', '.join(header)})", row=1
        )
    return header, reader


def read_aliases(path: Path) -> dict[str, str]:
    """``alias,name`` rows (another spelling -> the library's name); InputError on bad rows."""
    header, reader = _csv_rows(path, ("alias", "name"))
    alias_at, name_at = header.index("alias"), header.index("name")
    aliases, problems = {}, []
    for fields in reader:
        if not fields:
            continue
        if len(fields) <= max(alias_at, name_at) or not fields[alias_at].strip():
            problems.append(Problem(str(path), "needs an alias and a name", row=reader.line_num))
            continue
        aliases[fields[alias_at].strip()] = fields[name_at].strip()
    if problems:
        raise InputError(problems)
    return aliases


def read_queries(path: Path) -> tuple[list[tuple[int, str, str, str]], list[Problem]]:
    """Queries as (line, id, address, problem) in file order, plus the problems found.

    Raises InputError when the file cannot be read or has no ``id`` and ``address`` columns.
    Malformed rows are returned (with their problem) rather than dropped.
    """
    name = str(path)
    header, reader = _csv_rows(path, ("id", "address"))
    id_at, address_at, width = header.index("id"), header.index("address"), len(header)
    queries, problems = [], []
    for fields in reader:
        line = reader.line_num
        if not fields:
            continue  # a blank line is not a row
        problem = ""
        query_id = fields[id_at].strip() if id_at < len(fields) else ""
        if len(fields) < width:
            problem = f"{len(fields)} field(s), expected {width}"
            address = fields[address_at] if address_at < len(fields) else ""
            field = "address" if address_at >= len(fields) else header[len(fields)]
            problems.append(Problem(name, problem, row=line, field=field))
            queries.append((line, query_id, address, problem))
            continue
        address = fields[address_at]
        if len(fields) > width:
            problem = f"{len(fields)} fields, expected {width}"
            if address_at == width - 1:
                address = ",".join(fields[address_at:])
                problem += " (the extra fields were read as part of the address)"
            problems.append(Problem(name, problem, row=line, field="address"))
        queries.append((line, query_id, address, problem))
    return queries, problems


@dataclass(frozen=True)
class GeocodeRows:
    """What ``gridmap geocode`` writes: one result row per query (:data:`RESULT_COLUMNS`), the
    review rows (:data:`REVIEW_COLUMNS`), and the counts by match level and by status."""

    results: list[tuple[str, ...]]
    reviews: list[tuple[str, ...]]
    levels: Counter[str]
    statuses: Counter[str]

    @classmethod
    def joined(cls, parts: Sequence[GeocodeRows]) -> GeocodeRows:
        """The rows of consecutive batches of queries as one.

        >>> a = GeocodeRows([("1",)], [], Counter(door=1), Counter(ok=1))
        >>> b = GeocodeRows([("2",)], [("2",)], Counter(none=1), Counter(review=1))
        >>> j = GeocodeRows.joined([a, b])
        >>> j.results, j.reviews, dict(j.levels), dict(j.statuses)
        ([('1',), ('2',)], [('2',)], {'door': 1, 'none': 1}, {'ok': 1, 'review': 1})
        """
        joined = cls([], [], Counter(), Counter())
        for part in parts:
            joined.results.extend(part.results)
            joined.reviews.extend(part.reviews)
            joined.levels.update(part.levels)
            joined.statuses.update(part.statuses)
        return joined


@dataclass
class _GeocoderBuild:
    """The inputs of ``geocode``'s Geocoder, and where it comes from: built here, built on
    each worker of ``--scheduler``, or loaded from ``--index`` (and written there when
    missing or stale)."""

    library: str
    grids: str | None
    boundaries: str | None
    labelled: Path | None
    crs: str | None
    city: str | None
    review_threshold: float
    aliases: dict[str, str] | None

    def geocoder(self, index_path: Path | None, client):
        from gridmap import distributed
        from gridmap.geocode import index_file

        index = None
        if index_path is not None:
            key = index_file.IndexKey.of(self.files(), self.options())
            current = index_file.is_current(index_path, key)
            index = distributed.SavedIndex(str(index_path), key, current)
            if current:
                click.echo(f"index {index_path}: {index_file.describe(index_path)}", err=True)
        # a loaded index has its parser's work in it
        parser = None if index is not None and index.current else self.parser()
        spec = distributed.GeocoderSpec.of(
            self.library, self.grids, self.boundaries, index=index, parser=parser, **self.options()
        )
        # each worker builds or loads, and one of them writes a missing index
        geocoder = spec.build() if client is None else distributed.RemoteGeocoder(client, spec)
        if index is not None and not index.current:
            if client is None:
                index.write(geocoder)
            click.echo(f"index {index_path}: written", err=True)
        return geocoder

    def files(self) -> dict:
        """The input files, by role (what an index's key hashes)."""
        return {
            "library": self.library,
            "grids": self.grids,
            "boundaries": self.boundaries,
            "labelled": self.labelled,
        }

    def options(self) -> dict:
        """The Geocoder's options besides the parser (which ``labelled`` stands for)."""
        return {
            "crs": self.crs,
            "city": self.city,
            "review_threshold": self.review_threshold,
            "aliases": self.aliases,
        }

    def parser(self):
        if self.labelled is None:
            return None
        from gridmap.geocode.conll import read_conll
        from gridmap.geocode.parse import AddressParser

        click.echo(f"learning the address parser from {self.labelled} ...", err=True)
        return AddressParser().fit(read_conll(self.labelled))


def result_rows(queries: list[tuple[int, str, str, str]], answers: list) -> GeocodeRows:
    """The output rows of queries as :func:`read_queries` returns them and their answers
    (:meth:`gridmap.geocode.Geocoder.resolve_many`): the one way a geocode result row is written
    (the CLI and the browser's batch geocoding).

    A query with a problem and no address is a ``bad_row``; an answer below the review threshold
    is ``review`` (level none in the results, the guess and its reason in the review rows); a
    query with a problem goes to the review rows too, its problem first in the reason.
    """
    results, reviews = [], []
    levels: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for (_line, query_id, address, problem), answer in zip(queries, answers, strict=True):
        m = answer.match
        bad = bool(problem) and not address.strip()
        status = "bad_row" if bad else "ok" if answer.accepted else "review"
        statuses[status] += 1
        levels[m.level] += 1
        results.append(
            (
                query_id,
                address,
                m.address_id or "",
                m.level,
                f"{m.confidence:.4f}",
                "" if m.lon is None else f"{m.lon:.7f}",
                "" if m.lat is None else f"{m.lat:.7f}",
                m.grid_code or "",
                status,
            )
        )
        if not answer.accepted or problem:
            g = answer.guess
            reason = "; ".join(r for r in (problem, answer.reason) if r)
            reviews.append(
                (
                    query_id,
                    address,
                    reason,
                    g.level,
                    f"{answer.guess.confidence:.4f}",
                    g.address_id or "",
                    g.address or "",
                    g.grid_code or "",
                )
            )
    return GeocodeRows(results, reviews, levels, statuses)


@click.command()
@click.option("--library", "library_path", required=True, help="Standard address library.")
@click.option("--grids", "grids_path", required=True, help="Grids file (grid_code, polygons).")
@click.option(
    "--in",
    "in_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Queries: CSV with columns id,address (UTF-8 or GBK).",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Results CSV: id,address,address_id,level,confidence,lon,lat,grid_code,status.",
)
@click.option(
    "--review",
    "review_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Review file for guesses below the threshold [default: OUT.review.csv].",
)
@click.option(
    "--review-threshold",
    type=click.FloatRange(0.0, 1.0),
    default=0.6,
    show_default=True,
    help="Guesses with a lower confidence go to the review file instead of the results.",
)
@click.option("--boundaries", "boundaries_path", default=None, help="Admin boundaries (optional).")
@click.option(
    "--city",
    default=None,
    help="The library's city, e.g. 浙江省嘉兴市 [default: the "
    "library's most common province and city].",
)
@click.option(
    "--aliases",
    "aliases_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV alias,name: other spellings of the library's names (老街,中山路).",
)
@click.option(
    "--labelled",
    "labelled_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The city's labelled address history (column format: one character and its B-/I- "
    "label per line). A CRF parser learns from it and derives the components of library rows "
    "whose component columns are missing or empty (about 100 CPU-s for 9,000 addresses).",
)
@click.option("--crs", default=None, help="CRS of the library's lon/lat (default CGCS2000).")
@click.option(
    "--index",
    "index_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keep the built geocoder in this file: the first run builds and writes it (about "
    "660 MB for 2,000,000 addresses), later runs with the same inputs load it in seconds, "
    "and a run with other inputs (an edited library, another option, a new gridmap) builds "
    "and writes it again. The file is a pickle: use only index files gridmap wrote for you.",
)
@scheduler_option("the queries (in batches; each worker loads the library once)")
def geocode(
    library_path: str,
    grids_path: str,
    in_path: Path,
    out_path: Path,
    review_path: Path | None,
    review_threshold: float,
    boundaries_path: str | None,
    city: str | None,
    aliases_path: Path | None,
    labelled_path: Path | None,
    crs: str | None,
    index_path: Path | None,
    scheduler: str | None,
) -> None:
    """Match free-text addresses (QUERIES.csv: id,address) to the standard address library.

    Each result names the deepest level matched (room, unit, building, door, compound, road,
    community, town, district or none), a confidence in 0-1, the standard address_id, its point
    (CGCS2000 lon/lat) and its grid. Every input row gets an output row with its id; a bad row
    never stops the batch.

    A guess below --review-threshold is not written as an answer: its row has level none and
    status review, and the guess with its reason goes to the review file. Exit 0; 1 when some
    CSV rows had missing or extra fields (reported, and kept); 2 on bad input files.
    """
    from gridmap import distributed

    started = time.perf_counter()
    with distributed.client_for(scheduler) as client:  # the cluster starts while files are read
        queries, problems = read_queries(in_path)
        aliases = read_aliases(aliases_path) if aliases_path else None
        build = _GeocoderBuild(
            library_path,
            grids_path,
            boundaries_path,
            labelled_path,
            crs=crs,
            city=city,
            review_threshold=review_threshold,
            aliases=aliases,
        )
        geocoder = build.geocoder(index_path, client)
        for alias, target in geocoder.matcher.vocabulary.unknown_aliases:
            click.echo(
                f"warning: {aliases_path}: alias {alias!r}: {target!r} is no library name",
                err=True,
            )
        loaded = time.perf_counter()
        if client is None:
            answers = geocoder.resolve_many([q[2] for q in queries], progress=True)
            rows = result_rows(queries, answers)
        else:
            rows = geocoder.result_rows(queries, progress=True)
        matched = time.perf_counter()
    levels, statuses = rows.levels, rows.statuses
    review_path = review_path or _side_file(out_path, "review")
    _write_csv(out_path, RESULT_COLUMNS, rows.results)
    _write_csv(review_path, REVIEW_COLUMNS, rows.reviews)
    elapsed = time.perf_counter() - started
    rate = len(queries) / max(matched - loaded, 1e-9)
    click.echo(f"geocode: {len(queries):,} queries against {len(geocoder.library):,} addresses")
    for level in MATCH_LEVELS:
        if levels[level]:
            click.echo(f"  {level:<10} {levels[level]:>8,}")
    click.echo(f"  review     {statuses['review']:>8,}  -> {review_path}")
    click.echo(f"  bad rows   {len(problems):>8,}")
    if geocoder.unassigned:
        click.echo(f"  library addresses in no grid: {len(geocoder.unassigned):,}")
    click.echo(
        f"  time       {elapsed:.2f} s (loading {loaded - started:.2f} s, "
        f"matching {rate:,.0f}/s) -> {out_path}"
    )
    if problems:
        for problem in problems[:20]:
            click.echo(f"warning: {problem}", err=True)
        if len(problems) > 20:
            click.echo(f"warning: ... {len(problems) - 20} more bad rows", err=True)
        raise SystemExit(1)
