"""How well this machine runs two independent processes at once: the per-worker ceiling.

Issue 14 asks that a Dask worker's throughput be within 1.3x of one process's. This script
measures what the machine itself allows with no shared work at all: each kind of load (pure
Python dicts and strings, numpy sorting, random gathers from a 480 MB array) runs once alone,
then twice at once in two processes. Ratio = two-at-once wall time / alone wall time (1.00x:
the second core is free; 2.00x: none). Rounds repeat because the shared machine drifts.

    python benchmarks/machine_ceiling.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

import numpy as np


def python_load(n: int = 3_000_000) -> int:
    """Dict updates and small strings, like the matcher's and the partitioner's Python parts."""
    counts: dict[str, int] = {}
    total = 0
    for i in range(n):
        key = f"k{i % 50_000}"
        counts[key] = counts.get(key, 0) + 1
        total += len(key)
    return total


def numpy_load(n: int = 40) -> float:
    """Sorting 4 million floats (32 MB): cache-friendly numeric work."""
    values = np.random.default_rng(0).random(4_000_000)
    return float(sum(np.sort(values)[100] for _ in range(n)))


def memory_load(n: int = 12) -> int:
    """Random gathers from a 480 MB array: bound by memory bandwidth and latency."""
    values = np.arange(60_000_000, dtype=np.int64)
    index = np.random.default_rng(1).permutation(len(values))[:5_000_000]
    return sum(int(values[index].sum()) for _ in range(n))


def wall_seconds(load, processes: int) -> float:
    """Wall seconds for ``processes`` child processes each running ``load`` at once.

    Alone and two at once go through the same path, so both pay the same process start.
    """
    children = [multiprocessing.Process(target=load) for _ in range(processes)]
    started = time.perf_counter()
    for child in children:
        child.start()
    for child in children:
        child.join()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ratios: dict[str, list[float]] = {}
    for round_number in range(1, args.rounds + 1):
        for load in (python_load, numpy_load, memory_load):
            alone, together = wall_seconds(load, 1), wall_seconds(load, 2)
            ratios.setdefault(load.__name__, []).append(together / alone)
            print(
                f"round {round_number} {load.__name__:<12} alone {alone:.2f} s, two at once "
                f"{together:.2f} s: per-worker ratio {together / alone:.2f}x",
                flush=True,
            )
    summary = ", ".join(
        f"{name} {min(values):.2f}-{max(values):.2f}x" for name, values in ratios.items()
    )
    print(f"machine per-worker ratio, two independent processes ({args.rounds} rounds): {summary}")


if __name__ == "__main__":
    main()
