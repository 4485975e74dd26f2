"""Tiles cached per version: in the store's blob cache when it has one, else in memory.

A version never changes once published, so a tile is cut once (at publish by :func:`warm_tiles`,
or at its first request) and then only read. Keys carry the version, the encoder revision and the
display datum, so a new version, new encoder code or another base map never meets a stale tile.

>>> tile_key(3, "wgs84", "grids", TileId(12, 3421, 1696))
'tiles/v3/1/wgs84/grids/12/3421/1696'
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

from gridmap.tiles.encode import ENCODER_REVISION, Transform, VersionTiles
from gridmap.tiles.layers import MAX_TILE_ZOOM, TILE_LAYERS
from gridmap.tiles.tiling import TileId, tiles_covering

# Zoom from which warm-up stops: tiles of deeper zooms are cheap (a few features each) and are
# cut on their first request instead (the whole city at 16 would be ~1,000 tiles a layer).
WARM_MAX_ZOOM = MAX_TILE_ZOOM
MEMORY_LIMIT = 256 * 1024 * 1024  # bytes of tiles kept in memory when the store has no blobs
_BATCH = 500


def tile_key(version_id: int, datum: str, layer: str, tile: TileId) -> str:
    return f"tiles/v{version_id}/{ENCODER_REVISION}/{datum}/{layer}/{tile.z}/{tile.x}/{tile.y}"


def version_prefix(version_id: int) -> str:
    return f"tiles/v{version_id}/"


class _MemoryBlobs:
    """An LRU of bytes bounded by total size (for stores without a blob cache)."""

    def __init__(self, limit: int = MEMORY_LIMIT):
        self.limit = limit
        self.size = 0
        self.items: OrderedDict[str, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get_blob(self, key: str) -> bytes | None:
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put_blobs(self, items: Iterable[tuple[str, bytes]]) -> None:
        with self.lock:
            for key, value in items:
                old = self.items.pop(key, None)
                self.size += len(value) - (len(old) if old is not None else 0)
                self.items[key] = value
            while self.size > self.limit and self.items:
                _key, value = self.items.popitem(last=False)
                self.size -= len(value)


class TileCache:
    """Gzipped tiles of a store's versions, cut on demand and kept (thread-safe).

    ``datum`` names the display datum and ``to_display`` moves storage lon/lat to it (None for
    the store's own datum).
    """

    def __init__(self, store, datum: str = "wgs84", to_display: Transform | None = None):
        self.store = store
        self.datum = datum
        self.to_display = to_display
        self.blobs = store if hasattr(store, "get_blob") else _MemoryBlobs()
        self._versions: OrderedDict[int, VersionTiles] = OrderedDict()
        self._lock = threading.Lock()

    def version_tiles(self, version_id: int) -> VersionTiles:
        """The encoder of one version (the two most recent ones stay loaded)."""
        with self._lock:
            found = self._versions.get(version_id)
            if found is None:
                found = VersionTiles(self.store, version_id, self.to_display)
                self._versions[version_id] = found
                while len(self._versions) > 2:
                    self._versions.popitem(last=False)
            self._versions.move_to_end(version_id)
            return found

    def get(self, version_id: int, layer: str, tile: TileId) -> bytes:
        """The gzipped tile (b"" for an empty one), cut and stored on first use."""
        key = tile_key(version_id, self.datum, layer, tile)
        found = self.blobs.get_blob(key)
        if found is not None:
            return found
        data = self.version_tiles(version_id).tile_gzip(layer, tile)
        self.blobs.put_blobs([(key, data)])
        return data


def warm_tiles(
    store,
    version_id: int,
    *,
    datum: str = "wgs84",
    to_display: Transform | None = None,
    max_zoom: int = WARM_MAX_ZOOM,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Cut every tile of a version over its extent up to ``max_zoom`` into the store's blob cache;
    returns the number of tiles. Called by the publish service (a no-op on a store without
    blobs: there is nothing durable to fill)."""
    if not hasattr(store, "put_blobs"):
        return 0
    tiles = VersionTiles(store, version_id, to_display)
    bounds = tiles.bounds()
    tick = progress or (lambda _name: None)
    count = 0
    batch: list[tuple[str, bytes]] = []
    for name, layer in TILE_LAYERS.items():
        for z in range(layer.min_zoom, max_zoom + 1):
            for tile in tiles_covering(bounds, z):
                batch.append((tile_key(version_id, datum, name, tile), tiles.tile_gzip(name, tile)))
                count += 1
                if len(batch) >= _BATCH:
                    store.put_blobs(batch)
                    batch = []
        tick(f"tiles:{name}")
    if batch:
        store.put_blobs(batch)
    return count
