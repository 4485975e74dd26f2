"""Border points under a neighbour's exclusive grid: settled by the edge rule once grids exist.

Before any grid exists, a point on the border of two communities goes to the community whose
exclusive site covers it, else to the one of lower code (:func:`inputs.point_communities`). An
exclusive grid is more than its site, though: the units around the site join it, so it can grow
to its community's border and cover a border point that the neighbour partitioned. The edge
rule (:mod:`gridmap.rules.grid_index`: exclusive first, then the lower code) gives such a point
to the exclusive grid, as publish, the store and the incident API will. So the point moves to
that grid, and the community it left is partitioned again without it. A move can change the
grids of the community partitioned again; a few rounds settle that, and the checks report any
point still given another grid than the edge rule's.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely

from gridmap.partition.community import CommunityResult, CommunityTask
from gridmap.partition.inputs import PointCommunities
from gridmap.rules.grid_index import locate_in

MAX_ROUNDS = 3


@dataclass(frozen=True)
class Move:
    """A distinct point leaving community task ``source`` for exclusive draft ``draft`` of
    community task ``target``."""

    point: int
    source: int
    target: int
    draft: int


def settle(
    tasks: list[CommunityTask],
    indices: list[np.ndarray],
    results: list[CommunityResult],
    coordinates: np.ndarray,
    border: PointCommunities,
    number: Callable[[CommunityTask, CommunityResult], list[str]],
    run: Callable[[list[CommunityTask]], list[CommunityResult]],
) -> tuple[list[CommunityTask], list[np.ndarray], list[CommunityResult]]:
    """Tasks, point indices and results once every border point is where the edge rule puts it.

    Task ``k`` partitions community row ``k``, ``indices[k]`` are its rows of ``coordinates``
    (the distinct points); ``number(task, result)`` gives the grid codes of the result's drafts;
    ``run`` partitions some tasks again.
    """
    tasks, indices, results = list(tasks), list(indices), list(results)
    for _ in range(MAX_ROUNDS):
        moves = find_moves(tasks, indices, results, coordinates, border, number)
        if not moves:
            break
        sources = sorted({move.source for move in moves})
        for move in moves:
            _move_point(tasks, indices, results, move, patch=move.target not in sources)
        for k, result in zip(sources, run([tasks[k] for k in sources]), strict=True):
            results[k] = result
    return tasks, indices, results


def find_moves(
    tasks: list[CommunityTask],
    indices: list[np.ndarray],
    results: list[CommunityResult],
    coordinates: np.ndarray,
    border: PointCommunities,
    number: Callable[[CommunityTask, CommunityResult], list[str]],
) -> list[Move]:
    """Border points that an exclusive grid of another community wins by the edge rule."""
    points = border.border
    where = [  # every exclusive draft, as (task, draft)
        (k, d)
        for k, result in enumerate(results)
        for d, draft in enumerate(result.grids)
        if draft.kind == "exclusive"
    ]
    if len(points) == 0 or not where:
        return []
    geometries = [results[k].grids[d].geometry for k, d in where]
    hit_point, hit_draft = shapely.STRtree(geometries).query(
        shapely.points(coordinates[points]), predicate="intersects"
    )
    if len(hit_point) == 0:
        return []
    owner, position = _owners(indices)
    challengers: dict[int, list[tuple[int, int]]] = {}
    for p, e in zip(points[hit_point].tolist(), hit_draft.tolist(), strict=True):
        if where[e][0] != owner[p]:
            challengers.setdefault(p, []).append(where[e])
    codes_of = functools.cache(lambda k: number(tasks[k], results[k]))
    moves = []
    for p, others in challengers.items():
        k = int(owner[p])
        grids = [(k, int(results[k].point_grid[position[p]])), *others]
        codes = [codes_of(t)[d] for t, d in grids]
        # the edge rule's one home decides among the grids holding the point
        winner = locate_in(
            codes,
            [results[t].grids[d].kind for t, d in grids],
            [results[t].grids[d].geometry for t, d in grids],
            *coordinates[p],
        )
        target, draft = grids[codes.index(winner)]
        if target != k:
            moves.append(Move(p, k, target, draft))
    return moves


def _owners(indices: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The task holding each distinct point, and the point's position in that task."""
    n = sum(len(mine) for mine in indices)
    owner = np.full(n, -1, np.int64)
    position = np.full(n, -1, np.int64)
    for k, mine in enumerate(indices):
        owner[mine] = k
        position[mine] = np.arange(len(mine))
    return owner, position


def _move_point(tasks, indices, results, move: Move, patch: bool) -> None:
    """Take the point out of its source task and into its target's; ``patch``: the target is
    not partitioned again, so its result takes the point into the draft directly."""
    source, target = tasks[move.source], tasks[move.target]
    at = int(np.flatnonzero(indices[move.source] == move.point)[0])
    keep = np.ones(len(indices[move.source]), bool)
    keep[at] = False
    fields = [name for name in _POINT_FIELDS if getattr(source, name) is not None]
    taken = {name: getattr(source, name)[at] for name in fields}
    tasks[move.source] = dataclasses.replace(
        source, **{name: getattr(source, name)[keep] for name in fields}
    )
    indices[move.source] = indices[move.source][keep]
    tasks[move.target] = dataclasses.replace(
        target,
        **{name: np.concatenate([getattr(target, name), [taken[name]]]) for name in fields},
    )
    indices[move.target] = np.append(indices[move.target], move.point)
    if patch:
        result = results[move.target]
        result.point_grid = np.append(result.point_grid, move.draft)
        draft = result.grids[move.draft]
        draft.households += int(taken["households"])
        draft.population += int(taken["population"])


_POINT_FIELDS = ("points", "households", "population", "buildings")
