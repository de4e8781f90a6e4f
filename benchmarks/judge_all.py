"""Judge every model once: topic-judge Elo (SmolLM2 and embedding judges), C_I / C_R (SmolLM2), NPMI.

Models (OCTIS adapters of ``benchmarks.octis_grid``, its full-grid hyperparameters, seed 0, K = 50): SAE-TM
(``bertopic_sae.BERTopic`` + ``SAEAtomMerger``), default BERTopic, k-means + c-TF-IDF and LDA, on 20
Newsgroups (the first ``--n-20ng`` documents, a subset for CPU time) and BBC News (all 2,225), with the OCTIS
grid's vocabulary and tokenisation (``bertopic_sae.octis.load_octis_corpus``). Mechanistic topic models
(``--mtm mlda mbertopic [metm]``, :func:`mtm_views`) are fit on the SAE feature counts that
``benchmarks/mtm_grid.py`` cached for its random subset of the same corpus (``--mtm-docs`` documents, 64
tokens each) and applied with ``transform`` to the judged documents; their NPMI is over the same reference
corpus. Other sources join through :data:`EXTRA_MODELS` (``(dataset, corpus, judged rows) -> views``).

Per dataset and judge: ``--judge-docs`` sampled documents x every model pair. Judges: the embedding judge
(MiniLM cosine), the SmolLM2 prompt judge (every pair asked in both A/B orders; Elo from one random order per
comparison, the paper's randomised protocol, from that order contextually calibrated or batch-calibrated,
and from both orders averaged) and the SmolLM2 likelihood judge (``LMLikelihoodJudge``, PMI of the
rendering with the document, no position); 95% bootstrap bounds (500 resamples). Agreement between the
judges (Spearman of Elo, per-comparison agreement) and with the NPMI ranking; position bias. C_I / C_R follow
``bertopic_sae.judges.llm_metrics`` (5 words, ``--reps`` repetitions): ``--metrics`` picks among C_I
(letters), C_I_cal (letters, calibrated), C_I_lik (answered by likelihood), C_R and C_R_cal.
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
LABELS.update({"mlda": "mLDA", "mbertopic": "mBERTopic", "metm": "mETM"})
EXTRA_MODELS: dict[str, Callable] = {}
"""Extra model sources: ``{"name": lambda dataset, corpus, docs: [ModelTopics(...), ...]}``."""
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


def mtm_views(name: str, corpus, docs, kinds, k: int, n_docs: int, max_tokens: int = 128):
    """Mechanistic topic models fit on mtm_grid's cached feature counts, applied to the judged documents.

    The counts are those ``benchmarks/mtm_grid.py --docs n_docs --max-tokens max_tokens`` cached (its random
    subset, seed 0). Returns ``(views, {model: OCTIS scores})``; a view's rows other than ``docs`` are
    empty (never judged).
    """
    import pickle

    import numpy as np
    from bertopic_sae.octis import OctisEvaluator
    from sklearn.feature_extraction.text import CountVectorizer

    from benchmarks.mtm_grid import subset
    from bertopic_sae.data import cache_dir
    from bertopic_sae.judges import ModelTopics
    from bertopic_sae.lm import load_causal_lm
    from bertopic_sae.mtm import METM, MLDA, MBERTopic, load_lm_sae

    dataset, texts, _ = subset(name, n_docs)
    lm, bundle = load_causal_lm(verbose=False), load_lm_sae()
    label = f"{name}[{len(texts)}x{max_tokens}tok]"
    # mtm_grid names its caches with the SAE since the 1000 x 128 run; the older 64-token ones without
    candidates = [cache_dir() / "mtm_grid" / f"{label}-{Path(bundle.folder).name}.pkl"]
    candidates.append(cache_dir() / "mtm_grid" / f"{label}.pkl")
    stored = next((c for c in candidates if c.exists()), None)
    if stored is None:
        raise FileNotFoundError(
            f"{candidates[0]} is missing: run `python benchmarks/mtm_grid.py --docs {n_docs} --max-tokens "
            f"{max_tokens} --features-only` first."
        )
    fc = pickle.loads(stored.read_bytes())
    vectorizer = CountVectorizer(vocabulary=dataset.get_vocabulary(), token_pattern=r"\S+", lowercase=False)
    word_docs = [" ".join(t) for t in dataset.get_corpus()]
    evaluator = OctisEvaluator(corpus.dataset, labels=None)
    views, scores = [], {}
    for kind in kinds:
        cls = {"mlda": MLDA, "mbertopic": MBERTopic, "metm": METM}[kind]
        model = cls(
            k, sae=bundle, lm=lm, max_tokens=max_tokens, vectorizer=vectorizer, random_state=0, verbose=False
        )
        model.fit(word_docs, features=fc)
        theta = np.zeros((len(corpus), model.topic_feature_.shape[0]))
        theta[list(docs)] = model.transform([corpus.texts[i] for i in docs])
        words = model.topic_words(10)
        views.append(ModelTopics(kind, words, theta))
        scores[kind] = evaluator.score({"topics": words})
        print(f"{name} {kind}: {len(words)} topics, npmi={scores[kind]['npmi']:.3f}", flush=True)
    return views, scores


def batch_bias(comparisons) -> float:
    """Mean log-odds of A over B of every answer (asked in both orders, so the content averages out)."""
    import math

    logits = [math.log(c.p_first / (1 - c.p_first)) for c in comparisons if 0 < c.p_first < 1]
    return sum(logits) / len(logits)


def elo_rows(dataset, judge, protocols: dict, npmi):
    from scipy.stats import spearmanr

    from bertopic_sae.judges import bradley_terry_elo

    rows = []
    for protocol, chosen in protocols.items():
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


METRICS = {
    "C_I": ("intruder", dict(answer="letter")),
    "C_I_cal": ("intruder", dict(answer="letter", calibrate=True)),
    "C_I_lik": ("intruder", dict(answer="likelihood")),
    "C_R": ("coherence", {}),
    "C_R_cal": ("coherence", dict(calibrate=True)),
}
"""Metric name -> (function, keyword arguments) of ``bertopic_sae.judges.llm_metrics``."""


def run_metrics(dataset, views, judges: dict, csv_path: Path, metrics, reps: int):
    from bertopic_sae.judges import coherence_rating, intruder_detection

    done = set()
    if csv_path.exists():  # a row counts as done for its number of repetitions (questions per topic)
        with csv_path.open() as handle:
            done = {
                (
                    r["dataset"],
                    r["model"],
                    r["metric"],
                    round(int(r["n_questions"]) / max(int(r["n_topics"]), 1)),
                )
                for r in csv.DictReader(handle)
            }
    for view, metric in itertools.product(views, metrics):
        if (dataset, view.name, metric, reps) in done:
            continue
        kind, kwargs = METRICS[metric]
        fn = intruder_detection if kind == "intruder" else coherence_rating
        judge = judges["pmi"] if kwargs.get("answer") == "likelihood" else judges["prompt"]
        start = time.perf_counter()
        scores = fn(view.topic_words, judge, repetitions=reps, **kwargs)
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


def metrics_table(csv_path: Path, octis_scores: dict, reps: int) -> list[str]:
    if not csv_path.exists():
        return []
    with csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    cells: dict[tuple, dict] = {}
    for r in rows:
        cells.setdefault((r["dataset"], r["model"]), {})[r["metric"]] = r
    metrics = [m for m in METRICS if any(m in c for c in cells.values())]
    lines = [
        "## SAE-TM's LLM metrics (SmolLM2-135M judge, 5 words) next to the word metrics",
        "",
        "C_I: letters (chance 1/6); C_I_cal: letters, contextually calibrated; C_I_lik: the word least "
        "predicted by the other five (likelihood judge); C_R / C_R_cal: expected 0-9 rating × 100/9. "
        f"Each cell: mean (questions asked; this run {reps} per topic, C_I / C_R rows of the first run 1).",
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
            f"| {dataset} | {LABELS.get(model, model)} | {first.get('n_topics', '')} | {values} | "
            f"{fails} | "
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
        "--mtm", nargs="*", default=["mlda", "mbertopic", "metm"], choices=["mlda", "mbertopic", "metm"]
    )
    parser.add_argument(
        "--mtm-docs", type=int, default=1000, help="mtm_grid subset the MTM models are fit on"
    )
    parser.add_argument("--mtm-tokens", type=int, default=128, help="tokens per document of that subset")
    parser.add_argument(
        "--judge-docs", type=int, default=10, help="documents per dataset for the topic judge"
    )
    parser.add_argument("--reps", type=int, default=3, help="repetitions per topic of C_I / C_R (SAE-TM: 3)")
    parser.add_argument(
        "--metrics", nargs="*", default=["C_I_lik", "C_I_cal", "C_R_cal"], choices=list(METRICS)
    )
    parser.add_argument("--no-lm", action="store_true", help="embedding judge only")
    parser.add_argument(
        "--no-prompt-judge", action="store_true", help="skip the SmolLM2 A/B prompt judge (at chance)"
    )
    parser.add_argument("--prefix", default="judge", help="file prefix under benchmarks/results/")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    import numpy as np

    from bertopic_sae.judges import (
        EmbeddingJudge,
        LMJudge,
        LMLikelihoodJudge,
        ModelTopics,
        calibrate,
        combine_orders,
        compare_models,
        content_free_bias,
        judge_agreement,
        one_order,
        position_bias,
    )
    from bertopic_sae.lm import load_causal_lm

    RESULTS.mkdir(exist_ok=True)
    cache = RESULTS / f"{args.prefix}_comparisons.jsonl"
    metrics_csv = RESULTS / f"{args.prefix}_llm_metrics.csv"
    lm = None if args.no_lm else load_causal_lm(verbose=False)
    prompt_judge = None if lm is None else LMJudge(lm, verbose=args.verbose)
    judges = [("embedding", EmbeddingJudge())]
    if lm is not None:
        judges += [] if args.no_prompt_judge else [("SmolLM2", prompt_judge)]
        judges += [("SmolLM2-pmi", LMLikelihoodJudge(lm))]
    bias = None if prompt_judge is None or args.no_prompt_judge else content_free_bias(prompt_judge)
    elo, notes, octis_scores = [], [], {}
    if bias is not None:
        notes.append(f"- SmolLM2 prompt judge, content-free log-odds of A over B: {bias:+.2f}.")
    for name in args.datasets:
        corpus, outputs, scores = fit_models(
            name, args.n_20ng if name == "20newsgroups" else None, args.k, args.models, args.verbose
        )
        # the sample compare_models draws with seed 0 (kept, so cached comparisons stay valid)
        rng = np.random.default_rng(0)
        docs = np.sort(rng.choice(len(corpus), min(args.judge_docs, len(corpus)), replace=False)).tolist()
        views = [ModelTopics.from_octis(m, outputs[m]) for m in args.models]
        if args.mtm:
            mtm, mtm_scores = mtm_views(name, corpus, docs, args.mtm, args.k, args.mtm_docs, args.mtm_tokens)
            views += mtm
            scores.update(mtm_scores)
        for source in EXTRA_MODELS.values():
            views.extend(source(name, corpus, docs))
        octis_scores[name] = scores
        npmi = {v.name: scores.get(v.name, {}).get("npmi", float("nan")) for v in views}
        label = f"{name} ({len(corpus)} docs)"
        found = {}
        for judge_name, judge in judges:
            found[judge_name] = compare_models(
                views,
                corpus.texts,
                judge,
                docs=docs,
                both_orders=judge_name == "SmolLM2",  # the other judges see no position
                seed=0,
                cache=cache,
                judge_name=judge_name,
            )
        protocols = {
            "embedding": {"-": found["embedding"]},
        }
        if "SmolLM2" in found:
            single = one_order(found["SmolLM2"])
            protocols["SmolLM2"] = {
                "one order": single,
                "one order, calibrated": calibrate(single, bias),
                "one order, batch-calibrated": calibrate(single, batch_bias(found["SmolLM2"])),
                "both orders": combine_orders(found["SmolLM2"]),
            }
            raw, cal = position_bias(found["SmolLM2"]), position_bias(calibrate(found["SmolLM2"], bias))
            notes.append(
                f"- {label}, SmolLM2 prompt judge: {len(found['SmolLM2'])} judgements (both orders); "
                f"A chosen {raw.first_rate:.0%} raw, {cal.first_rate:.0%} calibrated; the verdict follows "
                f"the position in both orders for {raw.flip_rate:.0%} of pairs raw, {cal.flip_rate:.0%} "
                "calibrated."
            )
        if "SmolLM2-pmi" in found:
            protocols["SmolLM2-pmi"] = {"-": found["SmolLM2-pmi"]}
        for judge_name, chosen in protocols.items():
            for protocol, comparisons in chosen.items():
                rows = elo_rows(label, judge_name, {protocol: comparisons}, npmi)
                elo.extend(rows)
                if judge_name != "embedding":
                    agree = judge_agreement(found["embedding"], comparisons)
                    notes.append(
                        f"- {label}, {judge_name} ({protocol}) vs embedding judge: Spearman of Elo "
                        f"{agree.spearman:.2f}, same winner on {agree.pair_agreement:.0%} of "
                        f"{agree.n_common} comparisons; ρ(Elo, NPMI) {rows[0]['spearman_npmi']:.2f}."
                    )
        report = lambda: write_report(  # noqa: E731 - written before and after the slow metrics
            elo,
            ["## Judges", "", *notes, "", *metrics_table(metrics_csv, octis_scores, args.reps)],
            RESULTS / f"{args.prefix}_elo.md",
        )
        report()
        with (RESULTS / f"{args.prefix}_elo.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(elo[0]))
            writer.writeheader()
            writer.writerows(elo)
        if lm is not None and args.metrics:
            judges_by_kind = {"prompt": prompt_judge, "pmi": LMLikelihoodJudge(lm)}
            run_metrics(name, views, judges_by_kind, metrics_csv, args.metrics, args.reps)
            report()
    print((RESULTS / f"{args.prefix}_elo.md").read_text())


if __name__ == "__main__":
    main()
