"""A deterministic sample city to demo, test and benchmark on.

The outer boundary is real (嘉兴市 南湖区 and 秀洲区, CGCS2000) and so are the street and community
names and codes; everything inside (blocks, roads, rivers, buildings, rooms, sites) is synthetic,
generated from a seed. ``build_city(out_dir, households=60000, seed=1)`` writes the files and
returns a summary dict.
"""

from gridmap.sample.build import DEFAULT_HOUSEHOLDS, DEFAULT_SEED, build_city

__all__ = ["DEFAULT_HOUSEHOLDS", "DEFAULT_SEED", "build_city"]
