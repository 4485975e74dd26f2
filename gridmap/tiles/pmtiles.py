"""Offline packages: one PMTiles v3 file with every tile layer of a version, and the command
``gridmap export-tiles --version N --out city.pmtiles``.

Each z/x/y of the archive holds all layers at once (an MVT tile is a list of layers, so the
layer tiles are joined as they are), gzip-compressed, written by the PyPI ``pmtiles`` writer
(the Protomaps reference implementation) in tile-id order so the archive is clustered. The
metadata carries the vector layers, the version, the city and the admin names, so the offline
page (``web/static/offline.html``) needs nothing else.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import click
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer
from tqdm import tqdm

from gridmap.errors import InputError
from gridmap.io.atomic import atomic_output
from gridmap.store import NotFound
from gridmap.tiles.encode import VersionTiles
from gridmap.tiles.layers import MAX_TILE_ZOOM, TILE_LAYERS
from gridmap.tiles.tiling import tiles_covering


@dataclass(frozen=True)
class Export:
    """What an export wrote."""

    path: Path
    version_id: int
    tiles: int
    bytes: int
    max_zoom: int


def export_pmtiles(
    store, version_id: int, out: str | Path, max_zoom: int = MAX_TILE_ZOOM, progress=None
) -> Export:
    """Write every tile of a version (zoom 0..``max_zoom`` over its extent) to ``out``.

    ``progress`` is an optional callable ``progress(n)`` called per z/x/y written.
    """
    tiles = VersionTiles(store, version_id)
    version = store.version(version_id)
    w, s, e, n = version.bounds
    cells = sorted(
        (
            (zxy_to_tileid(t.z, t.x, t.y), t)
            for z in range(max_zoom + 1)
            for t in tiles_covering(version.bounds, z)
        ),
        key=lambda pair: pair[0],
    )
    count = 0
    with atomic_output(out) as temp, open(temp, "wb") as handle:
        writer = Writer(handle)
        for tile_id, tile in cells:
            raw = b"".join(tiles.tile(name, tile) for name in TILE_LAYERS)
            if raw:
                writer.write_tile(tile_id, gzip.compress(raw, compresslevel=6, mtime=0))
                count += 1
            if progress is not None:
                progress(1)
        if count == 0:
            raise InputError.one(str(out), f"grid version {version_id} has no features to export")
        e7 = lambda v: int(round(v * 1e7))  # noqa: E731
        header = {
            "tile_type": TileType.MVT,
            "tile_compression": Compression.GZIP,
            "min_lon_e7": e7(w),
            "min_lat_e7": e7(s),
            "max_lon_e7": e7(e),
            "max_lat_e7": e7(n),
            "center_zoom": 12,
            "center_lon_e7": e7((w + e) / 2),
            "center_lat_e7": e7((s + n) / 2),
        }
        metadata = {
            "name": f"{version.city or 'gridmap'} 网格版本 {version_id}",
            "format": "pbf",
            "gridmap_version": version_id,
            "city": version.city,
            "names": store.names(version_id),
            "vector_layers": [
                {
                    "id": layer.name,
                    "description": layer.title,
                    "minzoom": layer.min_zoom,
                    "maxzoom": max_zoom,
                    "fields": {},
                }
                for layer in TILE_LAYERS.values()
            ],
        }
        writer.finalize(header, metadata)
    path = Path(out)
    return Export(path, version_id, count, path.stat().st_size, max_zoom)


@click.command("export-tiles")
@click.option(
    "--version", "version_id", type=int, default=None, help="Grid version (default: current)."
)
@click.option("--out", required=True, help="The .pmtiles file to write (replaced atomically).")
@click.option(
    "--max-zoom",
    type=click.IntRange(0, MAX_TILE_ZOOM),
    default=MAX_TILE_ZOOM,
    show_default=True,
    help="Deepest zoom written; the map over-zooms beyond it.",
)
@click.option(
    "--db",
    default=None,
    help="Store (SQLite path or postgresql:// URL); default data/gridmap.sqlite.",
)
def export_tiles(version_id, out, max_zoom, db):
    """Write a grid version's vector tiles (every layer) into one PMTiles file.

    The file opens with no server behind it: serve web/static/ with any static file server and
    open offline.html?file=city.pmtiles, or choose the file on that page.
    """
    from gridmap.store import DEFAULT_DB, open_store

    store = open_store(db or DEFAULT_DB)
    try:
        if version_id is None:
            current = store.current_version()
            if current is None:
                raise InputError.one(
                    db or DEFAULT_DB, "no grid version is published yet", field="--version"
                )
            version_id = current.id
        try:
            version = store.version(version_id)
        except NotFound:
            raise InputError.one(
                db or DEFAULT_DB, f"no grid version {version_id}", field="--version"
            ) from None
        total = sum(len(list(tiles_covering(version.bounds, z))) for z in range(max_zoom + 1))
        with tqdm(total=total, unit="tile", desc="export-tiles") as bar:
            result = export_pmtiles(store, version_id, out, max_zoom, progress=bar.update)
    finally:
        store.close()
    click.echo(
        f"wrote {result.path}: version {result.version_id}, {result.tiles:,} tiles "
        f"(zoom 0-{result.max_zoom}), {result.bytes / 1e6:.2f} MB"
    )


def read_metadata(path: str | Path) -> dict:
    """The metadata of a PMTiles file (for tests and checks)."""
    from pmtiles.reader import MmapSource, Reader

    with open(path, "rb") as handle:
        return json.loads(json.dumps(Reader(MmapSource(handle)).metadata()))
