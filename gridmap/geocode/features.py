"""Tokens and CRF features of an address.

Tokens are what the labelled data uses: a run of ASCII digits, a run of ASCII letters, or one
other character (whitespace dropped). Features are plain strings (``name=value``): character
n-grams and types in a window of two, repeated spans, and what a :class:`Lexicon` learnt from
labelled chunks says (names by label, chunk-ending keywords, split statistics). They are built a
whole column at a time, so each token costs few Python steps.

>>> tokenize("文一西路969号K18-1幢")
['文', '一', '西', '路', '969', '号', 'K', '18', '-', '1', '幢']
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from gridmap.geocode.conll import chunks

__all__ = ["tokenize", "Gazetteer", "Keywords", "Boundaries", "Lexicon", "featurize"]

_TOKEN = re.compile(r"[0-9]+|[A-Za-z]+|\S")

# Labels whose chunk texts make useful dictionaries: names that recur across addresses.
GAZETTEER_LABELS = (
    "country",
    "prov",
    "city",
    "district",
    "devzone",
    "town",
    "community",
    "road",
    "subroad",
    "poi",
    "subpoi",
    "assist",
)
# Admin suffixes people drop (杭州 for 杭州市): the gazetteer also holds names without them.
_ADMIN_SUFFIXES = {
    "prov": ("省", "自治区"),
    "city": ("市", "地区", "自治州"),
    "district": ("区", "县", "市", "旗"),
    "town": ("街道", "镇", "乡"),
    "community": ("社区", "村", "居委会"),
}
_DISTANCE = defaultdict(lambda: "4", {d: str(d) for d in range(4)})
# labels whose keywords are remembered once seen (road, roadno, poi, houseno, floorno)
_TRACKED = {"road": "r", "roadno": "n", "poi": "p", "houseno": "h", "floorno": "f"}
_MAX_SPAN = 16  # tokens: longer names are rare and still get their character features


def tokenize(text: str) -> list[str]:
    """Split an address into the labelled data's tokens."""
    return _TOKEN.findall(text)


@functools.lru_cache(maxsize=65536)
def _shape(token: str) -> str:
    """What a token contributes as a word feature: itself, or its class for digits/letters."""
    first = token[0]
    if first.isascii():
        if first.isdigit():
            return f"<D{min(len(token), 5)}>"
        if first.isalpha():
            return "<A>" if len(token) > 1 else token.upper()
    return token


@functools.lru_cache(maxsize=65536)
def _kind(token: str) -> str:
    first = token[0]
    if first.isascii():
        if first.isdigit():
            return "D"
        return "A" if first.isalpha() else "P"
    if "\u4e00" <= first <= "\u9fff":
        return "H"
    return "P"


class Gazetteer:
    """Names by label (district, road, poi ...), looked up by longest match over token spans.

    >>> g = Gazetteer([("district", "滨江区"), ("road", "江南大道")])
    >>> g.matches(tokenize("杭州滨江区江南大道1号"))
    [(2, 5, ('district',)), (5, 9, ('road',))]
    """

    def __init__(self, entries: Iterable[tuple[str, str]] = ()) -> None:
        self._labels: dict[str, set[str]] = defaultdict(set)
        self._prefixes: set[str] = set()
        for label, name in entries:
            self.add(label, name)

    def add(self, label: str, name: str) -> None:
        name = "".join(tokenize(name))
        if len(name) < 2 or label not in GAZETTEER_LABELS:
            return
        names = [name]
        for suffix in _ADMIN_SUFFIXES.get(label, ()):
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                names.append(name[: -len(suffix)])
        for variant in names:
            self._labels[variant].add(label)
            for end in range(1, len(variant)):
                self._prefixes.add(variant[:end])

    def __len__(self) -> int:
        return len(self._labels)

    def matches(self, tokens: Sequence[str]) -> list[tuple[int, int, tuple[str, ...]]]:
        """Longest name starting at each token: ``(start, end, labels)``, end exclusive."""
        found = []
        labels, prefixes = self._labels, self._prefixes
        n = len(tokens)
        for start in range(n):
            text, best = "", None
            for end in range(start, min(n, start + _MAX_SPAN)):
                text += tokens[end]
                if text in labels:
                    best = (start, end + 1, tuple(sorted(labels[text])))
                if text not in prefixes:
                    break
            if best is not None:
                found.append(best)
        return found


