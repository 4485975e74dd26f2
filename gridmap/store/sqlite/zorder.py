"""Z-order (Morton) keys of incident points, so SQLite can count a map view cell by cell.

A wide view's clusters group every incident in it. With ``GROUP BY`` SQLite sorts all of them
in a temporary B-tree first, about five times the cost of reading them. The cells of a cluster
request are squares of ``360 / 2**level`` degrees (:func:`gridmap.rules.display.quadtree_cell`),
so each is one contiguous range of the Z-order key below, and an index on the key answers a cell
with one range scan: every incident is read once, in index order, and nothing is sorted.

The key interleaves the bits of ``x = floor((lon + 180) * 2**KEY_BITS / 360)`` (even bits) and
``y = floor((lat + 90) * 2**KEY_BITS / 360)`` (odd bits). :data:`KEY_SQL` computes it for the
``incidents`` table's generated column; :func:`cell_range` gives the keys of one cell.

>>> x, y = cell_of(120.7, 30.7, level=14)
>>> first, last = cell_range(x, y, level=14)
>>> first <= point_key(120.7, 30.7) <= last
True
"""

from __future__ import annotations

KEY_BITS = 26  # a finest cell of 360 / 2**26 degrees: about 0.6 m
_SCALE = 2**KEY_BITS / 360.0


# Spreading the low 32 bits of an integer to the even bits of 64 (the classic magic-number
# steps): (shift, mask) applied as ``v = (v | v << shift) & mask``, in SQL and in Python alike.
_SPREAD_STEPS = (
    (16, 0x0000FFFF0000FFFF),
    (8, 0x00FF00FF00FF00FF),
    (4, 0x0F0F0F0F0F0F0F0F),
    (2, 0x3333333333333333),
    (1, 0x5555555555555555),
)


def _spread_sql(value: str) -> str:
    """SQL of :func:`_spread` over the integer expression ``value``."""
    for shift, mask in _SPREAD_STEPS:
        value = f"(({value} | ({value} << {shift})) & {mask})"
    return value


def _spread(value: int) -> int:
    """The bits of ``value`` (below 2**32) moved to the even positions.

    >>> bin(_spread(0b111))
    '0b10101'
    """
    for shift, mask in _SPREAD_STEPS:
        value = (value | (value << shift)) & mask
    return value


# The generated column's expression (deterministic, over the row's lon and lat).
KEY_SQL = (
    f"({_spread_sql(f'CAST((lon + 180.0) * {_SCALE!r} AS INTEGER)')} | "
    f"({_spread_sql(f'CAST((lat + 90.0) * {_SCALE!r} AS INTEGER)')} << 1))"
)


def point_key(lon: float, lat: float) -> int:
    """The key :data:`KEY_SQL` gives a point."""
    return _spread(int((lon + 180.0) * _SCALE)) | (_spread(int((lat + 90.0) * _SCALE)) << 1)


def cell_of(lon: float, lat: float, level: int) -> tuple[int, int]:
    """Column and row of the ``360 / 2**level``-degree cell holding a point."""
    shift = KEY_BITS - level
    return int((lon + 180.0) * _SCALE) >> shift, int((lat + 90.0) * _SCALE) >> shift


def cell_range(x: int, y: int, level: int) -> tuple[int, int]:
    """First and last key of cell (x, y) at ``level`` (its keys are exactly these)."""
    shift = 2 * (KEY_BITS - level)
    prefix = _spread(x) | (_spread(y) << 1)
    return prefix << shift, ((prefix + 1) << shift) - 1
