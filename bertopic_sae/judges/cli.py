"""``bertopic-sae judge``: SAE-TM's LLM metrics (C_I, C_R) for topics stored in a file.

The lead wires it in with ``register(subparsers)`` in ``bertopic_sae/cli.py``. Input: a ``.json`` list of
topics (word lists) or a ``.jsonl`` file whose rows have a ``topics`` field (one row per model, e.g.
``benchmarks/results/octis_grid_topics.jsonl``). Output: one CSV row per input row and metric (appended;
rows already in the CSV are skipped, so an interrupted run resumes).

Usage:

```bash
python -m bertopic_sae.judges.cli topics.jsonl --out llm_metrics.csv --metrics C_I
bertopic-sae judge topics.jsonl --out llm_metrics.csv --metrics C_I_lik C_R_cal   # the offline SmolLM2
bertopic-sae judge topics.jsonl --out llm_metrics.csv --metrics C_I_lik --max-topics 25   # 25 per row
python -m bertopic_sae.judges.cli topics.json --judge openai:gpt-4.1-mini --out scores.csv
```
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["register", "main", "run"]

_KEYS = ("model", "dataset", "num_topics", "seed")
_COLUMNS = [*_KEYS, "row", "metric", "mean", "n_questions", "n_failures", "judge"]


def _rows(path: Path) -> list[dict]:
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    else:
        data = json.loads(path.read_text())
        rows = [{"topics": data}] if data and isinstance(data[0], list) else list(data)
    if not rows or not all(isinstance(r, dict) and r.get("topics") for r in rows):
        raise ValueError(f"{path}: expected a JSON list of word lists or JSONL rows with a 'topics' field.")
    return rows


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _judge(spec: str, verbose: bool) -> Any:
    from .base import LMJudge, OpenAIJudge

    if spec == "smollm2":
        return LMJudge(verbose=verbose)
    if spec.startswith("openai:"):
        from openai import OpenAI  # an optional dependency, only for this judge

        return OpenAIJudge(OpenAI(), spec.split(":", 1)[1])
    if spec.startswith("hf:"):
        from bertopic_sae.lm import load_causal_lm

        return LMJudge(load_causal_lm(spec[3:], verbose=verbose), verbose=verbose)
    raise ValueError(f"--judge {spec!r}: use smollm2, hf:<causal LM id or folder> or openai:<model>.")


def run(args: argparse.Namespace) -> int:
    """Handler of ``judge``: score every row of ``args.topics`` and append to ``args.out``."""
    from tqdm.auto import tqdm

    from .llm_metrics import llm_metric, sample_topic_subset

    rows = _rows(Path(args.topics))
    out = Path(args.out)
    done = set()
    if out.exists():
        with out.open() as handle:
            done = {(r["row"], r["metric"]) for r in csv.DictReader(handle)}
    wanted = [(i, m) for i in range(len(rows)) for m in args.metrics if (str(i), m) not in done]
    if args.limit is not None:
        wanted = wanted[: args.limit]
    judge = _judge(args.judge, verbose=False) if wanted else None
    for i, metric in tqdm(wanted, desc="judge", disable=args.quiet):
        topics = rows[i]["topics"]
        subset = sample_topic_subset(len(topics), args.max_topics, seed=args.seed)
        scores = llm_metric(
            metric, topics, judge, repetitions=args.repetitions, seed=args.seed, topic_subset=subset
        )
        record = {k: rows[i].get(k, "") for k in _KEYS} | {
            "row": i,
            "metric": metric,
            "mean": round(scores.mean, 4),
            "n_questions": scores.n_questions,
            "n_failures": scores.n_failures,
            "judge": args.judge,
        }
        new = not out.exists()
        with out.open("a", newline="") as handle:  # one finished row at a time: resumable
            writer = csv.DictWriter(handle, fieldnames=_COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow(record)
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``judge`` subcommand to a ``bertopic-sae`` subparsers object."""
    from .llm_metrics import METRIC_VARIANTS

    p = subparsers.add_parser(
        "judge",
        help="topics file -> C_I / C_R LLM metrics (resumable CSV)",
        description=__doc__.split("\n")[0],
    )
    p.add_argument("topics", help=".json list of word lists, or .jsonl rows with a 'topics' field")
    p.add_argument("--out", required=True, help="CSV to append to (rows already in it are skipped)")
    p.add_argument(
        "--metrics",
        nargs="+",
        choices=tuple(METRIC_VARIANTS),
        default=["C_I", "C_R"],
        help="C_I_lik: intruder by likelihood (an LM judge; the one SmolLM2-135M answers above chance)",
    )
    p.add_argument("--judge", default="smollm2", help="smollm2 (offline), hf:<causal LM>, openai:<model>")
    p.add_argument("--repetitions", type=int, default=3, help="questions per topic (SAE-TM: 3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--max-topics",
        type=_positive_int,
        default=None,
        help="ask about a seeded sample of at most N topics per row (intruders still from every topic)",
    )
    p.add_argument("--limit", type=int, default=None, help="score at most N (row, metric) cells this run")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``judge`` as a standalone command."""
    parser = argparse.ArgumentParser(prog="bertopic-sae")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(["judge", *(sys.argv[1:] if argv is None else argv)])
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
