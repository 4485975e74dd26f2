"""Text encodings of input files: detect UTF-8 / UTF-8-BOM / GBK, and find the rows of a file
whose bytes are in another encoding than the rest (mixed UTF-8 and GBK), without decoding the file
row by row in Python.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

import charset_normalizer

from gridmap.errors import Problem

SAMPLE_BYTES = 1 << 20  # what encoding detection looks at
_BLOCK_BYTES = 8 << 20  # what the mixed-encoding scan decodes at a time
_MAX_ENCODING_PROBLEMS = 200
# Two consecutive UTF-8 encoded CJK characters: rare by chance in GBK text, verified afterwards.
_UTF8_CJK_PAIR = re.compile(rb"(?:[\xe4-\xe9][\x80-\xbf]{2}){2}")


def detect_encoding(sample: bytes) -> str:
    """Codec of a sample of bytes: utf-8-sig, utf-8, gb18030 or charset-normalizer's guess.

    >>> detect_encoding("名称".encode("gbk") * 20), detect_encoding("名称".encode("utf-8"))
    ('gb18030', 'utf-8')
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if _decodes(sample, "utf-8"):
        return "utf-8"
    # Mixed files: the encoding most non-ASCII lines are in wins; the others are reported.
    lines = [line for line in sample.split(b"\n")[:-1] if not line.isascii()]
    for encoding in ("utf-8", "gb18030"):
        if lines and sum(_decodes(line, encoding) for line in lines) > len(lines) / 2:
            return encoding
    best = charset_normalizer.from_bytes(sample, cp_isolation=["utf_8", "gb18030", "big5"]).best()
    if best is None:
        return "utf-8"
    return {"utf_8": "utf-8"}.get(best.encoding, best.encoding)


def _decodes(sample: bytes, encoding: str) -> bool:
    """True when ``sample`` decodes strictly, allowing a character cut at its end."""
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def scan_encoding(
    file: Path,
    encoding: str,
    header: list[str],
    *,
    name: str,
    start: int = 0,
    stop: int | None = None,
    first_line: int = 1,
) -> list[Problem]:
    """Rows whose bytes are not in the file's encoding (mixed UTF-8 and GBK), one problem each.

    The file is scanned in blocks with the C decoder; Python only looks at the offending lines.
    ``start``/``stop``: scan only these bytes (whole lines), the first on line ``first_line``.
    """
    problems: list[Problem] = []
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    line_offset = first_line  # line number of the first line in the current block
    with open(file, "rb") as handle:
        handle.seek(start)
        left = float("inf") if stop is None else stop - start
        tail = b""
        while len(problems) < _MAX_ENCODING_PROBLEMS:
            block = handle.read(int(min(_BLOCK_BYTES, left)))
            left -= len(block)
            data = tail + block
            if not data:
                break
            if block:
                cut = data.rfind(b"\n") + 1
                data, tail = (data[:cut], data[cut:]) if cut else (b"", data)
                if not data:
                    continue
            else:
                tail = b""
            for index in _bad_lines(data, codec):
                line_start = data.rfind(b"\n", 0, index) + 1
                line_end = data.find(b"\n", index)
                line = data[line_start : line_end if line_end >= 0 else len(data)]
                number = line_offset + data.count(b"\n", 0, line_start)
                problems.append(_encoding_problem(name, number, line, codec, header))
            line_offset += data.count(b"\n")
            if not block:
                break
    return problems


def _bad_lines(data: bytes, codec: str) -> list[int]:
    """Start offsets of the lines in ``data`` that are not in ``codec``."""
    found: list[int] = []
    start = 0
    while start < len(data) and len(found) < _MAX_ENCODING_PROBLEMS:
        try:
            data[start:].decode(codec)
            break
        except UnicodeDecodeError as error:
            offset = start + error.start
            found.append(data.rfind(b"\n", 0, offset) + 1)
            next_line = data.find(b"\n", offset)
            start = len(data) if next_line < 0 else next_line + 1
    if codec != "utf-8":
        # A UTF-8 line inside a GBK file often decodes as GBK without error (as mojibake).
        for match in _UTF8_CJK_PAIR.finditer(data):
            line_start = data.rfind(b"\n", 0, match.start()) + 1
            line_end = data.find(b"\n", match.start())
            line = data[line_start : line_end if line_end >= 0 else len(data)]
            if _decodes(line + b"\n", "utf-8") and line_start not in found:
                found.append(line_start)
    return sorted(set(found))


def _encoding_problem(
    name: str, number: int, line: bytes, codec: str, header: list[str]
) -> Problem:
    """Problem naming the row and, when it can be told, the field with foreign bytes."""
    other = "utf-8" if codec != "utf-8" else "gb18030"
    readable = line.decode(other, errors="replace").rstrip("\r\n")
    column = None
    try:
        values = next(csv.reader([line.decode("latin-1")]))
        for col, value in zip(header, values, strict=False):
            raw = value.encode("latin-1")
            if not raw.isascii():
                try:
                    raw.decode(codec)
                    if codec != "utf-8" and _decodes(raw, "utf-8"):
                        column = col
                        break
                except UnicodeDecodeError:
                    column = col
                    break
    except (csv.Error, StopIteration):
        pass
    label = {"utf-8": "UTF-8", "gb18030": "GBK"}
    return Problem(
        name,
        f"mixed encodings: the file is {label.get(codec, codec)} but this row is "
        f"{label.get(other, other)} ({readable[:60]!r}); save the whole file in one encoding",
        row=number,
        field=column,
    )


def small_csv(data: bytes, name: str, *, max_bytes: int, required: Sequence[str]) -> csv.DictReader:
    """An uploaded CSV held in memory (a roster, a departments list): UTF-8 or GBK, at most
    ``max_bytes``, with the ``required`` columns (headers stripped). Its rows start at line 2.

    >>> rows = small_csv("code,name\\n01,城管局\\n".encode("gbk"), "d.csv", max_bytes=99,
    ...                  required=["code"])
    >>> [row["name"] for row in rows]
    ['城管局']
    >>> small_csv(b"x\\n1\\n", "d.csv", max_bytes=99, required=["code", "name"])
    Traceback (most recent call last):
    ...
    gridmap.errors.InputError: d.csv: lacks the columns code, name (found x)
    """
    from gridmap.errors import InputError

    if len(data) > max_bytes:
        size = f"{max_bytes // 2**20} MB" if max_bytes >= 2**20 else f"{max_bytes // 1024} KB"
        raise InputError.one(name, f"is larger than {size}")
    try:
        text = data.decode(detect_encoding(data[:65536]))
    except UnicodeDecodeError as error:
        raise InputError.one(name, f"is not UTF-8 or GBK text (byte {error.start})") from None
    return csv_rows(text.lstrip("\ufeff"), name, required)


def csv_rows(text: str, name: str, required: Sequence[str]) -> csv.DictReader:
    """CSV text as a DictReader with stripped headers; an InputError naming ``name`` when a
    ``required`` column is missing.

    >>> [row["name"] for row in csv_rows(" code , name\\n01,城管局\\n", "d.csv", ["code"])]
    ['城管局']
    """
    from gridmap.errors import InputError

    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError.one(
            name, f"lacks the columns {', '.join(missing)} (found {', '.join(header) or 'none'})"
        )
    reader.fieldnames = header
    return reader
