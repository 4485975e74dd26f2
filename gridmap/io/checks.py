"""Attribute checks for each layer: columns present, types, ids unique, division codes coherent.

Every check is vectorised over the whole column and yields one ``Problem`` per offending row (up
to ``limit`` per check, then one "and N more" line). The cleaned columns are kept so the reader can
build its typed output without parsing twice.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from gridmap.codes import CodeError, division_level
from gridmap.errors import Problem
from gridmap.io.formats import RawTable
from gridmap.model import LAYERS, Layer

# Required columns whose values may be blank (an exclusive grid's host, a grid without flags).
MAY_BE_BLANK = {"host_grid_code", "flags"}
LEVEL_DIGITS = {"district": 6, "street": 9, "community": 12}
_LARGEST_COUNT = 2**53  # beyond this a float no longer holds whole numbers exactly


class Findings:
    """Problems and notices for one file, positions named as the user sees them.

    ``table`` may be swapped for the next chunk of the same file; ``limit`` caps the lines
    listed per check and field over the whole file, the rest are counted and summarised by
    ``finish()`` in one "... and N more" line each.
    """

    def __init__(self, table: RawTable, limit: int | None = None):
        self.table = table
        self.limit = limit
        self.problems: list[Problem] = []
        self.notices: list[tuple[int, str]] = []  # (position, text), sorted when reported
        self.counts: Counter[str] = Counter()  # problems per check, including those not listed
        self._shown: Counter[tuple[str, str | None]] = Counter()
        self._hidden: dict[tuple[str, str | None], list] = {}  # key -> [count, where, example]

    def add(
        self, message: str, *, check: str, field: str | None = None, index: int | None = None
    ) -> None:
        where = {} if index is None else self.table.position(index)
        self.problems.append(Problem(self.table.path, message, field=field, **where))
        self.counts[check] += 1

    def flag(
        self, mask, field: str | None, message: Callable[[int], str] | str, *, check: str
    ) -> int:
        """One problem per True in ``mask`` (up to ``limit``); returns how many were flagged."""
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        if not len(positions):
            return 0
        key = (check, field)
        room = len(positions) if self.limit is None else max(0, self.limit - self._shown[key])
        for index in positions[:room]:
            text = message(int(index)) if callable(message) else message
            self.add(text, field=field, index=int(index), check=check)
        self._shown[key] += min(room, len(positions))
        rest = positions[room:]
        if len(rest):
            if key not in self._hidden:
                text = message(int(rest[0])) if callable(message) else message
                self._hidden[key] = [0, self.table.position(int(rest[0])), text]
            self._hidden[key][0] += len(rest)
            self.counts[check] += len(rest)
        return len(positions)

    def flag_numbers(
        self, numbers: list[int], field: str | None, messages: list[str], *, check: str
    ) -> None:
        """Like ``flag`` for records named by their row/feature numbers (any chunk)."""
        if not numbers:
            return
        key = (check, field)
        room = len(numbers) if self.limit is None else max(0, self.limit - self._shown[key])
        word = self.table.where
        for number, message in zip(numbers[:room], messages[:room], strict=True):
            self.problems.append(Problem(self.table.path, message, field=field, **{word: number}))
            self.counts[check] += 1
        self._shown[key] += min(room, len(numbers))
        if len(numbers) > room:
            if key not in self._hidden:
                self._hidden[key] = [0, {word: numbers[room]}, messages[room]]
            self._hidden[key][0] += len(numbers) - room
            self.counts[check] += len(numbers) - room

    def finish(self) -> None:
        """Add one "... and N more" line per check and field that went over the limit."""
        for (_, field), (count, where, example) in self._hidden.items():
            ((word, number),) = where.items()
            self.problems.append(
                Problem(
                    self.table.path,
                    f"... and {count} more {word}s from {word} {number} on ({example})",
                    field=field,
                )
            )
        self._hidden.clear()

    def notice(self, message: str, *, index: int | None = None) -> None:
        where, number = "", -1
        if index is not None:
            ((word, number),) = self.table.position(index).items()
            where = f"{word} {number}: "
        self.notices.append((number, f"{self.table.path}: {where}{message}"))


_KNOWN = {col for layer in LAYERS.values() for col in layer.columns}
# Shapefile (DBF) field names are cut at 10 characters: parent_cod -> parent_code.
_CUT = {name[:10]: name for name in _KNOWN if len(name) > 10}


def canonical_name(column: str) -> str:
    """The known column a name stands for, up to case, spaces and DBF's 10-character cut.

    >>> canonical_name(" Lon "), canonical_name("parent_cod"), canonical_name("remark")
    ('lon', 'parent_code', 'remark')
    """
    key = str(column).strip().lower()
    if key in _KNOWN:
        return key
    return _CUT.get(key, str(column))


def canonical_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Rename columns that stand for a known column (see ``canonical_name``)."""
    renames = {}
    for col in frame.columns:
        key = canonical_name(col)
        if key != col and key not in frame.columns:
            renames[col] = key
    return frame.rename(columns=renames) if renames else frame


