"""Mechanistic topic models against word models on 20 Newsgroups and BBC subsets, plus featurisation speed.

Per corpus a random subset of ``--docs`` documents (seed 0) of the OCTIS-grid corpus
(``bertopic_sae.octis.load_octis_corpus``: one vocabulary, one tokenisation). SmolLM2-135M-Instruct reads the
raw text cut to ``--max-tokens`` tokens; the shipped layer-15 SAE counts features once per corpus, and
mLDA / mETM / mBERTopic are fitted on those counts; their topic words are read over the OCTIS vocabulary
(θ-weighted document words) and scored by ``OctisEvaluator`` exactly like the word models (OCTIS LDA and
ETM, default BERTopic and SAE-TM on all-MiniLM-L6-v2 embeddings): NPMI, C_V, TD over the top 10 words, plus
feature diversity (share of distinct features among the topics' top-10 features) and fit time.

Throughput: on ``--speed-docs`` documents, a bare forward pass to the layer (activations only) and the full
featuriser (forward + SAE + counting) run alternately, twice each, in the same process; the ratio of their
tokens/s is reported (goal ≥ 0.8).

Writes ``benchmarks/results/mtm_grid.csv`` (resumable: finished cells are skipped) and ``mtm_grid.md``.

Usage:

```bash
python benchmarks/mtm_grid.py --docs 300 --max-tokens 64 --ks 20 50 --seeds 0 1 2
```
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import json
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchmarks._machine import cpu_cores, cpu_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
MTM = ("mlda", "metm", "mbertopic", "mlda-ctfidf", "metm-ctfidf")
WORD = ("lda", "etm", "bertopic", "sae")
COLUMNS = [
    "model",
    "dataset",
    "num_topics",
    "seed",
    "n_topics_found",
    "npmi",
    "c_v",
    "td",
    "feature_div",
    "fit_seconds",
    "date",
]


def subset(name: str, n: int):
    from bertopic_sae.octis import load_octis_corpus
    from octis.dataset.dataset import Dataset

    corpus = load_octis_corpus(name)
    rng = np.random.default_rng(0)
    keep = sorted(
        i
        for i in rng.choice(len(corpus), size=min(n, len(corpus)), replace=False)
        if corpus.token_lists[i] and corpus.texts[i].strip()
    )
    tokens = [corpus.token_lists[i] for i in keep]
    vocab = sorted({w for t in tokens for w in t})
    labels = [corpus.labels[i] for i in keep] if corpus.labels is not None else None
    dataset = Dataset(
        corpus=tokens,
        vocabulary=vocab,
        labels=labels,
        metadata={"last-training-doc": len(tokens), "last-validation-doc": len(tokens)},
    )
    return dataset, [corpus.texts[i] for i in keep], labels


def cached_features(label: str, texts, max_tokens: int, lm, bundle):
    """Feature counts of ``texts``, computed once and kept under the cache folder (atomic write)."""
    from bertopic_sae._io import atomic_write_bytes
    from bertopic_sae.data import cache_dir
    from bertopic_sae.mtm import featurize

    cache = cache_dir() / "mtm_grid" / f"{label}-{Path(bundle.folder).name}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    fc = featurize(lm, bundle, texts, max_tokens=max_tokens, mean_acts=True, verbose=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(cache, pickle.dumps(fc))
    return fc


def throughput(lm, bundle, texts, max_tokens: int) -> dict:
    from bertopic_sae.mtm import featurize
    from bertopic_sae.mtm.activations import iter_activations

    bare, full = [], []
    for _ in range(2):
        start, n = time.perf_counter(), 0
        for batch in iter_activations(lm, texts, bundle.layer, max_tokens=max_tokens, verbose=False):
            n += batch.acts.shape[0]
        bare.append(n / (time.perf_counter() - start))
        start = time.perf_counter()
        fc = featurize(lm, bundle, texts, max_tokens=max_tokens, verbose=False)
        full.append(int(fc.n_tok.sum()) / (time.perf_counter() - start))
    return {
        "bare_tokens_per_s": max(bare),
        "featurize_tokens_per_s": max(full),
        "ratio": max(full) / max(bare),
    }


def fit_mtm(name, k, seed, word_docs, fc, vocab, lm, bundle):
    from sklearn.feature_extraction.text import CountVectorizer

    from bertopic_sae.mtm import METM, MLDA, MBERTopic

    vectorizer = CountVectorizer(vocabulary=vocab, token_pattern=r"\S+", lowercase=False)
    # "-ctfidf": the same model, its θ-weighted topic words passed through BERTopic's c-TF-IDF (a reading
    # option of the base class, not a different fit)
    name, _, weighting = name.partition("-")
    common = {"sae": bundle, "lm": lm, "vectorizer": vectorizer, "random_state": seed, "verbose": False,
              "word_weighting": weighting or "none"}
    model = {
        "mlda": lambda: MLDA(k, **common),
        "metm": lambda: METM(k, **common),
        "mbertopic": lambda: MBERTopic(k, **common),
    }[name]()
    model.fit(word_docs, features=fc)
    top_features = [
        [f for f, _ in model.get_topic_features(t, 10)] for t in range(model.topic_feature_.shape[0])
    ]
    diversity = len({f for t in top_features for f in t}) / max(1, sum(len(t) for t in top_features))
    return {"topics": model.topic_words(10), "topic-document-matrix": model.doc_topic_.T}, diversity


def fit_word(name, k, seed, dataset, texts):
    if name == "etm":
        import torch
        from octis.models.ETM import ETM

        torch.manual_seed(seed)
        return ETM(
            num_topics=k,
            num_epochs=100,
            train_embeddings=True,
            embedding_size=100,
            use_partitions=False,
            device="cpu",
        ).train_model(dataset)
    from benchmarks.octis_grid import FULL_CONFIG, make_model
    from bertopic_sae.data import default_embedding_model, embed

    embeddings = embed(texts, default_embedding_model(device="cpu"))
    return make_model(name, k, seed, embeddings, FULL_CONFIG.get(name, {})).train_model(dataset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["20newsgroups", "bbc_news"])
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--ks", nargs="+", type=int, default=[20, 50])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=[*MTM, *WORD])
    parser.add_argument("--speed-docs", type=int, default=60)
    parser.add_argument("--out", type=Path, default=RESULTS / "mtm_grid.csv")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--report-only", action="store_true", help="only rewrite the .md from the .csv")
    parser.add_argument(
        "--features-only", action="store_true", help="only cache the feature counts and measure throughput"
    )
    args = parser.parse_args()

    import torch
    from bertopic_sae.octis import OctisEvaluator

    from bertopic_sae._io import atomic_write_text
    from bertopic_sae.lm import load_causal_lm
    from bertopic_sae.mtm import load_lm_sae

    if args.report_only:  # the tables from the CSV and the stored throughput, without the LM
        report(args.out, [speed_line(args.out.with_name(f"mtm_speed_{n}.json")) for n in args.datasets], args)
        return
    torch.set_num_threads(args.threads)
    lm, bundle = load_causal_lm(verbose=False), load_lm_sae()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if args.out.exists():
        with open(args.out) as handle:
            done = {
                (r["model"], r["dataset"], int(r["num_topics"]), int(r["seed"]))
                for r in csv.DictReader(handle)
            }
    speed_lines, corpora = [], []
    featurise_first = args.features_only or any(m in MTM for m in args.models)
    for name in args.datasets:
        dataset, texts, _ = subset(name, args.docs)
        label = f"{name}[{len(texts)}x{args.max_tokens}tok]"
        evaluator = OctisEvaluator(dataset, word_embeddings=False)
        speed_file = args.out.with_name(f"mtm_speed_{name}.json")
        if not speed_file.exists():  # measured once per corpus; a resumed run reuses it
            speed = throughput(lm, bundle, texts[: args.speed_docs], args.max_tokens)
            speed["docs"], speed["max_tokens"], speed["corpus"] = args.speed_docs, args.max_tokens, label
            speed["date"] = dt.date.today().isoformat()
            speed["machine"] = f"{cpu_model()}, {cpu_cores()} cores"
            atomic_write_text(speed_file, json.dumps(speed, indent=1))
        speed_lines.append(speed_line(speed_file))
        print(speed_lines[-1], flush=True)
        fc = cached_features(label, texts, args.max_tokens, lm, bundle) if featurise_first else None
        corpora.append((label, dataset, texts, evaluator, fc))
    if args.features_only:
        return
    # seeds outermost, then corpora: a cut-short run still covers every corpus and K
    for seed, (label, dataset, texts, evaluator, fc), k in itertools.product(args.seeds, corpora, args.ks):
        word_docs = [" ".join(t) for t in dataset.get_corpus()]
        for model in args.models:
            if (model, label, k, seed) in done:
                continue
            start = time.perf_counter()
            try:
                if model in MTM:
                    output, fdiv = fit_mtm(
                        model, k, seed, word_docs, fc, dataset.get_vocabulary(), lm, bundle
                    )
                else:
                    output, fdiv = fit_word(model, k, seed, dataset, texts), float("nan")
            except Exception as err:  # a failed cell is reported and retried next run, never hidden
                print(
                    f"FAILED {model} {label} K={k} seed={seed}: {type(err).__name__}: {err}",
                    flush=True,
                )
                continue
            seconds = time.perf_counter() - start
            scores = evaluator.score(output)
            row = {
                "model": model,
                "dataset": label,
                "num_topics": k,
                "seed": seed,
                "n_topics_found": len(output["topics"]),
                "npmi": round(scores["npmi"], 4),
                "c_v": round(scores["c_v"], 4),
                "td": round(scores["td"], 4),
                "feature_div": round(fdiv, 4),
                "fit_seconds": round(seconds, 1),
                "date": dt.date.today().isoformat(),
            }
            new = not args.out.exists()
            with open(args.out, "a", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=COLUMNS)
                if new:
                    writer.writeheader()
                writer.writerow(row)
            print(row, flush=True)
    report(args.out, speed_lines, args)


def speed_line(path: Path) -> str:
    """One row of the throughput table from a ``mtm_speed_*.json`` file."""
    speed = json.loads(path.read_text())
    return (
        f"| {speed['corpus']} | {speed['docs']} | {speed['bare_tokens_per_s']:.0f} | "
        f"{speed['featurize_tokens_per_s']:.0f} | {speed['ratio']:.2f} |"
    )


def report(path: Path, speed_lines: list[str], args) -> None:
    import pandas as pd

    table = pd.read_csv(path)
    summary = (
        table.groupby(["dataset", "num_topics", "model"])
        .agg(
            seeds=("seed", "nunique"),
            topics=("n_topics_found", "mean"),
            npmi=("npmi", "mean"),
            npmi_sd=("npmi", "std"),
            c_v=("c_v", "mean"),
            td=("td", "mean"),
            feature_div=("feature_div", "mean"),
            fit_s=("fit_seconds", "mean"),
        )
        .round(3)
        .reset_index()
    )
    lines = [
        "# Mechanistic topic models vs word models (benchmarks/mtm_grid.py)",
        "",
        f"{dt.date.today().isoformat()}, {cpu_model()}, {cpu_cores()} cores (shared with other jobs: "
        "fit times and tokens/s are inflated and noisy). Subsets: "
        f"{args.docs} random documents per corpus (seed 0; 20NG: the non-empty ones), LM input cut to "
        f"{args.max_tokens} tokens; seeds run so far: see the seeds column; "
        "SmolLM2-135M-Instruct + the shipped smollm2-135m-instruct-L15 SAE. Word models: OCTIS LDA, OCTIS "
        "ETM (100 epochs), default BERTopic and SAE-TM on all-MiniLM-L6-v2. Scores over the OCTIS "
        "vocabulary restricted to the subset's words, top 10 words, reference corpus = the subset.",
        "",
        "## Featurisation throughput (same process, alternating runs, best of 2)",
        "",
        "| corpus | docs | bare forward to layer 15 (tok/s) | forward + SAE + counts (tok/s) | ratio |",
        "|---|---|---|---|---|",
        *speed_lines,
        "",
        "## Topic quality (mean over seeds)",
        "",
        summary.to_markdown(index=False),
        "",
    ]
    path.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
