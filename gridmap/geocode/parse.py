"""Parse an address into its components (prov, city, district ... roomno) with a linear-chain CRF.

The parser learns when it is built, from what the city already has: its labelled address history
(``fit``) or its standard address library, whose component columns label themselves
(``from_library``). Nothing learnt is stored in the repository. Features are character n-grams,
character types, repeated spans, and a lexicon learnt from the training chunks: longest matches
against their names, the label of the nearest chunk-ending keyword before and after each token
(路, 大厦, 单元 ...), and how often two adjacent tokens straddle a chunk boundary (see
``features``). The lexicon features of each training address come from a lexicon learnt on the
*other* folds, so the model learns how far to trust a hit on a name it has not seen. The CRF is
trained on B/I/E/S tags (explicit chunk ends help it), read back as the data's B/I tags.

>>> parser = AddressParser(max_iterations=50).fit([
...     [("滨", "B-district"), ("江", "I-district"), ("区", "I-district"),
...      ("江", "B-road"), ("南", "I-road"), ("路", "I-road"),
...      ("1", "B-roadno"), ("号", "I-roadno")],
... ] * 5)
>>> parser.parse("滨江区江南路1号")
[('district', '滨江区'), ('road', '江南路'), ('roadno', '1号')]
"""

from __future__ import annotations

import os
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Sequence

import pycrfsuite

from gridmap.geocode.conll import Labelled, canonical_tag, chunks
from gridmap.geocode.features import Lexicon, featurize, tokenize
from gridmap.geocode.normalize import simplified
from gridmap.model import ADDRESS_COMPONENTS

__all__ = ["AddressParser"]

_FOLDS = 4


