"""mETM settings on development corpora (Reuters, health-news tweets): is every topic used, are they distinct?

Per corpus a random subset (seed 0) is featurised once with SmolLM2-135M-Instruct and the shipped layer-15
SAE (cached on disk like ``mtm_grid.py``); then each mETM variant is fitted per seed and scored: topics used
(distinct argmax θ), the largest topic's share of documents, feature diversity (distinct features among the
topics' top 10), word TD and NPMI over the top 10 θ-weighted words (``OctisEvaluator``; tokens = the
project's default vectorizer). The same table for mLDA is the reference point. Writes
``benchmarks/results/metm_dev.md/.csv``.
Benchmark corpora (20NG, BBC) are never used here.

Usage:

```bash
python benchmarks/metm_dev.py --variants default no-bn --seeds 0 1
```
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchmarks._machine import cpu_cores, cpu_model  # noqa: E402
from benchmarks.mtm_grid import cached_features  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CORPORA = {"reuters": (500, 128), "health_news_tweets": (800, 64)}
# Each variant: METM keyword arguments on top of the defaults ("mlda" = the mLDA reference row).
VARIANTS: dict[str, dict] = {
    "default": {},
    "previous": {"init": "document", "batch_norm": False},  # the mETM before the collapse fix
    "no-batchnorm": {"batch_norm": False},
    "document-init": {"init": "document"},
    "probability-mixing": {"mixing": "probability"},
    "no-kl-warmup": {"kl_warmup": 0.0},
    "mlda": {},
}
COLUMNS = ["variant", "corpus", "k", "seed", "used", "largest", "feature_div", "td", "npmi", "seconds"]


def subset(name: str, n: int) -> list[str]:
    from bertopic_sae.data import load_corpus

    texts = load_corpus(name).texts
    rng = np.random.default_rng(0)
    return [texts[i] for i in sorted(rng.choice(len(texts), size=min(n, len(texts)), replace=False))]


def evaluator_for(texts: list[str]):
    from octis.dataset.dataset import Dataset

    from bertopic_sae import default_vectorizer
    from bertopic_sae.eval.metrics import OctisEvaluator

    vectorizer = default_vectorizer(min_df="auto").fit(texts)
    vocab = set(vectorizer.get_feature_names_out())
    analyse = vectorizer.build_analyzer()
    tokens = [[w for w in analyse(t) if w in vocab] for t in texts]
    dataset = Dataset(corpus=tokens, vocabulary=sorted(vocab))
    return vectorizer, OctisEvaluator(dataset, word_embeddings=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--ks", nargs="+", type=int, default=[20])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--features-only", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "metm_dev.csv")
    args = parser.parse_args()

    import torch

    from bertopic_sae.lm import load_causal_lm
    from bertopic_sae.mtm import METM, MLDA, load_lm_sae

    torch.set_num_threads(2)
    lm, bundle = load_causal_lm(verbose=False), load_lm_sae()
    done = set()
    if args.out.exists():
        with open(args.out) as handle:
            done = {(r["variant"], r["corpus"], int(r["k"]), int(r["seed"])) for r in csv.DictReader(handle)}
    for name in args.corpora:
        n_docs, max_tokens = CORPORA[name]
        texts = subset(name, n_docs)
        label = f"{name}[{len(texts)}x{max_tokens}tok]"
        fc = cached_features(label, texts, max_tokens, lm, bundle)
        if args.features_only:
            continue
        from sklearn.base import clone

        vectorizer, evaluator = evaluator_for(texts)
        for seed in args.seeds:
            for k in args.ks:
                for variant in args.variants:
                    if (variant, label, k, seed) in done:
                        continue
                    common = {"sae": bundle, "lm": lm, "vectorizer": clone(vectorizer), "random_state": seed,
                              "verbose": False}
                    model = MLDA(k, **common) if variant == "mlda" else METM(k, **common, **VARIANTS[variant])
                    start = time.perf_counter()
                    model.fit(texts, features=fc)
                    seconds = time.perf_counter() - start
                    winners = model.doc_topic_.argmax(1)
                    top = [[f for f, _ in model.get_topic_features(t, 10)] for t in range(k)]
                    scores = evaluator.score({"topics": model.topic_words(10)})
                    row = {
                        "variant": variant, "corpus": label, "k": k, "seed": seed,
                        "used": len(set(winners.tolist())),
                        "largest": round(float(np.bincount(winners).max() / len(winners)), 3),
                        "feature_div": round(len({f for t in top for f in t}) / (10 * k), 3),
                        "td": round(scores["td"], 3), "npmi": round(scores["npmi"], 4),
                        "seconds": round(seconds, 1),
                    }
                    new = not args.out.exists()
                    with open(args.out, "a", newline="") as handle:
                        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
                        if new:
                            writer.writeheader()
                        writer.writerow(row)
                    print(row, flush=True)
    if not args.features_only:
        report(args.out)


def report(path: Path) -> None:
    import pandas as pd

    table = pd.read_csv(path)
    summary = (
        table.groupby(["corpus", "k", "variant"])
        .agg(seeds=("seed", "nunique"), used=("used", "mean"), largest=("largest", "mean"),
             feature_div=("feature_div", "mean"), td=("td", "mean"), npmi=("npmi", "mean"),
             seconds=("seconds", "mean"))
        .round(3)
        .reset_index()
    )
    lines = [
        "# mETM on development corpora (benchmarks/metm_dev.py)",
        "",
        f"{dt.date.today().isoformat()}, {cpu_model()}, {cpu_cores()} cores (shared). "
        "Random subsets (seed 0): "
        + ", ".join(f"{n} x {d} docs x {t} tokens" for n, (d, t) in CORPORA.items())
        + ". used = distinct argmax-θ topics, largest = share of documents in the largest topic, "
        "feature_div = distinct features among the topics' top 10, td / npmi over the top-10 θ-weighted "
        "words.",
        "",
        summary.to_markdown(index=False),
        "",
    ]
    path.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
