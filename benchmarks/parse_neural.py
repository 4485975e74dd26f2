"""A small neural address tagger on CPU, as an experiment beside the CRF parser.

    python benchmarks/parse_neural.py [--features chars,lexicon,crf] [--hidden 128]
        [--dropout 0.5] [--max-epochs 15] [--minutes 6] [--seed 1]

Needs PyTorch, which is *not* a dependency of gridmap (``pip install torch``, a CPU build is
enough). Everything runs on one core (``torch.set_num_threads(1)``).

The model: a BiLSTM-CRF over the labelled data's tokens (a character, a digit run or a letter
run). Each token is read as the concatenation of

* ``chars``: an embedding of the token (digit and letter runs by their class and length, as the
  CRF's ``_shape``), embeddings of the bigrams it forms with the tokens before and after it, and
  of its kind (Chinese character, digit, letter, other);
* ``lexicon`` (optional): what the CRF's :class:`~gridmap.geocode.features.Lexicon` says of it:
  inside which dictionary names it stands (by label, begin/inside/end/single), and whether its
  span is repeated earlier or later in the address (how redundant chunks show). As for the CRF,
  the dictionary used for a training address is learnt without that address's fold
  (jackknife), so the network does not learn to trust names it has always seen;
* ``crf`` (optional, instead of ``lexicon``): every feature string of the CRF's ``featurize``
  seen three times or more in training, summed through an embedding bag (the CRF's inputs, read
  by a network).

One BiLSTM layer, then a linear layer to the data's B/I tags and a linear-chain CRF (forward
algorithm for the loss, Viterbi to decode), trained with Adam (the step x0.9 each epoch) on
mini-batches of 32.

How it is chosen and scored, honestly: ``train.txt`` is split 90/10 (every tenth address held
out); each setting given (``--features``, ``--hidden``, ``--dropout``: comma-separated lists,
every combination tried) is trained on the 90% and scored after each epoch on the 10%; the best
(setting, epoch) by F1 on that split is kept, with those weights (trained on train only).
``dev.txt`` is then tagged once with it: the held-out F1, conlleval chunk rules
(``gridmap.geocode.conll``), as ``parse_eval.py`` prints for the CRF. Throughput: addresses per
CPU-second on one core, tagging dev in batches of 256 (features included, the gold tokenisation
as in ``parse_eval.py``), best of three passes. Last line: ``F1 <dev F1>``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "address-parsing"
sys.path.insert(0, str(ROOT))

from gridmap.geocode.conll import canonical_tag, read_conll, score_chunks  # noqa: E402
from gridmap.geocode.features import (  # noqa: E402
    GAZETTEER_LABELS,
    Lexicon,
    _add_gazetteer_features,
    _add_repeat_features,
    _kind,
    _shape,
    featurize,
)

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError:  # not a dependency of gridmap: this script is an experiment
    sys.exit("parse_neural.py needs PyTorch (pip install torch; a CPU build is enough)")

FOLDS = 5  # jackknife folds for the lexicon features, as the CRF's
BATCH = 32
LEXICON_SLOTS = [f"g={p}{label}" for label in GAZETTEER_LABELS for p in "BIES"] + [
    f"{r}={p}" for r in ("rp", "rn") for p in "BIE"
]
SLOT = {name: i for i, name in enumerate(LEXICON_SLOTS)}


# --- input encoding ---------------------------------------------------------------------------
class Encoder:
    """Token, bigram and kind ids (and lexicon marks) of a token list."""

    def __init__(
        self,
        data: list[list[tuple[str, str]]],
        lexicon: bool,
        crf_lexicons: list[Lexicon] | None = None,
    ) -> None:
        counts = Counter(_shape(t) for address in data for t, _ in address)
        self.tokens = {"<pad>": 0, "<unk>": 1}
        for token, count in counts.items():
            if count >= 2:
                self.tokens[token] = len(self.tokens)
        bigrams = Counter(
            pair for address in data for pair in _pairs([_shape(t) for t, _ in address])
        )
        self.bigrams = {"<pad>": 0, "<unk>": 1}
        for pair, count in bigrams.items():
            if count >= 2:
                self.bigrams[pair] = len(self.bigrams)
        self.kinds = {"<pad>": 0, "D": 1, "A": 2, "P": 3, "H": 4}
        self.lexicon = lexicon
        # the CRF's feature strings seen at least 3 times (with the jackknife lexicons)
        self.features: dict[str, int] | None = None
        if crf_lexicons is not None:
            counts = Counter()
            for i, address in enumerate(data):
                lexicon_i = crf_lexicons[i % FOLDS]
                for row in featurize([t for t, _ in address], lexicon_i):
                    counts.update(row)
            self.features = {f: i for i, f in enumerate(f for f, c in counts.items() if c >= 3)}

    def encode(self, tokens: list[str], lexicon: Lexicon | None) -> tuple:
        shapes = [_shape(t) for t in tokens]
        pairs = _pairs(shapes)
        ids = [self.tokens.get(s, 1) for s in shapes]
        left = [self.bigrams.get(p, 1) for p in pairs[:-1]]
        right = [self.bigrams.get(p, 1) for p in pairs[1:]]
        kinds = [self.kinds[_kind(t)] for t in tokens]
        marks = None
        if self.lexicon:
            rows: list[list[str]] = [[] for _ in tokens]
            _add_repeat_features(tokens, rows)
            _add_gazetteer_features(tokens, lexicon.gazetteer, rows)  # the CRF's own marks
            marks = [[SLOT[f] for f in row if f in SLOT] for row in rows]
        if self.features is not None:
            known = self.features
            rows = featurize(tokens, lexicon)
            marks = [[known[f] for f in row if f in known] for row in rows]
        return ids, left, right, kinds, marks


def _pairs(shapes: list[str]) -> list[str]:
    """Bigrams between consecutive tokens, with the start and end: n + 1 of them."""
    padded = ["^", *shapes, "$"]
    return [a + "|" + b for a, b in zip(padded[:-1], padded[1:], strict=True)]


def batch_tensors(encoded: list[tuple], lexicon: bool, bags: bool = False) -> dict:
    """Padded id arrays, the mask, and the lexicon marks (multi-hot) or the CRF features (one
    bag of feature ids per token position, padding included, for an EmbeddingBag)."""
    n = max(len(e[0]) for e in encoded)
    size = len(encoded)
    arrays = {name: np.zeros((size, n), dtype=np.int64) for name in ("ids", "left", "right",
                                                                   "kinds")}  # fmt: skip
    lengths = np.array([len(e[0]) for e in encoded])
    marks = np.zeros((size, n, len(LEXICON_SLOTS)), dtype=np.float32) if lexicon else None
    flat: list[int] = []
    offsets: list[int] = []
    for b, (ids, left, right, kinds, slots) in enumerate(encoded):
        k = len(ids)
        arrays["ids"][b, :k] = ids
        arrays["left"][b, :k] = left
        arrays["right"][b, :k] = right
        arrays["kinds"][b, :k] = kinds
        if marks is not None:
            for t, row in enumerate(slots):
                if row:
                    marks[b, t, row] = 1.0
        if bags:
            for row in slots:
                offsets.append(len(flat))
                flat.extend(row)
            offsets.extend([len(flat)] * (n - k))
    out = {name: torch.from_numpy(a) for name, a in arrays.items()}
    out["mask"] = torch.from_numpy(np.arange(n)[None, :] < lengths[:, None])
    out["marks"] = torch.from_numpy(marks) if marks is not None else None
    out["bags"] = (torch.tensor(flat, dtype=torch.long), torch.tensor(offsets)) if bags else None
    return out


# --- the model --------------------------------------------------------------------------------
class CRF(nn.Module):
    """Linear-chain CRF: transition scores, the forward algorithm and Viterbi, batched."""

    def __init__(self, tags: int) -> None:
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(tags, tags))  # [from, to]
        self.start = nn.Parameter(torch.zeros(tags))
        self.end = nn.Parameter(torch.zeros(tags))

    def nll(self, emissions, tags, mask):
        size, length, _ = emissions.shape
        rows = torch.arange(size)
        score = self.start[tags[:, 0]] + emissions[rows, 0, tags[:, 0]]
        alpha = self.start + emissions[:, 0]
        for t in range(1, length):
            step = mask[:, t]
            gold = self.transitions[tags[:, t - 1], tags[:, t]] + emissions[rows, t, tags[:, t]]
            score = score + gold * step
            nxt = (
                torch.logsumexp(alpha.unsqueeze(2) + self.transitions.unsqueeze(0), dim=1)
                + emissions[:, t]
            )
            alpha = torch.where(step.unsqueeze(1), nxt, alpha)
        last = tags[rows, mask.sum(1) - 1]
        score = score + self.end[last]
        return (torch.logsumexp(alpha + self.end, dim=1) - score).sum()

    def decode(self, emissions, mask) -> list[list[int]]:
        size, length, tags = emissions.shape
        score = self.start + emissions[:, 0]
        history = []
        stay = torch.arange(tags).expand(size, tags)
        for t in range(1, length):
            best, index = (score.unsqueeze(2) + self.transitions.unsqueeze(0)).max(dim=1)
            step = mask[:, t].unsqueeze(1)
            score = torch.where(step, best + emissions[:, t], score)
            # past a sequence's end its tag stays: the backtrack walks through the padding
            history.append(torch.where(step, index, stay))
        current = (score + self.end).argmax(1)
        path = [current]
        for index in reversed(history):
            current = index.gather(1, current.unsqueeze(1)).squeeze(1)
            path.append(current)
        paths = torch.stack(path[::-1], dim=1).tolist()
        return [p[:n] for p, n in zip(paths, mask.sum(1).tolist(), strict=True)]


class Tagger(nn.Module):
    def __init__(self, encoder: Encoder, tags: int, hidden: int, dropout: float = 0.3) -> None:
        super().__init__()
        self.token = nn.Embedding(len(encoder.tokens), 96, padding_idx=0)
        self.bigram = nn.Embedding(len(encoder.bigrams), 48, padding_idx=0)
        self.kind = nn.Embedding(len(encoder.kinds), 8, padding_idx=0)
        width = 96 + 2 * 48 + 8 + (len(LEXICON_SLOTS) if encoder.lexicon else 0)
        self.bag = None
        if encoder.features is not None:
            self.bag = nn.EmbeddingBag(len(encoder.features), 128, mode="sum")
            width += 128
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(width, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, tags)
        self.crf = CRF(tags)

    def emissions(self, batch: dict):
        parts = [
            self.token(batch["ids"]),
            self.bigram(batch["left"]),
            self.bigram(batch["right"]),
            self.kind(batch["kinds"]),
        ]
        if batch["marks"] is not None:
            parts.append(batch["marks"])
        if batch["bags"] is not None:
            flat, offsets = batch["bags"]
            size, n = batch["ids"].shape
            parts.append(self.bag(flat, offsets).view(size, n, -1))
        x = self.dropout(torch.cat(parts, dim=2))
        lengths = batch["mask"].sum(1)
        packed = nn.utils.rnn.pack_padded_sequence(
            x, lengths, batch_first=True, enforce_sorted=False
        )
        h, _ = self.lstm(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])
        return self.out(self.dropout(h))


# --- training and scoring ---------------------------------------------------------------------
def prepare(data, encoder: Encoder, lexicons: list[Lexicon] | Lexicon | None, tag_ids):
    """Encoded addresses; with a list of lexicons, address i uses lexicon i % FOLDS."""
    out = []
    for i, address in enumerate(data):
        tokens = [t for t, _ in address]
        lexicon = lexicons[i % FOLDS] if isinstance(lexicons, list) else lexicons
        tags = [tag_ids.get(tag, 0) for _, tag in address]
        out.append((encoder.encode(tokens, lexicon), tags))
    return out


def tag_all(model: Tagger, encoded: list[tuple], tag_names: list[str], features: str, size=256):
    model.eval()
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
    out: list[list[str] | None] = [None] * len(encoded)
    with torch.no_grad():
        for start in range(0, len(order), size):
            chosen = order[start : start + size]
            batch = batch_tensors(
                [encoded[i] for i in chosen], features == "lexicon", features == "crf"
            )
            paths = model.crf.decode(model.emissions(batch), batch["mask"])
            for i, path in zip(chosen, paths, strict=True):
                out[i] = [tag_names[t] for t in path]
    return out


def f1(model, encoded, gold, tag_names, features: str) -> float:
    predicted = tag_all(model, [e for e, _ in encoded], tag_names, features)
    return score_chunks(gold, predicted)["overall"].f1


def train(setting: dict, learn, held, args, tag_ids, tag_names):
    """Train on ``learn``, score ``held`` each epoch; the best epoch's F1 and weights."""
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    features = setting["features"]
    lexicon, bags = features == "lexicon", features == "crf"
    folds = (
        [Lexicon.learn([a for i, a in enumerate(learn) if i % FOLDS != k]) for k in range(FOLDS)]
        if lexicon or bags
        else None
    )
    encoder = Encoder(learn, lexicon, folds if bags else None)
    full = Lexicon.learn(learn) if lexicon or bags else None
    learn_encoded = prepare(learn, encoder, folds, tag_ids)
    held_encoded = prepare(held, encoder, full, tag_ids)
    held_gold = [[canonical_tag(tag) for _, tag in a] for a in held]
    model = Tagger(encoder, len(tag_names), setting["hidden"], setting["dropout"])
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    # the step shrinks by a tenth each epoch: later epochs refine rather than overfit
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimiser, gamma=0.9)
    best = (-1.0, 0, None)
    started = time.process_time()
    for epoch in range(1, args.max_epochs + 1):
        model.train()
        order = list(range(len(learn_encoded)))
        rng.shuffle(order)
        # batches of similar lengths (less padding), in random order
        order.sort(key=lambda i: len(learn_encoded[i][1]) + rng.random() * 4)
        batches = [order[s : s + BATCH] for s in range(0, len(order), BATCH)]
        rng.shuffle(batches)
        total = 0.0
        for chosen in batches:
            items = [learn_encoded[i] for i in chosen]
            batch = batch_tensors([e for e, _ in items], lexicon, bags)
            tags = torch.zeros_like(batch["ids"])
            for b, (_, t) in enumerate(items):
                tags[b, : len(t)] = torch.tensor(t)
            loss = model.crf.nll(model.emissions(batch), tags, batch["mask"]) / len(items)
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            total += float(loss.detach()) * len(items)
        schedule.step()
        score = f1(model, held_encoded, held_gold, tag_names, features)
        minutes = (time.process_time() - started) / 60
        print(
            f"  {setting} epoch {epoch}: loss {total / len(learn):.3f}, split F1 {score:.2f} "
            f"({minutes:.1f} CPU-min)",
            flush=True,
        )
        if score > best[0]:
            state = {k: v.clone() for k, v in model.state_dict().items()}
            best = (score, epoch, state)
        if minutes > args.minutes:
            print(f"  stopped: {args.minutes} CPU-minutes")
            break
    model.load_state_dict(best[2])
    return best[0], best[1], model, encoder, full


