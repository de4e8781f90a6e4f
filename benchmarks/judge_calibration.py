"""Can the 135M judge judge? Position bias, calibration and a likelihood judge on development corpora.

Ground truth without a stronger judge: SAE-TM (``bertopic_sae.BERTopic`` + ``SAEAtomMerger(n_topics=--k)``) is
fit on the first ``--n-docs`` documents of a development corpus (Reuters, health-news tweets; never a
benchmark corpus); for ``--judge-docs`` sampled documents the judge compares the document's **own** topic with
a **foreign** topic (a uniformly random other topic). A judge with signal picks the own topic more often than
half the time; the embedding judge (MiniLM cosine) is the reference it is compared with.

Judges and protocols (the same cached SmolLM2 answers, every comparison asked in both A/B orders):

* ``prompt, one order``: the randomised single-order protocol on the raw answer (the paper's);
* ``prompt, one order, calibrated``: the same answer minus the content-free log-odds bias
  (:func:`bertopic_sae.judges.content_free_bias`, contextual calibration);
* ``prompt, one order, batch-calibrated``: minus the mean log-odds of all answers asked (both orders, so
  the content averages out; batch calibration);
* ``prompt, both orders``: the order-averaged verdict (:func:`bertopic_sae.judges.combine_orders`);
* ``likelihood (PMI)``: :class:`bertopic_sae.judges.LMLikelihoodJudge`, no question asked;
* ``embedding``: the reference.

Renderings: ``long`` = the original prompt, 10 words per topic, document cut to 120 words; ``short`` = the
simpler prompt (:data:`~bertopic_sae.judges.SIMPLE_TOPIC_JUDGE_PROMPT`), 5 words, 50 document words.

Then SAE-TM's LLM metrics on the same topics against a control of random-word "topics" (words drawn from the
topics' vocabulary): C_I with letter or word answers, raw or calibrated, and answered by likelihood (the word
least predicted by the other five), 3 repetitions; C_R raw or calibrated, 1 repetition. A metric with signal
scores the model's topics above the random ones.

Writes ``results/judge_calibration.md`` and ``.csv``; comparisons are cached in
``results/judge_calibration_comparisons.jsonl``.

Usage:

```bash
python -m benchmarks.judge_calibration                               # ~10-20 min on 2 busy cores
python -m benchmarks.judge_calibration --corpora reuters --judge-docs 8 --no-metrics   # smoke run
```
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
from pathlib import Path

import numpy as np

from benchmarks._machine import cpu_cores, cpu_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = Path(__file__).resolve().parent / "results"
RENDERINGS = {"long": (10, 120, "TOPIC_JUDGE_PROMPT"), "short": (5, 50, "SIMPLE_TOPIC_JUDGE_PROMPT")}


def sae_tm(name: str, n_docs: int, k: int, verbose: bool):
    """SAE-TM on the first ``n_docs`` documents: texts, topic of each text, top 10 words per topic."""
    from bertopic_sae import BERTopic, SAEAtomMerger
    from bertopic_sae.data import default_embedding_model, embed, load_corpus

    texts = list(load_corpus(name, limit=n_docs).texts)
    model_st = default_embedding_model(device="cpu")
    embeddings = embed(texts, model_st, show_progress_bar=verbose)
    model = BERTopic(clustering_model=SAEAtomMerger(n_topics=k), embedding_model=model_st)
    topics = np.asarray(model.fit_transform(texts, embeddings=embeddings)[0])
    ids = sorted(t for t in set(topics.tolist()) if t != -1)
    words = [[w for w, _ in model.get_topic(t)[:10]] for t in ids]
    column = {t: i for i, t in enumerate(ids)}
    return texts, np.array([column.get(int(t), -1) for t in topics]), words


def own_and_foreign(topic_of: np.ndarray, words: list[list[str]], seed: int):
    """Two views over the same topics: each document's own topic and a random other one."""
    from bertopic_sae.judges import ModelTopics

    rng = np.random.default_rng(seed)
    k = len(words)
    own, foreign = np.zeros((len(topic_of), k)), np.zeros((len(topic_of), k))
    for row, t in enumerate(topic_of):
        if t < 0:
            continue
        own[row, t] = 1.0
        foreign[row, (t + 1 + int(rng.integers(k - 1))) % k] = 1.0
    return [ModelTopics("own", words, own), ModelTopics("foreign", words, foreign)]


