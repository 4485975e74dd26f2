"""Reading a query: the library's names it contains, its door parts, and what is left over.

:class:`Vocabulary` holds every spelling of the library's names (admin units with their short
forms, roads, compounds and their aliases) and scans a normalised text for the longest known
name at each position. :func:`read_query` turns the scan into :class:`QueryParts`: names by
kind, door parts by unit word (``弄`` lane, ``号`` door or building, ``幢`` ``单元`` ``层``
``室``; a bare number fills the next empty part), and residues: text no name covers (typos,
noise, names of other places), which the matcher compares fuzzily.

>>> import pandas as pd
>>> from gridmap.geocode.library import AddressLibrary
>>> rows = pd.DataFrame({"address_id": ["r1"], "address": ["x"], "lon": [120.7], "lat": [30.7],
...     "city": ["嘉兴市"], "road": ["中山路"], "poi": ["幸福家园"]})
>>> vocabulary = Vocabulary(AddressLibrary(rows))
>>> parts = read_query("嘉兴中山路58号幸福家园小区3幢2单元六〇一", vocabulary)
>>> parts.roads, parts.pois, parts.roadno, parts.house, parts.cell, parts.room
([('中山路', 1.0)], [('poi', '幸福家园', 1.0)], ['58'], '3', '2', '601')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz.distance import Levenshtein

from gridmap.geocode.library import AddressLibrary, name_key
from gridmap.geocode.normalize import chinese_number

NUMBER = re.compile(
    r"(-?(?:[A-Z]?\d+(?:-\d+)?(?:[A-Z]|[甲乙丙丁](?=号))?|[A-Z](?=幢)))(幢|单元|层|室|弄|号|组)?"
)
CJK = re.compile(r"[\u3400-\u9fff]")
CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
MAX_GLUED = 3  # characters of a leftover tried together with the name before it
# words that often follow a name without being part of it
GENERIC_TAILS = frozenset(
    ("小区", "附近", "旁边", "对面", "门口", "楼下", "东侧", "西侧", "南侧", "北侧")
)
ALIAS_SCORE = 0.99  # score of an admin unit written in another spelling (南湖 for 南湖区)
MAX_BARE_DIGITS = 6  # a longer number without a unit word is a phone or order number
# a room number in Chinese numerals after a unit or floor (2单元六〇一), which normalize() leaves
# alone because no unit word follows it
_CN_ROOM = "[零〇○一二两三四五六七八九十百0]"
_TRAILING_CN_ROOM = re.compile(
    rf"(?<=单元|\d层|\d幢)({_CN_ROOM}{{2,}}(?=室|$)|{_CN_ROOM}{{3,}}(?!{_CN_ROOM}))室?"
)
_FOREIGN_ADMIN = re.compile(r"^[\u3400-\u9fff]{2,}?(?:省|自治区|特别行政区|市)")
_FOREIGN_DISTRICT = re.compile(r"^[\u3400-\u9fff]{1,5}?[区县旗]")
_NOT_A_DISTRICT = re.compile(r"(小|园|工业|开发|校|景|社|街|片|厂|营|院|城|商)区$")
_ROAD_SUFFIX = re.compile(r"(路|街|大道|道|巷|弄|公路|线)$")
_SHORTENABLE = {
    "prov": re.compile(r"(.{2,}?)(省|自治区|特别行政区|市)$"),
    "city": re.compile(r"(.{2,}?)(市|地区|自治州|盟)$"),
    "district": re.compile(r"(.{2,}?)(区|县|市|旗)$"),
}
_COMPOUND_SUFFIXES = ("小区", "花园", "家园", "公寓", "新村", "苑", "大厦")
_COMPOUND_END = re.compile(r"(小区|园|公寓|村|苑|大厦|府|邸|庭|城|居)$")
# suffixes people leave out of a road or compound name (栅堰巷 -> 栅堰, 阳光花园 -> 阳光)
DROPPABLE_SUFFIXES = ("小区", "花园", "路", "街", "巷", "弄", "苑")
# the generic word that ends a place name and says what kind of place it is (府 in 中央华府, 城 in
# 中央华城, 路 in 中山路); the name's distinctive part is what comes before it
_TYPE_CHAR = re.compile(r"([园苑城府邸庭居村墅湾轩阁坊寓厦院庄舍郡里路街巷弄道])(?:小区)?$")
_COMMUNITY_ALIASES = (("社区", "社区居委会"), ("社区", "居委会"), ("村", "村委会"))
_TOWN_ALIASES = (("街道", "街道办事处"), ("街道", "街道办"))
_TOWN_SHORT = ("街道", "镇", "乡")
_COMMUNITY_SHORT = ("社区", "村")


@dataclass
class QueryParts:
    """A query read into names (with scores: 1.0 exact), door parts and leftovers."""

    admin: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    roads: list[tuple[str, float]] = field(default_factory=list)
    pois: list[tuple[str, str, float]] = field(default_factory=list)  # (kind, name, score)
    roadno: list[str] = field(default_factory=list)  # alternatives, best first
    lane_door: str | None = None  # 58弄11: a door number that already holds the building
    house: str | None = None
    cell: str | None = None
    floor: str | None = None
    room: str | None = None
    residues: list[tuple[int, str]] = field(default_factory=list)
    # a name + the leftover glued to it: (start, text, the name's spelling)
    glued: list[tuple[int, str, str]] = field(default_factory=list)
    shadowed: set[str] = field(default_factory=set)  # exact names that may be misspelt longer
    foreign: str | None = None  # a province or city named that is not the library's
    foreign_district: str | None = None  # a district-like name the library does not know
    unused: list[str] = field(default_factory=list)  # numbers read but given no place (201号)
    # each road/compound name written in the text: the (kind, name) entries it may stand for
    mentions: list[frozenset] = field(default_factory=list)
    # names the fuzzy search found only by changing their type word (中央华城 for 中央华府)
    type_clash: set[str] = field(default_factory=set)
    # residue number -> names the fuzzy search found in it (kept here, not on the matcher: one
    # matcher answers many threads)
    explained: dict[int, set[str]] = field(default_factory=dict)


def parse_city(library: AddressLibrary, city: str | None) -> tuple[str | None, str | None]:
    """(province, city) of ``city`` text (``浙江省嘉兴市``), else the library's most common.

    >>> parse_city(None, "浙江省嘉兴市"), parse_city(None, "上海市")
    (('浙江省', '嘉兴市'), (None, '上海市'))
    """
    if city:
        text = name_key(city)
        match = re.match(r"^(.+?(?:省|自治区|特别行政区))?(.+?(?:市|地区|自治州|盟))?$", text)
        if match and (match.group(1) or match.group(2)):
            return match.group(1), match.group(2)
        return None, text

    def most_common(values: np.ndarray) -> str | None:
        values = values[values != ""]
        if not len(values):
            return None
        names, counts = np.unique(values.astype(str), return_counts=True)
        return str(names[np.argmax(counts)])

    return most_common(library.names["prov"]), most_common(library.names["city"])


class Vocabulary:
    """Every spelling of the library's names: ``spelling -> [(kind, library name)]``.

    Kinds: prov, city (the configured city only), district, town, community, road, poi, subpoi.
    Aliases: short forms of province/city/district (``嘉兴``, ``南湖``), 居委会/街道办 forms of
    communities and towns, compounds with and without ``小区``, and ``aliases`` given by the user
    (``{"老街": "中山路"}``). A real name is never shadowed by an alias.
    """

    def __init__(
        self,
        library: AddressLibrary,
        city: tuple[str | None, str | None] = (None, None),
        aliases: dict[str, str] | None = None,
    ) -> None:
        self.library = library
        self.names: dict[str, list[tuple[str, str]]] = {}
        self.unknown_aliases: list[tuple[str, str]] = []  # (alias, target) naming no library name
        self.stems: frozenset[str] = frozenset()  # spellings that are a name without its suffix
        self.real: frozenset[str] = frozenset()  # spellings of real names (not short forms)
        self._build(city, aliases or {})
        self.max_length = max((len(k) for k in self.names), default=0)
        # first two characters -> the lengths of the names starting so, longest first: the scan
        # tries only those (a library has names of 2-20 characters, most prefixes few lengths)
        lengths: dict[str, set[int]] = {}
        for k in self.names:
            lengths.setdefault(k[:2], set()).add(len(k))
        self.prefixes = {k: tuple(sorted(v, reverse=True)) for k, v in lengths.items()}
        self.spellings: dict[tuple[str, str], list[str]] = {}
        for spelling, entries in self.names.items():
            for target in entries:
                self.spellings.setdefault(target, []).append(spelling)

    def _add(self, spelling: str, kind: str, name: str) -> None:
        if len(spelling) < 2:
            return
        entries = self.names.setdefault(spelling, [])
        if (kind, name) not in entries:
            entries.append((kind, name))

    def _build(self, city: tuple[str | None, str | None], aliases: dict[str, str]) -> None:
        lib = self.library
        for kind, name in zip(("prov", "city"), city, strict=True):
            if name:
                self._add(name, kind, name)
                short = _SHORTENABLE[kind].match(name)
                if short:
                    self._add(short.group(1), kind, name)
        for name in lib.admin_anchors["district"]:
            self._add(name, "district", name)
            short = _SHORTENABLE["district"].match(name)
            if short and short.group(1) not in self.names:
                self._add(short.group(1), "district", name)
        for kind, suffixes in (("town", _TOWN_ALIASES), ("community", _COMMUNITY_ALIASES)):
            for name in lib.admin_anchors[kind]:
                self._add(name, kind, name)
                for suffix, alias in suffixes:
                    if name.endswith(suffix):
                        self._add(name[: -len(suffix)] + alias, kind, name)
        shorts: list[tuple[str, str, str]] = []
        for kind, suffixes in (("town", _TOWN_SHORT), ("community", _COMMUNITY_SHORT)):
            for name in lib.admin_anchors[kind]:
                for suffix in suffixes:
                    if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                        shorts.append((name[: -len(suffix)], kind, name))
                        break
        self._shorts = shorts
        for name in lib.road_anchors:
            self._add(name, "road", name)
        for kind, table in (("poi", lib.poi_anchors), ("subpoi", lib.subpoi_anchors)):
            for name in table:
                self._add(name, kind, name)
        # compound aliases after the real names, so that a real name is never shadowed
        for name in lib.poi_anchors:
            for alias in _compound_aliases(name):
                if alias not in self.names:
                    self._add(alias, "poi", name)
        real = set(self.names)  # spellings of real names (and their 小区/居委会 forms)
        self.real = frozenset(real)
        # towns and communities without 街道/镇/社区/村 (建设 for 建设街道), if no name is so spelt
        for short, kind, name in self._shorts:
            if short not in real:
                self._add(short, kind, name)
        # names without the suffix people drop (栅堰 for 栅堰巷): only where no real name or alias
        # is spelt so; a stem shared by several names points to all of them, and the matcher
        # keeps the one the admin units named (or answers with candidates when it cannot)
        stems: dict[str, list[tuple[str, str]]] = {}
        for kind, table in (("road", lib.road_anchors), ("poi", lib.poi_anchors)):
            for name in table:
                for suffix in DROPPABLE_SUFFIXES:
                    stem = name[: -len(suffix)]
                    if name.endswith(suffix) and len(stem) >= 2 and stem not in real:
                        stems.setdefault(stem, []).append((kind, name))
                        break
        for stem, targets in stems.items():
            for kind, name in targets:
                self._add(stem, kind, name)
        self.stems = frozenset(stems)
        for alias, target in aliases.items():
            spelling, name_text = name_key(alias), name_key(target)
            if name_text not in self.names:
                self.unknown_aliases.append((alias, target))
            for kind, name in list(self.names.get(name_text, [])):
                self._add(spelling, kind, name)

    def scan(self, text: str) -> list[tuple]:
        """Items in text order: ("name", start, entries) and ("residue", start, text).

        Longest known name first at each position, left to right.
        """
        items: list[tuple] = []
        names, prefixes = self.names, self.prefixes
        i, n, residue_start = 0, len(text), None
        while i < n:
            found = None
            lengths = prefixes.get(text[i : i + 2])
            if lengths is not None:
                for length in lengths:
                    if length > n - i:
                        continue
                    entries = names.get(text[i : i + length])
                    if entries is not None and not self._stem_runs_on(text, i + length, length):
                        found = (length, entries)
                        break
            if found is None:
                if residue_start is None:
                    residue_start = i
                i += 1
                continue
            if residue_start is not None:
                items.append(("residue", residue_start, text[residue_start:i]))
                residue_start = None
            items.append(("name", i, found[1]))
            i += found[0]
        if residue_start is not None:
            items.append(("residue", residue_start, text[residue_start:]))
        return items

    def _stem_runs_on(self, text: str, end: int, length: int) -> bool:
        """A name without its suffix (翠苑 for 翠苑花园) followed by more Chinese text that starts
        no real name (翠苑一区, 东湖新城: 新城 is only a short form of 新城街道): the text names
        something else, not this name."""
        if text[end - length : end] not in self.stems or end >= len(text):
            return False
        if not CJK.match(text[end]) or text[end : end + 2] in GENERIC_TAILS:
            return False
        longest = min(self.max_length, len(text) - end)
        return not any(text[end : end + k] in self.real for k in range(2, longest + 1))


def type_clash(written: str, name: str) -> bool:
    """Whether ``written`` is like ``name`` only by putting another type word in place of the
    name's own (中央华城 for 中央华府, 中山街 for 中山路): a different place rather than a slip,
    whose distinctive part (中央华, 中山) people slip instead (中央华富, 中三路).

    >>> type_clash("中央华城", "中央华府"), type_clash("中央华富", "中央华府")
    (True, False)
    >>> type_clash("中央华城小区", "中央华府小区"), type_clash("阳光华园", "阳光花园")
    (True, False)
    """
    own = _TYPE_CHAR.search(name)
    if own is None:
        return False
    position = own.start(1)
    for op in Levenshtein.editops(written, name):
        if op.tag == "replace" and op.dest_pos == position:
            return _TYPE_CHAR.match(written[op.src_pos]) is not None
    return False


def _compound_aliases(name: str) -> list[str]:
    """``幸福家园小区`` is also called ``幸福家园``; ``阳光花园`` also ``阳光花园小区``."""
    if name.endswith("小区"):
        return [name[:-2]] if len(name) >= 5 else []
    if name.endswith(_COMPOUND_SUFFIXES):
        return [name + "小区"]
    return []


def _room_digits(match: re.Match[str]) -> str:
    return f"{chinese_number(match.group(1).replace('0', '〇'))}室"


def read_query(text: str, vocabulary: Vocabulary) -> QueryParts:
    """Names, door parts and residues of a normalised query (see the module docstring)."""
    text = _TRAILING_CN_ROOM.sub(_room_digits, text)
    parts = QueryParts()
    last_name = None  # kind of the name last seen: decides what a 号 number is
    lane = None
    seen_place = False  # a district/town/community/road/compound name came before
    items = vocabulary.scan(text)
    for index, item in enumerate(items):
        if item[0] == "name":
            kinds = {kind for kind, _ in item[2]}
            end = items[index + 1][1] if index + 1 < len(items) else len(text)
            spelling = text[item[1] : end]
            # a name written without its suffix is nearly as sure as the name itself
            named = ALIAS_SCORE if spelling in vocabulary.stems else 1.0
            places = frozenset(e for e in item[2] if e[0] in ("road", "poi", "subpoi"))
            if places:
                parts.mentions.append(places)
            for kind, name in item[2]:
                if kind == "road":
                    parts.roads.append((name, named))
                elif kind in ("poi", "subpoi"):
                    parts.pois.append((kind, name, named))
                else:
                    score = 1.0 if spelling == name else ALIAS_SCORE
                    parts.admin.setdefault(kind, []).append((name, score))
            last_name = (
                "road" if "road" in kinds else "poi" if kinds & {"poi", "subpoi"} else "admin"
            )
            seen_place = seen_place or bool(kinds - {"prov", "city"})
            continue
        start, residue = item[1], item[2]
        if index and items[index - 1][0] == "name":
            # a name glued to a leftover may be a misspelt longer name (府南苑 + 区 for 府南小区)
            glued = CJK_RUN.match(residue)
            if glued and len(glued.group(0)) <= MAX_GLUED and glued.group(0) not in GENERIC_TAILS:
                head = items[index - 1][1]
                spelling = text[head:start]
                parts.glued.append((head, spelling + glued.group(0), spelling))
        pos = 0
        for number in NUMBER.finditer(residue):
            words = residue[pos : number.start()]
            if words:
                _residue_words(parts, start + pos, words, seen_place)
                last_name = (
                    "road"
                    if _ROAD_SUFFIX.search(words)
                    else "compound"  # a misspelt compound (阳广雅苑2号: building 2, no door)
                    if _COMPOUND_END.search(words)
                    else "residue"
                )
            pos = number.end()
            value, unit = number.group(1).lstrip("-") or number.group(1), number.group(2)
            value = value.lstrip("0") or value
            if unit == "弄":
                lane = value
                parts.roadno.insert(0, f"{value}弄")
                last_name = "lane"
            elif unit == "号":
                if lane is not None and parts.house is None:
                    # 58弄11号: the door 58弄11 of the road, or building 11 in lane 58
                    parts.lane_door = f"{lane}弄{value}"
                    parts.roadno.insert(0, parts.lane_door)
                    parts.house = value
                elif not parts.roadno and last_name in ("road", "residue", "admin", None):
                    parts.roadno.append(value)
                elif parts.house is None:
                    parts.house = value
                else:
                    parts.unused.append(number.group(0))
                last_name = "number"
            elif unit in ("幢", "单元", "室") and _slot(parts, unit) not in (None, value):
                parts.unused.append(number.group(0))  # a second, different building/unit/room
            elif unit == "幢":
                parts.house = value
            elif unit == "单元":
                parts.cell = value
            elif unit == "层":
                parts.floor = number.group(1)
            elif unit == "室":
                parts.room = value
            elif unit is None:
                if len(value) > MAX_BARE_DIGITS:
                    continue  # a phone number or an order number, not part of the address
                _bare_number(parts, value, last_name)
                last_name = "number"
        if pos < len(residue):
            _residue_words(parts, start + pos, residue[pos:], seen_place)
            last_name = "residue"
    return parts


def _slot(parts: QueryParts, unit: str) -> str | None:
    return {"幢": parts.house, "单元": parts.cell, "室": parts.room}[unit]


def _bare_number(parts: QueryParts, value: str, last_name: str | None) -> None:
    """A number without a unit word: door after a road, else the next empty door part."""
    if last_name == "road" and not parts.roadno:
        parts.roadno.append(value)
    elif parts.house is None and last_name in ("poi", "lane", "compound"):
        parts.house = value
    elif parts.house is None and not parts.roadno:
        parts.roadno.append(value)
    elif parts.house is None:
        parts.house = value
    elif parts.cell is None and parts.room is None and len(value) <= 2:
        parts.cell = value
    elif parts.room is None:
        parts.room = value
    else:
        parts.unused.append(value)


def _residue_words(parts: QueryParts, start: int, words: str, seen_place: bool) -> None:
    """Keep Chinese leftovers for fuzzy matching; before any place name, watch for a province,
    city or district the library does not have (北京市, 朝阳区)."""
    if not CJK.search(words):
        return
    if not seen_place:
        foreign = _FOREIGN_ADMIN.match(words)
        if foreign and parts.foreign is None:
            parts.foreign = foreign.group(0)
        district = _FOREIGN_DISTRICT.match(words)
        if district and not _NOT_A_DISTRICT.search(district.group(0)):
            parts.foreign_district = district.group(0)
    parts.residues.append((start, words))
