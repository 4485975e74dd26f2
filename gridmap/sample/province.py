"""A synthetic province on real outlines and codes: ``gridmap sample --out DIR --province``.

The 90 county outlines of 浙江省 and the official codes and names of its cities, counties,
streets/towns and communities/villages are real (``boundaries/zhejiang_*``, see the README
there for sources and licences). Inside each county everything is synthetic and deterministic:
its streets are Voronoi cells of random seeds clipped to the county, its communities Voronoi
cells clipped to their street. Households follow the kind of unit: an urban community
(社区/居委会) gets about 3,000, a village (村) about 400 (±40%), scaled so the province holds
``households`` in all (25,000,000 by default, about Zhejiang's). An urban address is a stairwell
(单元) of 6-24 households, a rural one a house of one household.

Written to DIR: ``boundaries.gpkg`` (district/street/community levels with parent codes),
``addresses.parquet/`` (GeoParquet partitioned by county: ``district_code=330102/part-0.parquet``;
the ``district`` component column holds the county's name) and
``README.txt``. Addresses are made and written one county at a time, so memory is bounded by
the largest county, not the province. Same seed and households give the same files; a county's
content depends only on the seed, the totals and its own code (``counties`` picks some of them).

>>> import tempfile
>>> out = build_province(tempfile.mkdtemp(), households=3_000, counties=("330402",))
>>> out["counties"], out["households"], out["communities"] > 50
(1, 3000, True)
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.model import STORAGE_CRS

DATA_DIR = Path(__file__).resolve().parent / "boundaries"
PROVINCE_HOUSEHOLDS = 25_000_000
URBAN_HOUSEHOLDS = 3_000  # per urban community (社区), before scaling to the total
RURAL_HOUSEHOLDS = 400  # per village (村)
PERSONS_PER_HOUSEHOLD = 2.6


@dataclass
class Unit:
    code: str
    name: str


@dataclass
class ProvinceExtract:
    """The committed real data: county outlines, and every division's official name."""

    counties: gpd.GeoDataFrame  # code, name, geometry (EPSG:4490)
    names: dict[str, str]  # code -> name, for 2/4/6/9/12-digit codes
    children: dict[str, list[str]]  # code -> child codes (sorted)


def load_province(data_dir: Path = DATA_DIR) -> ProvinceExtract:
    counties = gpd.read_file(data_dir / "zhejiang_counties.geojson")
    counties = counties.set_crs(STORAGE_CRS, allow_override=True).sort_values("code")
    with gzip.open(data_dir / "zhejiang_divisions.csv.gz", "rt", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = {row["code"]: row["name"] for row in rows}
    children: dict[str, list[str]] = {}
    parent_digits = {4: 2, 6: 4, 9: 6, 12: 9}
    for code in sorted(names):
        if len(code) in parent_digits:
            children.setdefault(code[: parent_digits[len(code)]], []).append(code)
    return ProvinceExtract(counties.reset_index(drop=True), names, children)


def is_urban(name: str) -> bool:
    """An urban community (社区, 居委会) rather than a village (村).

    >>> is_urban("清波门社区"), is_urban("梅家坞村村委会"), is_urban("湖滨居委会")
    (True, False, True)
    """
    return "社区" in name or "居委会" in name or "居民委员会" in name


def _random_points(rng, polygon, count: int) -> np.ndarray:
    """``count`` uniform random points inside ``polygon`` (rejection sampling in its box)."""
    minx, miny, maxx, maxy = polygon.bounds
    shapely.prepare(polygon)
    found: list[np.ndarray] = []
    have = 0
    share = max(polygon.area / max((maxx - minx) * (maxy - miny), 1e-18), 0.01)
    while have < count:
        batch = int((count - have) / share * 1.2) + 16
        xy = np.column_stack([rng.uniform(minx, maxx, batch), rng.uniform(miny, maxy, batch)])
        inside = xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])]
        found.append(inside)
        have += len(inside)
    return np.concatenate(found)[:count]


