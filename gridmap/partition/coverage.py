"""Whether pieces tile their parent exactly (grids a community, micro-grids a grid): the areas
that decide it, measured where the pieces are made (a community's task, on a worker), and the
one verdict :mod:`gridmap.partition.checks` gives on them.

Areas are compared in a local linear metric (degrees scaled to metres at the parent): a linear
map keeps area ratios exact, while reprojecting would bend each lon/lat edge split by a node by
~1e-5 m2 and blur the comparison at the 1e-9 level. Reported areas use Gauss-Kruger.

>>> from shapely import box
>>> figures = measure([box(0, 0, 0.01, 0.01), box(0.01, 0, 0.02, 0.01)], box(0, 0, 0.02, 0.01))
>>> verdict(figures, "330402001001", unit="grid", parent="community")
[]
>>> verdict(measure([box(0, 0, 0.01, 0.01)], box(0, 0, 0.02, 0.01)), "c", "grid", "community")
['community c: grids cover 1230909.763313 m2 of 2461819.526626 m2']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from gridmap.partition.adjacency import metric_scale_for

RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Coverage:
    """Areas in m2 (local metric) of a parent and of the pieces made of it."""

    pieces: int  # how many pieces were measured
    parent_m2: float
    union_m2: float  # the pieces' union
    summed_m2: float  # the pieces' areas added up (more than the union: they overlap)
    outer_m2: float  # the union of pieces and parent (more than the parent: pieces reach out)


def measure(pieces: Sequence, parent) -> Coverage:
    """The areas that tell whether ``pieces`` tile ``parent``."""
    pieces = np.asarray(pieces, dtype=object)
    minx, miny, maxx, maxy = shapely.bounds(parent)
    sx, sy = metric_scale_for((miny + maxy) / 2.0)
    scale = sx * sy
    union = shapely.union_all(pieces)
    return Coverage(
        pieces=len(pieces),
        parent_m2=float(shapely.area(parent)) * scale,
        union_m2=float(shapely.area(union)) * scale,
        summed_m2=float(shapely.area(pieces).sum()) * scale,
        outer_m2=float(shapely.area(shapely.union(union, parent))) * scale,
    )


def verdict(
    figures: Coverage, code: str, unit: str, parent: str, floor_m2: float = 0.0
) -> list[str]:
    """What is wrong (empty: nothing) with how the pieces cover parent ``code``; ``floor_m2``:
    the least area difference that counts, however small the parent."""
    out = []
    tolerance = max(RELATIVE_TOLERANCE * figures.parent_m2, floor_m2)
    union, whole = figures.union_m2, figures.parent_m2
    if abs(union - whole) > tolerance:
        out.append(f"{parent} {code}: {unit}s cover {union:.6f} m2 of {whole:.6f} m2")
    if figures.summed_m2 - union > tolerance:
        out.append(f"{parent} {code}: {unit}s overlap by {figures.summed_m2 - union:.6g} m2")
    if figures.outer_m2 - whole > tolerance:
        out.append(f"{parent} {code}: {unit}s reach {figures.outer_m2 - whole:.6g} m2 outside it")
    return out
