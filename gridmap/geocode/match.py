"""Match one free-text address to the standard library: the deepest level and a confidence.

How a query is read (after :func:`gridmap.geocode.normalize.normalize`):

1. **Names and numbers** (:mod:`gridmap.geocode.query`): the longest names the library knows
   (admin units, roads, compounds, with aliases), door parts by unit word, and *residues*: text
   no name covers (typos, noise, names of other places).
2. **Fuzzy names.** A Chinese residue of two or more characters is compared with rapidfuzz
   (Levenshtein similarity: a slipped character is one edit, so 华亭家园 is 75% like 华庭家园
   while 三香花园, another name, is only 50% like 香樟花园) to the library's names *inside the
   admin units the query named* (all of the library's city otherwise); the candidates above the
   cutoff are tried.
3. **Hypotheses.** Each combination of road (+ door) and compound names gives a set of anchors
   (doors/compounds, see :mod:`gridmap.geocode.library`), narrowed by the admin units named; from
   there the building, unit and room are looked up. Among the hypotheses at least 0.75 as sure
   as the surest, the deepest level wins, then the higher score.

Confidence (0-1) starts at the weakest name score used (exact 1.0; a road or compound written
without its suffix, 栅堰 for 栅堰巷, or a town/community short form 0.99; fuzzy: similarity/100),
then:

* times 0.85 for each door part the query gave that the library lacks (0.6 under a misspelt
  name: 中央华城 1幢1单元1002室 is likely not 中央华府 when it has no such room), for each number
  the reading could not place (a second room), and for each road or compound name of the query
  the match does not use; halved for each *other compound* the query names (万科 + 城市花园);
* halved when it rests only on misspelt names whose *type word* differs from the library
  name's (中央华城 for 中央华府, 中山街 for 中山路: another kind of place, not a slip of the
  distinctive part such as 中央华富), unless another name of the query confirms it (the road
  the compound is on, the compound on the road);
* times 0.95 for each leftover of Chinese text no name of the match accounts for (chatter such
  as 居民反映 included: the answer did not use it);
* times 0.85 when a building is found under a road with neither door number nor compound;
  halved when it is found under admin units alone (新城22幢: which compound's building 22?),
  so that such a guess goes to review at the default threshold;
* divided by the number of distinct library places it could equally be;
* halved when the query's admin units contradict the match (times 0.8 when the unit was
  written in a short form such as 南湖), or when a building was found along the road behind
  another door number than the one written;
* halved when a different place at the same level scores within 0.05 of it (0.15 when the
  best one rests on a fuzzy name: a typo nearly as close to two names is a guess). Then the
  :class:`Resolution` lists the candidates (up to 5 places at that level, surest first).

A query naming a province or city other than the library's (``北京市朝阳区...`` against
浙江省嘉兴市) is level ``none`` with confidence 0: ambiguous names (朝阳区) only ever resolve
inside the library's city.

>>> import pandas as pd
>>> rows = pd.DataFrame({"address_id": ["r1"], "address": ["嘉兴市南湖区中山路58号3幢2单元1303室"],
...     "lon": [120.75], "lat": [30.75], "prov": ["浙江省"], "city": ["嘉兴市"],
...     "district": ["南湖区"], "road": ["中山路"], "roadno": ["58号"], "houseno": ["3幢"],
...     "cellno": ["2单元"], "roomno": ["1303室"]})
>>> matcher = Matcher(AddressLibrary(rows))
>>> result = matcher.resolve("南湖区中山路５８号三号楼二单元1303")
>>> result.level, result.confidence, result.place.parts
('room', 1.0, ('3', '2', '1303'))
>>> matcher.resolve("北京市朝阳区建国路88号").reason
'names 北京市, outside the library city 浙江省嘉兴市'
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from gridmap.geocode.library import AddressLibrary
from gridmap.geocode.normalize import normalize
from gridmap.geocode.places import LEVEL_DEPTH, Place
from gridmap.geocode.query import (
    ALIAS_SCORE,
    CJK,
    GENERIC_TAILS,
    QueryParts,
    Vocabulary,
    parse_city,
    read_query,
    type_clash,
)

MAX_QUERY_CHARS = 256  # longer text is not an address (a pasted document, a log line)
FUZZY_CUTOFF = 60.0  # similarity %; one wrong character in a three-character name scores 66.7
MISSING_PART_FACTOR = 0.85
CLOSE_SECOND = 0.05
CLOSE_SECOND_FUZZY = 0.15  # a typo is ambiguous when another name is nearly as close
NEARLY_AS_SURE = 0.75  # a deeper guess must be at least this share as sure as the surest one
GLUE_RIVAL = 75.0  # similarity % of a longer name that makes an exact name glued to text doubtful
SHADOWED = 0.9  # an exact name that may be the start of a longer, misspelt one
CONTRADICTION = 0.5  # the query names an admin unit the match is not in
ALIAS_CONTRADICTION = 0.8  # ... by a short form (南湖 for 南湖区)
MAX_DESCEND_ANCHORS = 5_000  # door parts are looked up under at most this many anchors
FUZZY_MISSING_FACTOR = 0.6  # a door part missing under a fuzzy name: likely another place
UNLOCATED_BUILDING = 0.85  # a building under a road with neither door nor compound named
ADMIN_ONLY_BUILDING = 0.5  # a building found under an admin unit, no road or compound named
UNUSED_TEXT = 0.95  # per leftover of Chinese text that no name of the answer accounts for
MAX_CANDIDATES = 5
_PLACE_KINDS = ("road", "poi", "subpoi")
TYPE_CLASH = 0.5  # a misspelt name whose type word differs (中央华城 for 中央华府), uncorroborated


@dataclass
class Resolution:
    """The matcher's best guess for one query, before the review threshold is applied."""

    query: str
    level: str = "none"
    confidence: float = 0.0
    place: Place | None = None  # the matched place
    reason: str = ""
    normalized: str = ""
    # other places the query may mean: (place, confidence, reason), surest first, the best
    # guess included first when there is more than one
    candidates: list[tuple[Place, float, str]] = field(default_factory=list)