def guess_kind(columns, geometry_types=()) -> str | None:
    """Which layer a file holds, from its columns (and geometry types when columns are silent).

    >>> guess_kind(["address_id", "address", "lon", "lat"]), guess_kind(["code", "name", "level"])
    ('addresses', 'boundaries')
    >>> guess_kind(["name"], ["LineString"])
    'barriers'
    """
    cols = {str(c).strip().lower() for c in columns}
    if "grid_code" in cols:
        return "grids"
    if "address_id" in cols or {"lon", "lat"} <= cols:
        return "addresses"
    if "site_id" in cols or "category" in cols:
        return "sites"
    if "code" in cols or "level" in cols or "parent_code" in cols:
        return "boundaries"
    types = {str(t) for t in geometry_types if t}
    if types and types <= {"LineString", "MultiLineString"}:
        return "barriers"
    if "kind" in cols and not types & {"Polygon", "MultiPolygon"}:
        return "barriers"
    return None


# --- column kinds ------------------------------------------------------------------------------


def as_text(values: pd.Series) -> pd.Series:
    """Column as text, NaN for blanks; whole numbers read as numbers lose '.0'.

    Not stripped: the CSV reader drops spaces after delimiters, and a per-value strip over
    millions of rows costs more than everything else (codes and choices are stripped per
    unique value in ``per_unique``).
    """
    if pd.api.types.is_float_dtype(values.dtype):
        whole = values.notna() & (values % 1 == 0)
        text = values.astype(object).where(~whole, values.where(whole).astype("Int64").astype(str))
        text = text.where(values.notna(), None)
        return text.astype("str")
    if pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("str")
    text = values.astype("str")
    return text.where(text != "", np.nan)


def per_unique(text: pd.Series, function: Callable[[str], object]) -> pd.Series:
    """``function`` applied once per distinct value (codes, choices: few distinct values)."""
    unique = pd.unique(text.dropna())
    return text.map(dict(zip(unique, map(function, unique), strict=True)))


def check_text(f: Findings, frame: pd.DataFrame, col: str, *, required: bool) -> pd.Series:
    text = as_text(frame[col])
    if required and col not in MAY_BE_BLANK:
        f.flag(text.isna(), col, "empty", check="empty value")
    return text


