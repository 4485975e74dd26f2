"""Batch geocoding in the browser (批量地址匹配): a clerk uploads a CSV, a background job matches
it against the current version's address library, the clerk downloads the results and the
review list.

The upload is what ``gridmap geocode --in`` reads (columns ``id`` and ``address``, or their
Chinese names 编号 and 地址; UTF-8 or GBK), read by the same code
(:func:`gridmap.geocode.cli.read_queries`, encodings by :mod:`gridmap.io.encoding`), and the
downloads have exactly its columns, written row by row by the same function
(:func:`gridmap.geocode.cli.result_rows`). A bad row (missing or extra fields, bytes in another
encoding than the rest of the file) is reported with its row number and reason, and kept: it has
its line in the results (status ``bad_row`` when nothing could be read) and in the review list.

:func:`check_upload` refuses, before any job is queued, what cannot be a query file (too large,
not CSV text, not UTF-8 or GBK, no id or address column) with an :class:`UploadError`;
:func:`run_batch` is the job handler (``gridmap.services.jobs.HANDLERS["geocode"]``).

>>> upload = check_upload("编号,地址\\n1,中山路1号\\n2\\n".encode("gbk"), "list.csv")
>>> upload.encoding, [(q.line, q.id, q.address) for q in upload.queries]
('GBK', [(2, '1', '中山路1号'), (3, '2', '')])
>>> print(upload.problems[0])
list.csv: row 3: field address: 1 field(s), expected 2
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from gridmap.errors import InputError, Problem
from gridmap.geocode.cli import RESULT_COLUMNS, REVIEW_COLUMNS, read_queries, result_rows
from gridmap.io.encoding import SAMPLE_BYTES, detect_encoding, scan_encoding
from gridmap.services import library
from gridmap.services.jobs import Progress, read_file, save_file
from gridmap.store import Job, Store

MAX_BYTES = 20 * 1024 * 1024  # ~300,000 addresses; the web app may set a lower limit
SUFFIXES = (".csv", ".txt")
# Header names a clerk's spreadsheet may use for the two columns `gridmap geocode` reads.
ALIASES = {"编号": "id", "序号": "id", "地址": "address", "标准地址": "address"}
UPLOAD, RESULTS, REVIEW = "upload.csv", "results.csv", "review.csv"
CHUNK = 200  # addresses matched between two progress reports
MAX_LISTED_PROBLEMS = 200  # bad rows listed in the job summary (all are in the review list)
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "gb18030": "GBK"}


class UploadError(ValueError):
    """Why an upload cannot be a query file. ``kind``: ``too_large``, ``not_csv``,
    ``undecodable``, ``no_column`` or ``empty``."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Query:
    """One data row of the upload as ``gridmap geocode`` reads it (``problem``: why it is bad)."""

    line: int
    id: str
    address: str
    problem: str


@dataclass(frozen=True)
class Upload:
    queries: list[Query]
    problems: list[Problem]  # every bad row, with its row number (physical line) and reason
    encoding: str  # UTF-8 | GBK | another codec's name


