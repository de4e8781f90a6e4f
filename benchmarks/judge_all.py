"""Judge every model once: topic-judge Elo (SmolLM2 and embedding judges), C_I / C_R (SmolLM2), NPMI.

Models (OCTIS adapters of ``benchmarks.octis_grid``, its full-grid hyperparameters, seed 0, K = 50): SAE-TM
(``bertopic_sae.BERTopic`` + ``SAEAtomMerger``), default BERTopic, k-means + c-TF-IDF and LDA, on 20
Newsgroups (the first ``--n-20ng`` documents, a subset for CPU time) and BBC News (all 2,225), with the OCTIS
grid's vocabulary and tokenisation (``bertopic_sae.octis.load_octis_corpus``). Mechanistic topic models join
through :data:`EXTRA_MODELS` (a function ``(dataset name, corpus) -> list[ModelTopics]``), no other change.

Per dataset and judge: ``--judge-docs`` sampled documents x every model pair, each asked in both A/B orders;
Elo from one random order per comparison (the paper's randomised protocol) and from both orders averaged
(position bias cancelled), 95% bootstrap bounds (500 resamples). Agreement between the two judges (Spearman of
Elo, per-comparison agreement) and with the NPMI ranking; position bias. C_I / C_R follow
``bertopic_sae.judges.llm_metrics`` (5 words; C_I 3 repetitions, C_R 1 by default for CPU time).
Comparisons are cached in
``results/judge_comparisons.jsonl`` and metric rows in ``results/judge_llm_metrics.csv``: a rerun resumes.

Usage:

```bash
python -m benchmarks.judge_all                              # ~40 min on 2 busy cores
python -m benchmarks.judge_all --datasets bbc_news --judge-docs 5 --no-metrics   # smoke run
```
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import os
import pickle
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks._machine import cpu_cores, cpu_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("sae", "bertopic", "kmeans", "lda")
LABELS = {"sae": "SAE-TM", "bertopic": "BERTopic", "kmeans": "k-means+c-TF-IDF", "lda": "LDA"}
EXTRA_MODELS: dict[str, Callable] = {}
"""Extra model sources, e.g. ``{"mtm": lambda name, corpus: [ModelTopics(...), ...]}`` (MTM plugs in here)."""
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


def fit_models(name: str, n_docs: int | None, k: int, models, verbose: bool):
    """Fit every model on the corpus; returns (corpus, {model: octis output}, {model: OCTIS scores})."""
    from bertopic_sae.octis import OctisEvaluator, load_octis_corpus

    from benchmarks.octis_grid import FULL_CONFIG, make_model

    corpus = load_octis_corpus(name)
    if n_docs and n_docs < len(corpus):
        corpus = corpus.subset(n_docs)
    embeddings = corpus.embeddings()
    evaluator = OctisEvaluator(corpus.dataset, labels=corpus.labels)
    outputs, scores = {}, {}
    from bertopic_sae.datasets import cache_dir

    for model in models:
        start = time.perf_counter()
        # fitted outputs are cached, so a resumed run (the comparisons are cached too) does not refit
        stored = cache_dir() / "judges" / f"{name}-{len(corpus)}-k{k}-{model}-seed0.pkl"
        if stored.exists():
            outputs[model] = pickle.loads(stored.read_bytes())
        else:
            outputs[model] = make_model(model, k, 0, embeddings, FULL_CONFIG[model], verbose).train_model(
                corpus.dataset
            )
            stored.parent.mkdir(parents=True, exist_ok=True)
            keep = {key: outputs[model][key] for key in ("topics", "topic-document-matrix")}
            stored.with_suffix(".tmp").write_bytes(pickle.dumps(keep))
            os.replace(stored.with_suffix(".tmp"), stored)
        scores[model] = evaluator.score(outputs[model])
        print(
            f"{name} {model}: fit+score {time.perf_counter() - start:.0f}s npmi={scores[model]['npmi']:.3f}"
        )
    return corpus, outputs, scores


def elo_rows(dataset, judge, comparisons, npmi):
    from scipy.stats import spearmanr

    from bertopic_sae.judges import bradley_terry_elo, combine_orders, one_order

    rows = []
    for protocol, chosen in [
        ("one order", one_order(comparisons)),
        ("both orders", combine_orders(comparisons)),
    ]:
        table = bradley_terry_elo(chosen, n_bootstrap=500)
        rho = spearmanr(table.elo, [npmi[m] for m in table.models]).statistic
        for i, model in enumerate(table.models):
            rows.append(
                {
                    "dataset": dataset,
                    "judge": judge,
                    "protocol": protocol,
                    "model": model,
                    "elo": table.elo[i],
                    "low": table.low[i],
                    "high": table.high[i],
                    "wins": int(table.wins[i]),
                    "games": int(table.games[i]),
                    "ties": table.ties,
                    "failures": table.failures,
                    "spearman_npmi": rho,
                    "npmi": npmi[model],
                }
            )
    return rows


def run_metrics(dataset, views, judge, csv_path: Path, reps: dict[str, int]):
    from bertopic_sae.judges import coherence_rating, intruder_detection

    done = set()
    if csv_path.exists():
        with csv_path.open() as handle:
            done = {(r["dataset"], r["model"], r["metric"]) for r in csv.DictReader(handle)}
    for view, (metric, fn) in itertools.product(
        views, [("C_I", intruder_detection), ("C_R", coherence_rating)]
    ):
        if (dataset, view.name, metric) in done:
            continue
        start = time.perf_counter()
        scores = fn(view.topic_words, judge, repetitions=reps[metric])
        row = {
            "dataset": dataset,
            "model": view.name,
            "metric": metric,
            "mean": round(scores.mean, 4),
            "n_topics": len(view.topic_words),
            "n_questions": scores.n_questions,
            "n_failures": scores.n_failures,
            "seconds": round(time.perf_counter() - start, 1),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        new = not csv_path.exists()
        with csv_path.open("a", newline="") as handle:  # one row per finished (dataset, model, metric)
            writer = csv.DictWriter(handle, fieldnames=METRIC_COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow(row)
        print(f"{dataset} {view.name} {metric} = {scores.mean:.3f} ({row['seconds']}s)", flush=True)


def write_report(elo: list[dict], extra: list[str], path: Path) -> None:
    lines = [
        "# Topic judge: Elo per model and judge (K = 50)",
        "",
        f"Machine: {cpu_cores()} cores {cpu_model()}; {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC. "
        "Written by `python -m benchmarks.judge_all`.",
        "",
        "| dataset | judge | protocol | model | Elo | 95% CI | wins / games | NPMI | ρ(Elo, NPMI) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in elo:
        lines.append(
            f"| {r['dataset']} | {r['judge']} | {r['protocol']} | {LABELS.get(r['model'], r['model'])} | "
            f"{r['elo']:.0f} | {r['low']:.0f}-{r['high']:.0f} | {r['wins']}/{r['games']} | {r['npmi']:.3f} | "
            f"{r['spearman_npmi']:.2f} |"
        )
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines + [""] + extra) + "\n")
    os.replace(tmp, path)


def metrics_table(csv_path: Path, octis_scores: dict) -> list[str]:
    if not csv_path.exists():
        return []
    with csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    cells: dict[tuple, dict] = {}
    for r in rows:
        cells.setdefault((r["dataset"], r["model"]), {})[r["metric"]] = r
    lines = [
        "## SAE-TM's LLM metrics (SmolLM2-135M judge, 5 words) next to the word metrics",
        "",
        "| dataset | model | topics | C_I | C_I questions | C_R (0-100) | C_R questions | failures "
        "| GloVe intrusion | NPMI |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, model), m in sorted(cells.items()):
        score = octis_scores.get(dataset, {}).get(model, {})
        ci, cr = m.get("C_I", {}), m.get("C_R", {})
        fails = sum(int(x.get("n_failures", 0)) for x in (ci, cr))
        lines.append(
            f"| {dataset} | {LABELS.get(model, model)} | {ci.get('n_topics', '')} | {ci.get('mean', '')} | "
            f"{ci.get('n_questions', '')} | {cr.get('mean', '')} | {cr.get('n_questions', '')} | {fails} | "
            f"{score.get('intrusion', float('nan')):.3f} | {score.get('npmi', float('nan')):.3f} |"
        )
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["20newsgroups", "bbc_news"])
    parser.add_argument("--n-20ng", type=int, default=3000, help="20 Newsgroups subset (first N documents)")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument(
        "--judge-docs", type=int, default=20, help="documents per dataset for the topic judge"
    )
    parser.add_argument("--reps", type=int, default=3, help="C_I repetitions per topic (SAE-TM: 3)")
    parser.add_argument("--cr-reps", type=int, default=1, help="C_R repetitions per topic (SAE-TM: 3)")
    parser.add_argument("--no-metrics", action="store_true", help="skip C_I / C_R")
    parser.add_argument("--no-lm", action="store_true", help="embedding judge only")
    parser.add_argument("--prefix", default="judge", help="file prefix under benchmarks/results/")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    from bertopic_sae.judges import (
        EmbeddingJudge,
        LMJudge,
        ModelTopics,
        compare_models,
        judge_agreement,
        position_bias,
    )

    RESULTS.mkdir(exist_ok=True)
    cache = RESULTS / f"{args.prefix}_comparisons.jsonl"
    metrics_csv = RESULTS / f"{args.prefix}_llm_metrics.csv"
    lm_judge = None if args.no_lm else LMJudge(verbose=args.verbose)
    judges = [("embedding", EmbeddingJudge())] + ([] if lm_judge is None else [("SmolLM2", lm_judge)])
    elo, notes, octis_scores = [], [], {}
    for name in args.datasets:
        corpus, outputs, scores = fit_models(
            name, args.n_20ng if name == "20newsgroups" else None, args.k, args.models, args.verbose
        )
        octis_scores[name] = scores
        views = [ModelTopics.from_octis(m, outputs[m]) for m in args.models]
        for source in EXTRA_MODELS.values():
            views.extend(source(name, corpus))
        npmi = {m: s["npmi"] for m, s in scores.items()}
        label = f"{name} ({len(corpus)} docs)"
        found = {}
        for judge_name, judge in judges:
            found[judge_name] = compare_models(
                views,
                corpus.texts,
                judge,
                n_docs=args.judge_docs,
                both_orders=True,
                seed=0,
                cache=cache,
                judge_name=judge_name,
            )
            elo.extend(elo_rows(label, judge_name, found[judge_name], npmi))
            bias = position_bias(found[judge_name])
            notes.append(
                f"- {label}, {judge_name}: {len(found[judge_name])} comparisons, position bias: A chosen "
                f"{bias.first_rate:.0%} of {bias.n} decided; verdict follows the position in both orders "
                f"{bias.flip_rate:.0%} of pairs."
            )
        if len(found) == 2:
            agree = judge_agreement(found["embedding"], found["SmolLM2"])
            notes.append(
                f"- {label}: SmolLM2 vs embedding judge (both orders averaged): Spearman of Elo "
                f"{agree.spearman:.2f}, same winner on {agree.pair_agreement:.0%} of {agree.n_common} "
                "comparisons."
            )
        if lm_judge is not None and not args.no_metrics:
            run_metrics(name, views, lm_judge, metrics_csv, {"C_I": args.reps, "C_R": args.cr_reps})
        write_report(
            elo,
            ["## Judges", "", *notes, "", *metrics_table(metrics_csv, octis_scores)],
            RESULTS / f"{args.prefix}_elo.md",
        )
    with (RESULTS / f"{args.prefix}_elo.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(elo[0]))
        writer.writeheader()
        writer.writerows(elo)
    print((RESULTS / f"{args.prefix}_elo.md").read_text())


if __name__ == "__main__":
    main()