@dataclass
class _Hypothesis:
    level: str
    score: float
    places: list[Place]  # more than one: library places that match equally
    notes: list[str]
    names: frozenset = frozenset()  # road and compound names it rests on
    fuzzy: bool = False  # rests on a misspelt name (a fuzzy match)

    @property
    def target(self) -> tuple:
        return self.places[0].key


class Matcher:
    """Resolves free text against an :class:`AddressLibrary` (see the module docstring).

    ``city`` is the library's city as text (``浙江省嘉兴市``); by default the most common
    province and city of the library. ``aliases`` maps extra spellings to library names
    (``{"老街": "中山路"}``).
    """

    def __init__(
        self,
        library: AddressLibrary,
        *,
        city: str | None = None,
        aliases: dict[str, str] | None = None,
    ) -> None:
        self.library = library
        self.city_prov, self.city_name = parse_city(library, city)
        self.city_label = (self.city_prov or "") + (self.city_name or "")
        self.vocabulary = Vocabulary(library, (self.city_prov, self.city_name), aliases)
        self._fuzzy_cache: dict[tuple, np.ndarray] = {}  # admin context -> allowed choices
        self._build_choices()

    # --- fuzzy names ----------------------------------------------------------------------
    def _build_choices(self) -> None:
        """Every full spelling of the library's road, compound and admin names (银杏公寓小区 for
        银杏公寓 too, not the short ones: a slip in a name written short, 东湖 for 东湖雅 for
        东湖雅苑, is too far to guess), sorted, with an index by character."""
        lib = self.library
        names = {("road", v) for v in lib.road_anchors}
        names |= {("poi", v) for v in lib.poi_anchors}
        names |= {("subpoi", v) for v in lib.subpoi_anchors}
        for kind in ("district", "town", "community"):
            names |= {(kind, v) for v in lib.admin_anchors[kind]}
        spellings, real = self.vocabulary.spellings, self.vocabulary.real
        targets = sorted(
            (spelling, target)
            for target in names
            for spelling in spellings.get(target, ())
            if spelling in real
        )
        self._spelt = [spelling for spelling, _ in targets]
        self._targets = [target for _, target in targets]
        self._choice_of: dict[tuple[str, str], list[int]] = {}
        for i, target in enumerate(self._targets):
            self._choice_of.setdefault(target, []).append(i)
        # which choices hold each character: a residue must share at least 60% of its characters
        # with a name to be 60% like it, so only those are scored (chatter shares none)
        by_char: dict[str, list[int]] = {}
        for i, spelling in enumerate(self._spelt):
            for ch in set(spelling):
                by_char.setdefault(ch, []).append(i)
        self._by_char = {ch: np.array(v, dtype=np.int64) for ch, v in by_char.items()}
        admin = [i for i, (kind, _) in enumerate(self._targets) if kind not in _PLACE_KINDS]
        self._admin_choices = np.array(admin, dtype=np.int64)

    def _allowed(self, parts: QueryParts) -> np.ndarray | None:
        """Which choices lie inside the admin unit the query names (None: all of the city's);
        admin names are always allowed."""
        context = tuple(
            (kind, name)
            for kind in ("community", "town", "district")
            for name, score in parts.admin.get(kind, ())[:1]
            if score >= ALIAS_SCORE  # written out, not itself a fuzzy guess
        )[:1]
        if not context:
            return None
        cached = self._fuzzy_cache.get(context)
        if cached is not None:
            return cached
        lib = self.library
        kind, name = context[0]
        anchors = lib.admin_anchors[kind][name]
        index = np.fromiter(anchors, dtype=np.int64, count=len(anchors))
        fields = lib.anchor_fields
        allowed = np.zeros(len(self._spelt), dtype=bool)
        allowed[self._admin_choices] = True
        choice_of = self._choice_of
        for kind in _PLACE_KINDS:
            for value in pd.unique(fields[kind][index]).tolist():  # a district: 10^5 anchors
                for i in choice_of.get((kind, value), ()):
                    allowed[i] = True
        if len(self._fuzzy_cache) < 10_000:
            self._fuzzy_cache[context] = allowed
        return allowed

    def _near(self, cjk: str, allowed: np.ndarray | None) -> list[int]:
        """The choices sharing enough characters with ``cjk`` to be FUZZY_CUTOFF% like it.

        Levenshtein similarity s needs at least s * len(cjk) characters in common, so the
        characters of ``cjk`` (with their counts) vote for the choices holding them.
        """
        counts: dict[str, int] = {}
        for ch in cjk:
            counts[ch] = counts.get(ch, 0) + 1
        lists, weights = [], []
        for ch, count in counts.items():
            holders = self._by_char.get(ch)
            if holders is not None:
                lists.append(holders)
                weights.append(np.full(len(holders), count, dtype=np.float64))
        if not lists:
            return []
        votes = np.bincount(
            np.concatenate(lists), weights=np.concatenate(weights), minlength=len(self._spelt)
        )
        enough = votes >= FUZZY_CUTOFF / 100 * len(cjk) - 1e-9
        if allowed is not None:
            enough &= allowed
        return np.flatnonzero(enough).tolist()

    def _fuzzy(self, parts: QueryParts) -> None:
        """Add fuzzy road/compound/admin candidates for the residues that may be names."""
        found_names = bool(parts.roads or parts.pois)
        leftovers = [(words, None) for _, words in parts.residues]
        leftovers += [(words, spelling) for _, words, spelling in parts.glued]
        allowed: np.ndarray | None | bool = False  # not looked up yet
        for position, (words, glued_to) in enumerate(leftovers):
            glued = glued_to is not None
            cjk = "".join(ch for ch in words if CJK.match(ch))
            if len(cjk) < 2:
                continue
            if found_names and len(cjk) < 3 and not glued:
                continue  # a two-character leftover beside real names is noise (旁边, 对面)
            if allowed is False:
                allowed = self._allowed(parts)
            near = self._near(cjk, allowed)
            if not near:
                continue
            choices, kinds = self._spelt, self._targets
            hits = process.extract(
                cjk,
                {i: choices[i] for i in near},
                scorer=Levenshtein.normalized_similarity,
                limit=10,
                score_cutoff=FUZZY_CUTOFF / 100,
            )
            hits = [(name, score * 100, index) for name, score, index in hits]
            if glued:
                # the exact name the leftover is glued to may be the start of a longer name
                # misspelt (东湖小区 + 冬期 for 东湖小区四期): then it is weaker evidence
                exact = {name for _, name in self.vocabulary.names.get(glued_to, ())}
                if any(kinds[i][1] not in exact and s >= GLUE_RIVAL for _, s, i in hits):
                    parts.shadowed |= exact
            for spelling, score, index in hits:
                kind, name = kinds[index]
                if kind in ("road", "poi", "subpoi") and type_clash(cjk, spelling):
                    parts.type_clash.add(name)
                if position < len(parts.residues):
                    parts.explained.setdefault(position, set()).add(name)
                score = score / 100.0
                if kind == "road":
                    parts.roads.append((name, score))
                elif kind in ("poi", "subpoi"):
                    parts.pois.append((kind, name, score))
                else:
                    parts.admin.setdefault(kind, []).append((name, score))
                    if kind == "district":
                        parts.foreign_district = None

    # --- resolving ------------------------------------------------------------------------
    def resolve(self, text: str) -> Resolution:
        """The best guess for ``text`` with its level, confidence and reason (never raises)."""
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        if len(text) > MAX_QUERY_CHARS * 4:
            return Resolution(text, reason=f"too long ({len(text)} characters)")
        norm = normalize(text)  # control characters are spaces there
        if not norm:
            return Resolution(text, reason="empty address", normalized=norm)
        if len(norm) > MAX_QUERY_CHARS:
            return Resolution(
                text,
                reason=f"too long ({len(norm)} characters, limit {MAX_QUERY_CHARS})",
                normalized=norm,
            )
        if not CJK.search(norm):
            return Resolution(text, reason="no Chinese address text", normalized=norm)
        parts = read_query(norm, self.vocabulary)
        if parts.foreign:
            return Resolution(
                text,
                reason=f"names {parts.foreign}, outside the library city {self.city_label}",
                normalized=norm,
            )
        if parts.residues or parts.glued:
            self._fuzzy(parts)
        if (
            parts.foreign_district
            and self.library.admin_anchors["district"]
            and "district" not in parts.admin
        ):
            return Resolution(
                text,
                reason=f"names {parts.foreign_district}, not a district of {self.city_label}",
                normalized=norm,
            )
        hypotheses = self._hypotheses(parts)
        if not hypotheses:
            return Resolution(
                text, reason="no road, compound or admin unit of the library found", normalized=norm
            )
        unexplained = self._unexplained(parts)
        if unexplained:
            for hypothesis in hypotheses:
                left = [
                    words
                    for i, words in unexplained
                    if not parts.explained.get(i, set()) & hypothesis.names
                ]
                if left:
                    hypothesis.score *= UNUSED_TEXT ** len(left)
                    hypothesis.notes.append(f"text not used: {'、'.join(left)}")
        # the deepest of the hypotheses nearly as sure as the surest, then the surest of those
        surest = max(h.score for h in hypotheses)
        close = [h for h in hypotheses if h.score >= surest * NEARLY_AS_SURE]
        close.sort(key=lambda h: (LEVEL_DEPTH[h.level], h.score), reverse=True)
        best = close[0]
        confidence = best.score
        notes = list(best.notes)
        rival = None
        for other in close[1:]:
            if other.level != best.level:
                break
            margin = CLOSE_SECOND_FUZZY if best.fuzzy else CLOSE_SECOND
            if other.target != best.target and other.score >= best.score - margin:
                confidence *= 0.5
                notes.append("another place matches as well")
                rival = other
                break
        confidence = round(float(confidence), 4)
        reason = "; ".join(notes)
        candidates = []
        if rival is not None or len(best.places) > 1:
            candidates = self._candidates(best, confidence, reason, hypotheses)
        return Resolution(
            text,
            level=best.level,
            confidence=confidence,
            place=best.places[0],
            reason=reason,
            normalized=norm,
            candidates=candidates,
        )

    @staticmethod
    def _unexplained(parts: QueryParts) -> list[tuple[int, str]]:
        """Leftovers of two or more Chinese characters: (residue number, text)."""
        out = []
        for i, (_, words) in enumerate(parts.residues):
            cjk = "".join(ch for ch in words if CJK.match(ch))
            if len(cjk) >= 2 and cjk not in GENERIC_TAILS:
                out.append((i, cjk))
        return out

    @staticmethod
    def _candidates(best, confidence, reason, hypotheses) -> list[tuple[Place, float, str]]:
        """Up to MAX_CANDIDATES distinct places, the best guess first, then the surest."""
        out: list[tuple[Place, float, str]] = []
        seen: set = set()

        def add(place: Place, score: float, why: str) -> None:
            if place.key not in seen and len(out) < MAX_CANDIDATES:
                seen.add(place.key)
                out.append((place, round(float(score), 4), why))

        for place in best.places:
            add(place, confidence, reason)
        # places at the answer's level: a road is no choice beside two of its doors
        ranked = sorted(
            (h for h in hypotheses if h.level == best.level),
            key=lambda h: -h.score,
        )
        for hypothesis in ranked:
            for place in hypothesis.places:
                add(place, hypothesis.score, "; ".join(hypothesis.notes))
        return out

    def _admin_names(self, parts: QueryParts) -> dict[str, tuple[str, float]]:
        """The best name the query gave for each admin level the library knows."""
        out = {}
        for kind in ("district", "town", "community"):
            names = parts.admin.get(kind)
            if names:
                name, score = max(names, key=lambda x: x[1])
                if name in self.library.admin_anchors[kind]:
                    out[kind] = (name, score)
        return out

    def _hypotheses(self, parts: QueryParts) -> list[_Hypothesis]:
        """Candidate places, most specific combination of names first.

        Stops early when a combination using every exact name matches every door part the
        query gave, in one place: no other combination can beat it.
        """
        lib = self.library
        admin = self._admin_names(parts)
        roads = _best_per_name(parts.roads)
        pois = _best_per_name([((k, n), s) for k, n, s in parts.pois])
        doors = [
            (road, number, score)
            for road, score in roads
            for number in parts.roadno
            if (road, number) in lib.door_anchors
        ]

        def poi_set(poi):
            kind, name = poi
            return (lib.poi_anchors if kind == "poi" else lib.subpoi_anchors)[name]

        # stop at the first perfect hypothesis only when no name of the text may be two places
        unambiguous = all(len(mention) == 1 for mention in parts.mentions)
        # a lane door (58弄11) already holds the building number: not looked up again below it
        below_lane_door = replace(parts, house=None) if parts.lane_door else parts
        combos = []  # (anchors, level, score, road used, poi used, parts to descend with)
        for road, number, road_score in doors:
            door_parts = below_lane_door if number == parts.lane_door else parts
            for poi, poi_score in pois:
                both = lib.door_anchors[(road, number)] & poi_set(poi)
                if both:
                    score = min(road_score, poi_score)
                    combos.append((both, "door", score, road, poi[1], door_parts))
        for road, number, road_score in doors:
            door_parts = below_lane_door if number == parts.lane_door else parts
            combos.append(
                (lib.door_anchors[(road, number)], "door", road_score, road, None, door_parts)
            )
        for poi, poi_score in pois:
            for road, road_score in roads:
                both = lib.road_anchors[road] & poi_set(poi)
                if both:
                    score = min(road_score, poi_score)
                    combos.append((both, "compound", score, road, poi[1], parts))
        for poi, poi_score in pois:
            combos.append((poi_set(poi), "compound", poi_score, None, poi[1], parts))
        for road, road_score in roads:
            combos.append((lib.road_anchors[road], "road", road_score, road, None, parts))

        out: list[_Hypothesis] = []
        for anchors, level, score, road, poi, descend_parts in combos:
            unused, conflicting = _unused_mentions(parts, road, poi)
            hypothesis = self._descend(descend_parts, anchors, level, score, admin, unused)
            if conflicting:
                # two compounds named (万科 + 城市花园 for 万科城市花园): which one is meant?
                hypothesis.score *= CONTRADICTION**conflicting
                hypothesis.notes.append("the text names another compound too")
            hypothesis.names = frozenset(n for n in (road, poi) if n)
            if hypothesis.names and hypothesis.names <= parts.type_clash:
                # 中央华城 is one character from 中央华府, but that character says it is another
                # kind of place: without a road or compound of the text to confirm it, a guess
                hypothesis.score *= TYPE_CLASH
                hypothesis.notes.append("the name's type word differs, and nothing confirms it")
            if road in parts.shadowed or poi in parts.shadowed:
                hypothesis.score *= SHADOWED
                hypothesis.fuzzy = True  # as doubtful as a misspelling
                hypothesis.notes.append("the text may name a longer, misspelt name")
            out.append(hypothesis)
            if hypothesis.score >= ALIAS_SCORE and not hypothesis.notes and unambiguous:
                return out  # every name used as written, every door part found
        if not out:
            # admin units only: the deepest one named
            for kind in ("community", "town", "district"):
                if kind in admin:
                    name, score = admin[kind]
                    anchors = lib.admin_anchors[kind][name]
                    hypothesis = self._descend(parts, anchors, kind, score, admin, 0)
                    hypothesis.names = frozenset([name])
                    out.append(hypothesis)
                    break
        return out

    def _descend(self, parts, anchors, level, score, admin, unused) -> _Hypothesis:
        """From a set of anchors down through building, unit and room, as deep as it goes."""
        lib = self.library
        notes: list[str] = []
        score_named, level_named = score, level
        if score < ALIAS_SCORE:
            notes.append(f"a misspelt name ({score:.0%} alike)")
        door_given_but_unmatched = bool(parts.roadno) and level != "door"
        for kind, (name, admin_score) in admin.items():
            if kind == level:
                continue
            inside = anchors & lib.admin_anchors[kind][name]
            if inside:
                anchors = inside
            elif admin_score < ALIAS_SCORE:
                continue  # a fuzzy guess at an admin unit: no evidence against the match
            else:
                # a short form (南湖) is weaker evidence: it may be part of another name
                score *= CONTRADICTION if admin_score >= 1.0 else ALIAS_CONTRADICTION
                notes.append("admin units in the text contradict the match")
                break
        if unused:
            score *= MISSING_PART_FACTOR**unused
            notes.append("a road or compound name in the text is not part of the match")
        missing = len(parts.unused)  # numbers the reading could not place (a second room)
        group = None  # (table name, [(anchor, group)], parts) at the deepest door part found
        if parts.house is not None and len(anchors) <= MAX_DESCEND_ANCHORS:
            found = _lookup(lib.building_groups, anchors, parts.house)
            if found:
                level, group = "building", ("building", found, (parts.house,))
                if parts.cell is not None:
                    deeper = _lookup(lib.unit_groups, anchors, parts.house, parts.cell)
                    if deeper:
                        level, group = "unit", ("unit", deeper, (parts.house, parts.cell))
                    else:
                        missing += 1
                if parts.room is not None:
                    if level == "unit":
                        rooms = _lookup(
                            lib.room_groups, anchors, parts.house, parts.cell, parts.room
                        )
                        table, numbers = "room", (parts.house, parts.cell, parts.room)
                    else:
                        rooms = _lookup(lib.room_nounit_groups, anchors, parts.house, parts.room)
                        table, numbers = "room_nounit", (parts.house, None, parts.room)
                    if rooms:
                        level, group = "room", (table, rooms, numbers)
                    else:
                        missing += 1
            else:
                missing += 1 + (parts.cell is not None) + (parts.room is not None)
        elif parts.house is not None or parts.room is not None or parts.cell is not None:
            missing += 1
        if door_given_but_unmatched and group is not None:
            # a building found along the road, behind another door than the one written
            score *= CONTRADICTION
            notes.append("the door number in the text is not the building's")
        elif door_given_but_unmatched:
            missing += 1
        if group is not None:
            table, found, numbers = group
            groups = getattr(lib, table + "_groups")
            found = sorted(found, key=lambda item: int(groups.rep[item[1]]))
            places = [
                Place(level, frozenset([anchor]), table, int(g), numbers) for anchor, g in found
            ]
            duplicates = int(groups.count[found[0][1]]) - 1 if level == "room" else 0
            count = len(places) + duplicates
        else:
            places = _distinct_places(lib, anchors, level)
            count = len(places)
        if count > 1:
            score /= count
            notes.append(f"{count} library places match equally")
        if missing:
            # under a misspelt name, a door part the place lacks says it may be another place
            # (中央华城 1幢1单元1002室 is not 中央华府 when 中央华府 has no such room)
            factor = FUZZY_MISSING_FACTOR if score_named < ALIAS_SCORE else MISSING_PART_FACTOR
            score *= factor**missing
            notes.append(f"{missing} door part(s) not in the library")
        if group is not None and level_named == "road":
            # 香樟1幢: building 1 of which compound along the road? Neither door nor compound named
            score *= UNLOCATED_BUILDING
            notes.append("the building's door or compound is not named")
        elif group is not None and level_named in ("district", "town", "community"):
            # 新城22幢: an admin unit holds many compounds, each with its buildings; that the
            # library has one building 22 there does not say the writer meant it (东湖新城22幢
            # is another city's compound): at best a guess for review
            score *= ADMIN_ONLY_BUILDING
            notes.append("no road or compound named: the building is located by admin unit only")
        return _Hypothesis(level, score, places, notes, fuzzy=score_named < ALIAS_SCORE)