class Keywords:
    """Words that end a chunk of one label (路 road, 大厦 poi, 单元 cellno), learnt from chunks.

    A keyword is the last one or two characters of chunks, kept when it ends a chunk in at least
    half of its occurrences and one label owns at least half of those endings. They give each
    token long-range context: the label of the keyword before it and of the next one after it.

    >>> kw = Keywords.learn([[("江", "B-road"), ("南", "I-road"), ("路", "I-road")]] * 5)
    >>> kw.labels_at(["文", "三", "路"])
    [None, None, 'road']
    """

    def __init__(self, table: dict[str, str] | None = None) -> None:
        self.table = dict(table or {})

    @classmethod
    def learn(cls, data: Iterable[Sequence[tuple[str, str]]], min_count: int = 5) -> Keywords:
        endings: dict[str, Counter[str]] = defaultdict(Counter)
        occurrences: Counter[str] = Counter()
        for address in data:
            tokens = [token for token, _ in address]
            for i, token in enumerate(tokens):
                occurrences[token] += 1
                if i:
                    occurrences[tokens[i - 1] + token] += 1
            for label, start, end in chunks([tag for _, tag in address]):
                endings[tokens[end - 1]][label] += 1
                if end - start >= 2:
                    endings[tokens[end - 2] + tokens[end - 1]][label] += 1
        table = {}
        for word, labels in endings.items():
            total = sum(labels.values())
            label, count = labels.most_common(1)[0]
            if word[0].isdigit() or total < min_count:
                continue
            if total >= 0.5 * occurrences[word] and count >= 0.5 * total:
                table[word] = label
        return cls(table)

    def labels_at(self, tokens: Sequence[str]) -> list[str | None]:
        """For each token, the label of a keyword ending there (two characters win), or None."""
        table = self.table
        found: list[str | None] = []
        previous = ""
        for token in tokens:
            found.append(table.get(previous + token) or table.get(token))
            previous = token
        return found


class Boundaries:
    """How often two adjacent tokens are split between chunks, learnt from labelled chunks.

    ``split_bucket(a, b)`` is the share of times ``a`` then ``b`` straddle a chunk boundary, in
    tenths (``"0"``-``"9"``, ``"T"`` for always), or ``"?"`` when the pair is rarer than
    ``min_count``: a segmentation hint that reaches beyond the character window.

    >>> bd = Boundaries.learn([[("路", "I-road"), ("1", "B-roadno")], [("路", "I-road")]] * 3)
    >>> bd.split_bucket("路", "<D1>"), bd.split_bucket("江", "路")
    ('T', '?')
    """

    def __init__(self, buckets: dict[tuple[str, str], str] | None = None) -> None:
        self.buckets = dict(buckets or {})

    @classmethod
    def learn(cls, data: Iterable[Sequence[tuple[str, str]]], min_count: int = 3) -> Boundaries:
        splits: Counter[tuple[str, str]] = Counter()
        pairs: Counter[tuple[str, str]] = Counter()
        for address in data:
            shapes = [_shape(token) for token, _ in address]
            tags = [tag for _, tag in address]
            for i in range(1, len(shapes)):
                pair = (shapes[i - 1], shapes[i])
                pairs[pair] += 1
                if tags[i][0] != "I" or tags[i][2:] != tags[i - 1][2:]:
                    splits[pair] += 1
        buckets = {}
        for pair, total in pairs.items():
            if total >= min_count:
                share = splits[pair] / total
                buckets[pair] = "T" if share == 1.0 else str(int(share * 10))
        return cls(buckets)

    def split_bucket(self, left: str, right: str) -> str:
        return self.buckets.get((left, right), "?")


class Lexicon:
    """What the features know beyond the text: names, keywords and split statistics.

    >>> Lexicon.learn([[("滨", "B-district"), ("江", "I-district"), ("区", "I-district")]] * 5)
    Lexicon(2 names, 2 keywords, 2 pairs)
    """

    def __init__(
        self,
        gazetteer: Gazetteer | None = None,
        keywords: Keywords | None = None,
        boundaries: Boundaries | None = None,
    ) -> None:
        self.gazetteer = gazetteer or Gazetteer()
        self.keywords = keywords or Keywords()
        self.boundaries = boundaries or Boundaries()

    @classmethod
    def learn(
        cls,
        data: Sequence[Sequence[tuple[str, str]]],
        vocabulary: Iterable[tuple[str, str]] = (),
    ) -> Lexicon:
        gazetteer = Gazetteer(vocabulary)
        for address in data:
            for label, start, end in chunks([tag for _, tag in address]):
                gazetteer.add(label, "".join(token for token, _ in address[start:end]))
        return cls(gazetteer, Keywords.learn(data), Boundaries.learn(data))

    def __repr__(self) -> str:
        return (
            f"Lexicon({len(self.gazetteer)} names, {len(self.keywords.table)} keywords, "
            f"{len(self.boundaries.buckets)} pairs)"
        )


