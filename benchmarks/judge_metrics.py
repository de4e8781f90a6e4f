"""SAE-TM's LLM metrics (C_I, C_R) for every model of ``benchmarks/judge_all.py``: resumable rows and a table.

Each (dataset, model, metric) is one CSV row, appended when finished, so a rerun skips it (per number of
repetitions). A ``random`` pseudo-model (topics of words drawn at random from every model's topic words)
gives each metric's floor on the same vocabulary: C_I's chance is 1/6 by construction, C_R's has no closed
form. ``max_topics`` cuts the topics scored per model (a seeded random subset, the same rule for every model)
when the whole set does not fit in the time at hand.

Usage (from ``judge_all``):

```python
run_metrics("bbc_news", views, {"prompt": LMJudge(lm), "pmi": LMLikelihoodJudge(lm)}, csv_path,
            ["C_I_lik", "C_R_cal"], reps=3)
lines = metrics_table(csv_path, octis_scores, reps=3)
```
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import time
from pathlib import Path

import numpy as np

from bertopic_sae.judges.llm_metrics import METRIC_VARIANTS, llm_metric

METRIC_COLUMNS = [
    "dataset",
    "model",
    "metric",
    "mean",
    "n_topics",
    "n_questions",
    "n_failures",
    "seconds",
    "date",
]

METRICS = METRIC_VARIANTS
"""Metric name -> (function kind, keyword arguments) of ``bertopic_sae.judges.llm_metrics``."""

RANDOM = "random"
"""Name of the random-words pseudo-model (a metric's floor)."""


def random_topics(views, n_topics: int = 50, n_words: int = 10, seed: int = 0) -> list[list[str]]:
    """``n_topics`` lists of distinct words drawn uniformly from the union of every view's topic words."""
    pool = sorted({w for v in views for t in v.topic_words for w in t})
    rng = np.random.default_rng(seed)
    return [[pool[i] for i in rng.choice(len(pool), n_words, replace=False)] for _ in range(n_topics)]


def scored_topics(topic_words: list[list[str]], max_topics: int | None, seed: int = 0) -> list[list[str]]:
    """The topics a metric scores: all, or a seeded random ``max_topics`` of them (in their order)."""
    words = [list(t) for t in topic_words if len(t) >= 5]  # a metric needs 5 words; shorter lists are empty
    if max_topics is None or len(words) <= max_topics:
        return words
    keep = np.sort(np.random.default_rng(seed).choice(len(words), max_topics, replace=False))
    return [words[i] for i in keep]


def _done(csv_path: Path) -> set[tuple]:
    if not csv_path.exists():
        return set()
    with csv_path.open() as handle:  # a row counts as done for its repetitions per topic and topic count
        return {
            (
                r["dataset"],
                r["model"],
                r["metric"],
                round(int(r["n_questions"]) / max(int(r["n_topics"]), 1)),
                int(r["n_topics"]),
            )
            for r in csv.DictReader(handle)
        }


def run_metrics(
    dataset: str,
    views,
    judges: dict,
    csv_path: Path,
    metrics,
    reps: int,
    max_topics: int | None = None,
    baseline: bool = True,
) -> None:
    """Score every view (and the random baseline) with every metric; one CSV row per finished cell."""
    done = _done(csv_path)
    topics = {v.name: scored_topics(v.topic_words, max_topics) for v in views}
    if baseline:
        topics[RANDOM] = random_topics(views, n_topics=max_topics or 50)
    # metric-major: every model gets the first metric before any model gets the second (a cut run is even)
    for metric, model in itertools.product(metrics, topics):
        if (dataset, model, metric, reps, len(topics[model])) in done:
            continue
        judge = judges["pmi"] if METRICS[metric][1].get("answer") == "likelihood" else judges["prompt"]
        start = time.perf_counter()
        scores = llm_metric(metric, topics[model], judge, repetitions=reps)
        row = {
            "dataset": dataset,
            "model": model,
            "metric": metric,
            "mean": round(scores.mean, 4),
            "n_topics": len(topics[model]),
            "n_questions": scores.n_questions,
            "n_failures": scores.n_failures,
            "seconds": round(time.perf_counter() - start, 1),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        new = not csv_path.exists()
        with csv_path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=METRIC_COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow(row)
        print(f"{dataset} {model} {metric} = {scores.mean:.3f} ({row['seconds']}s)", flush=True)


def metrics_table(csv_path: Path, octis_scores: dict, reps: int, labels: dict) -> list[str]:
    """Markdown table of the CSV's rows at ``reps`` repetitions (one row per dataset and model)."""
    if not csv_path.exists():
        return []
    with csv_path.open() as handle:
        rows = [
            r
            for r in csv.DictReader(handle)
            if round(int(r["n_questions"]) / max(int(r["n_topics"]), 1)) == reps
        ]
    cells: dict[tuple, dict] = {}
    for r in rows:  # a later row (e.g. more topics) replaces an earlier one of the same cell
        cells.setdefault((r["dataset"], r["model"]), {})[r["metric"]] = r
    metrics = [m for m in METRICS if any(m in c for c in cells.values())]
    lines = [
        f"## SAE-TM's LLM metrics (SmolLM2-135M judge, 5 words + 1 intruder, {reps} repetitions per topic)",
        "",
        "C_I: letters (chance 1/6 = 0.167); C_I_cal: letters, contextually calibrated; C_I_lik: the word "
        "least predicted by the other five (likelihood judge; chance 1/6); C_R / C_R_cal: expected 0-9 "
        "rating × 100/9 (raw / calibrated). Each cell: mean (questions asked). `random`: topics of random "
        "words from the models' topic words, the metric's floor; topics: scored per model (a seeded subset "
        "where fewer than the model's).",
        "",
        "| dataset | model | topics | " + " | ".join(metrics) + " | failures | GloVe intrusion | NPMI |",
        "|---|---|---|" + "---|" * len(metrics) + "---|---|---|",
    ]
    for (dataset, model), m in sorted(cells.items()):
        score = octis_scores.get(dataset, {}).get(model, {})
        first = next(iter(m.values()))
        fails = sum(int(x.get("n_failures", 0)) for x in m.values())
        values = " | ".join(
            f"{float(m[k]['mean']):.3f} ({m[k]['n_questions']})" if k in m else "" for k in metrics
        )
        lines.append(
            f"| {dataset} | {labels.get(model, model)} | {first.get('n_topics', '')} | {values} | {fails} | "
            f"{score.get('intrusion', float('nan')):.3f} | {score.get('npmi', float('nan')):.3f} |"
        )
    return lines
