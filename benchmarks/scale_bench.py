"""Scale: one process against a Dask LocalCluster, bounded memory, and a province end to end.

Every step runs the real command (``gridmap ...``) as a child process; a sampler records its
wall time, the peak RSS of the largest single process (what ``/usr/bin/time -v`` reports), the
peak of the whole process tree (client + scheduler + workers) as the sum of RSS (which counts a
page shared by several processes, e.g. after a fork, once per process) and as the sum of PSS
(proportional set size: a shared page is split between its sharers, so the tree's memory is
counted once; sampled once a second, RSS ten times), and the CPU seconds of the tree.

    python benchmarks/scale_bench.py                       # 2M city + province, both ways
    python benchmarks/scale_bench.py --city-households 200000 --province-households 500000 \\
        --province-counties 3304                           # a quick run
    python benchmarks/scale_bench.py --city DIR --memory-only   # the bounded-memory figure only
    python benchmarks/scale_bench.py --city DIR --skip-province --repeat 3  # medians of 3 rounds

Steps: the city (``gridmap sample --households N``) is partitioned, assigned and geocoded
(``--queries`` noisy variants of library addresses) in one process (partition: ``--workers 1``)
and with ``--scheduler local:W``; geocode loads the geocoder from ``--index``, which one
process builds from the library and writes once, before the timed runs (its own line); then
the province is sampled (``--province``), partitioned and assigned on ``local:W``. Throughput
per worker = work / (wall time x workers), compared with the single process rate. With
``--repeat``, each figure is the median run, and each round's own ratio (its two modes minutes
apart) is printed too. The cost table projects CPU time linearly from the
measured per-household CPU cost (partition and assign are per community / per point: linear; the
client's file reading is serial and is listed apart). Last line: the headline.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
PSS_EVERY = 10  # samples: the tree's PSS once a second


def measure(args: list[str], *, cwd: Path) -> dict:
    """Run ``gridmap ARGS``; wall seconds, peak RSS (largest process, tree), CPU seconds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "gridmap.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    peak_one = peak_tree = peak_pss = 0
    cpu: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        # RSS (statm: cheap) every 0.1 s; PSS every PSS_EVERY samples only. Reading a process's
        # smaps takes its memory-map lock, which stalls its page faults: at 10 Hz over the six
        # processes of a local:2 cluster it cost the 2M partition ~10 s of 50 (one process: ~0).
        nonlocal peak_one, peak_tree, peak_pss
        root = psutil.Process(child.pid)
        turn = 0
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            with_pss = turn % PSS_EVERY == 0
            total = total_pss = 0
            for proc in procs:
                try:
                    memory = proc.memory_full_info() if with_pss else proc.memory_info()
                    times = proc.cpu_times()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total += memory.rss
                total_pss += memory.pss if with_pss else 0
                peak_one = max(peak_one, memory.rss)
                cpu[proc.pid] = times.user + times.system
            peak_tree = max(peak_tree, total)
            peak_pss = max(peak_pss, total_pss)
            turn += 1
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = child.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    return {
        "command": "gridmap " + " ".join(args),
        "exit": child.returncode,
        "seconds": round(seconds, 2),
        "peak_mb": round(peak_one / 2**20),
        "tree_mb": round(peak_tree / 2**20),
        "tree_pss_mb": round(peak_pss / 2**20),
        "cpu_s": round(sum(cpu.values()), 1),
        "tail": output.strip().splitlines()[-3:],
    }


def queries(library: Path, out: Path, count: int) -> None:
    """``count`` noisy variants of library addresses (province and city dropped, as callers do)."""
    import pandas as pd

    frame = pd.read_csv(library, usecols=["address"], dtype=str)
    picked = frame["address"].sample(count, replace=count > len(frame), random_state=7)
    text = picked.str.replace("浙江省", "", regex=False).str.replace("嘉兴市", "", regex=False)
    pd.DataFrame({"id": range(count), "address": text.to_numpy()}).to_csv(out, index=False)


