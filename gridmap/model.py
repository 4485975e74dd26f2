"""The data model: what each layer holds, as column schemas over GeoDataFrames.

Bulk data lives in GeoDataFrames (EPSG:4490, CGCS2000 lon/lat) whose columns are described here;
the CONTRACT's file columns are these names. Single records that cross an API (a geocoder match,
a grid summary) use the small dataclasses at the end.

>>> ADDRESS.required
('address_id', 'address', 'lon', 'lat', 'households', 'population')
>>> GRID.geometry
'polygon'
"""

from __future__ import annotations

from dataclasses import dataclass, field

STORAGE_CRS = "EPSG:4490"  # CGCS2000 geographic: every layer is held in it

BOUNDARY_LEVELS = ("district", "street", "community")
BARRIER_KINDS = ("road", "rail", "river", "wall")
SITE_CATEGORIES = (
    "government",
    "enterprise",
    "industrial_park",
    "hospital",
    "school",
    "mall",
    "park",
    "other",
)
GRID_KINDS = ("comprehensive", "exclusive")
MATCH_LEVELS = (
    "room",
    "unit",
    "building",
    "door",
    "compound",
    "road",
    "community",
    "town",
    "district",
    "none",
)
# Components of a standard address, in hierarchy order (the labelled data's names).
ADDRESS_COMPONENTS = (
    "prov",
    "city",
    "district",
    "town",
    "community",
    "road",
    "roadno",
    "poi",
    "subpoi",
    "houseno",
    "cellno",
    "floorno",
    "roomno",
)


@dataclass(frozen=True)
class Layer:
    """Columns of one layer: required and optional, with their kinds, and the geometry kind.

    Column kinds: ``str`` (text), ``int`` (whole number >= 0), ``float``, ``code`` (division
    code as text), ``enum`` (one of ``choices[column]``).
    """

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    kinds: dict[str, str] = field(default_factory=dict)
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    geometry: str = "none"  # polygon, line, point or none
    key: str | None = None  # unique id column

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


BOUNDARY = Layer(
    name="boundaries",
    required=("code", "name", "level"),
    optional=("parent_code",),
    kinds={"code": "code", "name": "str", "level": "enum", "parent_code": "code"},
    choices={"level": BOUNDARY_LEVELS},
    geometry="polygon",
    key="code",
)

ADDRESS = Layer(
    name="addresses",
    required=("address_id", "address", "lon", "lat", "households", "population"),
    optional=("community_code",) + ADDRESS_COMPONENTS,
    kinds={
        "address_id": "str",
        "address": "str",
        "lon": "float",
        "lat": "float",
        "households": "int",
        "population": "int",
        "community_code": "code",
    },
    geometry="point",
    key="address_id",
)

BARRIER = Layer(
    name="barriers",
    required=(),
    optional=("kind", "name"),
    kinds={"kind": "enum", "name": "str"},
    choices={"kind": BARRIER_KINDS},
    geometry="line",
)

SITE = Layer(
    name="sites",
    required=("site_id", "name", "category"),
    optional=("headcount",),
    kinds={"site_id": "str", "name": "str", "category": "enum", "headcount": "int"},
    choices={"category": SITE_CATEGORIES},
    geometry="polygon",
    key="site_id",
)

GRID = Layer(
    name="grids",
    required=(
        "grid_code",
        "kind",
        "community_code",
        "host_grid_code",
        "households",
        "population",
        "area_m2",
        "polsby_popper",
        "flags",
    ),
    kinds={
        "grid_code": "code",
        "kind": "enum",
        "community_code": "code",
        "host_grid_code": "str",
        "households": "int",
        "population": "int",
        "area_m2": "float",
        "polsby_popper": "float",
        "flags": "str",
    },
    choices={"kind": GRID_KINDS},
    geometry="polygon",
    key="grid_code",
)

# What a partition writes and a version keeps of a grid: the CONTRACT columns, then the site an
# exclusive grid stands for and whether the grid is locked.
GRID_COLUMNS: tuple[str, ...] = (*GRID.required, "site_id", "site_category", "locked")

LAYERS = {layer.name: layer for layer in (BOUNDARY, ADDRESS, BARRIER, SITE, GRID)}


APPROXIMATE_LEVELS = ("road", "compound", "community", "town", "district")


@dataclass(frozen=True)
class Candidate:
    """One place an ambiguous query may mean (see :attr:`Match.candidates`)."""

    level: str  # one of MATCH_LEVELS
    confidence: float  # 0-1, as sure as the geocoder is of this place
    reason: str  # why it is only a candidate ("3 library places match equally", a fuzzy name...)
    label: str  # the place as text, down to its level (中山路58号幸福小区3幢); a query for it
    address_id: str | None = None  # a library entry only when the place *is* one entry
    lon: float | None = None
    lat: float | None = None
    grid_code: str | None = None
    approximate: bool = False


@dataclass(frozen=True)
class Match:
    """The geocoder's answer for one free-text address.

    ``address_id`` names a library entry only when the matched place is that entry (a road or a
    compound is no one room). ``lon``/``lat`` is the entry's point, or for a place above the
    door (road, compound, community, town, district) its representative point (road midpoint,
    compound/community centroid), then ``approximate`` is True. ``highlight`` is the GeoJSON
    geometry (EPSG:4490) of what the map outlines for a road or compound match: the road line,
    the compound outline. ``candidates`` (up to 5, surest first) lists the places an ambiguous
    query may mean; empty when the answer is clear.
    """

    query: str
    level: str  # one of MATCH_LEVELS
    confidence: float  # 0-1
    address_id: str | None = None
    address: str | None = None
    lon: float | None = None
    lat: float | None = None
    grid_code: str | None = None
    approximate: bool = False
    label: str | None = None  # the matched place as text, down to the matched level
    highlight: dict | None = None  # GeoJSON geometry of a road line / compound outline
    candidates: tuple[Candidate, ...] = ()
    reason: str = ""  # what lowered the confidence, or why nothing was matched
