"""Incident taxonomy files: the shipped default table and a city's own (CSV or JSON).

The rules (what a valid table is, how stages map to the workflow) are in
:mod:`gridmap.rules.taxonomy`; this package reads files into it. A CSV file has the columns of
:data:`gridmap.rules.taxonomy.COLUMNS` (UTF-8 or GBK); a JSON file is a list of objects with the
same fields, or ``{"rows": [...]}``, or what ``GET /api/taxonomy`` answers (``{"majors": ...}``).

>>> tax = default()
>>> tax.subclass("B0101").name, tax.subclass("B0101").department
('上水井盖', '水务集团')
>>> sorted({m.kind for m in tax.majors})
['component', 'event', 'social']
"""

from __future__ import annotations

import csv
import functools
import json
from pathlib import Path

from gridmap.errors import InputError
from gridmap.io.encoding import csv_rows, detect_encoding
from gridmap.rules.taxonomy import COLUMNS, Taxonomy, parse_rows

DEFAULT_FILE = Path(__file__).resolve().parent / "default.csv"
MAX_BYTES = 5 * 1024 * 1024  # a taxonomy is a few hundred rows; anything this big is a mistake

__all__ = ["DEFAULT_FILE", "default", "load_file", "parse_bytes"]


@functools.cache
def default() -> Taxonomy:
    """The shipped table: 数字城管 部件/事件 classes (after GB/T 30428) plus social governance."""
    return load_file(DEFAULT_FILE)


def load_file(path: str | Path) -> Taxonomy:
    """Read and check a taxonomy file; InputError names file, row and field of every problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError.one(str(path), f"cannot read: {error.strerror or error}") from None
    return parse_bytes(data, str(path))


def parse_bytes(data: bytes, name: str) -> Taxonomy:
    """A taxonomy from a file's bytes: JSON when it starts with ``[`` or ``{``, else CSV."""
    if len(data) > MAX_BYTES:
        raise InputError.one(name, f"is larger than {MAX_BYTES // 1024 // 1024} MB")
    if not data.strip():
        raise InputError.one(name, f"is empty (expected the columns {', '.join(COLUMNS)})")
    encoding = detect_encoding(data[:65536])
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        raise InputError.one(
            name, f"is not UTF-8 or GBK text (byte {error.start} does not decode)"
        ) from None
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] in "[{":
        return _parse_json(stripped, name)
    return _parse_csv(text.lstrip("\ufeff"), name)


def _parse_json(text: str, name: str) -> Taxonomy:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InputError.one(name, f"is not valid JSON: {error}") from None
    if isinstance(data, dict) and "majors" in data:
        return _parse_tree(data, name)
    rows = data.get("rows") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise InputError.one(
            name, 'must be a JSON list of rows, {"rows": [...]} or {"majors": [...]}'
        )
    return parse_rows(rows, name, first_row=1)


def _parse_tree(data: dict, name: str) -> Taxonomy:
    """The nested form GET /api/taxonomy answers: majors holding their subclasses."""
    rows: list[object] = []
    majors = data["majors"]
    if not isinstance(majors, list):
        raise InputError.one(name, "majors must be a list")
    for major in majors:
        subs = major.get("subclasses") if isinstance(major, dict) else None
        if not isinstance(subs, list):
            rows.append(None)  # parse_rows names the row
            continue
        for sub in subs:
            if not isinstance(sub, dict):
                rows.append(None)
                continue
            limits = sub.get("limits") if isinstance(sub.get("limits"), dict) else {}
            row = {k: v for k, v in sub.items() if k != "limits"}
            row.update({f"{stage}_hours": hours for stage, hours in limits.items()})
            row.update(
                {"major_code": major.get("code"), "major_name": major.get("name")}
                | {"kind": major.get("kind")}
            )
            rows.append(row)
    return parse_rows(rows, name, first_row=1)


def _parse_csv(text: str, name: str) -> Taxonomy:
    reader = csv_rows(text, name, COLUMNS)
    try:
        rows = list(reader)
    except csv.Error as error:
        raise InputError.one(name, f"is not valid CSV: {error}", row=reader.line_num) from None
    return parse_rows(rows, name, first_row=2)
