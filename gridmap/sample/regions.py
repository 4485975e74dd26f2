"""Splitting blocks into balanced, contiguous regions, and splitting whole numbers fairly.

Streets are regions of a district's blocks and communities regions of a street's blocks; both
come from ``bisect_regions``. Household quotas come from ``banded`` and ``integer_split``.
"""

from __future__ import annotations

import numpy as np

MIN_COMMUNITY_HH, MAX_COMMUNITY_HH = 1500, 6000  # urban communities (社区) hold 1,500-6,000


def bisect_regions(
    members: list[int],
    neighbours: list[list[int]],
    xy: np.ndarray,
    weight: np.ndarray,
    targets: list[float],
) -> dict[int, int]:
    """Split ``members`` into regions whose weights follow ``targets``, by recursive bisection.

    The blocks are cut across their longer side (east-west or north-south, the directions of the
    road lattice, so cuts run along roads) where the cumulative weight reaches the first half of
    the targets' share; each side is cut again until one region remains. Regions come out
    compact and balanced to within a block. Stray pieces (a cut through a concave outline) are
    then handed to the neighbouring region they touch most. Returns block -> region number.

    >>> xy = np.array([[x, y] for x in range(4) for y in range(2)], dtype=float)
    >>> nb = [[k for k in range(8) if abs(xy[k] - xy[b]).sum() == 1] for b in range(8)]
    >>> label = bisect_regions(list(range(8)), nb, xy, np.ones(8), [1.0, 3.0])
    >>> [label[k] for k in range(8)]
    [0, 0, 1, 1, 1, 1, 1, 1]
    """
    label: dict[int, int] = {}
    stack = [(np.array(members), list(range(len(targets))))]
    while stack:
        blocks, regions = stack.pop()
        if len(regions) == 1 or len(blocks) <= 1:
            for b in blocks.tolist():
                label[b] = regions[0]
            continue
        half = len(regions) // 2
        first, second = regions[:half], regions[half:]
        share = sum(targets[r] for r in first) / sum(targets[r] for r in regions)
        points = xy[blocks]
        span = points.max(axis=0) - points.min(axis=0)
        axis = 0 if span[0] >= span[1] else 1
        order = np.lexsort((points[:, 1 - axis], points[:, axis]))
        cumulative = np.cumsum(weight[blocks][order])
        cut = int(np.searchsorted(cumulative, share * cumulative[-1]))
        cut = int(np.clip(cut + 1, len(first), len(blocks) - len(second)))
        stack.append((blocks[order[:cut]], first))
        stack.append((blocks[order[cut:]], second))
    _make_contiguous(label, neighbours, {b: float(weight[b]) for b in members})
    return label


def _make_contiguous(label: dict[int, int], neighbours: list[list[int]], mass_of: dict) -> None:
    """Hand each region's stray pieces to the neighbouring region they share most edges with."""
    for _ in range(6):
        moved = False
        for region in sorted(set(label.values())):
            pieces = _components([b for b, r in label.items() if r == region], neighbours, label)
            if len(pieces) <= 1:
                continue
            pieces.sort(key=lambda piece: (-sum(mass_of[b] for b in piece), min(piece)))
            for piece in pieces[1:]:
                touching: dict[int, int] = {}
                for b in piece:
                    for other in neighbours[b]:
                        if other in label and label[other] != region:
                            touching[label[other]] = touching.get(label[other], 0) + 1
                if touching:  # an island of the real outline stays where it is
                    target = max(sorted(touching), key=lambda r: touching[r])
                    for b in piece:
                        label[b] = target
                    moved = True
        if not moved:
            return


def _components(
    blocks: list[int], neighbours: list[list[int]], label: dict[int, int]
) -> list[list[int]]:
    todo = set(blocks)
    pieces = []
    while todo:
        start = min(todo)
        todo.discard(start)
        piece, stack = [start], [start]
        while stack:
            for other in neighbours[stack.pop()]:
                if other in todo:
                    todo.discard(other)
                    piece.append(other)
                    stack.append(other)
        pieces.append(piece)
    return pieces


def banded(
    total: float, weights: np.ndarray, low: float = MIN_COMMUNITY_HH, high: float = MAX_COMMUNITY_HH
) -> np.ndarray:
    """Shares of ``total`` proportional to ``weights`` but kept within [low, high] when the mean
    allows it (water-filling: clamped shares are fixed, the rest rescaled).

    >>> banded(9000, np.array([1.0, 1.0, 10.0]), 1500, 6000).round().tolist()
    [1500.0, 1500.0, 6000.0]
    """
    shares = total * weights / weights.sum()
    if not low * len(weights) <= total <= high * len(weights):
        return shares
    fixed = np.zeros(len(weights), dtype=bool)
    for _ in range(len(weights)):
        free = ~fixed
        rest = total - shares[fixed].sum()
        shares[free] = rest * weights[free] / weights[free].sum()
        out = free & ((shares < low) | (shares > high))
        if not out.any():
            break
        shares[out] = np.clip(shares[out], low, high)
        fixed |= out
    return shares


def integer_split(total: int, weights: np.ndarray) -> np.ndarray:
    """Whole numbers proportional to ``weights`` summing exactly to ``total`` (largest remainder).

    >>> integer_split(10, np.array([1.0, 1.0, 1.0])).tolist()
    [4, 3, 3]
    """
    raw = total * weights / weights.sum()
    base = np.floor(raw).astype(np.int64)
    remainder = total - int(base.sum())
    order = np.argsort(-(raw - base), kind="stable")
    base[order[:remainder]] += 1
    return base
