"""Judge every model once: topic-judge Elo (SmolLM2 and embedding judges), C_I / C_R (SmolLM2), NPMI.

Models (``benchmarks/judge_models.py``; OCTIS adapters of ``benchmarks.octis_grid``, its full-grid
hyperparameters, seed 0, K = 50): SAE-TM (``bertopic_sae.BERTopic`` + ``SAEAtomMerger``), default BERTopic
(``--bertopic-hdbscan`` sets its HDBSCAN, e.g. ``min_cluster_size=5 min_samples=1`` where the default finds
only a few clusters on a subset), k-means + c-TF-IDF and LDA, on 20 Newsgroups (the first ``--n-20ng``
documents) and BBC News (all 2,225), with the OCTIS grid's vocabulary and tokenisation. Mechanistic topic
models (``--mtm mlda mbertopic metm``) are fit on the SAE feature counts that ``benchmarks/mtm_grid.py``
cached for its random subset of the same corpus (``--mtm-docs`` documents, ``--mtm-tokens`` tokens each) and
applied with ``transform`` to the judged documents; their NPMI is over the same reference corpus. Other
sources join through :data:`EXTRA_MODELS` (``(dataset, corpus, judged rows) -> views``).

Per dataset and judge: ``--judge-docs`` sampled documents x every model pair. Judges: the embedding judge
(MiniLM cosine), the SmolLM2 prompt judge (off with ``--no-prompt-judge``; every pair asked in both A/B
orders; Elo from one random order per comparison, the paper's protocol, from that order contextually
calibrated or batch-calibrated, and from both orders averaged; position bias) and the SmolLM2 likelihood
judge (``LMLikelihoodJudge``, PMI of the rendering with the document, no position); 95% bootstrap bounds
(500 resamples). Agreement between the judges (Spearman of Elo, per-comparison agreement) and with NPMI
(Spearman of Elo, share of comparisons won by the higher-NPMI model). C_I / C_R for every model and a
random-words floor (``benchmarks/judge_metrics.py``; 5 words + 1 intruder, ``--reps`` repetitions,
``--max-metric-topics`` to cut topics per model). Comparisons are cached in
``results/<prefix>_comparisons.jsonl``, metric rows in ``results/<prefix>_llm_metrics.csv``, fits under
``cache_dir()/judges``: a rerun resumes.

Usage:

```bash
python -m benchmarks.judge_all --datasets bbc_news --judge-docs 30 --no-prompt-judge \
    --bertopic-hdbscan min_cluster_size=5 min_samples=1 --prefix judge_s9_bbc
python -m benchmarks.judge_all --datasets bbc_news --judge-docs 3 --metrics --prefix smoke   # smoke run
```
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

from benchmarks._machine import cpu_cores, cpu_model
from benchmarks.judge_metrics import METRICS, metrics_table, run_metrics
from benchmarks.judge_models import fit_models, mtm_views

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("sae", "bertopic", "kmeans", "lda")
LABELS = {"sae": "SAE-TM", "bertopic": "BERTopic", "kmeans": "k-means+c-TF-IDF", "lda": "LDA"}
LABELS.update({"mlda": "mLDA", "mbertopic": "mBERTopic", "metm": "mETM"})
EXTRA_MODELS: dict[str, Callable] = {}
"""Extra model sources: ``{"name": lambda dataset, corpus, docs: [ModelTopics(...), ...]}``."""


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


def _value(text: str):
    """A command-line value as int, float or string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def npmi_agreement(comparisons, npmi: dict) -> float:
    """Share of decided comparisons whose winner is the model with the higher NPMI."""
    decided = [c for c in comparisons if c.winner is not None and npmi[c.first] != npmi[c.second]]
    hits = [c.winner == max((c.first, c.second), key=lambda m: npmi[m]) for c in decided]
    return sum(hits) / max(len(hits), 1)


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
        "--metrics", nargs="*", default=["C_I_lik", "C_R_cal", "C_R", "C_I_cal"], choices=list(METRICS)
    )
    parser.add_argument(
        "--max-metric-topics", type=int, default=None, help="score at most N topics per model (seeded subset)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="no random-words row in the metrics")
    parser.add_argument(
        "--bertopic-hdbscan",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="HDBSCAN settings of default BERTopic (e.g. min_cluster_size=5); default: BERTopic's own",
    )
    parser.add_argument(
        "--mbertopic-min-topic-size", type=int, default=None, help="mBERTopic's HDBSCAN min_cluster_size"
    )
    parser.add_argument("--refit", nargs="*", default=[], choices=MODELS, help="refit despite a cached fit")
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

    hdbscan = {key: _value(value) for key, value in (item.split("=", 1) for item in args.bertopic_hdbscan)}
    configs = {"bertopic": {"hdbscan_params": hdbscan}} if hdbscan else {}
    mtm_params = {}
    if args.mbertopic_min_topic_size is not None:
        mtm_params["mbertopic"] = {"min_topic_size": args.mbertopic_min_topic_size}
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
        n_docs = args.n_20ng if name == "20newsgroups" else None
        corpus, outputs, scores = fit_models(
            name, n_docs, args.k, args.models, configs, args.refit, args.verbose
        )
        # the sample compare_models draws with seed 0 (kept, so cached comparisons stay valid)
        rng = np.random.default_rng(0)
        docs = np.sort(rng.choice(len(corpus), min(args.judge_docs, len(corpus)), replace=False)).tolist()
        views = [ModelTopics.from_octis(m, outputs[m]) for m in args.models]
        if args.mtm:
            mtm, mtm_scores = mtm_views(
                name, corpus, docs, args.mtm, args.k, args.mtm_docs, args.mtm_tokens, lm=lm, params=mtm_params
            )
            views += mtm
            scores.update(mtm_scores)
        for source in EXTRA_MODELS.values():
            views.extend(source(name, corpus, docs))
        octis_scores[name] = scores
        npmi = {v.name: scores.get(v.name, {}).get("npmi", float("nan")) for v in views}
        label = f"{name} ({len(corpus)} docs)"
        notes.append(
            f"- {label}: topics per model "
            + ", ".join(f"{LABELS.get(v.name, v.name)} {len(v.topic_words)}" for v in views)
            + (f"; default BERTopic with HDBSCAN {hdbscan}" if hdbscan and "bertopic" in args.models else "")
            + f"; {len(docs)} judged documents."
        )
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
                text = (
                    f"- {label}, {judge_name} ({protocol}): ρ(Elo, NPMI) {rows[0]['spearman_npmi']:.2f}; the "
                    f"winner has the higher NPMI in {npmi_agreement(comparisons, npmi):.0%} of the decided "
                    f"comparisons; {rows[0]['failures']} failures, {rows[0]['ties']} ties"
                )
                if judge_name != "embedding":
                    agree = judge_agreement(found["embedding"], comparisons)
                    text += (
                        f"; vs embedding judge: Spearman of Elo {agree.spearman:.2f}, same winner on "
                        f"{agree.pair_agreement:.0%} of {agree.n_common} comparisons"
                    )
                notes.append(text + ".")
        report = lambda: write_report(  # noqa: E731 - written before and after the slow metrics
            elo,
            ["## Judges", "", *notes, "", *metrics_table(metrics_csv, octis_scores, args.reps, LABELS)],
            RESULTS / f"{args.prefix}_elo.md",
        )
        report()
        with (RESULTS / f"{args.prefix}_elo.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(elo[0]))
            writer.writeheader()
            writer.writerows(elo)
        if lm is not None and args.metrics:
            judges_by_kind = {"prompt": prompt_judge, "pmi": LMLikelihoodJudge(lm)}
            run_metrics(
                name,
                views,
                judges_by_kind,
                metrics_csv,
                args.metrics,
                args.reps,
                max_topics=args.max_metric_topics,
                baseline=not args.no_baseline,
            )
            report()
    print((RESULTS / f"{args.prefix}_elo.md").read_text())


if __name__ == "__main__":
    main()
