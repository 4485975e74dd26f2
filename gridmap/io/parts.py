"""A big CSV layer read in parts: each part is read, checked and used on its own (in this
process or on a Dask worker), and the file's problems are reported as one read reports them.

Every part is checked like a whole file (:func:`~gridmap.io.layers.check_file` on a
:class:`~gridmap.io.formats.CsvPart`), except for repeated ids, which can span parts: each part
sends its ids' hashes, and :class:`PartsCheck` looks for repeats over the whole file.

>>> import tempfile
>>> from pathlib import Path
>>> f = Path(tempfile.mkdtemp()) / "a.csv"
>>> rows = "".join(f"A{i % 3},嘉兴市中山路{i}号,120.75,30.75,2,5\\n" for i in range(4))
>>> _ = f.write_text("address_id,address,lon,lat,households,population\\n" + rows)
>>> check = PartsCheck(f, "addresses")
>>> for part in csv_parts(f, part_bytes=40):
...     _ = check.add(check_part(part, "addresses", work=len))
>>> check.finish()
Traceback (most recent call last):
...
gridmap.errors.InputError: ...row 5: field address_id: duplicate address_id 'A0' (first at row 2)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gridmap.errors import InputError, Problem
from gridmap.io.checks import Findings, UniqueIds
from gridmap.io.formats import TABLE_SUFFIXES, CsvPart, RawTable, csv_parts, iter_csv_parts
from gridmap.io.layers import (
    EMPTY_FILE,
    MAX_RAISED_PROBLEMS,
    Report,
    _raise_or_return,
    _reading_order,
    check_file,
    reread_ids,
)
from gridmap.io.parquet import ParquetPart, is_parquet, parquet_parts
from gridmap.model import LAYERS

__all__ = ["PartReport", "PartsCheck", "check_part", "csv_parts", "layer_parts"]


def layer_parts(
    path: str | Path, *, lazy: bool = False
) -> Sequence[CsvPart] | Sequence[ParquetPart] | Iterator[CsvPart] | None:
    """The parts of a CSV file or (Geo)Parquet dataset; None for another format, a missing
    or unreadable file, or one with no data (those are read whole, which reports them).

    ``lazy``: a CSV's parts come as an iterator that finds each one when it is asked for
    (:func:`~gridmap.io.formats.iter_csv_parts`), for a caller that starts work on the first
    before the last is found.
    """
    file = Path(path)
    if file.suffix.lower() in TABLE_SUFFIXES and file.is_file():
        parts = iter_csv_parts(file)
        first = next(parts, None)  # no part: no data line (read whole, which says so)
        if first is None:
            return None
        parts = itertools.chain([first], parts)
        return parts if lazy else list(parts)
    if file.exists() and is_parquet(file):
        try:
            return parquet_parts(file) or None
        except InputError:
            return None
    return None


@dataclass
class PartReport:
    """What checking (and using) one part found: small enough to send back from a worker."""

    part: CsvPart | ParquetPart
    count: int
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    id_records: np.ndarray | None = None
    result: object = None  # ``work(frame)``; None when the part has problems or no rows


def check_part(
    part: CsvPart | ParquetPart,
    kind: str,
    *,
    crs: str | None = None,
    columns: list[str] | None = None,
    points: bool = True,
    work: Callable[[pd.DataFrame], object] = lambda frame: frame,
) -> PartReport:
    """Read and check one part (``columns``, ``points``: as for ``check_file``); ``work`` gets
    its typed frame when it has rows and no problem."""
    report = check_file(
        part,
        kind,
        crs=crs,
        limit=MAX_RAISED_PROBLEMS,
        columns=columns,
        points=points,
        ids_elsewhere=True,
    )
    result = None if report.problems or report.frame is None else work(report.frame)
    return PartReport(part, report.count, report.problems, report.counts, report.id_records, result)


class PartsCheck:
    """The parts' reports of one file, taken in file order; ``finish`` raises ``InputError``
    with the file's problems (repeated ids over all parts included), as ``read_layer`` does."""

    def __init__(self, path: str | Path, kind: str) -> None:
        self.path, self.kind = str(path), kind
        key = LAYERS[kind].key
        self.unique = UniqueIds(key) if key else None
        first = 1 if is_parquet(Path(path)) else 2  # a CSV's first row is on line 2
        self.report = Report(path=self.path, kind=kind, count=0, first_row=first)

    def add(self, part: PartReport) -> object:
        """Take one part's report; returns its result while the file has no problem so far."""
        self.report.count += part.count
        self.report.problems.extend(part.problems)
        for check, n in part.counts.items():
            self.report.counts[check] = self.report.counts.get(check, 0) + n
        if self.unique is not None and part.id_records is not None:
            self.unique.extend(part.id_records)
        return None if self.report.problems else part.result

    def finish(self) -> None:
        """Look for ids repeated across parts, then raise ``InputError`` if anything is wrong."""
        if self.unique is not None:
            table = RawTable(self.path, "CSV", pd.DataFrame())
            findings = Findings(table, MAX_RAISED_PROBLEMS)
            self.unique.finish(findings, lambda: reread_ids(self.path, self.unique.column))
            findings.finish()
            self.report.problems.extend(findings.problems)
            for check, n in findings.counts.items():
                self.report.counts[check] = self.report.counts.get(check, 0) + n
        if self.report.count == 0:
            self.report.problems.append(Problem(self.path, EMPTY_FILE.format(where="row")))
            self.report.counts["empty file"] = 1
        self.report.problems.sort(key=_reading_order)
        if self.report.problems:
            _raise_or_return(self.report)
