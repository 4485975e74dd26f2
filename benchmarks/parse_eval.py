"""Address parsing: train the CRF parser on labelled history, score it on addresses it has not seen.

    python benchmarks/parse_eval.py [--train T] [--eval E] [--max-iterations N] [--c1 X] [--c2 Y]

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


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--train", default=str(DATA / "train.txt"), help="labelled history")
    options.add_argument(
        "--eval", default=str(DATA / "dev.txt"), help="labelled addresses to score"
    )
    options.add_argument("--max-iterations", type=int, default=None, help="L-BFGS iterations")
    options.add_argument("--c1", type=float, default=None, help="L1 penalty")
    options.add_argument("--c2", type=float, default=None, help="L2 penalty")
    args = options.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    try:
        train, evaluation = read_conll(args.train), read_conll(args.eval)
    except InputError as error:
        print(f"error: {error}\n(the labelled data lives in {DATA})", file=sys.stderr)
        return 2
    params = {
        k: v
        for k, v in {"max_iterations": args.max_iterations, "c1": args.c1, "c2": args.c2}.items()
        if v is not None
    }
    print(f"train: {args.train} ({len(train)} addresses)")
    print(f"eval:  {args.eval} ({len(evaluation)} addresses)")
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