def check_number(
    f: Findings, frame: pd.DataFrame, col: str, *, whole: bool, required: bool
) -> pd.Series:
    """Numbers: not-a-number, blank (when required), fractional and negative values flagged."""
    raw = frame[col]
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        number = raw.astype("float64")
        blank = number.isna()
        not_number = np.zeros(len(raw), dtype=bool)
    else:
        text = as_text(raw)
        number = pd.to_numeric(text, errors="coerce").astype("float64")
        blank = text.isna()
        not_number = (~blank & number.isna()).to_numpy()
        f.flag(not_number, col, lambda i: f"not a number: {text.iloc[i]!r}", check="wrong type")
    if required:
        f.flag(blank, col, "empty", check="empty value")
    finite = np.isfinite(number.to_numpy())
    f.flag(
        number.notna() & ~finite,
        col,
        lambda i: f"not a finite number: {number.iloc[i]}",
        check="wrong type",
    )
    if whole:
        f.flag(
            finite & (number % 1 != 0),
            col,
            lambda i: f"not a whole number: {number.iloc[i]:g}",
            check="wrong type",
        )
        f.flag(
            finite & (number < 0), col, lambda i: f"negative: {number.iloc[i]:g}", check="negative"
        )
        f.flag(
            finite & (number > _LARGEST_COUNT),
            col,
            lambda i: f"implausibly large: {number.iloc[i]:g}",
            check="wrong type",
        )
    return number


def check_choice(f: Findings, text: pd.Series, col: str, choices: tuple[str, ...]) -> pd.Series:
    """Flag values not among ``choices`` (case and spaces ignored); returns them lowered."""
    lowered = per_unique(text, lambda value: value.strip().lower())
    bad = text.notna() & ~lowered.isin(choices)
    f.flag(
        bad,
        col,
        lambda i: f"{text.iloc[i]!r} is not one of {', '.join(choices)}",
        check="not a choice",
    )
    return lowered


def code_levels(text: pd.Series) -> pd.Series:
    """Level of each code (district/street/community/grid) or "!why it is invalid"."""

    def level(code: str) -> str:
        try:
            return division_level(code)
        except CodeError as error:
            return f"!{error}"

    return per_unique(text, level)


def check_code(
    f: Findings, text: pd.Series, col: str, *, levels: tuple[str, ...], what: str
) -> pd.Series:
    """Flag codes that are not valid or not of one of ``levels``; returns each code's level."""
    level = code_levels(text)
    invalid = text.notna() & ~level.isin(("district", "street", "community", "grid"))
    f.flag(invalid, col, lambda i: f"bad division code: {level.iloc[i][1:]}", check="bad code")
    wrong = text.notna() & ~invalid & ~level.isin(levels)
    f.flag(
        wrong,
        col,
        lambda i: f"{text.iloc[i]!r} is a {level.iloc[i]} code, expected {what}",
        check="bad code",
    )
    return level.where(~invalid & ~wrong)


