"""Address parsing: train the CRF parser on labelled history, score it on addresses it has not seen.

    python benchmarks/parse_eval.py [--train T] [--eval E] [--max-iterations N] [--c1 X] [--c2 Y]
    python benchmarks/parse_eval.py --cv 3 [--grid "c1,c2,iterations;..."]

With ``--cv K`` the settings are chosen by K-fold cross-validation **on T only** (each setting of
``--grid`` is trained on K-1 folds and scored on the K-th, the mean F1 over folds decides); the
chosen setting is then trained on all of T and scored once on E, the held-out figure. Without
``--cv`` the given (or default) settings are trained and scored directly. ``--split-of-train``
scores on every tenth address of T instead, learning from the other nine: the split
``parse_neural.py`` chooses its settings on, so the two taggers compare without touching E.

T and E are column-format files (one token and its B-/I- tag per line, a blank line between
addresses); the defaults are ../shared/data/address-parsing/train.txt and dev.txt (Li et al.,
NAACL 2019). The parser learns from T when this script runs; nothing learnt is kept.

Printed: training time, per-label and overall chunk precision/recall/F1 by conlleval rules
(``gridmap.geocode.conll``: a chunk counts when label, start and end all match), and parsing
throughput on one core (tokens in, tags out, features included; the gold tokenisation is used so
chunks line up with the gold ones; best of three passes, as other processes on a shared machine
only ever slow a pass down). Last line: ``F1 <overall chunk F1, 0-100>``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "address-parsing"
sys.path.insert(0, str(ROOT))

from gridmap.errors import InputError  # noqa: E402
from gridmap.geocode.conll import read_conll, score_chunks  # noqa: E402
from gridmap.geocode.parse import AddressParser  # noqa: E402

DEFAULT_GRID = "0.15,0.1,100;0.3,0.1,100;0.05,0.05,100"


def cross_validate(train: list, folds: int, grid: str) -> dict:
    """The setting of ``grid`` with the best mean chunk F1 over ``folds`` folds of ``train``."""
    settings = []
    for item in grid.split(";"):
        c1, c2, iterations = item.split(",")
        settings.append({"c1": float(c1), "c2": float(c2), "max_iterations": int(iterations)})
    results = []
    for setting in settings:
        f1s = []
        for k in range(folds):
            learn = [a for i, a in enumerate(train) if i % folds != k]
            held = [a for i, a in enumerate(train) if i % folds == k]
            parser = AddressParser(**setting).fit(learn)
            predicted = [parser.tag([t for t, _ in address]) for address in held]
            gold = [[tag for _, tag in address] for address in held]
            f1s.append(score_chunks(gold, predicted)["overall"].f1)
        mean = sum(f1s) / len(f1s)
        results.append((mean, setting))
        folds_text = " ".join(f"{f:.2f}" for f in f1s)
        print(f"cv {setting}: mean F1 {mean:.2f} (folds {folds_text})", flush=True)
    best = max(results, key=lambda r: r[0])[1]
    print(f"cv chose {best} ({folds} folds of train only; eval data unseen until now)")
    return best


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--train", default=str(DATA / "train.txt"), help="labelled history")
    options.add_argument(
        "--eval", default=str(DATA / "dev.txt"), help="labelled addresses to score"
    )
    options.add_argument("--max-iterations", type=int, default=None, help="L-BFGS iterations")
    options.add_argument("--c1", type=float, default=None, help="L1 penalty")
    options.add_argument("--c2", type=float, default=None, help="L2 penalty")
    options.add_argument("--cv", type=int, default=0, help="choose settings by K-fold CV on T")
    options.add_argument(
        "--split-of-train",
        action="store_true",
        help="learn from 9 of every 10 addresses of T and score the 10th instead of E (the "
        "split parse_neural.py chooses its settings on: the two taggers compared on train)",
    )
    options.add_argument(
        "--grid",
        default=DEFAULT_GRID,
        help='settings tried by --cv: "c1,c2,iterations;..." (default %(default)s)',
    )
    args = options.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    try:
        train, evaluation = read_conll(args.train), read_conll(args.eval)
    except InputError as error:
        print(f"error: {error}\n(the labelled data lives in {DATA})", file=sys.stderr)
        return 2
    if args.split_of_train:
        train, evaluation = (
            [a for i, a in enumerate(train) if i % 10 != 9],
            [a for i, a in enumerate(train) if i % 10 == 9],
        )
        args.eval = f"every tenth address of {args.train}"
    params = {
        k: v
        for k, v in {"max_iterations": args.max_iterations, "c1": args.c1, "c2": args.c2}.items()
        if v is not None
    }
    print(f"train: {args.train} ({len(train)} addresses)")
    print(f"eval:  {args.eval} ({len(evaluation)} addresses)")
    if args.cv:
        params = cross_validate(train, args.cv, args.grid)
    parser = AddressParser(**params).fit(train)
    print(
        f"training: {parser.training_seconds:.1f} s wall, {parser.training_cpu_seconds:.1f} s CPU "
        f"(c1={parser.c1}, c2={parser.c2}, max_iterations={parser.max_iterations})"
    )

    token_lists = [[token for token, _ in address] for address in evaluation]
    parser.tag(token_lists[0])  # warm up
    # Best of three passes: the machine may be shared, and other processes only ever slow a pass.
    tag_cpu, tag_wall = [], []
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        predicted = [parser.tag(tokens) for tokens in token_lists]
        tag_wall.append(time.perf_counter() - wall)
        tag_cpu.append(time.process_time() - cpu)
    texts = ["".join(tokens) for tokens in token_lists]
    text_cpu = []
    for _ in range(3):
        cpu = time.process_time()
        parser.parse_many(texts)
        text_cpu.append(time.process_time() - cpu)

    scores = score_chunks([[tag for _, tag in address] for address in evaluation], predicted)
    overall = scores.pop("overall")
    print(f"\n{'label':<12}{'precision':>10}{'recall':>8}{'F1':>8}{'gold':>7}{'found':>7}")
    for score in sorted(scores.values(), key=lambda s: -s.gold):
        print(
            f"{score.label:<12}{score.precision:>10.2f}{score.recall:>8.2f}{score.f1:>8.2f}"
            f"{score.gold:>7}{score.predicted:>7}"
        )
    print(
        f"{'overall':<12}{overall.precision:>10.2f}{overall.recall:>8.2f}{overall.f1:>8.2f}"
        f"{overall.gold:>7}{overall.predicted:>7}"
    )
    # CPU time is what one core costs; wall time also counts waiting for a shared machine
    n = len(token_lists)
    print(
        f"\nthroughput (one core, best of 3 passes over {n} addresses): "
        f"{n / min(tag_cpu):,.0f} addresses per CPU-second tagging tokens "
        f"(median pass {n / sorted(tag_cpu)[1]:,.0f}; wall clock {n / min(tag_wall):,.0f}/s), "
        f"{n / min(text_cpu):,.0f} per CPU-second parse() from raw text"
    )
    print(f"F1 {overall.f1:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
