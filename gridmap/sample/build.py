"""Build the sample city and write it to a folder: ``build_city``, the one entry point.

Planning (window, divisions, sites) is small and done first; addresses are then generated one
community at a time and streamed to the CSV, so memory stays bounded at millions of rooms.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from tqdm import tqdm

from gridmap.io import write_layer
from gridmap.sample.addresses import HEADER, Compound, place_households, room_rows, site_row
from gridmap.sample.buildings import SETBACK_M, compound_names
from gridmap.sample.divisions import CITY, PROVINCE, RealExtract, load_extract
from gridmap.sample.layers import barriers_frame, boundaries_frame, readme_text, sites_frame
from gridmap.sample.layout import (
    GRID_SIZE,
    Blocks,
    Community,
    Lattice,
    make_lattice,
    plan_divisions,
    select_window,
)
from gridmap.sample.output import CsvStream, staging
from gridmap.sample.roads import Frontage, RoadNames
from gridmap.sample.sites import SitePlan, plan_sites, site_polygon

DEFAULT_HOUSEHOLDS = 60_000
DEFAULT_SEED = 1
SITE_CLEARANCE_M = 12.0  # homes keep this far from a site's fence


@dataclass
class Plan:
    """Everything decided before the first address is written."""

    extract: RealExtract
    lattice: Lattice
    blocks: Blocks
    street_blocks: dict[str, list[int]]
    communities: list[Community]
    names: RoadNames
    frontage: Frontage
    sites: dict[int, SitePlan]  # block -> its site
    metres: np.ndarray  # block polygons in the Gauss-Kruger zone


def plan_city(households: int, seed: int) -> Plan:
    extract = load_extract()
    lattice = make_lattice(seed)
    blocks = select_window(extract, lattice, households)
    street_blocks, communities = plan_divisions(extract, blocks, households, seed)
    names = RoadNames(seed)
    sites = {p.block: p for p in plan_sites(extract, blocks, communities, seed)}
    metres = shapely.transform(
        blocks.geometry,
        lambda xy: np.column_stack(lattice.to_metres.transform(xy[:, 0], xy[:, 1])),
    )
    frontage = Frontage(names, lattice, blocks)
    return Plan(
        extract, lattice, blocks, street_blocks, communities, names, frontage, sites, metres
    )


def build_city(
    out_dir: str | Path,
    households: int = DEFAULT_HOUSEHOLDS,
    seed: int = DEFAULT_SEED,
    *,
    progress: bool = False,
) -> dict:
    """Build the sample city into ``out_dir`` and return its summary figures.

    Writes boundaries.gpkg, addresses.csv, barriers.gpkg, sites.gpkg and README.txt, all or
    none (a failure leaves no file behind); the same ``households`` and ``seed`` give
    byte-identical files.
    """
    if households < 1:
        raise ValueError("households must be at least 1")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    plan = plan_city(households, seed)
    rng = np.random.default_rng([seed, 7])
    compounds = iter(compound_names(len(plan.blocks.geometry), np.random.default_rng([seed, 6])))
    summary = {"households": 0, "population": 0, "addresses": 0, "rooms": 0, "buildings": 0}
    site_records: list[tuple] = []
    with staging(out_dir) as stage:
        stream = CsvStream(stage.temp_for("addresses.csv"), HEADER)
        bar = tqdm(total=households, unit="hh", desc="addresses", disable=not progress)
        try:
            for community in plan.communities:
                rows, sites, buildings = _community(plan, community, rng, compounds)
                stream.write(rows)
                site_records.extend(sites)
                placed = sum(row[4] for row in rows)
                summary["households"] += placed
                summary["population"] += sum(row[5] for row in rows)
                summary["rooms"] += placed
                summary["addresses"] += len(rows)
                summary["buildings"] += buildings
                bar.update(placed)
        finally:
            bar.close()
            stream.close()
        boundaries = boundaries_frame(
            plan.extract, plan.blocks, plan.street_blocks, plan.communities
        )
        write_layer(boundaries, stage.temp_for("boundaries.gpkg"), layer="boundaries")
        sites = sites_frame(site_records)
        write_layer(sites, stage.temp_for("sites.gpkg"), layer="sites")
        barriers = barriers_frame(plan.names, plan.lattice, plan.blocks, sites)
        write_layer(barriers, stage.temp_for("barriers.gpkg"), layer="barriers")
        counts = plan_counts(plan)
        summary.update(
            seed=seed,
            districts=int((boundaries["level"] == "district").sum()),
            streets=int((boundaries["level"] == "street").sum()),
            communities=len(plan.communities),
            community_households_min=min(counts),
            community_households_max=max(counts),
            sites=len(sites),
            barriers=len(barriers),
            area_km2=round(float(plan.blocks.area_m2.sum()) / 1e6, 3),
            bounds=[round(v, 5) for v in shapely.total_bounds(boundaries.geometry.values).tolist()],
        )
        stage.temp_for("README.txt").write_text(readme_text(summary), encoding="utf-8")
    summary["seconds"] = round(time.perf_counter() - started, 2)
    summary["out_dir"] = str(out_dir)
    return summary


def plan_counts(plan: Plan) -> list[int]:
    return [c.households for c in plan.communities]


def _community(plan: Plan, community: Community, rng, compounds) -> tuple[list, list, int]:
    """(address rows, site records, building count) of one community."""
    lattice, blocks = plan.lattice, plan.blocks
    code = community.division.code
    head = (
        PROVINCE,
        CITY,
        plan.extract.district_names[community.district_code],
        community.street.name,
        community.division.short,
    )
    rows: list[list] = []
    sites: list[tuple] = []
    zones = {}
    for k in community.blocks:
        zone = shapely.buffer(plan.metres[k], -SETBACK_M)
        site = plan.sites.get(k)
        if site is not None:
            polygon = site_polygon(plan.metres[k], site)
            gate = np.array(shapely.point_on_surface(polygon).coords[0])
            road, door = plan.frontage(tuple(blocks.cell[k]), gate, int(rng.integers(4)))
            gate_lonlat = _to_lonlat(lattice, gate[None, :])[0]
            rows.append(site_row(head, site.site_id, code, site.name, road, door, gate_lonlat))
            outline = shapely.set_precision(_geometry_to_lonlat(lattice, polygon), GRID_SIZE)
            sites.append((site.site_id, site.name, site.category, site.headcount, code, outline))
            zone = shapely.difference(zone, shapely.buffer(polygon, SITE_CLEARANCE_M))
        if blocks.buildable[k] and not (site and site.side == "whole") and zone.area > 0:
            zones[k] = zone
    placed, left = place_households(zones, community.households, rng)
    if left:
        raise RuntimeError(f"community {code}: {left} households found no room")
    seq = 0
    n_buildings = 0
    for k, buildings in placed.items():
        centre = np.array(zones[k].centroid.coords[0])
        road, door = plan.frontage(tuple(blocks.cell[k]), centre, int(rng.integers(4)))
        compound = Compound(next(compounds), road, door, buildings)
        points = [_to_lonlat(lattice, b.unit_points()) for b in buildings]
        new = list(room_rows(head, code, compound, points, rng, seq))
        seq += len(new)
        rows.extend(new)
        n_buildings += len(buildings)
    return rows, sites, n_buildings


def _to_lonlat(lattice: Lattice, xy: np.ndarray) -> np.ndarray:
    lon, lat = lattice.to_lonlat.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def _geometry_to_lonlat(lattice: Lattice, geometry: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geometry, lambda xy: _to_lonlat(lattice, xy))