def _polygonal(geometry):
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type == "Polygon" and p.area > 0]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def split(rng, polygon, count: int) -> list:
    """``polygon`` cut into ``count`` Voronoi cells of random seeds, in west-to-east seed order.

    The cells tile the polygon exactly (each is the polygon intersected with one cell).
    """
    if count == 1:
        return [polygon]
    seeds = _random_points(rng, polygon, count)
    seeds = seeds[np.lexsort((seeds[:, 1], seeds[:, 0]))]
    cells = shapely.voronoi_polygons(
        shapely.multipoints(seeds),
        extend_to=shapely.box(*polygon.buffer(0.01).bounds),
        ordered=True,
    )
    parts = shapely.intersection(shapely.get_parts(cells), polygon)
    out = [_polygonal(part) for part in parts]
    # a seed's own cell holds the seed, so no cell is empty; keep the guard for degenerate input
    return [cell if cell is not None else polygon.buffer(0) for cell in out]


def plan_households(extract: ProvinceExtract, households: int) -> dict[str, int]:
    """Households per community over the whole province (largest-remainder rounding)."""
    communities = [c for c in sorted(extract.names) if len(c) == 12]
    rng = np.random.default_rng(20261129)
    base = np.array(
        [URBAN_HOUSEHOLDS if is_urban(extract.names[c]) else RURAL_HOUSEHOLDS for c in communities],
        dtype=float,
    ) * rng.uniform(0.6, 1.4, len(communities))
    exact = base / base.sum() * households
    counts = np.floor(exact).astype(np.int64)
    rest = households - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:rest]] += 1
    return dict(zip(communities, counts.tolist(), strict=True))


