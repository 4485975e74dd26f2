"""Writing the city's files: every file goes to a temp name in DIR and is renamed only when the
whole city is built, so a failed run leaves no half-written file. (GeoPackages get a fixed
timestamp from `gridmap.io.write_layer`, so the same seed gives byte-identical files.)
"""

from __future__ import annotations

import contextlib
import csv
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


class Staging:
    """Temp files in the target folder, renamed over their targets by ``commit()``."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.pending: dict[Path, Path] = {}

    def temp_for(self, name: str) -> Path:
        target = self.out_dir / name
        temp = target.with_name(f".{target.stem}.tmp-{uuid.uuid4().hex[:12]}{target.suffix}")
        self.pending[target] = temp
        return temp

    def commit(self) -> None:
        for target, temp in self.pending.items():
            os.replace(temp, target)
        self.pending.clear()

    def discard(self) -> None:
        for temp in self.pending.values():
            for path in (
                temp,
                *(temp.with_name(temp.name + s) for s in ("-journal", "-wal", "-shm")),
            ):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        self.pending.clear()


@contextlib.contextmanager
def staging(out_dir: Path) -> Iterator[Staging]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = Staging(out_dir)
    try:
        yield stage
        stage.commit()
    except BaseException:
        stage.discard()
        raise


class CsvStream:
    """Rows appended in chunks to a UTF-8 CSV (bounded memory for millions of addresses)."""

    def __init__(self, path: Path, header: list[str]) -> None:
        # Held open across chunks and closed by close(), so no `with` block here.
        self.handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self.writer = csv.writer(self.handle, lineterminator="\n")
        self.writer.writerow(header)
        self.rows = 0

    def write(self, rows: list) -> None:
        self.writer.writerows(rows)
        self.rows += len(rows)

    def close(self) -> None:
        self.handle.close()