def _unused_mentions(parts: QueryParts, road: str | None, poi: str | None) -> tuple[int, int]:
    """(road/compound names of the text a hypothesis leaves unused, of which compounds that
    conflict with the compound it uses)."""
    unused = conflicting = 0
    for mention in parts.mentions:
        names = {name for _, name in mention}
        if road in names or poi in names or names <= parts.shadowed:
            continue  # used, or maybe only the start of a misspelt longer name (府南苑区)
        if poi is not None and any(kind != "road" for kind, _ in mention):
            conflicting += 1
        else:
            unused += 1
    return unused, conflicting


def _best_per_name(candidates):
    """Unique names, each with its best score, best first."""
    best: dict = {}
    for name, score in candidates:
        if score > best.get(name, -1.0):
            best[name] = score
    return sorted(best.items(), key=lambda x: -x[1])


def _lookup(groups, anchors, *parts: str) -> list[tuple[int, int]]:
    """(anchor, group) pairs holding the door parts under any of ``anchors``."""
    if len(anchors) < 8:
        found = []
        for anchor in anchors:
            g = groups.find(anchor, *parts)
            if g is not None:
                found.append((anchor, g))
        return found
    # a road's thousands of doors: the keys in one numpy pass, found by bisection in the
    # groups' sorted keys (a group's number is its key's position)
    codes = []
    for code_of, part in zip(groups.codes, parts, strict=True):
        code = code_of.get(part)
        if code is None:
            return []
        codes.append(code)
    anchor_array = np.fromiter(anchors, dtype=np.int64, count=len(anchors))
    keys = anchor_array
    for radix, code in zip(groups.radix, codes, strict=True):
        keys = keys * radix + code
    known = groups.keys
    if not len(known):
        return []
    position = np.searchsorted(known, keys)
    np.minimum(position, len(known) - 1, out=position)
    hit = np.flatnonzero(known[position] == keys)
    return list(zip(anchor_array[hit].tolist(), position[hit].tolist(), strict=True))


def _distinct_places(lib: AddressLibrary, anchors, level: str) -> list[Place]:
    """The different real places a set of anchors stands for at ``level``, the first being the
    one whose representative comes first (a community's own entry before its doors)."""
    if len(anchors) == 1 or level not in ("door", "compound"):
        return [Place(level, frozenset(anchors))]  # a road or an admin unit is one place
    fields = lib.anchor_fields
    columns = ("community", "road", "roadno") if level == "door" else ("community", "poi")
    by_key: dict[tuple, set[int]] = {}
    for a in anchors:
        by_key.setdefault(tuple(fields[c][a] for c in columns), set()).add(a)
    places = [Place(level, frozenset(group)) for group in by_key.values()]
    if len(places) > 1:
        places.sort(key=lambda p: lib.anchors_summary(p.anchors)[0])
    return places
