"""Cut Mapbox Vector Tiles from any store: :class:`VersionTiles` over ``Store.layer_geometries``.

A version's features are read once per layer, projected to Web Mercator and indexed (STRtree);
for each zoom the polygons of a coverage layer (districts ... grids) are simplified together with
``shapely.coverage_simplify`` at half a screen pixel, so neighbours keep one shared edge and the
mosaic shows no slivers or gaps. A tile is then a tree query, a clip to the tile plus a small
buffer, a move to tile units and the protobuf encoding by ``mapbox-vector-tile`` (the reference
Python encoder of the MVT 2.1 spec: winding order, zig-zag commands and the key/value tables).

Tile properties carry ``code`` and ``name``; grid-like layers also ``households`` (the household
choropleth is static per version) and ``flags`` when the partitioner raised any. Live figures
(open, overdue, closure rate) are *not* in tiles: the page colours features from a small
per-version JSON that the event stream keeps current, so no tile is re-fetched when an incident
moves.

>>> from gridmap.tiles.encode import grid_display_name
>>> grid_display_name("330402001002007", {"330402001002": "南湖1社区"})
'南湖1社区 第7网格'
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import mapbox_vector_tile
import numpy as np
import shapely

from gridmap.tiles.layers import BUFFER, EXTENT, MAX_TILE_ZOOM, TILE_LAYERS, TileLayer
from gridmap.tiles.tiling import HALF_WORLD, TileId, to_mercator

# Bumped whenever the bytes of a tile would change for the same data: part of every ETag and
# cache key, so a deploy never serves tiles cut by older code.
ENCODER_REVISION = "1"
# Simplification tolerance: this share of one screen pixel (512-px display tiles).
TOLERANCE_PX = 0.5

Transform = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def grid_display_name(code: str, names: dict[str, str]) -> str:
    """A grid's name as people say it: its community's name and its sequence number."""
    community = names.get(code[:12], "")
    seq = code[12:]
    return f"{community} 第{int(seq)}网格" if seq.isdigit() else code


@dataclass
class _LayerData:
    """One layer of one version, projected and indexed."""

    geoms: np.ndarray  # Web Mercator geometries
    props: list[dict]  # tile properties (without the zoom-dependent name of grid-like layers)
    names: list[str]
    tree: shapely.STRtree
    labels: np.ndarray | None  # label points (Web Mercator) of admin layers
    by_zoom: dict[int, np.ndarray] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class VersionTiles:
    """Tiles of one published version of one store.

    ``to_display`` optionally moves storage lon/lat (EPSG:4490) to the base map's datum (for
    example GCJ-02) before projecting, so the tiles sit on the tiles under them.
    """

    def __init__(self, store, version_id: int, to_display: Transform | None = None):
        self.store = store
        self.version_id = int(version_id)
        self.to_display = to_display
        self._layers: dict[str, _LayerData] = {}
        self._lock = threading.Lock()
        self._names: dict[str, str] | None = None

    # -- loading ---------------------------------------------------------------------------

    def _admin_names(self) -> dict[str, str]:
        if self._names is None:
            self._names = self.store.names(self.version_id)
        return self._names

    def _layer(self, layer: TileLayer) -> _LayerData:
        data = self._layers.get(layer.name)
        if data is not None:
            return data
        with self._lock:
            if layer.name not in self._layers:
                self._layers[layer.name] = self._load(layer)
            return self._layers[layer.name]

    def _load(self, layer: TileLayer) -> _LayerData:
        rows = self.store.layer_geometries(self.version_id, (layer.store_layer,))
        geoms = np.array([r.geometry for r in rows], dtype=object)
        geoms = shapely.transform(geoms, self._project) if len(geoms) else geoms
        geoms = shapely.make_valid(geoms) if len(geoms) else geoms
        names = self._admin_names() if layer.store_layer in ("grid", "exclusive") else {}
        props, display = [], []
        for row in rows:
            code, stored = row.code, dict(row.props)
            props.append(_tile_props(layer, code, stored))
            display.append(
                stored.get("name")
                or (grid_display_name(code, names) if names and code else code or "")
            )
        labels = None
        if layer.label_layer and len(geoms):
            # The point inside each unit farthest from its edge: a label never sits outside.
            parts = np.array(_largest_parts(geoms), dtype=object)
            xmin, ymin, xmax, ymax = shapely.bounds(parts).T
            tolerance = np.maximum(1.0, np.minimum(xmax - xmin, ymax - ymin) / 50)
            labels = shapely.get_point(shapely.maximum_inscribed_circle(parts, tolerance), 0)
        return _LayerData(geoms, props, display, shapely.STRtree(geoms), labels)

    def _project(self, coords: np.ndarray) -> np.ndarray:
        lon, lat = coords[:, 0], coords[:, 1]
        if self.to_display is not None:
            lon, lat = self.to_display(lon, lat)
        x, y = to_mercator(np.asarray(lon), np.asarray(lat))
        return np.column_stack([x, y])

    def _simplified(self, layer: TileLayer, data: _LayerData, z: int) -> np.ndarray:
        """The layer's geometries simplified for zoom ``z`` (computed once per zoom)."""
        if z >= MAX_TILE_ZOOM or len(data.geoms) == 0:
            return data.geoms
        found = data.by_zoom.get(z)
        if found is not None:
            return found
        with data.lock:
            if z in data.by_zoom:
                return data.by_zoom[z]
            tolerance = TOLERANCE_PX * 2 * HALF_WORLD / (1 << z) / 512
            simple = None
            if layer.coverage:
                try:
                    simple = shapely.coverage_simplify(data.geoms, tolerance)
                except shapely.errors.GEOSException:
                    simple = None  # not a clean coverage: one by one below
            if simple is None:
                simple = shapely.simplify(data.geoms, tolerance, preserve_topology=True)
            simple = np.where(shapely.is_empty(simple), data.geoms, simple)
            data.by_zoom[z] = simple
            return simple

    # -- cutting ---------------------------------------------------------------------------

    def bounds(self) -> tuple[float, float, float, float] | None:
        """lon/lat extent of the version (from the store's record)."""
        return tuple(self.store.version(self.version_id).bounds)

    def tile(self, layer_name: str, tile: TileId) -> bytes:
        """The raw (uncompressed) MVT bytes of one layer's tile; b"" when it holds nothing."""
        layer = TILE_LAYERS[layer_name]
        if tile.z < layer.min_zoom:
            return b""
        data = self._layer(layer)
        if len(data.geoms) == 0:
            return b""
        minx, miny, maxx, maxy = tile.bounds()
        size = maxx - minx
        pad = size * BUFFER / EXTENT
        query = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
        hits = np.sort(data.tree.query(query))
        encoded_layers = []
        if len(hits):
            geoms = self._simplified(layer, data, tile.z)[hits]
            clipped = shapely.clip_by_rect(geoms, minx - pad, miny - pad, maxx + pad, maxy + pad)
            clipped = _same_dimension(clipped, geoms)
            local = _to_tile_units(clipped, minx, maxy, size)
            with_names = tile.z >= layer.name_zoom
            features = []
            for i, geom in zip(hits, local, strict=True):
                if geom is None or geom.is_empty:
                    continue
                props = data.props[i]
                if with_names and "name" not in props and data.names[i]:
                    props = props | {"name": data.names[i]}
                features.append({"geometry": geom, "properties": props})
            if features:
                encoded_layers.append({"name": layer.name, "features": features})
        if data.labels is not None:
            lx, ly = shapely.get_x(data.labels), shapely.get_y(data.labels)
            inside = np.flatnonzero((lx >= minx) & (lx < maxx) & (ly > miny) & (ly <= maxy))
            if len(inside):
                points = _to_tile_units(data.labels[inside], minx, maxy, size)
                encoded_layers.append(
                    {
                        "name": layer.label_name,
                        "features": [
                            {"geometry": p, "properties": data.props[i]}
                            for i, p in zip(inside, points, strict=True)
                        ],
                    }
                )
        if not encoded_layers:
            return b""
        return mapbox_vector_tile.encode(
            encoded_layers,
            default_options={"extents": EXTENT, "y_coord_down": True},
        )

    def tile_gzip(self, layer_name: str, tile: TileId) -> bytes:
        """The tile gzip-compressed (how it is cached and sent); b"" when it holds nothing."""
        raw = self.tile(layer_name, tile)
        return gzip.compress(raw, compresslevel=6, mtime=0) if raw else b""