class UniqueIds:
    """Flags every repeat of an id, naming where it first appeared, over one or more chunks.

    Memory stays bounded at any file size: each id is kept as a 64-bit hash with its row number
    (16 bytes), spilled to bucket files on disk beyond ``spill`` ids. ``finish`` finds repeated
    hashes bucket by bucket, then reads the id column once more for just those rows to confirm
    each repeat by its text (a hash collision is not a duplicate) and to name it.

    >>> import numpy as np, pandas as pd
    >>> from gridmap.io.formats import RawTable
    >>> table = RawTable("a.csv", "CSV", pd.DataFrame({"address_id": ["A", "B", "A"]}))
    >>> f, unique = Findings(table), UniqueIds("address_id")
    >>> unique.check(f, table.frame["address_id"])
    >>> unique.finish(f, lambda: [(table.numbers(), table.frame["address_id"])])
    >>> [str(p) for p in f.problems]
    ["a.csv: row 4: field address_id: duplicate address_id 'A' (first at row 2)"]
    """

    BUCKETS = 64

    def __init__(self, column: str, *, spill: int = 1_000_000):
        self.column = column
        self.spill = spill
        self._held: list[np.ndarray] = []  # (hash, number) records not yet spilled
        self._count = 0
        self._folder: tempfile.TemporaryDirectory | None = None

    _RECORD = np.dtype([("hash", "<u8"), ("number", "<i8")])

    def check(self, f: Findings, ids: pd.Series) -> None:
        """Remember this chunk's ids (the repeats are found by ``finish``)."""
        present = ids.notna().to_numpy()
        if not present.any():
            return
        records = np.empty(int(present.sum()), dtype=self._RECORD)
        records["hash"] = pd.util.hash_array(ids.to_numpy(dtype=object)[present])
        records["number"] = f.table.numbers()[present]
        self._held.append(records)
        self._count += len(records)
        if self._count > self.spill or self._folder is not None:
            self._spill()

    def records(self) -> np.ndarray:
        """Every (hash, number) remembered so far, e.g. to send a part's ids to ``extend``."""
        held = list(self._buckets()) if self._folder is None else [*self._buckets(), *self._held]
        return np.concatenate(held) if held else np.empty(0, dtype=self._RECORD)

    def extend(self, records: np.ndarray) -> None:
        """Remember ids another ``UniqueIds`` saw (``records()`` of a part read elsewhere)."""
        if len(records):
            self._held.append(records)
            self._count += len(records)
            if self._count > self.spill or self._folder is not None:
                self._spill()

    def _spill(self) -> None:
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="gridmap-ids-")
        records = np.concatenate(self._held)
        self._held, self._count = [], 0
        bucket = (records["hash"] >> np.uint64(58)).astype(np.int64)  # top 6 bits: 64 buckets
        order = np.argsort(bucket, kind="stable")
        records, bucket = records[order], bucket[order]
        bounds = np.searchsorted(bucket, np.arange(self.BUCKETS + 1))
        for b in range(self.BUCKETS):
            if bounds[b + 1] > bounds[b]:
                with open(Path(self._folder.name) / f"{b}.bin", "ab") as handle:
                    handle.write(records[bounds[b] : bounds[b + 1]].tobytes())

    def _buckets(self):
        if self._folder is None:
            if self._held:
                yield np.concatenate(self._held)
            return
        for b in range(self.BUCKETS):
            path = Path(self._folder.name) / f"{b}.bin"
            if path.exists():
                yield np.fromfile(path, dtype=self._RECORD)

    def finish(self, f: Findings, reread: Callable[[], Iterable[tuple[np.ndarray, pd.Series]]]):
        """Flag every repeat; ``reread()`` yields (numbers, ids) of the id column once more."""
        if self._folder is not None and self._held:
            self._spill()
        repeats, firsts = [], []
        for records in self._buckets():
            records = records[np.lexsort((records["number"], records["hash"]))]
            h, number = records["hash"], records["number"]
            start = np.ones(len(h), dtype=bool)
            start[1:] = h[1:] != h[:-1]
            if start.all():
                continue
            group_first = number[np.maximum.accumulate(np.where(start, np.arange(len(h)), 0))]
            repeats.append(number[~start])
            firsts.append(group_first[~start])
        self._held = []
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
        if not repeats:
            return
        repeat, first = np.concatenate(repeats), np.concatenate(firsts)
        wanted = np.union1d(repeat, first)
        text: dict[int, str] = {}
        for numbers, ids in reread():
            keep = np.isin(numbers, wanted)
            text.update(zip(numbers[keep].tolist(), ids.to_numpy(dtype=object)[keep], strict=True))
        order = np.argsort(repeat, kind="stable")
        confirmed = [
            (int(r), int(a))
            for r, a in zip(repeat[order], first[order], strict=True)
            if text.get(int(r)) == text.get(int(a))
        ]
        col, where = self.column, f.table.where
        f.flag_numbers(
            [r for r, _ in confirmed],
            col,
            [f"duplicate {col} {text[r]!r} (first at {where} {a})" for r, a in confirmed],
            check="duplicate id",
        )


# --- layers ------------------------------------------------------------------------------------


