"""The vector tile layers: what each holds, from which zoom, and which properties it carries.

One table, read by the encoder, the web door, the pmtiles export and (through
``/tiles/layers.json``) the map page, so the zoom ranges live here only.

>>> TILE_LAYERS["grids"].store_layer, TILE_LAYERS["grids"].min_zoom
('grid', 10)
>>> sorted(TILE_LAYERS)
['communities', 'districts', 'exclusive', 'grids', 'micro_grids', 'roads', 'streets']
"""

from __future__ import annotations

from dataclasses import dataclass

# Tiles exist from zoom 0 to MAX_TILE_ZOOM; the map over-zooms the deepest tiles beyond it.
MAX_TILE_ZOOM = 16
# Tile coordinates: 4096 units per tile side (8 per pixel of a 512-px display tile).
EXTENT = 4096
# Geometry is kept this far outside the tile (in units) so strokes do not show seams.
BUFFER = 64


@dataclass(frozen=True)
class TileLayer:
    """One tile layer (its URL name is also the layer name inside the tile)."""

    name: str
    store_layer: str  # the store's layer name
    title: str  # what a person reads
    min_zoom: int  # no tile below this zoom
    geometry: str  # "polygon" or "line"
    coverage: bool  # polygons tile the plane: simplify them together so shared edges match
    label_layer: bool  # also carries "<name>_label" points (one per feature) for its names
    name_zoom: int  # zoom from which grid-like layers carry their display name

    @property
    def label_name(self) -> str:
        return f"{self.name}_label"


TILE_LAYERS: dict[str, TileLayer] = {
    layer.name: layer
    for layer in (
        TileLayer("districts", "district", "区", 0, "polygon", True, True, 0),
        TileLayer("streets", "street", "街道（镇）", 7, "polygon", True, True, 0),
        TileLayer("communities", "community", "社区（村）", 9, "polygon", True, True, 0),
        TileLayer("grids", "grid", "综合网格", 10, "polygon", True, False, 14),
        TileLayer("exclusive", "exclusive", "专属网格", 10, "polygon", False, False, 14),
        TileLayer("micro_grids", "micro_grid", "微网格", 13, "polygon", False, False, 15),
        TileLayer("roads", "roads", "道路", 10, "line", False, False, 0),
    )
}
