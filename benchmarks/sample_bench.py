"""Sample city build time and peak memory, at the default size and at 2,000,000 households.

Each size is built in its own child process (so each peak RSS is that build's own), into a
temporary folder that is deleted afterwards unless --keep is given.

    python benchmarks/sample_bench.py                      # 60,000 and 2,000,000 households
    python benchmarks/sample_bench.py --sizes 60000 --seed 3

Last line: the headline figures at the largest size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from gridmap.sample import build_city
out, households, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
started = time.perf_counter()
summary = build_city(out, households=households, seed=seed)
seconds = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, **summary}))
"""


def run(households: int, seed: int, folder: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), str(households), str(seed)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["addresses_mb"] = (folder / "addresses.csv").stat().st_size / 1e6
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="60000,2000000", help="comma-separated household counts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the built cities under this folder")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    base = args.keep or Path(tempfile.mkdtemp(prefix="sample_bench_"))
    print(f"{'households':>11} {'communities':>11} {'hh/community':>13} {'km2':>7} "
          f"{'addresses':>10} {'CSV MB':>7} {'build s':>8} {'peak RSS MB':>11}")  # fmt: skip
    rows = []
    for households in sizes:
        folder = base / f"city_{households}"
        figures = run(households, args.seed, folder)
        rows.append(figures)
        print(
            f"{figures['households']:>11,} {figures['communities']:>11} "
            f"{figures['community_households_min']:>6,}-{figures['community_households_max']:<6,} "
            f"{figures['area_km2']:>7.1f} "
            f"{figures['addresses']:>10,} {figures['addresses_mb']:>7.0f} "
            f"{figures['seconds']:>8.1f} {figures['peak_mb']:>11.0f}"
        )
        if args.keep is None:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
    if args.keep is None:
        base.rmdir()
    last = rows[-1]
    print(
        f"sample city {last['households']:,} households: {last['seconds']:.1f} s, "
        f"peak RSS {last['peak_mb']:.0f} MB, {last['addresses']:,} addresses"
    )


if __name__ == "__main__":
    main()