def _clean(text: str) -> str:
    """Full-width to half-width (NFKC), control characters to spaces, traditional characters to
    simplified (OpenCC, as everywhere: the labelled history is simplified); nothing else: the
    model reads the text as people write it (its chunks keep their own spelling)."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isprintable():  # the usual case is, checked in C
        text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    return simplified(text)


def _to_bies(tags: Sequence[str]) -> list[str]:
    """B/I tags to B/I/E/S (begin, inside, end, single): the CRF learns chunk ends explicitly.

    >>> _to_bies(["B-road", "I-road", "I-road", "B-roadno", "I-poi"])
    ['B-road', 'I-road', 'E-road', 'S-roadno', 'S-poi']
    """
    out = ["O"] * len(tags)
    for label, start, end in chunks(tags):
        if end - start == 1:
            out[start] = "S-" + label
        else:
            out[start] = "B-" + label
            out[start + 1 : end - 1] = ["I-" + label] * (end - start - 2)
            out[end - 1] = "E-" + label
    return out


def _from_bies(tags: Sequence[str]) -> list[str]:
    """B/I/E/S tags back to the data's B/I: S starts a chunk, E continues one.

    >>> _from_bies(["B-road", "E-road", "S-roadno", "I-poi", "E-poi"])
    ['B-road', 'I-road', 'B-roadno', 'I-poi', 'I-poi']
    """
    return [
        "B" + tag[1:] if tag[0] == "S" else "I" + tag[1:] if tag[0] == "E" else tag for tag in tags
    ]


class AddressParser:
    """A CRF address parser: ``fit`` (or ``from_library``) once, then ``parse`` many times.

    ``c1``/``c2`` are the L1/L2 penalties and ``max_iterations`` bounds L-BFGS training (the
    defaults were tuned on the NAACL 2019 dev split: 100 iterations, about 100 CPU-seconds).
    """

    def __init__(self, *, c1: float = 0.15, c2: float = 0.1, max_iterations: int = 100) -> None:
        self.c1, self.c2, self.max_iterations = c1, c2, max_iterations
        self.lexicon = Lexicon()
        self._tagger: pycrfsuite.Tagger | None = None
        self._model = b""
        self.training_seconds = self.training_cpu_seconds = 0.0

    # --- learning -----------------------------------------------------------------------------
    def fit(
        self,
        labelled: Iterable[Labelled],
        *,
        vocabulary: Iterable[tuple[str, str]] = (),
    ) -> AddressParser:
        """Learn from labelled addresses: sequences of ``(token, "B-label"/"I-label")`` pairs.

        ``vocabulary`` adds ``(label, name)`` pairs (e.g. a library's road names) to the
        gazetteer used at parse time.
        """
        started, cpu_started = time.perf_counter(), time.process_time()
        data = [[(token, canonical_tag(tag)) for token, tag in address] for address in labelled]
        data = [address for address in data if address]
        if not data:
            raise ValueError("no labelled addresses to learn from")
        vocabulary = list(vocabulary)
        # jackknife: features of fold k come from a lexicon learnt without fold k
        folds = [
            Lexicon.learn([a for i, a in enumerate(data) if i % _FOLDS != k], vocabulary)
            for k in range(_FOLDS)
        ]
        trainer = pycrfsuite.Trainer(verbose=False)
        for index, address in enumerate(data):
            tokens = [token for token, _ in address]
            tags = _to_bies([tag for _, tag in address])
            trainer.append(featurize(tokens, folds[index % _FOLDS]), tags)
        trainer.set_params(
            {
                "c1": self.c1,
                "c2": self.c2,
                "max_iterations": self.max_iterations,
                "feature.possible_transitions": True,
            }
        )
        self.lexicon = Lexicon.learn(data, vocabulary)
        with tempfile.TemporaryDirectory(prefix="gridmap-crf-") as folder:
            model_path = os.path.join(folder, "parser.crfsuite")
            trainer.train(model_path)
            with open(model_path, "rb") as handle:
                model = handle.read()
        self._model = model  # the tagger reads this buffer in place: it must outlive the tagger
        self._tagger = pycrfsuite.Tagger()
        self._tagger.open_inmemory(model)

        self.training_seconds = time.perf_counter() - started
        self.training_cpu_seconds = time.process_time() - cpu_started
        return self

    @classmethod
    def from_library(cls, addresses, *, max_training: int = 6000, **params) -> AddressParser:
        """Learn from a standard address library (a (Geo)DataFrame with component columns).

        Each row's non-empty components, in hierarchy order, make one labelled address; at most
        ``max_training`` distinct rows train the CRF (evenly spread), all rows feed the gazetteer.
        """
        columns = [c for c in ADDRESS_COMPONENTS if c in addresses.columns]
        if not columns:
            raise ValueError(
                "the address library has none of the component columns "
                + " ".join(ADDRESS_COMPONENTS)
            )
        frame = addresses[columns].fillna("").astype(str).drop_duplicates()
        vocabulary = set()
        labelled = []
        for row in frame.itertuples(index=False):
            address: Labelled = []
            for label, value in zip(columns, row, strict=True):
                tokens = tokenize(_clean(value))
                if not tokens:
                    continue
                vocabulary.add((label, value))
                address.append((tokens[0], "B-" + label))
                address.extend((token, "I-" + label) for token in tokens[1:])
            if address:
                labelled.append(address)
        step = max(1, len(labelled) // max_training)
        return cls(**params).fit(labelled[::step][:max_training], vocabulary=sorted(vocabulary))

    # --- pickling: the crfsuite tagger is rebuilt from the model bytes -------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_tagger"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self._model:
            self._tagger = pycrfsuite.Tagger()
            self._tagger.open_inmemory(self._model)

    # --- parsing ------------------------------------------------------------------------------
    def tag(self, tokens: Sequence[str]) -> list[str]:
        """The ``B-``/``I-`` tag of each token."""
        if self._tagger is None:
            raise RuntimeError("the parser has not learnt anything yet: call fit() first")
        if not tokens:
            return []
        return _from_bies(self._tagger.tag(featurize(tokens, self.lexicon)))

    def parse(self, text: str) -> list[tuple[str, str]]:
        """Components of an address as ``(label, text)`` pairs, in order of appearance."""
        tokens = tokenize(_clean(text))
        tags = self.tag(tokens)
        return [(label, "".join(tokens[start:end])) for label, start, end in chunks(tags)]

    def parse_many(self, texts: Iterable[str]) -> list[list[tuple[str, str]]]:
        """``parse`` for each text."""
        return [self.parse(text) for text in texts]
