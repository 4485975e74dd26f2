"""Atomic units of one community: street blocks cut by barriers, split into address cells when big.

The community boundary, the barriers and the outlines of its exclusive sites are noded together
and polygonized into blocks. A block holding more households than ``split_above`` is cut further
along the Voronoi edges of its distinct address points (edges never pass through an address
point), and everything is polygonized once more from the same noded lines, so neighbouring units
share their edges vertex for vertex (see ``adjacency``) and the units tile the community exactly.

>>> import numpy as np, shapely
>>> square = shapely.box(121.0, 31.0, 121.01, 31.01)
>>> road = shapely.LineString([(121.005, 30.99), (121.005, 31.02)])
>>> points = np.array([[121.002, 31.005], [121.008, 31.005], [121.009, 31.002]])
>>> units = build_units(square, [road], [], points, np.array([200, 200, 200]), np.zeros(3, int),
...                     split_above=500)
>>> len(units), sorted(units.households.tolist()), units.on_barrier.tolist()
(2, [200, 400], [True])
>>> units = build_units(square, [road], [], points, np.array([200, 200, 200]), np.zeros(3, int),
...                     split_above=300)
>>> len(units), sorted(units.households.tolist())
(3, [200, 200, 200])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridmap.partition.adjacency import metric_scale_for, shared_edges

# Voronoi edges are clipped a hair beyond their block so that noding joins them to its boundary;
# the overshoot is a dangle that polygonize drops. About 1 cm in degrees.
_OVERSHOOT_DEG = 1e-7


@dataclass
class Units:
    """The units of one community and their rook graph (edges i < j, lengths in metres)."""

    geometries: np.ndarray  # shapely Polygons, EPSG:4490
    block: np.ndarray  # block each unit was cut from (units of different blocks meet on a barrier)
    site: np.ndarray  # index of the exclusive site holding the unit, -1 for comprehensive land
    households: np.ndarray
    population: np.ndarray
    area_m2: np.ndarray  # local equirectangular estimate, for balancing only
    x: np.ndarray  # centroid in local metres
    y: np.ndarray
    point_unit: np.ndarray  # unit of each input point
    edge_i: np.ndarray
    edge_j: np.ndarray
    edge_length: np.ndarray
    on_barrier: np.ndarray
    split_blocks: int  # blocks cut into address cells
    address_points: np.ndarray  # distinct address points in each unit

    def __len__(self) -> int:
        return len(self.geometries)


# Faces smaller than this fraction of the community are numerical dust: where a barrier runs
# along the boundary, noding leaves rings whose vertices differ in the last bit (area ~1e-30).
# Together they are far below the 1e-9 coverage tolerance, and alone they would be grids of 0 m2.
_DUST = 1e-12
# An interior point closer than this to the community boundary (about 0.1 mm) is not trusted to
# tell inside from outside; point-in-polygon errs only within ~1e-13 degrees of an edge.
_UNSURE_DEG = 1e-9


def connected_pieces(units: Units, members: np.ndarray) -> tuple[int, np.ndarray]:
    """The connected pieces the units ``members`` (indexes) form through their shared edges:
    (how many, the piece of each member, in ``members``' order)."""
    position = np.full(len(units), -1, np.int64)
    position[members] = np.arange(len(members))
    inside = (position[units.edge_i] >= 0) & (position[units.edge_j] >= 0)
    graph = coo_matrix(
        (
            np.ones(int(inside.sum())),
            (position[units.edge_i[inside]], position[units.edge_j[inside]]),
        ),
        shape=(len(members), len(members)),
    )
    return connected_components(graph, directed=False)


def _faces(lines: list, community) -> np.ndarray:
    """Polygonize the noded lines and keep the faces lying inside the community."""
    noded = shapely.unary_union(np.asarray(lines, dtype=object))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = faces[shapely.area(faces) > _DUST * community.area]
    if len(faces) == 0:
        return faces
    anchors = shapely.point_on_surface(faces)
    inside = shapely.intersects(community, anchors)
    # The interior point of a sliver (a barrier running a hair beside the boundary) lies within
    # rounding of the boundary, where a point test may call it outside: such a face would be a
    # gap in the cover. Decide those few by the share of their area inside the community.
    unsure = np.flatnonzero(shapely.dwithin(community.boundary, anchors, _UNSURE_DEG))
    if len(unsure):
        overlap = shapely.area(shapely.intersection(faces[unsure], community))
        inside[unsure] = overlap > 0.5 * shapely.area(faces[unsure])
    return faces[inside]


def locate(
    points: np.ndarray, polygons: np.ndarray, preferred: np.ndarray | None = None
) -> np.ndarray:
    """Polygon holding each point: on a shared edge a ``preferred`` polygon first (exclusive
    sites: the edge rule's first half), then the lowest index; the nearest if none holds it."""
    result = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(polygons) == 0:
        return result
    tree = shapely.STRtree(polygons)
    geoms = shapely.points(points)
    pt, poly = tree.query(geoms, predicate="intersects")
    rank = np.zeros(len(poly), bool) if preferred is None else ~preferred[poly]
    order = np.lexsort((poly, rank, pt))
    pt, poly = pt[order], poly[order]
    first = np.ones(len(pt), bool)
    first[1:] = pt[1:] != pt[:-1]
    result[pt[first]] = poly[first]
    missing = np.flatnonzero(result < 0)
    if len(missing):  # rounding can put a boundary point a hair outside every face
        pt, poly = tree.query_nearest(geoms[missing], return_distance=False, all_matches=False)
        result[missing[pt]] = poly
    return result


def unique_rows(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(coords, axis=0, return_inverse=True)`` for an (n, 2) float array, by one
    lexsort: numpy's row-wise unique sorts a structured view, 3 to 4 times slower at every size
    (2.7 s for the 2M city's address points, which the partition's client computes while the
    workers wait; 100 us where a block's Voronoi cells start from its distinct points).

    >>> points, inverse = unique_rows(np.array([[2.0, 1.0], [1.0, 5.0], [2.0, 1.0], [1.0, 0.5]]))
    >>> points.tolist(), inverse.tolist()
    ([[1.0, 0.5], [1.0, 5.0], [2.0, 1.0]], [2, 1, 2, 0])
    """
    order = np.lexsort((coords[:, 1], coords[:, 0]))  # by lon, then lat: numpy's row order
    ordered = coords[order]
    first = np.ones(len(ordered), bool)
    first[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    inverse = np.empty(len(ordered), np.intp)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def _voronoi_edges(block, points: np.ndarray):
    """Voronoi edges between the distinct points of a block, clipped just beyond the block."""
    unique = unique_rows(points)[0]
    if len(unique) < 2:
        return None
    minx, miny, maxx, maxy = block.bounds
    pad = max(maxx - minx, maxy - miny)
    frame = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    try:
        edges = shapely.voronoi_polygons(
            shapely.multipoints(unique), only_edges=True, extend_to=frame
        )
    except shapely.errors.GEOSException:
        return None  # degenerate point sets (e.g. all collinear and coincident) stay whole
    clipped = shapely.intersection(edges, shapely.buffer(block, _OVERSHOOT_DEG))
    return None if clipped.is_empty else clipped


def build_units(
    community,
    barriers,
    sites,
    points: np.ndarray,
    households: np.ndarray,
    population: np.ndarray,
    split_above: float | None,
    outlines: list | tuple = (),
) -> Units:
    """Cut ``community`` into units; see the module docstring.

    ``barriers``: line geometries (already near the community), ``sites``: the community's
    exclusive site polygons, ``points``: (n, 2) lon/lat of address points with their households,
    ``outlines``: polygons whose outlines must also cut (earlier grids that may stay), so that
    each unit lies inside one of them or outside all.
    """
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    households = np.asarray(households, dtype=np.int64)
    population = np.asarray(population, dtype=np.int64)
    minx, miny, maxx, maxy = community.bounds
    pad = max(maxx - minx, maxy - miny) * 0.01 + 1e-6
    base = [community.boundary]
    for line in barriers:
        clipped = shapely.clip_by_rect(line, minx - pad, miny - pad, maxx + pad, maxy + pad)
        if not clipped.is_empty:
            base.append(clipped)
    fixed = [shapely.boundary(polygon) for polygon in (*sites, *outlines)]
    base.extend(fixed)
    try:
        blocks = _faces(base, community)
    except shapely.errors.GEOSException:  # linework GEOS cannot node: cut without barriers
        base = [community.boundary, *fixed]
        try:
            blocks = _faces(base, community)
        except shapely.errors.GEOSException:
            base, blocks = [community.boundary], np.zeros(0, dtype=object)
    if len(blocks) == 0:  # degenerate linework: the community itself is the only unit
        blocks = np.array(shapely.get_parts(community), dtype=object)
    point_block = locate(points, blocks)
    block_households = np.bincount(point_block, weights=households, minlength=len(blocks))
    block_site = _site_of(blocks, sites)

    cut_lines = []
    if split_above is not None:
        for b in np.flatnonzero((block_households > split_above) & (block_site < 0)):
            edges = _voronoi_edges(blocks[b], points[point_block == b])
            if edges is not None:
                cut_lines.append(edges)
    if cut_lines:
        try:
            faces = _faces(base + cut_lines, community)
        except shapely.errors.GEOSException:  # keep whole blocks rather than fail
            faces, cut_lines = blocks, []
    if cut_lines:
        face_block = locate(shapely.get_coordinates(shapely.point_on_surface(faces)), blocks)
    else:
        faces, face_block = blocks, np.arange(len(blocks))
    point_unit = locate(points, faces, preferred=_site_of(faces, sites) >= 0)
    hh = np.bincount(point_unit, weights=households, minlength=len(faces)).astype(np.int64)
    pop = np.bincount(point_unit, weights=population, minlength=len(faces)).astype(np.int64)
    n_points = np.bincount(point_unit, minlength=len(faces))

    scale = metric_scale_for((miny + maxy) / 2.0)
    centroids = shapely.get_coordinates(shapely.centroid(faces))
    i, j, length = shared_edges(faces, scale)
    on_barrier = face_block[i] != face_block[j]
    return Units(
        geometries=faces,
        block=face_block,
        site=_site_of(faces, sites),
        households=hh,
        population=pop,
        area_m2=shapely.area(faces) * scale[0] * scale[1],
        x=centroids[:, 0] * scale[0],
        y=centroids[:, 1] * scale[1],
        point_unit=point_unit,
        edge_i=i,
        edge_j=j,
        edge_length=length,
        on_barrier=on_barrier,
        split_blocks=len(cut_lines),
        address_points=n_points,
    )


def _site_of(faces: np.ndarray, sites) -> np.ndarray:
    """Exclusive site index of each face (by an interior point), -1 outside every site."""
    result = np.full(len(faces), -1, dtype=np.int64)
    if not len(sites) or not len(faces):
        return result
    inner = shapely.point_on_surface(faces)
    tree = shapely.STRtree(np.asarray(sites, dtype=object))
    face, site = tree.query(inner, predicate="intersects")
    order = np.lexsort((-site, face))  # the lowest site index wins where sites overlap
    result[face[order]] = site[order]
    return result


def union_faces(faces: np.ndarray):
    """One polygon from edge-matched faces: coverage union (exact and fast for them), checked.

    Coverage union can lose a hole whose ring is split among several faces (a grid around an
    exclusive site, cut into Voronoi cells); then its area exceeds the faces' sum and the general
    union is taken instead.
    """
    if len(faces) == 1:
        return faces[0]
    merged = shapely.coverage_union_all(faces)
    total = float(shapely.area(faces).sum())
    if (
        merged.geom_type != "Polygon"
        or not merged.is_valid
        or abs(merged.area - total) > 1e-9 * max(total, 1e-300)
    ):
        merged = shapely.union_all(faces)
    return merged
