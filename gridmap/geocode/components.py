"""Components of a *standard* address text, for libraries that come without component columns.

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


def fill_missing_components(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with component columns filled from ``address`` where a row has none at all.

    Returns ``rows`` itself when every row already has components (the common case).
    """
    bare = np.ones(len(rows), dtype=bool)
    for column in ADDRESS_COMPONENTS:
        if column in rows.columns:
            values = rows[column].to_numpy(dtype=object)
            bare &= pd.isna(values) | (values == "")
    if not bare.any():
        return rows
    rows = rows.copy()
    for column in ADDRESS_COMPONENTS:
        if column not in rows.columns:
            rows[column] = ""
        else:
            rows[column] = rows[column].fillna("").astype(str)
    texts = rows.loc[bare, "address"].fillna("").astype(str)
    parsed = {text: split_standard_address(text) for text in texts.unique()}
    for column in ADDRESS_COMPONENTS:
        rows.loc[bare, column] = [parsed[text].get(column, "") for text in texts]
    return rows
