"""The Geocoder: one object, loaded once from a library + grids, answering every question.

``match(text)`` / ``match_many(texts)`` (free text -> standard address), ``reverse(lon, lat)``
(point -> grid, admin units, nearest address) and ``assign(lon, lat)`` (points -> grid codes).
The CLI and the web app both use it.

The review rule: a guess whose confidence is below ``review_threshold`` is not given as an
answer. :meth:`Geocoder.match` returns level ``none`` for it (keeping the confidence, so a caller
sees how close it came); :meth:`Geocoder.resolve` returns the guess itself with its reason, which
is what goes to the review file.

>>> import pandas as pd, geopandas as gpd
>>> from shapely import box
>>> library = pd.DataFrame({"address_id": ["r1"], "address": ["南湖区中山路58号"],
...     "lon": [120.75], "lat": [30.75], "city": ["嘉兴市"], "district": ["南湖区"],
...     "road": ["中山路"], "roadno": ["58号"]})
>>> grids = gpd.GeoDataFrame({"grid_code": ["330402001001001"]},
...     geometry=[box(120.7, 30.7, 120.8, 30.8)], crs="EPSG:4490")
>>> geocoder = Geocoder.from_frames(library, grids)
>>> m = geocoder.match("中山路５８号")
>>> m.level, m.address_id, m.grid_code
('door', 'r1', '330402001001001')
>>> geocoder.match("").level
'none'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridmap import gcpause
from gridmap.errors import InputError
from gridmap.geocode.library import AddressLibrary
from gridmap.geocode.match import Matcher, Resolution
from gridmap.geocode.places import Describer, Place
from gridmap.geocode.reverse import ReverseIndex
from gridmap.model import Candidate, Match
from gridmap.rules.grid_index import GridIndex

DEFAULT_REVIEW_THRESHOLD = 0.6


@dataclass
class Answer:
    """A match plus what the review file needs: whether it was accepted, and why not."""

    match: Match  # what callers get (level none when not accepted)
    guess: Match  # the best guess, whatever its confidence
    accepted: bool
    reason: str
    place: Place | None = None  # the guessed place (for evaluation: which anchors, which group)


class Geocoder:
    """Standard-address matching, reverse geocoding and grid assignment over one library."""

    def __init__(
        self,
        library: AddressLibrary,
        grid_index: GridIndex | None,
        *,
        boundaries=None,
        city: str | None = None,
        review_threshold: float = DEFAULT_REVIEW_THRESHOLD,
        aliases: dict[str, str] | None = None,
        unassigned: Sequence[str] = (),
        roads: dict | None = None,
    ) -> None:
        if not 0.0 <= review_threshold <= 1.0:
            raise ValueError(f"review_threshold must be within 0-1, got {review_threshold}")
        self.library = library
        self.grid_index = grid_index
        self.review_threshold = float(review_threshold)
        self.matcher = Matcher(library, city=city, aliases=aliases)
        self.describer = Describer(library, roads)
        #: address_ids of library points that fall in no grid (their matches carry no grid_code)
        self.unassigned = list(unassigned)
        self._reverse = ReverseIndex(
            library.lon, library.lat, library.ids, library.address, grid_index, boundaries
        )

    @classmethod
    def from_frames(
        cls,
        addresses: pd.DataFrame,
        grids=None,
        boundaries=None,
        *,
        city: str | None = None,
        review_threshold: float = DEFAULT_REVIEW_THRESHOLD,
        aliases: dict[str, str] | None = None,
        source: str = "address library",
        parser=None,
        roads=None,
    ) -> Geocoder:
        """Build from an address library (CONTRACT columns) and grids (GeoDataFrame, EPSG:4490).

        ``parser``: a trained :class:`~gridmap.geocode.parse.AddressParser` that derives the
        components of library rows whose component columns are missing or empty (without it,
        only standard-form texts are split). ``roads``: a line layer with a ``name`` column
        (the barriers' roads) whose lines a road match highlights.

        Raises InputError on a duplicate ``address_id`` or a missing required column. Library
        points outside every grid are kept (listed in :attr:`unassigned`).
        """
        _require(addresses, ("address_id", "address", "lon", "lat"), source)
        # an empty layer (a store without grids yet) is the same as none
        grids = grids if grids is not None and len(grids) else None
        boundaries = boundaries if boundaries is not None and len(boundaries) else None
        if grids is not None:
            _require(grids, ("grid_code", "geometry"), "grids")
        if boundaries is not None:
            _require(boundaries, ("code", "level", "geometry"), "boundaries")
        grid_index = GridIndex.from_frame(grids) if grids is not None else None
        codes = None
        unassigned: list[str] = []
        if grid_index is not None:
            lon = addresses["lon"].to_numpy(dtype=np.float64)
            lat = addresses["lat"].to_numpy(dtype=np.float64)
            codes = grid_index.locate_many(lon, lat)
            outside = np.array([c is None for c in codes], dtype=bool)
            unassigned = addresses["address_id"].astype(str).to_numpy()[outside].tolist()
        library = AddressLibrary(addresses, codes, source=source, parser=parser)
        return cls(
            library,
            grid_index,
            boundaries=boundaries,
            city=city,
            review_threshold=review_threshold,
            aliases=aliases,
            unassigned=unassigned,
            roads=road_lines(roads),
        )

    @classmethod
    def from_files(
        cls,
        library_path,
        grids_path=None,
        boundaries_path=None,
        *,
        crs: str | None = None,
        **options,
    ) -> Geocoder:
        """Read the files through :mod:`gridmap.io` (every problem reported) and build."""
        from gridmap import io

        addresses = io.read_addresses(library_path, crs=crs)
        grids = io.read_grids(grids_path) if grids_path else None
        boundaries = io.read_boundaries(boundaries_path) if boundaries_path else None
        return cls.from_frames(addresses, grids, boundaries, source=str(library_path), **options)

    # --- matching -------------------------------------------------------------------------
    def _as_match(self, resolution: Resolution) -> Match:
        place = resolution.place
        candidates = tuple(
            self._candidate(candidate, score, why)
            for candidate, score, why in resolution.candidates
        )
        if place is None or resolution.level == "none":
            return Match(
                resolution.query,
                "none",
                resolution.confidence,
                candidates=candidates,
                reason=resolution.reason,
            )
        about = self.describer.describe(place)
        return Match(
            query=resolution.query,
            level=resolution.level,
            confidence=resolution.confidence,
            address_id=about.address_id,
            address=about.address,
            lon=about.lon,
            lat=about.lat,
            grid_code=about.grid_code,
            approximate=about.approximate,
            label=about.label,
            highlight=about.highlight,
            candidates=candidates,
            reason=resolution.reason,
        )

    def _candidate(self, place, confidence: float, reason: str) -> Candidate:
        about = self.describer.describe(place, outline=False)  # a candidate has no shape
        return Candidate(
            level=place.level,
            confidence=confidence,
            reason=reason,
            label=about.label,
            address_id=about.address_id,
            lon=about.lon,
            lat=about.lat,
            grid_code=about.grid_code,
            approximate=about.approximate,
        )

    def resolve(self, text: str) -> Answer:
        """The full answer for ``text``: accepted match or, below the threshold, the guess."""
        resolution = self.matcher.resolve(text)
        guess = self._as_match(resolution)
        accepted = guess.level != "none" and resolution.confidence >= self.review_threshold
        if accepted:
            return Answer(guess, guess, True, resolution.reason, resolution.place)
        reason = resolution.reason
        if guess.level != "none":
            reason = f"confidence {resolution.confidence:.2f} below {self.review_threshold:.2f}" + (
                f": {reason}" if reason else ""
            )
        # not sure enough: no place, but the places it may be to choose from
        candidates = guess.candidates
        if not candidates and guess.level != "none":
            candidates = (self._candidate(resolution.place, resolution.confidence, reason),)
        refused = Match(
            guess.query, "none", resolution.confidence, candidates=candidates, reason=reason
        )
        return Answer(refused, guess, False, reason, resolution.place)

    def match(self, text: str) -> Match:
        """Best standard address for ``text``; level ``none`` when nothing sure enough matches."""
        return self.resolve(text).match

    def match_many(self, texts: Iterable[str], *, progress: bool = False) -> list[Match]:
        """:meth:`match` for many texts (a tqdm bar on stderr when ``progress``)."""
        return [answer.match for answer in self.resolve_many(texts, progress=progress)]

    def resolve_many(self, texts: Iterable[str], *, progress: bool = False) -> list[Answer]:
        """:meth:`resolve` for many texts; one bad text never stops the batch.

        A text repeated in the batch (department lists repeat addresses) is resolved once.
        """
        texts = list(texts)
        if progress:
            from tqdm import tqdm

            texts = tqdm(texts, desc="geocoding", unit="addr", leave=False)
        seen: dict[str, Answer] = {}
        out = []
        with gcpause.paused():  # answers are acyclic: the collector would only re-walk them
            for text in texts:
                key = text if isinstance(text, str) else repr(text)
                answer = seen.get(key)
                if answer is None:
                    answer = seen[key] = self.resolve(text)
                out.append(answer)
        return out

    # --- points ---------------------------------------------------------------------------
    def reverse(self, lon: float, lat: float, crs: str = "wgs84", radius_m: float = 100.0) -> dict:
        """Grid, community, street and district codes at a point, and the nearest standard
        address within ``radius_m`` (``address_id``, ``address``, ``distance_m``; None if none).
        """
        return self._reverse.reverse(lon, lat, crs=crs, radius_m=radius_m)

    def nearest_address(self, lon: float, lat: float, radius_m: float = 100.0) -> dict | None:
        """Only the nearest standard address of :meth:`reverse`, for a CGCS2000 point already
        known to be valid (a report's point): ``address_id``, ``address``, ``distance_m``, or
        None when none lies within ``radius_m``."""
        return self._reverse.nearest(lon, lat, radius_m)

    def prepare_reverse(self) -> None:
        """Build the nearest-address index now (a server warming up), not on the first report."""
        self._reverse.prepare()

    def assign(self, lon, lat) -> np.ndarray:
        """Grid code of each CGCS2000 lon/lat point (None outside every grid)."""
        lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        if self.grid_index is None:
            return np.full(len(lon), None, dtype=object)
        return self.grid_index.locate_many(lon, lat)


def road_lines(roads) -> dict | None:
    """``{normalised road name: line geometry}`` from a line layer with a ``name`` column."""
    if roads is None or not len(roads) or "name" not in roads.columns:
        return None
    from gridmap.geocode.library import name_key

    frame = roads
    if "kind" in frame.columns:
        frame = frame[frame["kind"].isna() | (frame["kind"] == "road")]
    frame = frame[frame["name"].notna() & (frame["name"].astype(str).str.strip() != "")]
    out: dict = {}
    for name, group in frame.groupby(frame["name"].astype(str).map(name_key)):
        out[name] = group.geometry.union_all()
    return out


def _require(frame, columns: tuple[str, ...], source: str) -> None:
    """InputError naming the columns a frame lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError.one(
            source, f"missing column(s) {', '.join(missing)} (found: {', '.join(frame.columns)})"
        )
