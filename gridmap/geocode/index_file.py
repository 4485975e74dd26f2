"""A built :class:`~gridmap.geocode.geocoder.Geocoder` kept in a file (``geocode --index``).

Building the geocoder of a 2,000,000-address library reads and checks the library, puts every
address on its grid and builds the lookup tables: 30-40 s and a 3.2 GB peak in every process
that needs it (each ``--scheduler`` worker builds its own). A city geocodes hotline backlogs
against the same library day after day, so the built geocoder is written once and loaded in
seconds after (a pickle: 660 MB for that library, about 3 s to load).

The file says what it was built from: a key over the contents of every input file, the
options, and the geocoder's own source code. A file built from other inputs (the library was
edited, another ``--city``, a new gridmap) is *stale*: :func:`load` returns None and the caller
builds again and overwrites it. Nothing is ever answered from a stale index.

An index file is a pickle: loading one runs whatever it was written to run, so load only the
files gridmap wrote for you (the same trust as the program itself).

>>> import pandas as pd, tempfile, pathlib
>>> from gridmap.geocode.geocoder import Geocoder
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> library = folder / "lib.csv"
>>> pd.DataFrame({"address_id": ["r1"], "address": ["中山路58号"], "lon": [120.75],
...     "lat": [30.75], "road": ["中山路"], "roadno": ["58号"], "households": [1],
...     "population": [2]}).to_csv(library, index=False)
>>> key = IndexKey.of({"library": library}, {"city": None})
>>> load(folder / "lib.index", key) is None  # no file yet
True
>>> save(Geocoder.from_files(library), folder / "lib.index", key)
>>> load(folder / "lib.index", key).match("中山路58号").address_id
'r1'
>>> _ = library.write_text(library.read_text().replace("58", "59"))
>>> load(folder / "lib.index", IndexKey.of({"library": library}, {"city": None})) is None
True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pickle
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gridmap import gcpause
from gridmap.errors import InputError
from gridmap.io.atomic import atomic_output

MAGIC = b"gridmap geocoder index\n"
FORMAT = 1
#: the modules whose objects the file holds: a change to any of them makes old files stale
_CODE = ("geocode", "rules/grid_index.py", "model.py", "codes.py")


@dataclass(frozen=True)
class IndexKey:
    """What an index was built from: ``digest`` (compared) and ``inputs`` (shown to people)."""

    digest: str
    inputs: tuple[str, ...]

    @classmethod
    def of(cls, files: Mapping[str, object], options: Mapping[str, object]) -> IndexKey:
        """The key of a build from ``files`` (role -> path or None) with ``options``.

        A path may be a folder (a partitioned GeoParquet library): every file under it counts.
        Options are compared by ``repr``, a dict by its sorted items.
        """
        digest = hashlib.sha256()
        digest.update(f"format {FORMAT} python {sys.version_info[:2]}\n".encode())
        digest.update(_code_digest().encode())
        inputs = []
        for role, path in sorted(files.items()):
            if path is None:
                digest.update(f"{role}: none\n".encode())
                continue
            digest.update(f"{role}: {_content_digest(Path(path))}\n".encode())
            inputs.append(f"{role} {path}")
        for name, value in sorted(options.items()):
            if isinstance(value, Mapping):
                value = sorted(value.items())
            digest.update(f"{name}={value!r}\n".encode())
            if value is not None:
                inputs.append(f"{name} {value!r}")
        return cls(digest.hexdigest(), tuple(inputs))


def is_current(path: Path, key: IndexKey) -> bool:
    """Whether ``path`` is an index built from exactly ``key``'s inputs (reads its header).

    Raises InputError when ``path`` exists but is not a gridmap geocoder index (the file is
    then left alone: it may be something else the user needs).
    """
    header = _header(Path(path))
    return header is not None and header.get("key") == key.digest


def load(path: Path, key: IndexKey):
    """The Geocoder saved in ``path``, or None when there is none or it is stale."""
    path = Path(path)
    if not is_current(path, key):
        return None
    with open(path, "rb") as handle:
        handle.readline()
        handle.readline()
        # millions of acyclic objects: the cyclic collector would walk them again and again
        with gcpause.paused():
            try:
                return pickle.load(handle)
            except (EOFError, pickle.UnpicklingError, AttributeError, ImportError) as error:
                raise InputError.one(
                    str(path), f"geocoder index is damaged ({error}): delete it to build anew"
                ) from None


def save(geocoder, path: Path, key: IndexKey) -> None:
    """Write ``geocoder`` to ``path`` (atomically: a failed write leaves the old file)."""
    path = Path(path)
    if path.exists():
        _header(path)  # refuses to overwrite a file that is not an index
    meta = {
        "format": FORMAT,
        "key": key.digest,
        "inputs": list(key.inputs),
        "built": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "addresses": len(geocoder.library),
    }
    try:
        with atomic_output(path) as temp, open(temp, "wb") as handle:
            handle.write(MAGIC)
            handle.write(json.dumps(meta, ensure_ascii=False).encode("utf-8") + b"\n")
            pickle.dump(geocoder, handle, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError as error:  # before any query is answered: the command writes nothing
        raise InputError.one(str(path), f"cannot write the geocoder index: {error}") from None


def describe(path: Path) -> str:
    """One line about an index file: when it was built and from what."""
    header = _header(Path(path)) or {}
    return f"built {header.get('built', '?')} from {', '.join(header.get('inputs', ()))}"


def _header(path: Path) -> dict | None:
    """The JSON header of an index file; None when there is no file."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(len(MAGIC))
            line = handle.readline()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise InputError.one(str(path), f"cannot read the geocoder index: {error}") from None
    if magic != MAGIC:
        raise InputError.one(
            str(path), "not a gridmap geocoder index (refusing to read or overwrite it)"
        )
    try:
        header = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return {}  # another format: stale, rebuilt over
    return header


def _content_digest(path: Path) -> str:
    """sha256 of a file's bytes, or of a folder's files (relative names and bytes)."""
    if not path.exists():
        raise InputError.one(str(path), "file not found")
    if path.is_file():
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    digest = hashlib.sha256()
    for root, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            member = Path(root) / name
            digest.update(str(member.relative_to(path)).encode("utf-8") + b"\0")
            digest.update(_content_digest(member).encode())
    return digest.hexdigest()


@cache
def _code_digest() -> str:
    """sha256 over the source of the modules an index holds objects of."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for part in _CODE:
        where = package / part
        files = sorted(where.rglob("*.py")) if where.is_dir() else [where]
        for file in files:
            digest.update(file.relative_to(package).as_posix().encode() + b"\0")
            digest.update(file.read_bytes())
    return digest.hexdigest()
