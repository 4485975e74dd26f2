"""Vector tiles of a published grid version: MVT encoding over any store, caching, pmtiles export.

- :mod:`gridmap.tiles.layers`: the tile layers (zoom ranges, properties) - one table;
- :mod:`gridmap.tiles.tiling`: XYZ / Web Mercator arithmetic;
- :mod:`gridmap.tiles.encode`: :class:`VersionTiles`, the encoder over ``Store.layer_wkb``;
- :mod:`gridmap.tiles.cache`: the per-version tile cache and the publish warm-up.
"""

from gridmap.tiles.encode import ENCODER_REVISION, VersionTiles
from gridmap.tiles.layers import MAX_TILE_ZOOM, TILE_LAYERS, TileLayer
from gridmap.tiles.tiling import TileError, TileId

__all__ = [
    "ENCODER_REVISION",
    "MAX_TILE_ZOOM",
    "TILE_LAYERS",
    "TileError",
    "TileId",
    "TileLayer",
    "VersionTiles",
]
