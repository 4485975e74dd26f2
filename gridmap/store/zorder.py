"""Z-order (Morton) keys of incident points, so both stores count a map view cell by cell.

A wide view's clusters group every incident in it. With ``GROUP BY`` SQLite sorts all of them
in a temporary B-tree first, about five times the cost of reading them; PostgreSQL reads every
row's geometry and hashes two expressions per row. The cells of a cluster request are squares
of ``360 / 2**level`` degrees (:func:`gridmap.rules.display.quadtree_cell`), so each is one
contiguous range of the Z-order key below, and an index on the key (covering lon, lat, status
and due_at) answers a cell with one range scan of the index alone: every incident is read once,
in index order, and nothing is sorted or hashed.

The key interleaves the bits of ``x = floor((lon + 180) * 2**KEY_BITS / 360)`` (even bits) and
``y = floor((lat + 90) * 2**KEY_BITS / 360)`` (odd bits). :func:`key_sql` computes it for the
``incidents`` table's generated column in SQLite, :func:`key_function_sql` in PostgreSQL;
:func:`view_cells` gives the key ranges of the cells a view touches.

>>> x, y = cell_of(120.7, 30.7, level=14)
>>> first, last = cell_range(x, y, level=14)
>>> first <= point_key(120.7, 30.7) <= last
True
"""

from __future__ import annotations

from gridmap.rules.display import quadtree_level

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
    """SQL of :func:`_spread` over the integer expression ``value`` (decimal masks: PostgreSQL
    15 reads no hexadecimal literals; each fits a bigint)."""
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


def key_sql(dialect: str = "sqlite") -> str:
    """The generated column's expression over the row's lon and lat, in ``dialect`` (sqlite or
    postgres): the same key as :func:`point_key`. SQLite's CAST truncates, PostgreSQL's rounds,
    so PostgreSQL takes the floor first (the values are never negative)."""
    if dialect == "sqlite":
        column = "CAST(({0} + {1}) * {2!r} AS INTEGER)"
    elif dialect == "postgres":
        column = "floor(({0} + {1}) * {2!r})::bigint"
    else:
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    x, y = column.format("lon", "180.0", _SCALE), column.format("lat", "90.0", _SCALE)
    return f"({_spread_sql(x)} | ({_spread_sql(y)} << 1))"


KEY_SQL = key_sql("sqlite")  # SQLite's migration 7 (its text is in the schema: never change it)

KEY_FUNCTION = "gridmap_zkey"


def key_function_sql() -> str:
    """PostgreSQL: ``CREATE FUNCTION gridmap_zkey(lon, lat)``, the key as PL/pgSQL steps.

    :func:`key_sql` is one expression that repeats its operand at every step, so it holds 64
    copies of each coordinate's floor. PostgreSQL 15 prepares a stored generated column's
    expression afresh for every INSERT statement: that one expression cost 0.9 ms of server CPU
    per report, five times the rest of the insert. The function computes each step once.
    """
    steps = "\n".join(
        f"  {v} := ({v} | ({v} << {shift})) & {mask};"
        for v in ("x", "y")
        for shift, mask in _SPREAD_STEPS
    )
    return f"""CREATE FUNCTION {KEY_FUNCTION}(lon double precision, lat double precision)
RETURNS bigint LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  x bigint := floor((lon + 180.0) * {_SCALE!r})::bigint;
  y bigint := floor((lat + 90.0) * {_SCALE!r})::bigint;
BEGIN
{steps}
  RETURN x | (y << 1);
END $$;"""


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


# Above this many cells in a view, one GROUP BY beats a query per cell.
MAX_CELL_QUERIES = 2048


def view_cells(
    bbox: tuple[float, float, float, float] | None, cell_degrees: float
) -> list[tuple[int, int]] | None:
    """The key ranges (first, last) of the ``cell_degrees`` quadtree cells a bbox touches, in
    key order; None when there are more than :data:`MAX_CELL_QUERIES`, the bbox is missing or
    empty, or ``cell_degrees`` is no quadtree cell (a store then groups with GROUP BY).

    >>> cell = 360 / 2**12
    >>> len(view_cells((120.70, 30.70, 120.71, 30.71), cell)), view_cells((1, 1, 0, 0), cell)
    (1, None)
    """
    level = quadtree_level(cell_degrees)
    if bbox is None or cell_degrees != 360.0 / 2**level:
        return None
    w, s, e, n = (
        min(max(bbox[0], -180.0), 180.0),
        min(max(bbox[1], -90.0), 90.0),
        min(max(bbox[2], -180.0), 180.0),
        min(max(bbox[3], -90.0), 90.0),
    )
    if w > e or s > n:
        return None
    x0, y0 = cell_of(w, s, level)
    x1, y1 = cell_of(e, n, level)
    if (x1 - x0 + 1) * (y1 - y0 + 1) > MAX_CELL_QUERIES:
        return None
    return sorted(cell_range(x, y, level) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1))
