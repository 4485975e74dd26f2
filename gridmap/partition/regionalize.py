"""Group units into contiguous regions within household bounds: recursive bisection, then repair.

Each connected piece of a community gets ``k`` regions, the count whose mean household size lies
closest to the middle of the band while ``k * min <= households <= k * max`` (and population and
area caps allow). The piece is cut in two along a sweep line (4 directions tried) at a position
that keeps both sides feasible for their share of ``k``, minimising the cut's cost (shared edge
length, edges on barriers cheaper, so cuts follow roads and rivers) plus an imbalance term; the
sides are made contiguous and cut again until every region is one grid. A local repair then moves
boundary units between neighbouring regions (or merges regions) while that lowers the total bound
violation, and a last one moves them towards the headroom band (``HEADROOM`` inside the bounds,
so that a later small change of households leaves the grids in band). Work is
O(units log units) per level: no n x n matrices.

>>> import numpy as np
>>> xs, ys = np.meshgrid(np.arange(10.0), np.arange(10.0))
>>> cells = np.arange(100).reshape(10, 10)
>>> i = np.r_[cells[:, :-1].ravel(), cells[:-1, :].ravel()]
>>> j = np.r_[cells[:, 1:].ravel(), cells[1:, :].ravel()]
>>> bounds = Bounds(min_households=300, max_households=500)
>>> labels = regionalize(xs.ravel(), ys.ravel(), np.full(100, 40), np.zeros(100, int),
...                      np.ones(100), i, j, np.ones(len(i)), bounds)
>>> sorted(np.bincount(labels, weights=np.full(100, 40)).astype(int).tolist())
[400, 400, 400, 400, 400, 400, 400, 400, 400, 400]
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

_DIRECTIONS = [(math.cos(math.radians(a)), math.sin(math.radians(a))) for a in (0, 90, 45, 135)]
_CANDIDATES_PER_SWEEP = 2
_CANDIDATES_TRIED = 6
_IMBALANCE_WEIGHT = 1.0
_VIOLATION_WEIGHT = 1000.0
# Grids are drawn to weather a +-5% household change: where a cut, a repair or a smoothing move
# has the choice, it keeps regions within [min * (1 + HEADROOM), max * (1 - HEADROOM)], so that a
# later re-partition with --previous finds them still in band and leaves them exactly as they are.
# 5% of the band's ends is not enough: a 5% change of a community does not land evenly on its
# grids (on the sample city one grid in 20 at 6% headroom left the band after a 5% change, none at
# 8%; benchmarks/partition_bench.py --stability). The price is compactness: median Polsby-Popper
# 0.65 -> 0.63 on the sample city.
HEADROOM = 0.08
_HEADROOM_WEIGHT = 10.0


@dataclass(frozen=True)
class Bounds:
    """Hard bounds of one region; ``inf`` where there is no cap."""

    min_households: float
    max_households: float
    max_population: float = math.inf
    max_area_m2: float = math.inf

    @property
    def target(self) -> float:
        return (self.min_households + self.max_households) / 2.0

    @property
    def comfort(self) -> Bounds:
        """The band shrunk by ``HEADROOM`` at both ends (to the target when that crosses).

        >>> Bounds(300, 500).comfort.min_households, Bounds(300, 500).comfort.max_households
        (324.0, 460.0)
        """
        low = self.min_households * (1 + HEADROOM)
        high = self.max_households * (1 - HEADROOM)
        if low > high:
            low = high = self.target
        return Bounds(low, high, self.max_population, self.max_area_m2)

    def violation(self, households, population, area, k=1):
        """Relative amount by which k regions holding these totals must break the bounds."""
        if isinstance(households, float | int) and not isinstance(households, bool):
            return self._scalar_violation(float(households), float(population), float(area), k)
        households = np.asarray(households, dtype=float)
        v = np.maximum(0.0, k * self.min_households - households) / max(self.target, 1.0)
        v = v + np.maximum(0.0, households - k * self.max_households) / max(self.target, 1.0)
        if math.isfinite(self.max_population):
            v = v + np.maximum(0.0, population - k * self.max_population) / self.max_population
        if math.isfinite(self.max_area_m2):
            v = v + np.maximum(0.0, area - k * self.max_area_m2) / self.max_area_m2
        return v

    def _scalar_violation(self, households: float, population: float, area: float, k) -> float:
        target = max(self.target, 1.0)
        v = max(0.0, k * self.min_households - households) / target
        v += max(0.0, households - k * self.max_households) / target
        if population > k * self.max_population:
            v += (population - k * self.max_population) / self.max_population
        if area > k * self.max_area_m2:
            v += (area - k * self.max_area_m2) / self.max_area_m2
        return v

    def region_count(self, households: float, population: float, area: float, units: int) -> int:
        """How many regions a connected piece should become (at least 1, at most ``units``)."""
        low = max(1, math.ceil(households / self.max_households - 1e-9))
        if math.isfinite(self.max_population):
            low = max(low, math.ceil(population / self.max_population - 1e-9))
        if math.isfinite(self.max_area_m2):
            low = max(low, math.ceil(area / self.max_area_m2 - 1e-9))
        high = math.floor(households / self.min_households + 1e-9) if self.min_households else units
        low, high = min(low, units), min(max(high, 1), units)
        if low <= high:
            return int(min(max(round(households / self.target), low), high))
        # Infeasible: the count with the smaller violation (ties: fewer regions).
        options = sorted({low, high})
        scores = [float(self.violation(households / k, population / k, area / k)) for k in options]
        return int(options[int(np.argmin(scores))])


class _Graph:
    """Symmetric weighted adjacency in CSR form."""

    def __init__(self, n: int, i, j, cost) -> None:
        i, j = np.asarray(i, np.int64), np.asarray(j, np.int64)
        cost = np.asarray(cost, float)
        matrix = coo_matrix((np.r_[cost, cost], (np.r_[i, j], np.r_[j, i])), shape=(n, n))
        self.csr: csr_matrix = matrix.tocsr()
        self.csr.sum_duplicates()
        self.indptr, self.indices, self.weights = self.csr.indptr, self.csr.indices, self.csr.data
        coo = self.csr.tocoo()
        upper = coo.row < coo.col
        self.ei, self.ej, self.ew = coo.row[upper], coo.col[upper], coo.data[upper]

    def neighbours(self, u: int) -> np.ndarray:
        return self.indices[self.indptr[u] : self.indptr[u + 1]]


def _components(m: int, r: np.ndarray, c: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components of m nodes and edges (r, c): union-find in Python for small graphs
    (scipy's per-call overhead dominates there), scipy for big ones."""
    if m > 256:
        graph = coo_matrix((np.ones(len(r)), (r, c)), shape=(m, m))
        return connected_components(graph, directed=False)
    parent = list(range(m))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in zip(r.tolist(), c.tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = [find(a) for a in range(m)]
    _, comp = np.unique(np.asarray(roots), return_inverse=True)
    return int(comp.max()) + 1 if m else 0, comp


def _make_contiguous(r, c, side: np.ndarray) -> tuple[np.ndarray, bool]:
    """Move stray components of each side to the other side; True when anything moved."""
    fixed = False
    for value in (True, False):
        members = side == value
        count_members = int(members.sum())
        if count_members <= 1:
            continue
        position = np.cumsum(members) - 1
        inside = members[r] & members[c]
        count, comp = _components(count_members, position[r[inside]], position[c[inside]])
        if count <= 1:
            continue
        keep = int(np.argmax(np.bincount(comp)))
        stray = np.flatnonzero(members)[comp != keep]
        side[stray] = not value
        fixed = True
    return side, fixed


def regionalize(
    x,
    y,
    households,
    population,
    area,
    edge_i,
    edge_j,
    edge_cost,
    bounds: Bounds,
    initial: np.ndarray | None = None,
) -> np.ndarray:
    """Region label (0..R-1) of each unit; every region is connected in the graph.

    ``initial`` (labels, -1 for none) starts from an earlier partition instead of bisecting:
    feasible regions stay as they are, the others are repaired or re-cut (stable re-coding).
    Last, units move between neighbouring regions towards the headroom band (``Bounds.comfort``)
    where that breaks no bound, so that no region sits on the edge of the band.

    >>> import numpy as np
    >>> xs = np.arange(10.0)
    >>> start = np.r_[np.zeros(6, int), np.ones(4, int)]  # 6 x 85 = 510: above the band
    >>> labels = regionalize(xs, np.zeros(10), np.full(10, 85), np.zeros(10), np.ones(10),
    ...                      np.arange(9), np.arange(1, 10), np.ones(9), Bounds(300, 500),
    ...                      initial=start)
    >>> labels.tolist()  # one unit moved across the shared edge, no region cut afresh
    [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    """
    n = len(households)
    if n == 0:
        return np.zeros(0, np.int64)
    data = _Data(x, y, households, population, area, _Graph(n, edge_i, edge_j, edge_cost), bounds)
    if initial is None:
        labels = data.improve(data.bisect_all())
    else:
        labels = data.improve(data.from_initial(np.asarray(initial, np.int64)))
        # Moving units between the earlier regions can get stuck where cutting afresh meets the
        # bounds (a region short of households whose only neighbour has none to spare): the
        # bounds come first, so the fresh cut is taken when it breaks them less.
        fresh = data.improve(data.bisect_all())
        if data.violation(fresh) < data.violation(labels) - 1e-9:
            labels = fresh
    return _relabel(labels)


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Consecutive labels in order of each region's first unit (deterministic)."""
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first, kind="stable")
    mapping = np.empty(labels.max() + 1, np.int64)
    mapping[np.unique(labels)[order]] = np.arange(len(order))
    return mapping[labels]


