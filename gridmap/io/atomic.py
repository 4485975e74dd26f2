"""Atomic file output: write a temp file in the target's folder, rename it over the target.

A failed run (exception, Ctrl-C) leaves the target as it was and no temp file behind.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_output(folder / "out.txt") as tmp:
...     _ = tmp.write_text("done")
>>> (folder / "out.txt").read_text(), sorted(p.name for p in folder.iterdir())
('done', ['out.txt'])
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

# Side files SQLite/GeoPackage may leave next to a database while it is open.
_SIDE_SUFFIXES = ("-journal", "-wal", "-shm")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temp path (same folder and suffix); rename it to ``path`` on success.

    The temp name keeps the target's suffix so that format drivers chosen by extension (GDAL)
    pick the right one. On any exception the temp file and its side files are removed and the
    exception propagates; an existing ``path`` is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.stem}.tmp-{uuid.uuid4().hex[:12]}{target.suffix}")
    try:
        yield temp
        if not temp.exists():
            raise FileNotFoundError(f"nothing was written to the temp file for {target}")
        os.replace(temp, target)
    except BaseException:
        _remove(temp)
        raise
    finally:
        for suffix in _SIDE_SUFFIXES:
            _remove(temp.with_name(temp.name + suffix))


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