def check_upload(data: bytes, filename: str, max_bytes: int = MAX_BYTES) -> Upload:
    """Read an uploaded query file; UploadError when it cannot be one (see the module)."""
    name = Path(filename or "upload.csv").name
    if len(data) > max_bytes:
        raise UploadError("too_large", f"{name} is larger than {size_text(max_bytes)}")
    if Path(name).suffix.lower() not in SUFFIXES:
        raise UploadError("not_csv", f"{name} is not a CSV file (.csv or .txt)")
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise UploadError("empty", f"{name} is empty (expected a header line: id,address)")
    if b"\x00" in data[:SAMPLE_BYTES]:
        raise UploadError("not_csv", f"{name} is not CSV text (it holds binary data)")
    encoding = detect_encoding(data[:SAMPLE_BYTES])
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    text = data.decode(codec, errors="replace").lstrip("\ufeff")
    header_line, newline, rest = text.partition("\n")
    header = next(csv.reader([header_line]), [])
    renamed = [ALIASES.get(h.strip(), h.strip()) for h in header]
    with tempfile.TemporaryDirectory(prefix="gridmap-batch-") as folder:
        raw = Path(folder) / "raw.csv"
        raw.write_bytes(data)
        encoding_problems = scan_encoding(raw, encoding, renamed, name=name)
        lines = max(text.count("\n"), 1)
        if len(encoding_problems) > lines / 2:
            raise UploadError(
                "undecodable", f"{name} is neither UTF-8 nor GBK text: save it as CSV (UTF-8)"
            )
        path = Path(folder) / name
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(renamed)
        path.write_text(out.getvalue() + newline + rest, encoding="utf-8", newline="")
        try:
            rows, problems = read_queries(path)
        except InputError as error:
            message = "; ".join(p.message for p in error.problems)
            raise UploadError("no_column", f"{name}: {message} (编号 and 地址 also do)") from None
    bad_bytes = {p.row: p for p in encoding_problems}
    queries = []
    for line, query_id, address, problem in rows:
        if line in bad_bytes:
            problem = "; ".join(x for x in (problem, bad_bytes[line].message) if x)
        queries.append(Query(line, query_id, address, problem))
    problems = [Problem(name, p.message, row=p.row, field=p.field) for p in problems]
    problems += [p for p in encoding_problems if p.row is not None and p.row > 1]
    problems.sort(key=lambda p: p.row or 0)
    return Upload(queries, problems, ENCODING_NAMES.get(encoding, encoding))


def size_text(size: int) -> str:
    """A byte count as a person reads it.

    >>> size_text(20 * 1024 * 1024), size_text(1536), size_text(100)
    ('20 MB', '1.5 KB', '100 bytes')
    """
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def csv_bytes(columns: tuple[str, ...], rows: list[tuple]) -> bytes:
    """A download: UTF-8 with a byte order mark, so that Excel opens the Chinese text right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def run_batch(store: Store, job: Job, progress: Progress) -> dict:
    """The job: match the uploaded file against the library of version ``params.version_id``,
    store ``results.csv`` and ``review.csv`` with the job, return the counts."""
    data = read_file(store, job.id, UPLOAD)
    if data is None:
        raise ValueError("上传的文件已不存在，请重新上传")
    progress(0.01, "读取文件")
    filename = job.params.get("filename") or UPLOAD
    upload = check_upload(data, filename, max_bytes=len(data))
    version_id = job.params.get("version_id")
    if version_id is None:
        version = store.current_version()
        if version is None:
            raise ValueError("尚未发布网格版本，无法匹配地址")
        version_id = version.id
    progress(0.03, "加载标准地址库")
    geocoder = library.geocoder(store, version_id)
    total = len(upload.queries)
    answers = []
    for start in range(0, total, CHUNK):
        chunk = upload.queries[start : start + CHUNK]
        answers += geocoder.resolve_many([q.address for q in chunk])
        progress(0.1 + 0.85 * len(answers) / max(total, 1), f"正在匹配 {len(answers):,}/{total:,}")
    rows = result_rows([(q.line, q.id, q.address, q.problem) for q in upload.queries], answers)
    progress(0.97, "写出结果")
    save_file(store, job.id, RESULTS, csv_bytes(RESULT_COLUMNS, rows.results))
    save_file(store, job.id, REVIEW, csv_bytes(REVIEW_COLUMNS, rows.reviews))
    statuses = Counter({"ok": 0, "review": 0, "bad_row": 0}) + rows.statuses
    return {
        "filename": Path(filename).name,
        "encoding": upload.encoding,
        "version_id": version_id,
        "library": len(geocoder.library),
        "rows": total,
        "statuses": {k: statuses[k] for k in ("ok", "review", "bad_row")},
        "levels": dict(rows.levels),
        "review_rows": len(rows.reviews),
        "bad_rows": len(upload.problems),
        "problems": [
            {"row": p.row, "field": p.field, "message": p.message}
            for p in upload.problems[:MAX_LISTED_PROBLEMS]
        ],
    }


__all__ = ["MAX_BYTES", "Upload", "UploadError", "check_upload", "csv_bytes", "run_batch"]
