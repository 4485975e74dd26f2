"""A published version as files: GeoPackage, GeoJSON, Shapefile (zipped, with ``.cpg``) or CSV.

Layers (names as the files carry them): ``districts``, ``streets``, ``communities``, ``grids``
(comprehensive and exclusive, the CONTRACT grid columns), ``micro_grids``, ``roads`` and
``addresses`` (the version's library, points). Coordinates are EPSG:4490 (CGCS2000) lon/lat as
stored. One layer (``layer=``) gives one file (a Shapefile is still a zip: it is several files);
all layers give one GeoPackage, or a zip with one file per layer for the other formats.

Shapefile attribute names are cut to the format's 10 characters by the table below (never by
GDAL's truncation, which could make two names one), and the text encoding is UTF-8 unless
``encoding="gbk"`` (the common one in Chinese GIS desktops); the ``.cpg`` says which. CSV holds
``lon``/``lat`` for points and the geometry as WKT (column ``wkt``) for lines and polygons, in
UTF-8 with a byte-order mark (so spreadsheet programs read the Chinese) or GBK.

>>> FORMATS
('gpkg', 'geojson', 'shp', 'csv')
>>> export_name(3, "shp", "grids")
'gridmap-v3-grids-shp.zip'
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from gridmap.model import GRID_COLUMNS, STORAGE_CRS
from gridmap.partition.measure import area_m2, polsby_popper
from gridmap.services.library import address_frame

GPKG_OPTIONS = {"VERSION": "1.2"}
FORMATS = ("gpkg", "geojson", "shp", "csv")
ENCODINGS = {"utf-8": "UTF-8", "gbk": "GBK"}
# export layer -> (store layers, attribute columns)
LAYERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "districts": (("district",), ("code", "name", "level", "parent_code")),
    "streets": (("street",), ("code", "name", "level", "parent_code")),
    "communities": (("community",), ("code", "name", "level", "parent_code")),
    "grids": (
        ("grid", "exclusive"),
        GRID_COLUMNS,
    ),
    "micro_grids": (
        ("micro_grid",),
        ("micro_code", "grid_code", "households", "population", "area_m2", "flags"),
    ),
    "roads": (("roads",), ("name", "kind")),
    "addresses": ((), ()),  # the address library (store.addresses), points
}
# Shapefile (dBASE) field names have at most 10 characters.
SHAPEFILE_NAMES = {
    "community_code": "comm_code",
    "host_grid_code": "host_code",
    "polsby_popper": "polsby",
    "site_category": "site_cat",
    "parent_code": "parent",
    "address_id": "addr_id",
}
_MEDIA = {
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "csv": "text/csv; charset={charset}",
    "zip": "application/zip",
}


@dataclass(frozen=True)
class Export:
    """One downloadable file."""

    name: str
    media_type: str
    data: bytes


def export_name(version_id: int, fmt: str, layer: str | None) -> str:
    """The download's file name."""
    stem = f"gridmap-v{version_id}" + (f"-{layer}" if layer else "")
    single = fmt == "gpkg" or (layer is not None and fmt != "shp")
    return f"{stem}.{fmt}" if single else f"{stem}-{fmt}.zip"


