"""Components of a library's address texts, for libraries that come without component columns.

Two ways: with a trained :class:`gridmap.geocode.parse.AddressParser` (the CRF learnt from the
city's labelled history), which reads irregular texts as clerks type them; or, without one, one
regular expression for texts in the standard form.

A standard address is written top-down with the canonical suffixes (省 市 区/县 街道/镇/乡
社区/村, a road 路/街/大道/巷, 号, then the compound name and 幢 单元 层 室), so one anchored
regular expression over the normalised text splits it. This is only the fallback for a library
without the CONTRACT's component columns: free-text queries are read by the matcher, and the
labelled-data parser (:mod:`gridmap.geocode.parse`) handles messy text.

>>> parts = split_standard_address("嘉兴市南湖区建设街道幸福社区中山路58号幸福小区3幢2单元1303室")
>>> parts["community"], parts["poi"], parts["roomno"]
('幸福社区', '幸福小区', '1303室')
>>> sorted(split_standard_address("南湖区中山路58号").items())
[('district', '南湖区'), ('road', '中山路'), ('roadno', '58号')]
>>> split_standard_address("上海市四川中路126弄5号")["roadno"]
'126弄5号'
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from gridmap.geocode.normalize import normalize
from gridmap.model import ADDRESS_COMPONENTS

_STANDARD = re.compile(
    r"^(?P<prov>[^省市]{2,7}?(?:省|自治区))?"
    r"(?P<city>[^市]{2,7}?市)?"
    r"(?P<district>[^区县市]{1,6}?(?<!小)(?:区|县)|[^市]{2,5}?市)?"
    r"(?P<town>[^道镇乡]{1,8}?(?:街道|镇|乡))?"
    r"(?P<community>[^区村]{1,8}?(?:社区|村))?"
    r"(?P<road>[^\d]{1,12}?(?:大道|路|街|巷|弄))?"
    r"(?P<roadno>\d+(?:-\d+)?[甲乙丙丁]?(?:弄\d+(?:-\d+)?)?号|\d+弄)?"
    r"(?P<poi>[^\d]{2,24}?)?"
    r"(?P<houseno>(?:[A-Z]?\d+[A-Z]?|[A-Z])幢)?"
    r"(?P<cellno>\d+单元)?"
    r"(?P<floorno>-?\d+层)?"
    r"(?P<roomno>\d+[A-Z]?室)?$"
)


def split_standard_address(text: str) -> dict[str, str]:
    """The non-empty components of one standard address ({} when it does not fit the form)."""
    match = _STANDARD.match(normalize(text))
    if not match:
        return {}
    return {name: value for name, value in match.groupdict().items() if value}


# labels of the labelled data that carry no component of their own, and where they go when the
# component itself is missing (a development zone stands where a town would)
_STAND_INS = {"devzone": "town", "subroad": "road", "subroadno": "roadno"}


def parsed_components(parser, text: str) -> dict[str, str]:
    """The components the parser reads in ``text`` (first chunk of each label; others dropped).

    Labels that are no component (``person``, ``assist``, ``redundant``, ``otherinfo``) go;
    ``devzone``/``subroad``/``subroadno`` fill ``town``/``road``/``roadno`` when those are empty.
    """
    out: dict[str, str] = {}
    later: list[tuple[str, str]] = []
    for label, chunk in parser.parse(text):
        if label in ADDRESS_COMPONENTS:
            out.setdefault(label, chunk)
        elif label in _STAND_INS:
            later.append((_STAND_INS[label], chunk))
    for label, chunk in later:
        out.setdefault(label, chunk)
    return out


def fill_missing_components(rows: pd.DataFrame, parser=None) -> pd.DataFrame:
    """``rows`` with component columns filled from ``address`` where a row has none at all.

    ``parser`` (an :class:`~gridmap.geocode.parse.AddressParser`) reads the texts; without one
    only texts in the standard form are split (:func:`split_standard_address`). Returns ``rows``
    itself when every row already has components (the common case).
    """
    bare = np.ones(len(rows), dtype=bool)
    for column in ADDRESS_COMPONENTS:
        if column in rows.columns:  # compared where they are (Arrow): no Python str per value
            values = rows[column]
            empty = values.isna() | values.eq("").fillna(False)
            bare &= empty.to_numpy(dtype=bool)
    if not bare.any():
        return rows
    rows = rows.copy()
    for column in ADDRESS_COMPONENTS:
        if column not in rows.columns:
            rows[column] = ""
        else:
            rows[column] = rows[column].fillna("").astype(str)
    texts = rows.loc[bare, "address"].fillna("").astype(str)
    if parser is not None:
        parsed = {text: parsed_components(parser, text) for text in texts.unique()}
    else:
        parsed = {text: split_standard_address(text) for text in texts.unique()}
    for column in ADDRESS_COMPONENTS:
        rows.loc[bare, column] = [parsed[text].get(column, "") for text in texts]
    return rows
