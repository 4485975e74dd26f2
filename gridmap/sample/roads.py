"""Roads, rivers and a railway along the lattice lines, with Chinese names and door numbers.

Every lattice line is one named feature: rows run west-east, columns south-north. Every fourth
line is an arterial (路/大道); the others are local streets (街/巷/路). Two lines are waterways
(Jiaxing is a water town: the Grand Canal 京杭运河 crosses it) and one is the Shanghai-Hangzhou
railway; these carry no door numbers.

>>> door_number(1234.0, odd_side=True), door_number(1234.0, odd_side=False)
(165, 166)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gridmap.sample.layout import SPACING_M, Blocks, Lattice

ARTERIAL_EVERY = 4
DOOR_SPACING_M = 15.0  # one door number per 15 m of frontage on each side
# (axis, index) -> (kind, name): fixed so every city size has the same canal and railway.
SPECIAL_LINES = {
    ("row", 2): ("river", "京杭运河"),
    ("col", -3): ("river", "长水塘"),
    ("row", -5): ("rail", "沪杭铁路"),
}
ARTERIAL_STEMS = (
    "中山", "禾兴", "解放", "勤俭", "建国", "少年", "纺工", "由拳", "南溪", "广益", "东升", "双溪",
    "槜李", "长水", "秀洲", "洪兴", "昌盛", "庆丰", "凌公塘", "花园", "东方", "岗山", "真合",
    "嘉杭", "中环", "环城", "城南", "城北", "友谊", "人民", "常秀", "吉杨",
)  # fmt: skip
LOCAL_STEMS = (
    "梅湾", "月河", "芦席汇", "杉青", "荷花", "紫阳", "鸳鸯", "秀园", "新华", "学院", "文昌",
    "甪里", "瓶山", "塘湾", "兰溪", "茶园", "桂苑", "子城", "坛弄", "北京", "清河", "百花",
    "穆河", "春波", "宣公", "范蠡", "三塔", "放鹤", "落帆", "烟雨", "秋泾", "菱香", "南杨",
    "丁家桥", "百福", "狮子汇", "集街", "东栅", "西丽", "禾平", "濮院", "香樟", "银杏", "红船",
    "嘉禾", "竹林", "柳岸", "渔里", "菜花泾", "凌塘", "虹桥", "航明", "栅堰", "亚都", "里仁",
    "春晓", "湖滨", "运河", "中和", "新塍", "王店", "洪合", "油车", "高照", "塘汇", "嘉北",
)  # fmt: skip


@dataclass(frozen=True)
class Line:
    axis: str  # "row" (west-east) or "col" (south-north)
    index: int
    kind: str  # road, river or rail
    name: str
    arterial: bool


class RoadNames:
    """Names for every lattice line, drawn once from shuffled pools so a seed fixes them all."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng([seed, 3])
        arterials = [s + "路" for s in ARTERIAL_STEMS] + [
            s + "大道" for s in ("南湖", "秀洲", "嘉兴", "禾城")
        ]
        suffixes = rng.choice(["街", "路", "巷"], size=len(LOCAL_STEMS), p=[0.3, 0.5, 0.2])
        locals_ = [s + str(x) for s, x in zip(LOCAL_STEMS, suffixes, strict=True)]
        self._arterial = [arterials[k] for k in rng.permutation(len(arterials))]
        self._local = [locals_[k] for k in rng.permutation(len(locals_))]
        self._cache: dict[tuple[str, int], Line] = {}

    def line(self, axis: str, index: int) -> Line:
        key = (axis, index)
        if key not in self._cache:
            self._cache[key] = self._make(axis, index)
        return self._cache[key]

    def _make(self, axis: str, index: int) -> Line:
        if (axis, index) in SPECIAL_LINES:
            kind, name = SPECIAL_LINES[(axis, index)]
            return Line(axis, index, kind, name, arterial=True)
        offset = 0 if axis == "row" else 1
        # Lines near the centre get the pool's first names, so a small city has plain names.
        if index % ARTERIAL_EVERY == 0:
            name = _numbered(self._arterial, 2 * _zigzag(index // ARTERIAL_EVERY) + offset)
            return Line(axis, index, "road", name, arterial=True)
        return Line(axis, index, "road", _numbered(self._local, 2 * _zigzag(index) + offset), False)


def _zigzag(index: int) -> int:
    """0, 1, -1, 2, -2 ... -> 0, 1, 2, 3, 4 ...

    >>> [_zigzag(k) for k in (0, 1, -1, 2, -2)]
    [0, 1, 2, 3, 4]
    """
    return 2 * index - 1 if index > 0 else -2 * index


def _numbered(pool: list[str], slot: int) -> str:
    """Pool entry for ``slot``; past the pool's end a name repeats with 东/西/南/北/一/二 ... 路."""
    name = pool[slot % len(pool)]
    lap = slot // len(pool)
    if lap == 0:
        return name
    stem, suffix = (name[:-2], name[-2:]) if name.endswith("大道") else (name[:-1], name[-1:])
    return f"{stem}{'东西南北中一二三四五六七八九'[(lap - 1) % 15]}{suffix}"


def door_number(position_m: float, *, odd_side: bool) -> int:
    """Door number from the distance along the road: odd numbers on one side, even on the other."""
    base = int(position_m // DOOR_SPACING_M) * 2
    return base + 1 if odd_side else base + 2


class Frontage:
    """Addresses on the roads: which road a thing faces and its door number.

    Door numbers count from the west (or south) end of each road inside the city, odd on one
    side and even on the other, one number per 15 m of frontage.
    """

    def __init__(self, names: RoadNames, lattice: Lattice, blocks: Blocks) -> None:
        self.names = names
        self.lattice = lattice
        self.origin: dict[tuple[str, int], float] = {}
        self.used: set[tuple[str, int]] = set()  # a door number names one gate in the city
        for i, j in blocks.cell.tolist():
            for axis, index, node, coordinate in (
                ("row", j, (i, j), 0),
                ("row", j + 1, (i, j + 1), 0),
                ("col", i, (i, j), 1),
                ("col", i + 1, (i + 1, j), 1),
            ):
                value = float(lattice.node_xy(*node)[coordinate])
                key = (axis, index)
                self.origin[key] = min(self.origin.get(key, value), value)

    def __call__(self, cell: tuple[int, int], point_xy: np.ndarray, choice: int) -> tuple[str, str]:
        """(road name, door number) for something at ``point_xy`` (metres) in lattice ``cell``.

        The candidates are the cell's edges that are roads (not rivers or the railway);
        ``choice`` picks one.
        """
        i, j = cell
        edges = [
            (self.names.line("row", j), True),  # south edge: the block is on the road's north side
            (self.names.line("row", j + 1), False),
            (self.names.line("col", i), True),  # west edge: the block is on the road's east side
            (self.names.line("col", i + 1), False),
        ]
        roads = [edge for edge in edges if edge[0].kind == "road"] or edges[:1]
        line, odd = roads[choice % len(roads)]
        coordinate = point_xy[0] if line.axis == "row" else point_xy[1]
        position = coordinate - self.origin.get((line.axis, line.index), coordinate)
        number = door_number(max(position, 0.0), odd_side=odd)
        while (line.name, number) in self.used:  # e.g. the same road on both sides of the seam
            number += 2
        self.used.add((line.name, number))
        return line.name, f"{number}号"


def barrier_lines(names: RoadNames, lattice: Lattice, blocks: Blocks, window) -> list[tuple]:
    """(kind, name, geometry) for each named line, kept where it borders a block of the window."""
    cells = {tuple(c) for c in blocks.cell.tolist()}
    segments: dict[tuple[str, int], list] = {}
    for i, j in cells:
        # Each cell contributes its four edges to the lines they lie on.
        for axis, index, a, b in (
            ("row", j, (i, j), (i + 1, j)),
            ("row", j + 1, (i, j + 1), (i + 1, j + 1)),
            ("col", i, (i, j), (i, j + 1)),
            ("col", i + 1, (i + 1, j), (i + 1, j + 1)),
        ):
            segments.setdefault((axis, index), set()).add((a, b))
    rows = []
    window_area = shapely.buffer(window, 1e-6)  # keep roads that run along the window's edge
    for axis, index in sorted(segments):
        pieces = [
            shapely.linestrings([lattice.node(*a), lattice.node(*b)])
            for a, b in sorted(segments[(axis, index)])
        ]
        merged = shapely.line_merge(shapely.union_all(pieces))
        clipped = shapely.intersection(merged, window_area)
        if shapely.is_empty(clipped) or shapely.length(clipped) <= 0:
            continue
        parts = [p for p in shapely.get_parts(clipped) if shapely.get_type_id(p) in (1, 5)]
        lines = [g for p in parts for g in shapely.get_parts(p)]
        if not lines:
            continue
        geometry = lines[0] if len(lines) == 1 else shapely.multilinestrings(lines)
        line = names.line(axis, index)
        rows.append((line.kind, line.name, geometry, line.arterial))
    return rows


__all__ = ["SPACING_M", "Frontage", "Line", "RoadNames", "barrier_lines", "door_number"]