class _Data:
    def __init__(self, x, y, households, population, area, graph: _Graph, bounds: Bounds):
        self.x, self.y = np.asarray(x, float), np.asarray(y, float)
        self.h = np.asarray(households, float)
        self.p = np.asarray(population, float)
        self.a = np.asarray(area, float)
        self.g = graph
        self.b = bounds
        self.comfort = bounds.comfort

    def improve(self, labels: np.ndarray) -> np.ndarray:
        """Repair, re-cut, move towards the headroom band, smooth."""
        labels = self.repair(labels)
        labels = self.recut(labels)
        labels = self.repair(labels, soft=True)
        return self.smooth(labels)

    def violation(self, labels: np.ndarray) -> float:
        """Total bound violation of the regions ``labels`` draws (labels need not be consecutive).

        >>> d = _Data([0.0, 1.0], [0.0, 0.0], [400, 300], [0, 0], [1, 1], _Graph(2, [0], [1], [1]),
        ...           Bounds(300, 500))
        >>> d.violation(np.array([3, 3])), d.violation(np.array([0, 5]))
        (0.5, 0.0)
        """
        present = np.unique(labels)
        th, tp, ta = self._totals(labels, int(labels.max()) + 1)
        return float(np.sum(self.b.violation(th[present], tp[present], ta[present])))

    # ---- recursive bisection -------------------------------------------------------------
    def bisect_all(self) -> np.ndarray:
        n = len(self.h)
        labels = np.full(n, -1, np.int64)
        _, component = connected_components(self.g.csr, directed=False)
        next_label = 0
        for c in np.unique(component):
            idx = np.flatnonzero(component == c)
            for part in self.bisect(idx):
                labels[part] = next_label
                next_label += 1
        return labels

    def count_for(self, idx: np.ndarray) -> int:
        return self.b.region_count(
            self.h[idx].sum(), self.p[idx].sum(), self.a[idx].sum(), len(idx)
        )

    def local_edges(self, idx: np.ndarray):
        """Edges (local indices r < c, cost w) of the subgraph induced by ``idx``."""
        position = np.full(len(self.h), -1, np.int64)
        position[idx] = np.arange(len(idx))
        g = self.g
        keep = (position[g.ei] >= 0) & (position[g.ej] >= 0)
        return position[g.ei[keep]], position[g.ej[keep]], g.ew[keep]

    def bisect(self, idx: np.ndarray, k: int | None = None) -> list[np.ndarray]:
        """Cut a connected set of units into ``k`` connected parts (``k`` chosen when None)."""
        out = []
        stack = [(idx, *self.local_edges(idx), self.count_for(idx) if k is None else k)]
        while stack:
            part, r, c, w, parts = stack.pop()
            if parts <= 1 or len(part) <= 1:
                out.append(part)
                continue
            side = self.best_cut(part, r, c, w, parts)
            if side is None:
                out.append(part)
                continue
            for value in (False, True):  # push B first so that A is cut first
                members = side == value
                position = np.cumsum(members) - 1
                inside = (side[r] == value) & (side[c] == value)
                sub = part[members]
                stack.append(
                    (sub, position[r[inside]], position[c[inside]], w[inside], self.count_for(sub))
                )
        return out

    def best_cut(self, idx: np.ndarray, r, c, w, k: int) -> np.ndarray | None:
        """Side mask (True: part A) of the best feasible, contiguous cut of ``idx`` into k."""
        m = len(idx)
        h, p, a = self.h[idx], self.p[idx], self.a[idx]
        total_h, total_p, total_a = h.sum(), p.sum(), a.sum()
        scale = math.sqrt(total_a) if total_a > 0 else max(1.0, float(w.sum()))
        splits = sorted({k // 2, k - k // 2})
        candidates = []
        x, y = self.x[idx], self.y[idx]
        for d, (cos, sin) in enumerate(_DIRECTIONS):
            order = np.lexsort((idx, x * cos + y * sin))
            rank = np.empty(m, np.int64)
            rank[order] = np.arange(m)
            lo, hi = np.minimum(rank[r], rank[c]), np.maximum(rank[r], rank[c])
            diff = np.bincount(lo + 1, weights=w, minlength=m + 1)
            diff -= np.bincount(hi + 1, weights=w, minlength=m + 1)
            cut = np.cumsum(diff)[1:m]
            ha = np.cumsum(h[order])[:-1]
            pa = np.cumsum(p[order])[:-1]
            aa = np.cumsum(a[order])[:-1]
            for ka in splits:
                kb = k - ka
                score = self._score(cut, scale, ha, pa, aa, total_h, total_p, total_a, ka, kb)
                best = np.argsort(score, kind="stable")[:_CANDIDATES_PER_SWEEP]
                for pos in best:
                    candidates.append((float(score[pos]), d, ka, int(pos) + 1, order))
        candidates.sort(key=lambda item: (item[0], item[1], item[2], item[3]))
        chosen, chosen_score = None, math.inf
        for score, _, ka, pos, order in candidates[:_CANDIDATES_TRIED]:
            side = np.zeros(m, bool)
            side[order[:pos]] = True
            side, fixed = _make_contiguous(r, c, side)
            if fixed:
                if not side.any() or side.all():
                    continue
                sums = [np.array([float(v[side].sum())]) for v in (h, p, a)]
                cut = np.array([float(w[side[r] != side[c]].sum())])
                args = (cut, scale, *sums, total_h, total_p, total_a, ka, k - ka)
                score = float(self._score(*args)[0])
            if score < chosen_score:
                chosen, chosen_score = side, score
                if not fixed:
                    break  # the best-scoring cut needed no repair: take it
        return chosen

    def _score(self, cut, scale, ha, pa, aa, total_h, total_p, total_a, ka, kb):
        b = self.b
        violation = b.violation(ha, pa, aa, ka) + b.violation(
            total_h - ha, total_p - pa, total_a - aa, kb
        )
        c = self.comfort
        soft = c.violation(ha, pa, aa, ka)
        soft = soft + c.violation(total_h - ha, total_p - pa, total_a - aa, kb)
        imbalance = np.abs(ha / ka - (total_h - ha) / kb) / max(b.target, 1.0)
        return (
            _VIOLATION_WEIGHT * violation
            + _HEADROOM_WEIGHT * soft
            + cut / scale
            + _IMBALANCE_WEIGHT * imbalance
        )

    # ---- warm start ------------------------------------------------------------------------
    def from_initial(self, initial: np.ndarray) -> np.ndarray:
        """Keep earlier regions where they are still connected; re-cut only the rest."""
        labels = initial.copy()
        n = len(labels)
        next_label = int(labels.max()) + 1 if n else 0
        # Split each earlier region into its connected pieces; the biggest keeps the label.
        for region in np.unique(labels[labels >= 0]):
            members = np.flatnonzero(labels == region)
            count, comp = connected_components(self.g.csr[members][:, members], directed=False)
            if count > 1:
                sizes = np.bincount(comp, weights=self.h[members] + 1e-6)
                keep = int(np.argmax(sizes))
                labels[members[comp != keep]] = -1
        # Units without a region join the neighbour region sharing the most edge, breadth first.
        self._absorb_unlabelled(labels)
        if (labels < 0).any():  # pieces with no labelled neighbour: bisect them afresh
            free = np.flatnonzero(labels < 0)
            count, comp = connected_components(self.g.csr[free][:, free], directed=False)
            for c in range(count):
                for part in self.bisect(free[comp == c]):
                    labels[part] = next_label
                    next_label += 1
        # Regions far out of band are re-cut into the right number of parts.
        for region in np.unique(labels):
            members = np.flatnonzero(labels == region)
            k = self.count_for(members)
            if k > 1:
                parts = self.bisect(members, k)
                parts.sort(key=lambda part: -self.h[part].sum())
                for part in parts[1:]:  # the biggest part keeps the earlier label
                    labels[part] = next_label
                    next_label += 1
        return labels

    def _totals(self, labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Households, population and area of each of ``count`` region labels."""
        return tuple(
            np.bincount(labels, weights=values, minlength=count)
            for values in (self.h, self.p, self.a)
        )

    def _absorb_unlabelled(self, labels: np.ndarray) -> None:
        queue = deque(np.flatnonzero(labels < 0).tolist())
        stalled = 0
        while queue and stalled <= len(queue):
            u = queue.popleft()
            nbrs = self.g.neighbours(u)
            weights = self.g.weights[self.g.indptr[u] : self.g.indptr[u + 1]]
            labelled = labels[nbrs] >= 0
            if not labelled.any():
                queue.append(u)
                stalled += 1
                continue
            stalled = 0
            best = np.lexsort((labels[nbrs][labelled], -weights[labelled]))[0]
            labels[u] = labels[nbrs][labelled][best]

    # ---- local repair ----------------------------------------------------------------------
    def repair(self, labels: np.ndarray, rounds: int = 4, soft: bool = False) -> np.ndarray:
        """Move boundary units or merge regions while the total bound violation drops.

        ``soft``: the violation of the headroom band counts too (weighted as in a cut's score,
        so no move trades a bound for headroom).
        """
        labels = labels.copy()
        count = int(labels.max()) + 1
        th, tp, ta = self._totals(labels, count)
        members = {r: set(np.flatnonzero(labels == r).tolist()) for r in range(count)}
        b = self.b
        c = self.comfort
        weight = _HEADROOM_WEIGHT / _VIOLATION_WEIGHT if soft else 0.0

        def viol(r_h, r_p, r_a) -> float:
            hard = b._scalar_violation(float(r_h), float(r_p), float(r_a), 1)
            if not weight:
                return hard
            return hard + weight * c._scalar_violation(float(r_h), float(r_p), float(r_a), 1)

        for _ in range(rounds):
            bad = [r for r in range(count) if members[r] and viol(th[r], tp[r], ta[r]) > 0]
            if not bad:
                break
            moved = False
            for r in sorted(bad, key=lambda r: (-viol(th[r], tp[r], ta[r]), r)):
                for _step in range(len(members[r]) + 8):
                    move = self._best_move(r, labels, members, th, tp, ta, viol)
                    if move is None:
                        break
                    u, src, dst = move
                    labels[u] = dst
                    members[src].discard(u)
                    members[dst].add(u)
                    for arr, val in ((th, self.h[u]), (tp, self.p[u]), (ta, self.a[u])):
                        arr[src] -= val
                        arr[dst] += val
                    moved = True
                    if not members[r] or viol(th[r], tp[r], ta[r]) == 0:
                        break
                if members[r] and viol(th[r], tp[r], ta[r]) > 0:
                    moved |= self._merge(r, labels, members, th, tp, ta, viol)
            if not moved:
                break
        return labels

    def recut(self, labels: np.ndarray) -> np.ndarray:
        """Re-cut each region still out of bounds together with its neighbour regions.

        The pooled parts keep the labels of the regions they overlap most (in households), so
        earlier codes survive; a pool is only replaced when that lowers its violation.
        """
        labels = labels.copy()
        next_label = int(labels.max()) + 1
        for _ in range(3):
            th, tp, ta = self._totals(labels, next_label)
            regions = np.flatnonzero(np.bincount(labels, minlength=next_label) > 0)
            bad = [int(r) for r in regions if self.b._scalar_violation(th[r], tp[r], ta[r], 1) > 0]
            changed = False
            done: set[int] = set()
            for r in bad:
                if r in done:
                    continue
                crossing = (labels[self.g.ei] == r) != (labels[self.g.ej] == r)
                touching = np.r_[labels[self.g.ei[crossing]], labels[self.g.ej[crossing]]]
                pool_labels = sorted(set(touching.tolist()) | {r})
                if done & set(pool_labels):
                    continue
                pool = np.flatnonzero(np.isin(labels, pool_labels))
                before = sum(self.b._scalar_violation(th[q], tp[q], ta[q], 1) for q in pool_labels)
                # the natural count first, then one region more (finer parts fit more easily)
                k0 = self.count_for(pool)
                best_after, parts, totals = math.inf, [], []
                for k in (k0, k0 + 1):
                    if k > len(pool) or k * self.b.min_households > self.h[pool].sum():
                        continue
                    trial = self.bisect(pool, k)
                    trial_totals = [
                        (self.h[x].sum(), self.p[x].sum(), self.a[x].sum()) for x in trial
                    ]
                    trial_after = sum(self.b._scalar_violation(*t, 1) for t in trial_totals)
                    if trial_after < best_after - 1e-9:
                        best_after, parts, totals = trial_after, trial, trial_totals
                    if best_after == 0:
                        break
                after = best_after
                if after >= before - 1e-9:
                    continue
                # each part takes the label it shares most households with (largest first)
                order = sorted(range(len(parts)), key=lambda k: (-totals[k][0], k))
                free = list(pool_labels)
                new = labels.copy()
                for k in order:
                    part = parts[k]
                    weight = {q: float(self.h[part][labels[part] == q].sum()) for q in free}
                    if free:
                        best = max(free, key=lambda q: (weight[q], -q))
                        free.remove(best)
                    else:
                        best = next_label
                        next_label += 1
                    new[part] = best
                labels = new
                done |= set(pool_labels) | set(range(len(th), next_label))
                changed = True
                th, tp, ta = self._totals(labels, next_label)
            if not changed:
                break
        return labels

    def smooth(self, labels: np.ndarray, rounds: int = 2) -> np.ndarray:
        """Move boundary units to the neighbouring region they share more edge cost with.

        Each move shortens the weighted boundary (edges on barriers are cheap, so boundaries slide
        onto streets, and shorter boundaries are more compact) and is taken only when it keeps
        both regions' bound violation from rising and the giving region connected.
        """
        labels = labels.copy()
        count = int(labels.max()) + 1
        th, tp, ta = self._totals(labels, count)
        members = {r: set(np.flatnonzero(labels == r).tolist()) for r in range(count)}
        indptr, indices, weights = self.g.indptr, self.g.indices, self.g.weights
        violation = self.b._scalar_violation
        comfort = self.b.comfort._scalar_violation
        for _ in range(rounds):
            crossing = labels[self.g.ei] != labels[self.g.ej]
            boundary = np.unique(np.r_[self.g.ei[crossing], self.g.ej[crossing]]).tolist()
            moved = 0
            for u in boundary:
                r = int(labels[u])
                if len(members[r]) <= 1:
                    continue
                start, stop = indptr[u], indptr[u + 1]
                shared: dict[int, float] = {}
                for v, w in zip(
                    indices[start:stop].tolist(), weights[start:stop].tolist(), strict=True
                ):
                    lab = int(labels[v])
                    shared[lab] = shared.get(lab, 0.0) + w
                own = shared.pop(r, 0.0)
                if not shared:
                    continue
                s_best = min(shared, key=lambda lab: (-shared[lab], lab))
                if shared[s_best] <= own * (1 + 1e-9):
                    continue
                h, p, a = self.h[u], self.p[u], self.a[u]
                before = violation(th[r], tp[r], ta[r], 1) + violation(
                    th[s_best], tp[s_best], ta[s_best], 1
                )
                after = violation(th[r] - h, tp[r] - p, ta[r] - a, 1) + violation(
                    th[s_best] + h, tp[s_best] + p, ta[s_best] + a, 1
                )
                if after > before + 1e-12:
                    continue
                soft_before = comfort(th[r], tp[r], ta[r], 1) + comfort(
                    th[s_best], tp[s_best], ta[s_best], 1
                )
                soft_after = comfort(th[r] - h, tp[r] - p, ta[r] - a, 1) + comfort(
                    th[s_best] + h, tp[s_best] + p, ta[s_best] + a, 1
                )
                if soft_after > soft_before + 1e-12 or not self._stays_connected(u, members[r]):
                    continue
                labels[u] = s_best
                members[r].discard(u)
                members[s_best].add(u)
                th[r] -= h
                tp[r] -= p
                ta[r] -= a
                th[s_best] += h
                tp[s_best] += p
                ta[s_best] += a
                moved += 1
            if not moved:
                break
        return labels

    def _best_move(self, r, labels, members, th, tp, ta, viol):
        """The unit move into or out of region r that lowers the total violation most."""
        best, best_gain = None, 1e-12
        for u in sorted(members[r]):
            for s in sorted(set(labels[self.g.neighbours(u)].tolist()) - {r}):
                # give u from r to s
                gain = self._gain(u, r, s, th, tp, ta, viol)
                if gain > best_gain and self._stays_connected(u, members[r]):
                    best, best_gain = (u, r, s), gain
        for u in sorted(self._border(r, labels, members)):
            s = int(labels[u])
            gain = self._gain(u, s, r, th, tp, ta, viol)
            if gain > best_gain and self._stays_connected(u, members[s]):
                best, best_gain = (u, s, r), gain
        return best

    def _gain(self, u, src, dst, th, tp, ta, viol) -> float:
        h, p, a = self.h[u], self.p[u], self.a[u]
        before = viol(th[src], tp[src], ta[src]) + viol(th[dst], tp[dst], ta[dst])
        after = viol(th[src] - h, tp[src] - p, ta[src] - a)
        after += viol(th[dst] + h, tp[dst] + p, ta[dst] + a)
        return before - after

    def _border(self, r, labels, members):
        out = set()
        for u in members[r]:
            for v in self.g.neighbours(u).tolist():
                if labels[v] != r:
                    out.add(v)
        return out

    def _stays_connected(self, u: int, region: set) -> bool:
        if len(region) <= 1:
            return False  # never empty a region by a move
        rest = region - {u}
        start = next(iter(rest))
        seen = {start}
        stack = [start]
        while stack:
            v = stack.pop()
            for w in self.g.neighbours(v).tolist():
                if w in rest and w not in seen:
                    seen.add(w)
                    stack.append(w)
        return len(seen) == len(rest)

    def _merge(self, r, labels, members, th, tp, ta, viol) -> bool:
        """Merge region r into the neighbour region that lowers the total violation most."""
        neighbours = sorted(set(labels[list(self._border(r, labels, members))].tolist()))
        best, best_gain = None, 1e-12
        for s in neighbours:
            before = viol(th[r], tp[r], ta[r]) + viol(th[s], tp[s], ta[s])
            after = viol(th[r] + th[s], tp[r] + tp[s], ta[r] + ta[s])
            if before - after > best_gain:
                best, best_gain = s, before - after
        if best is None:
            return False
        for u in members[r]:
            labels[u] = best
        members[best] |= members[r]
        members[r] = set()
        for arr in (th, tp, ta):
            arr[best] += arr[r]
            arr[r] = 0
        return True