def _tile_props(layer: TileLayer, code: str | None, stored: dict) -> dict:
    props: dict = {"code": code or ""}
    if layer.store_layer in ("district", "street", "community"):
        props["name"] = stored.get("name") or ""
    elif layer.store_layer == "roads":
        props = {"name": stored.get("name") or "", "kind": stored.get("kind") or ""}
    else:
        props["households"] = int(stored.get("households") or 0)
        if stored.get("flags"):
            props["flags"] = str(stored["flags"])
        if stored.get("host_grid_code"):
            props["host"] = str(stored["host_grid_code"])
    return props


def _same_dimension(clipped: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Clipping a polygon along a tile edge it touches may leave a collection of a polygon and a
    line (or point), which MVT cannot encode: keep the parts of the source's own dimension.

    >>> import shapely
    >>> line = shapely.LineString([(1, 1), (2, 2)])
    >>> mixed = shapely.GeometryCollection([shapely.box(0, 0, 1, 1), line])
    >>> _same_dimension(np.array([mixed]), np.array([shapely.box(0, 0, 2, 2)]))[0].geom_type
    'Polygon'
    """
    mixed = np.flatnonzero(shapely.get_type_id(clipped) == 7)  # GeometryCollection
    for k in mixed:
        dimension = shapely.get_dimensions(source[k])
        parts = [p for p in shapely.get_parts(clipped[k]) if shapely.get_dimensions(p) == dimension]
        clipped[k] = shapely.union_all(parts) if parts else None
    return clipped


def _to_tile_units(geoms, minx: float, maxy: float, size: float):
    """Mercator geometries -> integer tile units (y down), kept valid after rounding."""
    scale = EXTENT / size

    def move(coords: np.ndarray) -> np.ndarray:
        return np.column_stack([(coords[:, 0] - minx) * scale, (maxy - coords[:, 1]) * scale])

    moved = shapely.transform(geoms, move)
    return shapely.set_precision(moved, 1.0)


def _largest_parts(geoms: np.ndarray) -> list:
    """Each geometry, or its largest polygon when it has several (a label goes there)."""
    out = []
    for g in geoms:
        if g.geom_type == "MultiPolygon":
            g = max(g.geoms, key=lambda p: p.area)
        elif g.geom_type == "GeometryCollection":
            polys = [p for p in g.geoms if p.geom_type == "Polygon"]
            g = max(polys, key=lambda p: p.area) if polys else g.envelope
        out.append(g)
    return out