def export_version(
    store, version_id: int, fmt: str, layer: str | None = None, encoding: str = "utf-8"
) -> Export:
    """The version (NotFound when absent) as ``fmt``; ValueError on an unknown format, layer or
    encoding (the message names it)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if layer is not None and layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LAYERS)}")
    if encoding.lower() not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}")
    encoding = ENCODINGS[encoding.lower()]
    store.version(version_id)  # NotFound first
    names = [layer] if layer else [n for n in LAYERS if n != "addresses"] + ["addresses"]
    frames = {name: layer_frame(store, version_id, name) for name in names}
    if layer is None:  # all layers: leave out the empty ones (a version without micro-grids)
        frames = {name: frame for name, frame in frames.items() if len(frame)}
    file_name = export_name(version_id, fmt, layer)
    with tempfile.TemporaryDirectory(prefix="gridmap-export-") as folder:
        root = Path(folder)
        if fmt == "gpkg":
            path = root / file_name
            for name, frame in frames.items():
                # GeoPackage 1.2: read without a warning by Debian's GDAL 3.6 and QGIS LTR
                first = {"dataset_options": GPKG_OPTIONS}
                options = {"append": True} if path.exists() else first
                pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", **options)
            return Export(file_name, _MEDIA["gpkg"], path.read_bytes())
        files: dict[str, bytes] = {}
        for name, frame in frames.items():
            files |= _write_one(frame, name, fmt, encoding, root)
        if len(files) == 1:
            data = next(iter(files.values()))
            media = _MEDIA[fmt].format(charset=encoding.lower())
            return Export(file_name, media, data)
        return Export(file_name, _MEDIA["zip"], _zip(files))


def _write_one(frame: gpd.GeoDataFrame, name: str, fmt: str, encoding: str, root: Path):
    if fmt == "geojson":
        path = root / f"{name}.geojson"
        pyogrio.write_dataframe(frame, path, driver="GeoJSON", layer=name)
        return {path.name: path.read_bytes()}
    if fmt == "csv":
        return {f"{name}.csv": _csv(frame, encoding)}
    folder = root / name
    folder.mkdir()
    renamed = frame.rename(columns=SHAPEFILE_NAMES)
    pyogrio.write_dataframe(renamed, folder / f"{name}.shp", encoding=encoding)
    # GDAL writes the .cpg (the encoding's name) beside .shp, .shx, .dbf and .prj.
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def _csv(frame: gpd.GeoDataFrame, encoding: str) -> bytes:
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    geoms = frame.geometry
    if len(frame) and (geoms.geom_type == "Point").all():
        if "lon" not in table:
            table["lon"], table["lat"] = geoms.x.round(7), geoms.y.round(7)
    else:
        table["wkt"] = geoms.to_wkt(rounding_precision=7)
    text = table.to_csv(index=False, lineterminator="\r\n")
    # UTF-8 with a BOM: spreadsheet programs otherwise read it as the local code page.
    return text.encode("utf-8-sig") if encoding == "UTF-8" else text.encode("gbk", "replace")


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def layer_frame(store, version_id: int, name: str) -> gpd.GeoDataFrame:
    """One export layer of a version as a GeoDataFrame (EPSG:4490)."""
    if name == "addresses":
        return _addresses(store, version_id)
    layers, columns = LAYERS[name]
    feats = store.layer_geometries(version_id, layers)
    rows = []
    for f in feats:
        props = dict(f.props)
        if name in ("districts", "streets", "communities"):
            props["code"], props["level"] = f.code, props.get("level") or f.layer
        rows.append({c: props.get(c) for c in columns})
    frame = gpd.GeoDataFrame(
        rows, columns=list(columns), geometry=[f.geometry for f in feats], crs=STORAGE_CRS
    )
    if name in ("grids", "micro_grids") and len(frame):
        frame["area_m2"] = np.round(area_m2(frame.geometry), 1)
    if name == "grids" and len(frame):
        frame["polsby_popper"] = np.round(polsby_popper(frame.geometry), 4)
        frame["locked"] = frame["locked"].fillna(False).astype(bool).astype(np.int64)
        frame["kind"] = frame["kind"].fillna("comprehensive")
    for column in ("households", "population"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column]).fillna(0).astype(np.int64)
    for column in frame.columns:
        if frame[column].dtype == object and column != frame.geometry.name:
            frame[column] = frame[column].fillna("").astype(str)
    return frame


def _addresses(store, version_id: int) -> gpd.GeoDataFrame:
    from gridmap.model import ADDRESS_COMPONENTS

    text = ["community_code", "grid_code", *ADDRESS_COMPONENTS]
    columns = ["address_id", "address", "lon", "lat", "households", "population", *text]
    frame = address_frame(store, version_id).reindex(columns=columns)
    # a component no address has comes back all NaN (float64): fill it as text, not as a number
    frame[text] = frame[text].astype(object).fillna("")
    points = gpd.points_from_xy(frame["lon"], frame["lat"], crs=STORAGE_CRS)
    return gpd.GeoDataFrame(frame, geometry=points, crs=STORAGE_CRS)