def summarise(label: str, comparisons, reference=None) -> dict:
    """Own-topic win rate, A-rate, agreement with the reference judge's verdict on the same document."""
    decided = [c for c in comparisons if c.winner is not None]
    ref = {c.doc: c.winner for c in reference or [] if c.winner is not None}
    common = [c for c in decided if c.doc in ref]
    return {
        "protocol": label,
        "n": len(comparisons),
        "decided": len(decided),
        "own_rate": float(np.mean([c.winner == "own" for c in decided])) if decided else float("nan"),
        "a_rate": float(np.mean([c.winner == c.first for c in decided])) if decided else float("nan"),
        "agree_embedding": float(np.mean([c.winner == ref[c.doc] for c in common]))
        if common
        else float("nan"),
        "failures": sum(c.failure is not None for c in comparisons),
    }


def judge_rows(corpus: str, texts, views, lm, args) -> list[dict]:
    from bertopic_sae import judges as J

    docs = np.flatnonzero(views[0].doc_topic.sum(1) > 0)
    docs = np.sort(
        np.random.default_rng(args.seed).choice(docs, min(args.judge_docs, len(docs)), replace=False)
    )
    cache = RESULTS / "judge_calibration_comparisons.jsonl"
    rows = []
    prompt_judge = J.LMJudge(lm, verbose=args.verbose)
    for rendering, (n_words, doc_words, prompt_name) in RENDERINGS.items():
        prompt = getattr(J, prompt_name)
        common = dict(
            docs=docs.tolist(), n_words=n_words, doc_words=doc_words, seed=args.seed, verbose=args.verbose
        )
        emb = J.compare_models(views, texts, J.EmbeddingJudge(), **common)
        both = J.compare_models(
            views,
            texts,
            prompt_judge,
            both_orders=True,
            prompt=prompt,
            cache=cache,
            judge_name="SmolLM2",
            **common,
        )
        bias = J.content_free_bias(prompt_judge, prompt)
        single = J.one_order(both, seed=args.seed)
        # batch calibration: the mean log-odds of A over every answer asked (both orders, so content cancels)
        batch = float(np.mean([np.log(c.p_first / (1 - c.p_first)) for c in both if 0 < c.p_first < 1]))
        pmi = J.compare_models(
            views, texts, J.LMLikelihoodJudge(lm), cache=cache, judge_name="SmolLM2-pmi", **common
        )
        for label, found in [
            ("embedding", emb),
            ("prompt, one order", single),
            ("prompt, one order, calibrated", J.calibrate(single, bias)),
            ("prompt, one order, batch-calibrated", J.calibrate(single, batch)),
            ("prompt, both orders", J.combine_orders(both)),
            ("prompt, both orders, calibrated", J.combine_orders(J.calibrate(both, bias))),
            ("likelihood (PMI)", pmi),
        ]:
            row = {"corpus": corpus, "rendering": rendering, **summarise(label, found, emb)}
            row["content_free_bias"] = bias
            margins = [np.log(c.p_first / (1 - c.p_first)) for c in both if 0 < c.p_first < 1]
            row["mean_log_odds_A"] = float(np.mean(margins)) if label.startswith("prompt") else float("nan")
            rows.append(row)
            print(row, flush=True)
    return rows


METRICS = [
    ("C_I letter", "intruder_detection", dict(answer="letter")),
    ("C_I letter, calibrated", "intruder_detection", dict(answer="letter", calibrate=True)),
    ("C_I word", "intruder_detection", dict(answer="word")),
    ("C_I word, calibrated", "intruder_detection", dict(answer="word", calibrate=True)),
    ("C_I likelihood (PMI)", "intruder_detection", dict(answer="likelihood")),
    ("C_R", "coherence_rating", dict(repetitions=1)),
    ("C_R, calibrated", "coherence_rating", dict(repetitions=1, calibrate=True)),
]
"""(name, function of bertopic_sae.judges, keyword arguments) of every metric the script can run."""