def _county_addresses(rng, extract, county: str, communities, geoms, households) -> pd.DataFrame:
    """The address rows of one county (urban stairwells and rural houses)."""
    names = extract.names
    city, prov = names.get(county[:4], ""), names.get(county[:2], "")
    frames = []
    for code, polygon in zip(communities, geoms, strict=True):
        total = households[code]
        if total == 0:
            continue
        urban = is_urban(names[code])
        if urban:  # stairwells of 6-24 households until the total is reached
            sizes = rng.integers(6, 25, total // 6 + 1)
            ends = np.cumsum(sizes)
            n = int(np.searchsorted(ends, total)) + 1
            sizes = sizes[:n].copy()
            sizes[-1] -= int(ends[n - 1] - total)
        else:
            sizes = np.ones(total, dtype=np.int64)
            n = total
        xy = _random_points(rng, polygon, n)
        seq = np.arange(1, n + 1)
        street = names[code[:9]]
        stem = names[code].removesuffix("村委会").removesuffix("居委会").removesuffix("社区")
        stem = stem.removesuffix("村")[:4] or "新"
        if urban:
            roadno = (seq - 1) // 48 + 1
            building = (seq - 1) // 4 % 12 + 1
            unit = (seq - 1) % 4 + 1
            road = f"{stem}路"
            tail = [f"{a}号{b}幢{c}单元" for a, b, c in zip(roadno, building, unit, strict=True)]
        else:
            group = (seq - 1) // 40 + 1
            road = ""
            tail = [f"{g}组{k}号" for g, k in zip(group, seq, strict=True)]
        prefix = f"{prov}{city}{names[county]}{street}{names[code]}{road}"
        population = np.maximum(
            sizes, np.round(sizes * rng.normal(PERSONS_PER_HOUSEHOLD, 0.6, n)).astype(np.int64)
        )
        frames.append(
            pd.DataFrame(
                {
                    "address_id": [f"{code}{k:06d}" for k in seq],
                    "address": [prefix + t for t in tail],
                    "lon": np.round(xy[:, 0], 7),
                    "lat": np.round(xy[:, 1], 7),
                    "households": sizes.astype(np.int64),
                    "population": population,
                    "community_code": code,
                    "prov": prov,
                    "city": city,
                    "town": street,
                    "community": names[code],
                    "road": road,
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def build_province(
    out_dir: str | Path,
    *,
    households: int = PROVINCE_HOUSEHOLDS,
    seed: int = 1,
    counties: Sequence[str] | None = None,
    progress: bool = False,
) -> dict:
    """Write the synthetic province to ``out_dir``; ``counties``: code prefixes to keep
    (e.g. ``("3304",)`` for 嘉兴市), households scaled to those counties' share of the province.
    """
    from tqdm import tqdm

    from gridmap.io import atomic_output, write_layer
    from gridmap.io.parquet import _replace_folder

    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    extract = load_province()
    chosen = extract.counties
    if counties:
        keep = chosen["code"].map(lambda c: any(c.startswith(p) for p in counties))
        chosen = chosen[keep.to_numpy()]
        if chosen.empty:
            raise ValueError(f"no county code starts with {', '.join(counties)}")
    with_units = chosen["code"].isin(extract.children)
    skipped = chosen.loc[~with_units.to_numpy(), "code"].tolist()
    chosen = chosen[with_units.to_numpy()]
    plan = plan_households(extract, PROVINCE_HOUSEHOLDS)
    mine = [c for county in chosen["code"] for s in extract.children[county]
            for c in extract.children.get(s, [])]  # fmt: skip
    planned = sum(plan[c] for c in mine)
    # the households asked for, spread like the whole province's plan over these communities
    scaled = plan_households_subset(plan, mine, households if planned else 0)
    temp = out / f".addresses.parquet.tmp-{seed}-{time.time_ns()}"
    temp.mkdir()
    rows, boundaries, n_addresses, n_households = [], [], 0, 0
    try:
        bar = tqdm(total=len(chosen), desc="province", unit="county", disable=not progress)
        for county, name, polygon in zip(
            chosen["code"], chosen["name"], chosen.geometry, strict=True
        ):
            rng = np.random.default_rng([seed, int(county)])
            streets = extract.children[county]
            street_geoms = split(rng, polygon, len(streets))
            boundaries.append(
                (county, extract.names.get(county, name), "district", county[:4], polygon)
            )
            codes, geoms = [], []
            for street, street_geom in zip(streets, street_geoms, strict=True):
                boundaries.append((street, extract.names[street], "street", county, street_geom))
                communities = extract.children.get(street, [])
                for code, geom in zip(
                    communities,
                    split(rng, street_geom, len(communities)) if communities else [],
                    strict=True,
                ):
                    boundaries.append((code, extract.names[code], "community", street, geom))
                    codes.append(code)
                    geoms.append(geom)
            frame = _county_addresses(rng, extract, county, codes, geoms, scaled)
            if len(frame):
                folder = temp / f"district_code={county}"
                folder.mkdir()
                frame["district"] = extract.names.get(county, name)
                points = gpd.points_from_xy(frame["lon"], frame["lat"], crs=STORAGE_CRS)
                gpd.GeoDataFrame(frame, geometry=points).to_parquet(
                    folder / "part-0.parquet", index=False, compression="zstd"
                )
                n_addresses += len(frame)
                n_households += int(frame["households"].sum())
            rows.append((county, len(streets), len(codes), len(frame)))
            del frame
            bar.update()
        bar.close()
        units = gpd.GeoDataFrame(
            pd.DataFrame(boundaries, columns=["code", "name", "level", "parent_code", "geometry"]),
            geometry="geometry",
            crs=STORAGE_CRS,
        )
        units.loc[units["level"] == "district", "parent_code"] = np.nan
        write_layer(units, out / "boundaries.gpkg", layer="boundaries")
        _replace_folder(temp, out / "addresses.parquet")
    except BaseException:
        import shutil

        shutil.rmtree(temp, ignore_errors=True)
        raise
    summary = {
        "out_dir": str(out),
        "counties": len(rows),
        "skipped_counties": skipped,
        "streets": sum(r[1] for r in rows),
        "communities": sum(r[2] for r in rows),
        "addresses": n_addresses,
        "households": n_households,
        "seconds": round(time.perf_counter() - started, 1),
    }
    with atomic_output(out / "README.txt") as readme:
        readme.write_text(
            _readme({k: v for k, v in summary.items() if k not in ("seconds", "out_dir")}),
            encoding="utf-8",
        )
    return summary


def plan_households_subset(plan: dict[str, int], communities: list[str], total: int) -> dict:
    """``plan`` restricted to ``communities`` and rescaled to ``total`` (largest remainder)."""
    if not communities:
        return {}
    base = np.array([plan[c] for c in communities], dtype=float)
    exact = base / max(base.sum(), 1.0) * total
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(-(exact - counts), kind="stable")[: total - int(counts.sum())]] += 1
    return dict(zip(communities, counts.tolist(), strict=True))


def _readme(summary: dict) -> str:
    buffer = io.StringIO()
    buffer.write("Synthetic province on the real county outlines and division codes of 浙江省\n")
    buffer.write(
        "(gridmap sample --province; sources and licences: gridmap/sample/boundaries/).\n\n"
    )
    buffer.write(json.dumps(summary, ensure_ascii=False, indent=1) + "\n")
    return buffer.getvalue()