def throughput(model, encoder, lexicon, token_lists, tag_names, features) -> float:
    """Addresses per CPU-second, features included (best of three passes)."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        encoded = [encoder.encode(tokens, lexicon) for tokens in token_lists]
        tag_all(model, encoded, tag_names, features)
        best = min(best, time.process_time() - started)
    return len(token_lists) / best


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--train", default=str(DATA / "train.txt"))
    options.add_argument("--eval", default=str(DATA / "dev.txt"))
    options.add_argument(
        "--features", default="chars,lexicon,crf", help="input sets to try: chars, lexicon, crf"
    )
    options.add_argument("--hidden", default="128", help="LSTM sizes to try, e.g. 96,160")
    options.add_argument("--dropout", default="0.5", help="dropout rates to try, e.g. 0.3,0.5")
    options.add_argument("--max-epochs", type=int, default=15)
    options.add_argument("--minutes", type=float, default=9.0, help="CPU-minutes per setting")
    options.add_argument("--seed", type=int, default=1)
    args = options.parse_args()
    torch.set_num_threads(1)  # one core, as the target says
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    train_data = [[(t, canonical_tag(g)) for t, g in a] for a in read_conll(args.train)]
    evaluation = read_conll(args.eval)
    learn = [a for i, a in enumerate(train_data) if i % 10 != 9]
    held = [a for i, a in enumerate(train_data) if i % 10 == 9]
    tag_names = ["O"] + sorted({g for a in train_data for _, g in a} - {"O"})
    tag_ids = {t: i for i, t in enumerate(tag_names)}
    print(
        f"train: {args.train} ({len(train_data)} addresses: {len(learn)} learn, {len(held)} to "
        f"choose settings); eval: {args.eval} ({len(evaluation)} addresses)"
    )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread")

    results = []
    grid = itertools.product(
        args.features.split(","), args.hidden.split(","), args.dropout.split(",")
    )
    for features, hidden, dropout in grid:
        setting = {"features": features, "hidden": int(hidden), "dropout": float(dropout)}
        score, epoch, model, encoder, lexicon = train(
            setting, learn, held, args, tag_ids, tag_names
        )
        rate = throughput(model, encoder, lexicon, [[t for t, _ in a] for a in held], tag_names,
                          features)  # fmt: skip
        print(
            f"setting {setting}: best split F1 {score:.2f} at epoch {epoch}; "
            f"{rate:,.0f} addresses per CPU-second on the split",
            flush=True,
        )
        results.append((score, setting, epoch, model, encoder, lexicon))
    score, setting, epoch, model, encoder, lexicon = max(results, key=lambda r: r[0])
    print(f"chosen on the split of train: {setting}, epoch {epoch} (split F1 {score:.2f})")

    # --- dev, once ---
    token_lists = [[t for t, _ in a] for a in evaluation]
    gold = [[canonical_tag(g) for _, g in a] for a in evaluation]
    cpu = []
    for _ in range(3):
        started = time.process_time()
        encoded = [encoder.encode(tokens, lexicon) for tokens in token_lists]
        predicted = tag_all(model, encoded, tag_names, setting["features"])
        cpu.append(time.process_time() - started)
    scores = score_chunks(gold, predicted)
    overall = scores.pop("overall")
    print(f"\n{'label':<12}{'precision':>10}{'recall':>8}{'F1':>8}{'gold':>7}{'found':>7}")
    for s in sorted(scores.values(), key=lambda s: -s.gold):
        print(f"{s.label:<12}{s.precision:>10.2f}{s.recall:>8.2f}{s.f1:>8.2f}{s.gold:>7}"
              f"{s.predicted:>7}")  # fmt: skip
    print(f"{'overall':<12}{overall.precision:>10.2f}{overall.recall:>8.2f}{overall.f1:>8.2f}"
          f"{overall.gold:>7}{overall.predicted:>7}")  # fmt: skip
    n = len(token_lists)
    print(
        f"\nthroughput (one core, one thread, batches of 256, best of 3 passes over {n} "
        f"addresses): {n / min(cpu):,.0f} addresses per CPU-second (median pass "
        f"{n / sorted(cpu)[1]:,.0f}); load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores"
    )
    print(f"F1 {overall.f1:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
