"""The run's summary (a dict) and its one-screen text form."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np

from gridmap.partition.config import PartitionConfig


def summarize(
    grids: gpd.GeoDataFrame,
    results: list,
    config: PartitionConfig,
    *,
    violations: list[str],
    runtime_s: float,
    site_stats: dict,
    communities: int,
    addresses: int,
    mislabelled: int = 0,
    micro: gpd.GeoDataFrame | None = None,
) -> dict:
    """Counts by kind, band share, household spread, compactness, barrier share, flags."""
    comprehensive = grids[grids["kind"] == "comprehensive"]
    exclusive = grids[grids["kind"] == "exclusive"]
    hh = comprehensive["households"].to_numpy()
    in_band = (hh >= config.min_households) & (hh <= config.max_households)
    inner = sum(r.inner_length_m for r in results)
    on_barrier = sum(r.inner_barrier_m for r in results)
    ratio = len(exclusive) / len(comprehensive) if len(comprehensive) else float("inf")
    warnings = []
    if len(exclusive) and ratio > config.exclusive_ratio_limit:
        warnings.append(
            f"exclusive/comprehensive ratio {ratio:.2f} exceeds the limit "
            f"{config.exclusive_ratio_limit:.2f}: tighten the exclusive-grid criteria"
        )
    if mislabelled:
        warnings.append(
            f"{mislabelled} addresses lie in another community than their community_code says; "
            "their location was used"
        )
    flag_counts: dict[str, int] = {}
    for flags in grids["flags"]:
        for flag in filter(None, str(flags).split(";")):
            flag_counts[flag] = flag_counts.get(flag, 0) + 1
    unflagged_out = int((~in_band & (comprehensive["flags"].fillna("") == "").to_numpy()).sum())
    if unflagged_out:
        violations = violations + [f"{unflagged_out} out-of-band grids carry no flag"]
    summary = {
        "communities": communities,
        "addresses": addresses,
        "units": int(sum(r.units for r in results)),
        "split_blocks": int(sum(r.split_blocks for r in results)),
        "grids": len(grids),
        "comprehensive": len(comprehensive),
        "exclusive": len(exclusive),
        "exclusive_ratio": round(ratio, 4) if np.isfinite(ratio) else None,
        "households": int(grids["households"].sum()),
        "share_in_band": floor_share(int(in_band.sum()), len(hh)),
        "in_band": int(in_band.sum()),
        "households_min": int(hh.min()) if len(hh) else None,
        "households_median": float(np.median(hh)) if len(hh) else None,
        "households_max": int(hh.max()) if len(hh) else None,
        "median_polsby_popper": round(float(np.median(comprehensive["polsby_popper"])), 4)
        if len(hh)
        else None,
        "inner_boundary_m": round(inner, 1),
        "share_inner_boundary_on_barrier": round(on_barrier / inner, 4) if inner else None,
        "flags": dict(sorted(flag_counts.items())),
        "sites": site_stats,
        "runtime_s": round(runtime_s, 2),
        "mislabelled_addresses": mislabelled,
        "warnings": warnings,
        "violations": violations,
        "bounds": [config.min_households, config.max_households],
    }
    if micro is not None:
        summary["micro"] = _micro_summary(micro, config, results)
    return summary


def _micro_summary(micro: gpd.GeoDataFrame, config: PartitionConfig, results: list) -> dict:
    low, high = config.micro_households
    hh = micro["households"].to_numpy()
    in_band = int(((hh >= low) & (hh <= high)).sum())
    flags: dict[str, int] = {}
    for text in micro["flags"]:
        for flag in filter(None, str(text).split(";")):
            flags[flag] = flags.get(flag, 0) + 1
    return {
        "count": len(micro),
        "bounds": [low, high],
        "households_min": int(hh.min()) if len(hh) else None,
        "households_median": float(np.median(hh)) if len(hh) else None,
        "households_mean": round(float(hh.mean()), 1) if len(hh) else None,
        "households_max": int(hh.max()) if len(hh) else None,
        "in_band": in_band,
        "share_in_band": floor_share(in_band, len(hh)),
        "flags": dict(sorted(flags.items())),
        "cpu_s": round(sum(r.micro_s for r in results), 2),
    }


def floor_share(part: int, whole: int, digits: int = 4) -> float | None:
    """``part / whole`` rounded down, so that a shortfall never shows as the whole.

    >>> floor_share(4986, 4988), floor_share(3, 3), floor_share(0, 0)
    (0.9995, 1.0, None)
    """
    if not whole:
        return None
    scale = 10**digits
    return (part * scale // whole) / scale


def pct(value: float | None) -> str:
    """A share as a percentage with one decimal, rounded down (99.96% prints 99.9%, not 100.0%).

    >>> pct(0.99959), pct(1.0), pct(None)
    ('99.9%', '100.0%', 'n/a')
    """
    if value is None:
        return "n/a"
    return f"{math.floor(round(1000 * value, 6)) / 10:.1f}%"


def format_summary(summary: dict, diff: dict | None = None) -> str:
    """The summary as a short screen of text."""
    lo, hi = summary["bounds"]

    lines = [
        f"communities {summary['communities']}, addresses {summary['addresses']}, "
        f"units {summary['units']} ({summary['split_blocks']} blocks cut into address cells)",
        f"grids {summary['grids']}: comprehensive {summary['comprehensive']}, exclusive "
        f"{summary['exclusive']} (ratio {summary['exclusive_ratio']})",
        f"households {summary['households']}; per comprehensive grid min "
        f"{summary['households_min']} / median {summary['households_median']} / max "
        f"{summary['households_max']}; within [{lo}, {hi}]: {summary['in_band']} of "
        f"{summary['comprehensive']} ({pct(summary['share_in_band'])})",
        f"median Polsby-Popper {summary['median_polsby_popper']}; inner boundary on barriers "
        f"{pct(summary['share_inner_boundary_on_barrier'])}",
        "flags: " + (", ".join(f"{k} {v}" for k, v in summary["flags"].items()) or "none"),
        "sites: {sites} read, {merged_groups} merged groups, {qualified} exclusive, "
        "{clipped} clipped to a community, {outside} outside every community".format(
            **summary["sites"]
        ),
    ]
    if "micro" in summary:
        m = summary["micro"]
        lines.append(
            f"micro-grids {m['count']}: households per micro-grid min {m['households_min']} / "
            f"median {m['households_median']} / mean {m['households_mean']} / max "
            f"{m['households_max']}; within [{m['bounds'][0]}, {m['bounds'][1]}]: "
            f"{m['in_band']} of {m['count']} ({pct(m['share_in_band'])}); flags: "
            + (", ".join(f"{k} {v}" for k, v in m["flags"].items()) or "none")
            + f"; {m['cpu_s']} CPU-s in the workers"
        )
    if diff is not None:
        counts = diff["counts"]
        lines.append(
            f"codes vs previous: kept {counts['kept']}, changed {counts['changed']}, new "
            f"{counts['new']}, retired {counts['retired']}"
        )
        for key in ("changed", "new", "retired"):
            if diff[key]:
                shown = ", ".join(diff[key][:8]) + (" ..." if len(diff[key]) > 8 else "")
                lines.append(f"  {key}: {shown}")
    lines += [f"warning: {w}" for w in summary["warnings"]]
    if summary["violations"]:
        lines.append(f"VIOLATIONS ({len(summary['violations'])}):")
        lines += [f"  {v}" for v in summary["violations"][:20]]
    else:
        lines.append("checks: coverage exact, no overlaps, no slivers, every address in one grid")
    lines.append(f"runtime {summary['runtime_s']} s")
    return "\n".join(lines)