def _geocode_phases(figure: dict) -> tuple[float, float] | None:
    """(loading seconds, matching queries/s) from the geocode command's summary line.

    >>> _geocode_phases({"tail": ["  time  9.10 s (loading 6.00 s, matching 1,234/s) -> r.csv"]})
    (6.0, 1234.0)
    """
    for line in figure["tail"]:
        found = re.search(r"loading ([\d.]+) s, matching ([\d,]+)/s", line)
        if found:
            return float(found.group(1)), float(found.group(2).replace(",", ""))
    return None


def run(cli: list[str], cwd: Path, label: str, results: dict) -> dict:
    figure = measure(cli, cwd=cwd)
    results[label] = figure
    print(
        f"{label:<28} {figure['seconds']:>8.1f} s  peak {figure['peak_mb']:>6,} MB  "
        f"tree {figure['tree_mb']:>6,} MB (PSS {figure['tree_pss_mb']:>6,} MB)  "
        f"cpu {figure['cpu_s']:>7.1f} s  exit {figure['exit']}",
        flush=True,
    )
    if figure["exit"] not in (0, 1):
        print("\n".join(figure["tail"]), file=sys.stderr)
        raise SystemExit(f"{label} failed")
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city-households", type=int, default=2_000_000)
    parser.add_argument("--city", type=Path, help="An existing sample city folder to reuse.")
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--province-households", type=int, default=25_000_000)
    parser.add_argument("--province-counties", default=None, help="e.g. 3304 (嘉兴市)")
    parser.add_argument("--skip-province", action="store_true")
    parser.add_argument("--skip-city", action="store_true", help="Only the province.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="City rounds, alternating one process and the cluster; figures are the medians.",
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="Only the bounded-memory figure: the city partitioned by one `gridmap partition` "
        "(its default workers), peak of the largest process and of the whole tree.",
    )
    parser.add_argument("--work", type=Path, help="Folder for the files (default: a temp dir).")
    parser.add_argument("--json", type=Path, help="Also write every figure here.")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="scale-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    scheduler = f"local:{args.workers}"
    results: dict = {"machine": f"{os.cpu_count()} cores, shared", "workers": args.workers}
    print(f"work folder {work}; machine: {os.cpu_count()} cores (shared with other sessions)")

    ratios: dict = {}
    if not args.skip_city:
        city = args.city
        if city is None:
            city = work / "city"
            run(["sample", "--out", str(city), "--households", str(args.city_households)],
                work, "city sample", results)  # fmt: skip
        households = args.city_households
        base = ["--boundaries", str(city / "boundaries.gpkg"), "--addresses",
                str(city / "addresses.csv"), "--barriers", str(city / "barriers.gpkg"),
                "--sites", str(city / "sites.gpkg")]  # fmt: skip
        if args.memory_only:
            p = run(["partition", *base, "--out", str(work / "grids-memory.gpkg")], work,
                    "city partition single", results)  # fmt: skip
            print(
                f"city partition (one command): peak {p['peak_mb']:,} MB largest process, whole "
                f"command {p['tree_mb']:,} MB RSS / {p['tree_pss_mb']:,} MB PSS (target < 600 MB)"
            )
            return
        queries(city / "addresses.csv", work / "queries.csv", args.queries)
        # geocode --index: the first geocode builds the geocoder from the library (one process)
        # and writes it; every timed geocode, either way, loads it (each worker its own copy)
        index = work / "library.index"
        index.unlink(missing_ok=True)
        # Rounds alternate one process and the cluster; each figure is the median over rounds
        # (on this shared machine the same run varies by up to a third between minutes).
        seconds: dict = {}
        for turn in range(args.repeat):
            for mode, tag, extra in (
                ("single", "single", []),
                (scheduler, "dask", ["--scheduler", scheduler]),
            ):
                grids = work / f"grids-{tag}.gpkg"
                # "single" is one process: without --scheduler the partitioner would fork a
                # worker per core, and the per-worker ratio would compare two workers with two
                own = ["--workers", "1"] if tag == "single" else []
                label = f"{mode} #{turn + 1}" if args.repeat > 1 else mode
                p = run(["partition", *base, "--out", str(grids), *extra, *own], work,
                        f"city partition {label}", results)  # fmt: skip
                a = run(["assign", "--grids", str(work / "grids-single.gpkg"), "--addresses",
                         str(city / "addresses.csv"), "--out",
                         str(work / f"assigned-{tag}.csv"), *extra], work,
                        f"city assign {label}", results)  # fmt: skip
                geocode = ["geocode", "--library", str(city / "addresses.csv"), "--grids",
                           str(work / "grids-single.gpkg"), "--in", str(work / "queries.csv"),
                           "--index", str(index)]  # fmt: skip
                if not index.exists():
                    run([*geocode, "--out", str(work / "results-build.csv")], work,
                        "city geocode + index build", results)  # fmt: skip
                g = run([*geocode, "--out", str(work / f"results-{tag}.csv"), *extra], work,
                        f"city geocode {label}", results)  # fmt: skip
                for step, figure in (("partition", p), ("assign", a), ("geocode", g)):
                    seconds.setdefault((mode, step), []).append(figure)
        rates = {}
        for (mode, step), figures in seconds.items():
            middle = sorted(figures, key=lambda f: f["seconds"])[len(figures) // 2]
            results[f"city {step} {mode}"] = middle  # the median run stands for the mode
            work_done = args.queries if step == "geocode" else households
            rates.setdefault(mode, {})[step] = work_done / middle["seconds"]
        if args.repeat > 1:
            print(f"medians of {args.repeat} rounds:")
            for (mode, step), figures in seconds.items():
                runs = ", ".join(f"{f['seconds']:.1f}" for f in figures)
                print(f"  {step:<10} {mode:<8} {results[f'city {step} {mode}']['seconds']:.1f} s"
                      f" (runs {runs})")  # fmt: skip
            # A round runs both modes minutes apart: its own ratio is the pair least touched by
            # the machine's drift between rounds (the ratio of medians mixes rounds).
            print("per-worker ratio round by round (cluster seconds x workers / single seconds):")
            paired = results["per_round_ratio"] = {}
            for step in ("partition", "assign", "geocode"):
                pairs = zip(seconds[("single", step)], seconds[(scheduler, step)], strict=True)
                paired[step] = [round(args.workers * d["seconds"] / o["seconds"], 2)
                                for o, d in pairs]  # fmt: skip
                print(f"  {step:<10} {' / '.join(f'{r:.2f}x' for r in paired[step])}")
        same = all(
            (work / f"{name}-single{suffix}").read_bytes()
            == (work / f"{name}-dask{suffix}").read_bytes()
            for name, suffix in (("grids", ".gpkg"), ("assigned", ".csv"), ("results", ".csv"))
        )
        results["byte_identical"] = same
        print(f"single process and {scheduler} outputs byte-identical: {same}")
        ratios = {}
        for step in ("partition", "assign", "geocode"):
            one = rates["single"][step]
            per_worker = rates[scheduler][step] / args.workers
            ratios[step] = one / per_worker
            print(
                f"  {step:<10} single {one:>10,.0f}/s   {scheduler} "
                f"{rates[scheduler][step]:>10,.0f}/s  per worker {per_worker:>10,.0f}/s  "
                f"single/per-worker {ratios[step]:.2f}x"
            )
        results["rates"], results["per_worker_ratio"] = rates, ratios
        # The geocode command times its matching apart from loading: each side first builds
        # the library index (one process once; each worker once, side by side), then matches.
        loading = {mode: _geocode_phases(results[f"city geocode {mode}"]) for mode in rates}
        if all(loading.values()):
            one, cluster = loading["single"][1], loading[scheduler][1]
            results["geocode_matching"] = {
                "loading_s": {mode: phases[0] for mode, phases in loading.items()},
                "rate": {mode: phases[1] for mode, phases in loading.items()},
            }
            print(
                f"  geocode matching only (after the index is built: single "
                f"{loading['single'][0]:.1f} s, {scheduler} {loading[scheduler][0]:.1f} s): single "
                f"{one:,.0f}/s  {scheduler} {cluster:,.0f}/s  per worker "
                f"{cluster / args.workers:,.0f}/s  single/per-worker "
                f"{one / (cluster / args.workers):.2f}x"
            )

    province_line = "province skipped"
    if not args.skip_province:
        prov = work / "province"
        sample = ["sample", "--out", str(prov), "--province", "--households",
                  str(args.province_households)]  # fmt: skip
        if args.province_counties:
            sample += ["--counties", args.province_counties]
        s = run(sample, work, "province sample", results)
        pb = ["--boundaries", str(prov / "boundaries.gpkg"), "--addresses",
              str(prov / "addresses.parquet")]  # fmt: skip
        p = run(["partition", *pb, "--out", str(prov / "grids.gpkg"), "--scheduler", scheduler],
                work, f"province partition {scheduler}", results)  # fmt: skip
        assign = ["assign", "--grids", str(prov / "grids.gpkg"), "--addresses",
                  str(prov / "addresses.parquet"), "--out", str(prov / "assigned.parquet"),
                  "--scheduler", scheduler]  # fmt: skip
        a = run(assign, work, f"province assign {scheduler}", results)
        total = s["seconds"] + p["seconds"] + a["seconds"]
        hh = args.province_households
        province_line = (
            f"province {hh:,} households ({args.province_counties or 'all 90 counties'}) "
            f"sample+partition+assign {total:.0f} s on {scheduler}"
        )
        results["province"] = {"households": hh, "seconds": round(total, 1)}
        cost_table(results, hh, p, a)
    elif not args.skip_city:
        cost_table(results, args.city_households, results[f"city partition {scheduler}"],
                   results[f"city assign {scheduler}"])  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.skip_city:
        print(province_line)
        return
    worst = max(ratios.values())
    print(
        f"{args.city_households:,}-household city on {scheduler}: partition "
        f"{results[f'city partition {scheduler}']['seconds']:.0f}"
        f" s (single {results['city partition single']['seconds']:.0f} s, peak "
        f"{results['city partition single']['peak_mb']:,} MB); per-worker throughput within "
        f"{worst:.2f}x of single (target 1.3x); byte-identical {same}; {province_line}"
    )


def cost_table(results: dict, households: int, partition: dict, assign: dict) -> None:
    """CPU seconds per million households, measured; projected linearly to 25M and 500M."""
    per_million = {
        "partition": partition["cpu_s"] / households * 1e6,
        "assign": assign["cpu_s"] / households * 1e6,
    }
    print(
        f"cost table (measured on {households:,} households; CPU s per 1M households: "
        f"partition {per_million['partition']:.1f}, assign {per_million['assign']:.1f})"
    )
    print(f"  {'households':>12} {'cores':>6} {'partition':>12} {'assign':>10}  (extrapolated)")
    table = []
    for total in (25_000_000, 500_000_000):
        for cores in (2, 16, 64, 256):
            row = {
                "households": total,
                "cores": cores,
                "partition_min": per_million["partition"] * total / 1e6 / cores / 60,
                "assign_min": per_million["assign"] * total / 1e6 / cores / 60,
            }
            table.append(row)
            print(
                f"  {total:>12,} {cores:>6} {row['partition_min']:>9.1f} min "
                f"{row['assign_min']:>7.1f} min"
            )
    results["cost_table"] = {"cpu_s_per_million": per_million, "rows": table}


if __name__ == "__main__":
    main()