def featurize(tokens: Sequence[str], lexicon: Lexicon | None = None) -> list[list[str]]:
    """One list of feature strings per token.

    >>> featurize(["滨", "江", "区"])[1][:4]
    ['b', 'w=江', 'w-1=滨', 'w+1=区']
    """
    n = len(tokens)
    if n == 0:
        return []
    # Whole columns at a time (one comprehension per template) then zipped into rows: far fewer
    # Python steps per token than building each row by index.
    padded = ["^", "^", *map(_shape, tokens), "$", "$"]
    w0, wm1, wp1, wm2, wp2 = padded[2:-2], padded[1:-3], padded[3:-1], padded[:-4], padded[4:]
    kinds = ["^", *map(_kind, tokens), "$"]
    columns = [
        ["w=" + a for a in w0],
        ["w-1=" + a for a in wm1],
        ["w+1=" + a for a in wp1],
        ["w-2=" + a for a in wm2],
        ["w+2=" + a for a in wp2],
        ["w-1w=" + a + b for a, b in zip(wm1, w0, strict=True)],
        ["ww+1=" + a + b for a, b in zip(w0, wp1, strict=True)],
        ["w-1ww+1=" + a + b + c for a, b, c in zip(wm1, w0, wp1, strict=True)],
        ["k=" + a + b + c for a, b, c in zip(kinds[:-2], kinds[1:-1], kinds[2:], strict=True)],
    ]
    if lexicon is not None:
        columns.extend(_keyword_columns(lexicon.keywords.labels_at(tokens), w0))
        buckets = lexicon.boundaries.buckets
        between = [buckets.get(pair, "?") for pair in zip(w0[:-1], w0[1:], strict=True)]
        left, right = ["^", *between], [*between, "$"]
        columns.append(["sp=" + a + b for a, b in zip(left, right, strict=True)])
    rows = [["b", *row] for row in zip(*columns, strict=True)]
    rows[0].append("first")
    rows[-1].append("last")
    _add_repeat_features(tokens, rows)
    if lexicon is not None:
        _add_gazetteer_features(tokens, lexicon.gazetteer, rows)
    return rows


def _add_repeat_features(tokens: Sequence[str], rows: list[list[str]]) -> None:
    """Mark spans of 2+ tokens whose text occurs again, before (``rp``) or after (``rn``) them.

    Repeated admin names are how redundant chunks show; which copy is redundant depends on what
    surrounds each, so both copies are marked.
    """
    text = "".join(tokens)
    offsets = [0]
    for token in tokens:
        offsets.append(offsets[-1] + len(token))
    n = len(tokens)
    marked = [False] * n
    i = 1
    while i < n:
        begin, end = offsets[i], i
        # grow while tokens[i:end + 1] also occurs wholly before this span
        while end < n and text.find(text[begin : offsets[end + 1]], 0, begin) >= 0:
            end += 1
        if end - i < 2:
            i += 1
            continue
        _mark_span(rows, i, end, "rp")
        # the earlier copy: the first place the span occurs
        first = text.find(text[begin : offsets[end]], 0, begin)
        if first in offsets:
            start = offsets.index(first)
            if not marked[start]:
                copy_end = start + (end - i)
                _mark_span(rows, start, copy_end, "rn")
                for k in range(start, copy_end):
                    marked[k] = True
        i = end


def _mark_span(rows: list[list[str]], start: int, end: int, name: str) -> None:
    rows[start].append(name + "=B")
    for k in range(start + 1, end - 1):
        rows[k].append(name + "=I")
    rows[end - 1].append(name + "=E")
    rows[start].append(name + "l=" + str(min(end - start, 6)))


def _keyword_columns(labels: list[str | None], shapes: list[str]) -> list[list[str]]:
    """Long-range context from chunk-ending keywords, per token: the label of the last keyword
    before it (``pv``, also joined with the token itself: ``pvw``), which of road, roadno, poi,
    houseno and floorno keywords came before it (``sn``), and the label of the next keyword at or
    after it with its distance 0-4+ (``nx``)."""
    before, before_word, seen_before = [], [], []
    last, seen = "^", ""
    for label, shape in zip(labels, shapes, strict=True):
        before.append("pv=" + last)
        before_word.append("pvw=" + last + "|" + shape)
        seen_before.append("sn=" + seen)
        if label is not None:
            last = label
            mark = _TRACKED.get(label)
            if mark is not None and mark not in seen:
                seen = "".join(sorted(seen + mark))
    after = []
    following, distance = "$", 0
    for label in reversed(labels):
        if label is not None:
            following, distance = label, 0
        after.append("nx=" + following + _DISTANCE[distance])
        distance += 1
    return [before, before_word, seen_before, after[::-1]]


def _add_gazetteer_features(
    tokens: Sequence[str], gazetteer: Gazetteer, rows: list[list[str]]
) -> None:
    """Mark tokens inside dictionary names, with their position (B/I/E, S for one token)."""
    for start, end, labels in gazetteer.matches(tokens):
        for label in labels:
            if end - start == 1:
                rows[start].append("g=S" + label)
                continue
            rows[start].append("g=B" + label)
            for k in range(start + 1, end - 1):
                rows[k].append("g=I" + label)
            rows[end - 1].append("g=E" + label)