def check_attributes(table: RawTable, layer: Layer, f: Findings) -> dict[str, pd.Series] | None:
    """Check the layer's columns; the cleaned columns, or None when a required one is missing."""
    frame = table.frame
    missing = [col for col in layer.required if col not in frame.columns]
    for col in missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        f.add(
            f"missing required column (columns found: {found})", field=col, check="missing column"
        )
    if missing:
        return None
    clean: dict[str, pd.Series] = {}
    for col in layer.columns:
        if col not in frame.columns:
            continue
        required = col in layer.required
        kind = layer.kinds.get(col, "str")
        if kind in ("int", "float"):
            clean[col] = check_number(f, frame, col, whole=kind == "int", required=required)
            continue
        text = check_text(f, frame, col, required=required)
        if kind == "enum":
            text = check_choice(f, text, col, layer.choices[col])
        clean[col] = text
    extra = LAYER_RULES.get(layer.name)
    if extra:
        extra(f, clean)
    return clean


def _boundary_rules(f: Findings, clean: dict[str, pd.Series]) -> None:
    code, level = clean["code"], clean["level"]
    code_level = check_code(
        f, code, "code", levels=("district", "street", "community"), what="a 6/9/12-digit code"
    )
    mismatch = code_level.notna() & level.isin(LEVEL_DIGITS) & (code_level != level)
    f.flag(
        mismatch,
        "level",
        lambda i: (
            f"level {level.iloc[i]!r} does not match code {code.iloc[i]} "
            f"({len(code.iloc[i])} digits: a {code_level.iloc[i]} code)"
        ),
        check="level mismatch",
    )
    derived = code.where(code_level.isin(("street", "community")))
    derived = derived.str[:-3].where(code_level == "community", derived.str[:6])
    parent = derived
    if "parent_code" in clean:
        given = clean["parent_code"]
        check_code(f, given, "parent_code", levels=("district", "street"), what="a 6/9-digit code")
        checkable = given.notna() & derived.notna() & given.str.fullmatch(r"[0-9]+").fillna(False)
        not_prefix = checkable & (given != derived)
        f.flag(
            not_prefix,
            "parent_code",
            lambda i: (
                f"parent_code {given.iloc[i]} is not the parent of code {code.iloc[i]} "
                f"(expected {derived.iloc[i]})"
            ),
            check="parent",
        )
        parent = derived.where(given.isna() | not_prefix, given)
        clean["parent_code"] = given.where(code_level == "district", parent)
    else:
        clean["parent_code"] = parent
    # A parent is required to be in the file only when the file holds units of the parent's level.
    present_levels = set(code_level.dropna())
    codes = set(code.dropna())
    parent_level = code_level.map({"street": "district", "community": "street"})
    missing = (
        parent.notna()
        & parent_level.isin(present_levels)
        & ~parent.isin(codes)
        & (parent_level.notna())
    )
    f.flag(
        missing,
        "parent_code",
        lambda i: f"parent {parent.iloc[i]} is not in the file",
        check="parent",
    )


def _address_rules(f: Findings, clean: dict[str, pd.Series]) -> None:
    if "community_code" in clean:
        check_code(
            f, clean["community_code"], "community_code", levels=("community",), what="12 digits"
        )


def _grid_rules(f: Findings, clean: dict[str, pd.Series]) -> None:
    grid, kind, community = clean["grid_code"], clean["kind"], clean["community_code"]
    valid = check_code(f, grid, "grid_code", levels=("grid",), what="a 15-digit grid code")
    check_code(f, community, "community_code", levels=("community",), what="12 digits")
    f.flag(
        valid.notna() & community.notna() & (grid.str[:12] != community),
        "community_code",
        lambda i: f"{community.iloc[i]} is not the community of grid {grid.iloc[i]}",
        check="parent",
    )
    host = clean["host_grid_code"]
    f.flag(
        (kind == "exclusive") & host.isna(),
        "host_grid_code",
        "an exclusive grid needs the comprehensive grid it sits in",
        check="empty value",
    )
    check_code(f, host, "host_grid_code", levels=("grid",), what="a 15-digit grid code")


LAYER_RULES = {"boundaries": _boundary_rules, "addresses": _address_rules, "grids": _grid_rules}