def metric_rows(corpus: str, words: list[list[str]], lm, args) -> list[dict]:
    from bertopic_sae.judges import LMJudge, LMLikelihoodJudge, coherence_rating, intruder_detection

    rng = np.random.default_rng(args.seed)
    vocabulary = sorted({w for t in words for w in t})
    random_topics = [list(rng.choice(vocabulary, 10, replace=False)) for _ in words]
    judge = LMJudge(lm, verbose=args.verbose)
    pmi_judge = LMLikelihoodJudge(lm)
    rows = []
    for label, topics in [("SAE-TM topics", words), ("random words", random_topics)]:
        for metric, fn, kwargs in [m for m in METRICS if m[0] in args.metrics]:
            use = pmi_judge if kwargs.get("answer") == "likelihood" else judge
            function = intruder_detection if fn == "intruder_detection" else coherence_rating
            scores = function(topics, use, seed=args.seed, **kwargs)
            rows.append(
                {
                    "corpus": corpus,
                    "topics": label,
                    "metric": metric,
                    "mean": scores.mean,
                    "questions": scores.n_questions,
                    "failures": scores.n_failures,
                }
            )
            print(rows[-1], flush=True)
    return rows


def write(judge: list[dict], metrics: list[dict], args) -> None:
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / "judge_calibration"
    for suffix, table in [("", judge), ("_metrics", metrics)]:
        if not table:
            continue
        tmp = Path(f"{stem}{suffix}.csv.tmp")
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
        os.replace(tmp, f"{stem}{suffix}.csv")
    lines = [
        "# Position bias, calibration and a likelihood judge (SmolLM2-135M-Instruct, development corpora)",
        "",
        f"Machine: {cpu_cores()} cores {cpu_model()}; {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC. "
        f"Written by `python -m benchmarks.judge_calibration`. SAE-TM (K = {args.k}) on the first "
        f"{args.n_docs} documents of each corpus; {args.judge_docs} sampled documents, own topic vs a "
        "random foreign topic.",
        "",
        "| corpus | rendering | judge / protocol | own topic chosen | A chosen | same verdict as embedding "
        "| decided / asked | content-free log-odds A:B | mean log-odds A:B |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in judge:
        lines.append(
            f"| {r['corpus']} | {r['rendering']} | {r['protocol']} | {r['own_rate']:.0%} | "
            f"{r['a_rate']:.0%} | "
            f"{r['agree_embedding']:.0%} | {r['decided']}/{r['n']} | {r['content_free_bias']:+.2f} | "
            f"{r['mean_log_odds_A']:+.2f} |"
        )
    if metrics:
        lines += [
            "",
            "SAE-TM's LLM metrics, the same topics vs random-word topics "
            "(C_I 3 repetitions, chance 1/6; C_R 0-100):",
            "",
            "| corpus | metric | SAE-TM topics | random words | questions each | failures |",
            "|---|---|---|---|---|---|",
        ]
        cells = {(m["corpus"], m["metric"], m["topics"]): m for m in metrics}
        for corpus, metric in dict.fromkeys((m["corpus"], m["metric"]) for m in metrics):
            a, b = cells[(corpus, metric, "SAE-TM topics")], cells.get((corpus, metric, "random words"), {})
            lines.append(
                f"| {corpus} | {metric} | {a['mean']:.3f} | {b.get('mean', float('nan')):.3f} | "
                f"{a['questions']} | "
                f"{a['failures'] + b.get('failures', 0)} |"
            )
    tmp = Path(f"{stem}.md.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, f"{stem}.md")
    print("\n".join(lines))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", nargs="+", default=["reuters", "health_news_tweets"])
    parser.add_argument("--n-docs", type=int, default=1000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--judge-docs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-metrics", action="store_true")
    parser.add_argument(
        "--metrics", nargs="+", default=[m[0] for m in METRICS], choices=[m[0] for m in METRICS]
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    from bertopic_sae.lm import load_causal_lm

    lm = load_causal_lm(verbose=False)
    judge, metrics = [], []
    for corpus in args.corpora:
        texts, topic_of, words = sae_tm(corpus, args.n_docs, args.k, args.verbose)
        judge += judge_rows(corpus, texts, own_and_foreign(topic_of, words, args.seed), lm, args)
        write(judge, metrics, args)
        if not args.no_metrics:
            metrics += metric_rows(corpus, words, lm, args)
            write(judge, metrics, args)


if __name__ == "__main__":
    main()
