"""Division codes (区划代码) and grid codes.

The national statistical division code: 6 digits county + 3 digits township + 3 digits
village/community = 12 digits. A grid code appends a 3-digit sequence to its community's code.

>>> division_level("330402")
'district'
>>> parent_code("330402001002")
'330402001'
>>> make_grid_code("330402001002", 7)
'330402001002007'
"""

from __future__ import annotations

import re

LEVEL_BY_LENGTH = {6: "district", 9: "street", 12: "community", 15: "grid"}
LENGTH_BY_LEVEL = {level: n for n, level in LEVEL_BY_LENGTH.items()}
ADMIN_LEVELS = ("district", "street", "community")
_DIGITS = re.compile(r"^[0-9]+$")


class CodeError(ValueError):
    """A code that is not a valid division or grid code."""


def division_level(code: str) -> str:
    """Level of a 6/9/12-digit division code or 15-digit grid code; raises CodeError otherwise.

    >>> division_level("330402001")
    'street'
    >>> division_level("33040")
    Traceback (most recent call last):
    ...
    gridmap.codes.CodeError: '33040' is not a 6, 9, 12 or 15-digit code
    """
    if not isinstance(code, str) or not _DIGITS.match(code) or len(code) not in LEVEL_BY_LENGTH:
        raise CodeError(f"{code!r} is not a 6, 9, 12 or 15-digit code")
    if code[:2] in ("00",) or code[2:6] == "0000":
        raise CodeError(f"{code!r} does not name a county-level division")
    if len(code) >= 9 and code[6:9] == "000":
        raise CodeError(f"{code!r} has township part 000")
    if len(code) >= 12 and code[9:12] == "000":
        raise CodeError(f"{code!r} has community part 000")
    if len(code) == 15 and code[12:] == "000":
        raise CodeError(f"{code!r} has grid sequence 000")
    return LEVEL_BY_LENGTH[len(code)]


def is_valid_code(code: str, level: str | None = None) -> bool:
    """True when ``code`` is a valid code (of ``level`` when given).

    >>> is_valid_code("330402001002", "community"), is_valid_code("330402", "street")
    (True, False)
    """
    try:
        found = division_level(code)
    except CodeError:
        return False
    return level is None or found == level


def parent_code(code: str, level: str | None = None) -> str:
    """The code of the unit one level up, or of ``level`` when given.

    >>> parent_code("330402001002007"), parent_code("330402001002007", "district")
    ('330402001002', '330402')
    """
    own = division_level(code)
    target = level or {"street": "district", "community": "street", "grid": "community"}.get(own)
    if target is None or LENGTH_BY_LEVEL[target] >= len(code):
        raise CodeError(f"{code!r} ({own}) has no parent at level {target!r}")
    return code[: LENGTH_BY_LEVEL[target]]


def township_kind(code: str) -> str:
    """街道 (001-099), 镇 (100-199) or 乡 (200-399) from the township digits of a 9+ digit code.

    >>> township_kind("330402101")
    'town'
    """
    part = int(code[6:9])
    if 1 <= part <= 99:
        return "street"
    if 100 <= part <= 199:
        return "town"
    if 200 <= part <= 399:
        return "township"
    return "other"


def make_grid_code(community_code: str, sequence: int) -> str:
    """15-digit grid code from a 12-digit community code and a sequence 1-999.

    >>> make_grid_code("330402001002", 501)
    '330402001002501'
    """
    if division_level(community_code) != "community":
        raise CodeError(f"{community_code!r} is not a 12-digit community code")
    if not 1 <= int(sequence) <= 999:
        raise CodeError(f"grid sequence {sequence} is outside 1-999")
    return f"{community_code}{int(sequence):03d}"
