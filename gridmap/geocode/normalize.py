"""Normalise free-text Chinese addresses to one canonical spelling, so equal ones compare equal.

The canonical form (what :func:`normalize` returns):

* Traditional and variant characters fold to simplified ones first (``嘉興市南湖區`` ->
  ``嘉兴市南湖区``, ``裡`` -> ``里``), with OpenCC's ``hk2s`` conversion (Hong Kong/variant
  forms, then traditional -> simplified, by OpenCC's phrase and character tables).
* Unicode NFKC, plus the CJK radical characters NFKC leaves alone (``⻄`` -> ``西``,
  ``⻓`` -> ``长``); full-width letters and digits become ASCII; ASCII letters are upper-cased
  (``k18`` -> ``K18``).
* No whitespace and no punctuation, except ``-`` (all dash variants), ``(`` ``)``. Whitespace
  between two digits becomes ``-`` (``3 2 1303`` -> ``3-2-1303``); ``#`` after a number is ``号``.
* Chinese numerals become digits only where they number a door, building, unit, floor, room,
  lane or village group, that is right before one of those unit words (``三号楼`` -> ``3幢``,
  ``二十三弄`` -> ``23弄``, ``第八栋`` -> ``8幢``); names keep theirs (``幸福一村``,
  ``第一人民医院``). ``〇``/``零``/``○`` inside such numbers are ``0``.
* Unit words after a number or a building letter: ``栋 幢 号楼 座`` -> ``幢``; ``单元``;
  ``层`` and floor ``楼`` -> ``层`` (``负2楼``/``地下2层`` -> ``-2层``); ``室 户`` -> ``室``;
  ``弄``; ``号``; ``组``.
* Compound numbers are spelt out: ``A-B-C`` -> ``A幢B单元C室`` (``3-2-1303``, ``K18-1-2203``);
  after a lane, ``58弄11-802`` -> ``58弄11幢802室``; after a building, ``3幢2-1303`` ->
  ``3幢2单元1303室``; a trailing ``A-B`` with a room-like ``B`` of 3+ digits -> ``A幢B室``. Dashed
  door ranges and sub-numbers (``17-19号``, ``31-2号``) are left alone.
* Rooms: a number after a unit or a floor is the room, whether it is written with ``号``, ``户``
  or nothing (``2单元201号``, ``2单元201户``, ``2单元201`` -> ``2单元201室``); so is a number of
  three or more digits right after a building (``3幢1303号``, ``3号楼1303`` -> ``3幢1303室``).

:func:`door_parts` reads the lane/door/building/unit/floor/room numbers back from that form.

>>> normalize("浙江省嘉兴市南湖区 幸福一村 三号楼二单元１３０３户")
'浙江省嘉兴市南湖区幸福一村3幢2单元1303室'
>>> normalize("长宁路58弄11-802")
'长宁路58弄11幢802室'
>>> door_parts("长宁路58弄11-802")
{'lane': '58', 'building': '11', 'room': '802'}
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

__all__ = ["normalize", "door_parts", "chinese_number", "simplified"]

# --- CJK radicals -------------------------------------------------------------------------------
# NFKC folds the Kangxi Radicals block (U+2F00-2FDF) into ideographs but leaves most of the CJK
# Radicals Supplement (U+2E80-2EFF) alone. Text extracted from PDFs or typed with some input
# methods uses those glyphs in place of ordinary characters (⻄ for 西, ⻓ for 长).
_SIMPLIFIED_RADICALS = {
    # C-simplified and other supplement radicals whose ordinary character NFKC cannot derive
    "⻄": "西",
    "⻅": "见",
    "⻆": "角",
    "⻈": "讠",
    "⻉": "贝",
    "⻋": "车",
    "⻐": "钅",
    "⻓": "长",
    "⻔": "门",
    "⻘": "青",
    "⻙": "韦",
    "⻚": "页",
    "⻛": "风",
    "⻜": "飞",
    "⻠": "饣",
    "⻢": "马",
    "⻥": "鱼",
    "⻦": "鸟",
    "⻧": "卤",
    "⻨": "麦",
    "⻩": "黄",
    "⻪": "黾",
    "⻬": "齐",
    "⻮": "齿",
    "⻰": "龙",
    "⻳": "龟",
    "⺠": "民",
    "⺟": "母",
    # Kangxi radicals whose NFKC image is the traditional variant of a common simplified one
    "⾭": "青",
    "⼾": "户",
}


def _radical_table() -> dict[int, str]:
    """Map every CJK radical character to the ideograph it stands for, where one is known.

    Derived: a supplement radical named like a Kangxi radical (``CJK RADICAL WATER ONE`` and
    ``KANGXI RADICAL WATER``) takes that radical's NFKC ideograph; the explicit table above wins.
    """
    kangxi: dict[str, str] = {}
    for code in range(0x2F00, 0x2FE0):
        name = unicodedata.name(chr(code), "")
        if name.startswith("KANGXI RADICAL "):
            kangxi[name.removeprefix("KANGXI RADICAL ")] = unicodedata.normalize("NFKC", chr(code))
    table: dict[int, str] = {}
    for code in range(0x2E80, 0x2F00):
        name = unicodedata.name(chr(code), "").removeprefix("CJK RADICAL ")
        base = re.sub(r" (ONE|TWO|THREE|FOUR)$", "", name)
        if base in kangxi:
            table[code] = kangxi[base]
    table.update({ord(k): v for k, v in _SIMPLIFIED_RADICALS.items()})
    return table


_RADICALS = _radical_table()

# --- characters ---------------------------------------------------------------------------------
_DASHES = "-‐‑‒–—―−－﹣﹘⁃~～"
_KEEP_PUNCT = set("-()")
_ZERO_LIKE = "〇○◯零"

# --- numbers ------------------------------------------------------------------------------------
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "○": 0,
    "◯": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
# A numeral may contain 百/千 but not start with one (千户苗寨 and 百层 are names, not numbers).
_CN_NUMERAL = "[零〇○◯一二两三四五六七八九十][零〇○◯一二两三四五六七八九十百千]*"


def chinese_number(text: str) -> int:
    """Value of a Chinese numeral, positional (二十三) or digit by digit (三五〇二).

    >>> [chinese_number(n) for n in ("二十三", "十二", "三五〇二", "一百零五")]
    [23, 12, 3502, 105]
    """
    if not any(ch in _CN_UNITS for ch in text):
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total, digit = 0, None
    for ch in text:
        if ch in _CN_UNITS:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:
            digit = _CN_DIGITS[ch]
    return total + (digit or 0)


# Unit words that may follow a door/building/unit/floor/room/lane/group number, longest first.
_UNIT_WORDS = "号楼|单元|号|栋|幢|座|层|楼|室|户|弄|组"
_CANON_UNIT = {
    "号楼": "幢",
    "栋": "幢",
    "幢": "幢",
    "座": "幢",
    "单元": "单元",
    "层": "层",
    "楼": "层",
    "室": "室",
    "户": "室",
    "弄": "弄",
    "号": "号",
    "组": "组",
}
# 第 + Chinese numeral + unit word (第 only dropped when a unit word follows: 第一人民医院 stays).
_CN_BEFORE_UNIT = re.compile(rf"(负|地下)?第?({_CN_NUMERAL})(?=(?:{_UNIT_WORDS}))")
_HAS_ZERO_LIKE = re.compile(f"[{_ZERO_LIKE}]")
_HAS_CN_DIGIT = re.compile("[零〇○◯一二两三四五六七八九十]")
_ZERO_IN_DIGITS = re.compile(rf"(?<=\d)[{_ZERO_LIKE}]|[{_ZERO_LIKE}](?=\d)")
# A number (or building letter + number) followed by a unit word.
_NUMBER = r"[A-Z]?\d+[A-Z]?|[A-Z]"
_UNIT_AFTER_NUMBER = re.compile(
    rf"(?<![A-Z\d])(-?)({_NUMBER})(号楼|单元|栋|幢|座|层|楼(?![下上前后道梯房])|室|户)"
)  # 楼下 (downstairs) is no floor
_ROOM_BEFORE_DOWNSTAIRS = re.compile(r"(?<=单元)(\d{2,}[A-Z]?)号(?=楼[下上前后])")
_BASEMENT = re.compile(r"(?:负|地下)(\d+层)")
_WHITESPACE = re.compile(r"\s+")
_HASH_AFTER_NUMBER = re.compile(r"(?<=[\dA-Z])#")
_COMPOUND3 = re.compile(r"(?<![\dA-Z-])([A-Z]?\d+[A-Z]?)-(\d+)-(\d+)(?:室|号)?(?![\d-])")
_AFTER_LANE = re.compile(r"(弄)(\d+[A-Z]?)-(\d{3,})(?:室|号)?(?![\d-])")
_AFTER_BUILDING = re.compile(r"(幢)(\d+)-(\d{3,})(?:室|号)?(?![\d-])")
# a number after a unit/floor (or a 3+ digit one after a building) not followed by another unit
# word: the room (号 and 户 both say so too; 户 is already 室 by then)
_ROOM_AFTER_UNIT = re.compile(r"(?<=单元|\d层)(\d{2,}[A-Z]?)号?(?![\dA-Z幢单元层室弄号-])")
_ROOM_AFTER_BUILDING = re.compile(r"(?<=\d幢)(\d{3,}[A-Z]?)号?(?![\dA-Z幢单元层室弄号-])")
_TRAILING_PAIR = re.compile(r"(?<![\dA-Z-])([A-Z]?\d{1,3}[A-Z]?)-(\d{3,})室?$")


def _cn_to_digits(match: re.Match[str]) -> str:
    minus = "-" if match.group(1) else ""
    return minus + str(chinese_number(match.group(2)))


def _unit_after_number(match: re.Match[str]) -> str:
    sign, number, word = match.groups()
    return f"{sign}{number}{_CANON_UNIT[word]}"


def _space(match: re.Match[str]) -> str:
    """Whitespace between two digits separates numbers (-), between two letters words ( )."""
    text, start, end = match.string, match.start(), match.end()
    before, after = text[start - 1 : start], text[end : end + 1]
    if before.isdigit() and after.isdigit():
        return "-"
    if before.isascii() and before.isalpha() and after.isascii() and after.isalpha():
        return " "
    return ""


_TO_SIMPLIFIED = opencc.OpenCC("hk2s")


@lru_cache(maxsize=65_536)
def simplified(text: str) -> str:
    """``text`` with traditional and variant characters folded to simplified ones (OpenCC).

    >>> simplified("嘉興市南湖區中山路58號3幢2單元")
    '嘉兴市南湖区中山路58号3幢2单元'
    """
    if text.isascii():
        return text
    return _TO_SIMPLIFIED.convert(text)


class _CharTable(dict):
    """A ``str.translate`` table filled on first sight of each character (``rule(ch)``)."""

    def __init__(self, rule) -> None:
        super().__init__()
        self.rule = rule

    def __missing__(self, code: int):
        value = self[code] = self.rule(chr(code))
        return value


# control characters (tabs, NULs, zero-width marks) separate like spaces
_CONTROLS = _CharTable(lambda ch: " " if unicodedata.category(ch) in ("Cc", "Cf") else ch)
# a radical the table maps (the supplement block and the Kangxi radicals it lists)
_HAS_RADICAL = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_RADICALS)) + "]")
# radicals and control characters have no character in common: one table for both
_RADICALS_AND_CONTROLS = _CharTable(
    lambda ch: _RADICALS[ord(ch)] if ord(ch) in _RADICALS else _CONTROLS[ord(ch)]
)
_DASH_RUN = re.compile(r"-{2,}")
_DASH_AT_ENDS = re.compile(r"^-+(?!\d)|-+$")
# dashes become -, and symbols and punctuation other than - ( ) go; whitespace stays for now
_PUNCTUATION = _CharTable(
    lambda ch: (
        "-"
        if ch in _DASHES
        else ch
        if ch in _KEEP_PUNCT or ch.isspace() or unicodedata.category(ch)[0] in "LN"
        else None
    )
)


def _clean_characters(text: str) -> str:
    """Simplified characters, NFKC, radicals, case, whitespace and punctuation (no numbering)."""
    if _HAS_RADICAL.search(text):  # before NFKC, which folds ⾭ to the traditional 靑
        text = text.translate(_RADICALS)
    # radicals NFKC may have made, and control characters, in one pass
    text = unicodedata.normalize("NFKC", text).translate(_RADICALS_AND_CONTROLS)
    text = simplified(text)  # after the NULs are gone: OpenCC reads C text
    text = _HASH_AFTER_NUMBER.sub("号", text.upper()).translate(_PUNCTUATION)
    text = _WHITESPACE.sub(_space, text.strip()).replace("()", "")
    if "-" in text:
        text = _DASH_RUN.sub("-", text)
        text = _DASH_AT_ENDS.sub("", text)  # keep the sign of a basement floor (-1层)
    return text


def normalize(text: str) -> str:
    """The canonical spelling of an address (rules in the module docstring).

    >>> normalize("杭州市 西湖区 文一西路 ９６９号 Ｋ18-1-2203")
    '杭州市西湖区文一西路969号K18幢1单元2203室'
    >>> normalize("第一人民医院八楼")
    '第一人民医院8层'
    """
    text = _clean_characters(text)
    # each rule runs only when the characters it needs are there (most queries need few)
    if _HAS_ZERO_LIKE.search(text):
        text = _ZERO_IN_DIGITS.sub("0", text)
    if _HAS_CN_DIGIT.search(text):
        text = _CN_BEFORE_UNIT.sub(_cn_to_digits, text)
    if "单元" in text:  # 2单元202号楼下: room 202, downstairs (not building 202)
        text = _ROOM_BEFORE_DOWNSTAIRS.sub(r"\1室", text)
    text = _UNIT_AFTER_NUMBER.sub(_unit_after_number, text)
    if "负" in text or "地下" in text:
        text = _BASEMENT.sub(r"-\1", text)
    if "-" in text:
        text = _COMPOUND3.sub(r"\1幢\2单元\3室", text)
        text = _AFTER_LANE.sub(r"\1\2幢\3室", text)
        text = _AFTER_BUILDING.sub(r"\1\2单元\3室", text)
        text = _TRAILING_PAIR.sub(r"\1幢\2室", text)
    if "单元" in text or "层" in text:
        text = _ROOM_AFTER_UNIT.sub(r"\1室", text)
    if "幢" in text:
        text = _ROOM_AFTER_BUILDING.sub(r"\1室", text)
    return text


_PART_PATTERNS = {
    "lane": re.compile(r"(\d+[A-Z]?)弄"),
    "door": re.compile(r"(?<![\dA-Z-])(\d+(?:-\d+)?[A-Z]?)号(?!楼)"),
    "building": re.compile(r"(?<![\dA-Z])([A-Z]?\d+[A-Z]?|[A-Z])幢"),
    "unit": re.compile(r"(\d+)单元"),
    "floor": re.compile(r"(-?\d+)层"),
    "room": re.compile(r"(\d+[A-Z]?)室"),
    "group": re.compile(r"(\d+)组"),
}


def door_parts(text: str) -> dict[str, str]:
    """Lane/door/building/unit/floor/room/group numbers of an address, as strings.

    Reads the canonical form, so any spelling :func:`normalize` understands works; the last
    occurrence wins (the deepest one), absent parts are left out.

    >>> door_parts("嘉兴市南湖区中山路1号三号楼二单元十二层1203户")
    {'door': '1', 'building': '3', 'unit': '2', 'floor': '12', 'room': '1203'}
    """
    canonical = normalize(text)
    parts: dict[str, str] = {}
    for name, pattern in _PART_PATTERNS.items():
        found = pattern.findall(canonical)
        if found:
            parts[name] = found[-1]
    order = ("lane", "door", "building", "unit", "floor", "room", "group")
    return {name: parts[name] for name in order if name in parts}
