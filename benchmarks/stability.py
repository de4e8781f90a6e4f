"""Stability of the topics: float16-rounded vs float32 embeddings, and seed to seed.

For each development corpus (health-news headlines, Reuters-21578; a random subset of ``--n-docs``
documents with at least 4 words, drawn with seed 0) and three methods fitted side by side in the same run
on the same MiniLM embeddings:

* ``ours``: ``bertopic_sae.BERTopic`` + ``SAEAtomMerger(n_topics=K, sae=<shipped minilm-l6-v2>)``;
* ``ours_kmeans++``: the same with 0.1.0's merge rule (``merge_init="k-means++", n_init=1``);
* ``kmeans``: scikit-learn ``KMeans(K)`` on the unit-norm embeddings;
* ``bertopic``: default BERTopic (UMAP + HDBSCAN, UMAP seeded), reduced to K topics (plus outliers) with
  ``reduce_topics``, on the same vocabulary as ours.

Reported: ARI between the topics of float32 embeddings and of the same embeddings rounded to float16
(the CLI's default storage), at the first seed; the mean and minimum ARI over every pair of ``--seeds``
(float32). For ours also the cause analysis of the float16 change: the share of documents whose SAE
code support changes, the ARI of the atoms' topics (before and after the re-alignment), and the share
of documents whose two best topic scores lie within 1e-3.

Writes ``benchmarks/results/stability.md`` and ``stability.csv``.

Usage:

```bash
python -m benchmarks.stability --corpora health_news_tweets reuters --n-docs 3000 --k 20 --seeds 0 1 2 3 4
```
"""

from __future__ import annotations

import argparse
import copy
import csv
import datetime as dt
import itertools
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ("ours", "ours_kmeans++", "kmeans", "bertopic")
OLD_RULE = {"merge_init": "k-means++", "n_init": 1}
"""0.1.0's merge: one seeded k-means++ start."""


def load_texts(name: str, n_docs: int) -> list[str]:
    """``n_docs`` random documents of at least 4 words (seed 0, original order)."""
    from bertopic_sae.data import load_corpus

    texts = [t for t in load_corpus(name).texts if len(t.split()) >= 4]
    keep = np.sort(np.random.default_rng(0).choice(len(texts), min(n_docs, len(texts)), replace=False))
    return [texts[i] for i in keep]


def fit_ours(texts, embeddings, embedding_model, sae, k: int, seed: int, **merger_params):
    from bertopic_sae import BERTopic, SAEAtomMerger

    model = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=k, sae=sae, random_state=seed, **merger_params),
        embedding_model=embedding_model,
    )
    topics, _ = model.fit_transform(texts, embeddings=embeddings)
    return np.asarray(topics), model


def fit_kmeans(embeddings, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, random_state=seed).fit(embeddings).labels_


def fit_bertopic(texts, embeddings, embedding_model, vocab, k: int, seed: int) -> np.ndarray:
    from benchmarks._stock import default_bertopic

    model = default_bertopic(texts, embeddings, embedding_model, vocab, seed)
    found = len(set(model.topics_) - {-1})
    if found > k:
        model = copy.deepcopy(model)
        model.reduce_topics(list(texts), nr_topics=k + 1)
    return np.asarray(model.topics_)


def diagnose(model32, model16) -> dict:
    """Where the float16 change enters ours: SAE codes, atom topics, document assignment."""
    m32, m16 = model32.hdbscan_model, model16.hdbscan_model
    c32, c16 = m32.codes_.tocsr(), m16.codes_.tocsr()
    changed = np.array([not np.array_equal(c32[i].indices, c16[i].indices) for i in range(c32.shape[0])])
    active = (m32.atom_weights_ > 0) & (m16.atom_weights_ > 0)
    out = {
        "codes_support_changed": float(changed.mean()),
        "codes_max_abs_diff": float(abs(c32 - c16).max()),
        "atom_topic_ari": float(adjusted_rand_score(m32.atom_topic_[active], m16.atom_topic_[active])),
    }
    centroids = getattr(m32, "topic_centroids_", None)
    if centroids is not None:
        emb = model32._stability_embeddings
        scores = (emb / np.linalg.norm(emb, axis=1, keepdims=True)) @ centroids.T
        top2 = np.sort(scores, axis=1)[:, -2:]
        out["near_ties_1e-3"] = float((top2[:, 1] - top2[:, 0] < 1e-3).mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", default=["health_news_tweets", "reuters"])
    parser.add_argument("--n-docs", type=int, default=3000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=RESULTS / "stability")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from benchmarks._machine import cpu_cores, cpu_model
    from bertopic_sae import load_pretrained
    from bertopic_sae.data import default_embedding_model, embed

    warnings.filterwarnings("ignore", category=FutureWarning)
    embedding_model = default_embedding_model(device="cpu")
    sae = load_pretrained()
    rows, notes = [], []
    for name in args.corpora:
        texts = load_texts(name, args.n_docs)
        e32 = embed(texts, embedding_model, show_progress_bar=True)
        e16 = e32.astype(np.float16).astype(np.float32)
        print(
            f"{name}: {len(texts)} documents, max |float16 - float32| = {np.abs(e16 - e32).max():.1e}",
            flush=True,
        )
        vocab = None
        for method in args.methods:
            started = time.perf_counter()
            labels, models = {}, {}
            for seed in args.seeds:
                if method.startswith("ours"):
                    params = OLD_RULE if method == "ours_kmeans++" else {}
                    labels[seed], models[seed] = fit_ours(texts, e32, embedding_model, sae, args.k, seed,
                                                          **params)
                    vocab = models[seed].vectorizer_model.get_feature_names_out() if vocab is None else vocab
                elif method == "kmeans":
                    labels[seed] = fit_kmeans(e32, args.k, seed)
                else:
                    if vocab is None:
                        vocab = fit_ours(texts, e32, embedding_model, sae, args.k, 0)[
                            1
                        ].vectorizer_model.get_feature_names_out()
                    labels[seed] = fit_bertopic(texts, e32, embedding_model, vocab, args.k, seed)
                print(f"  {method} seed {seed}: {len(set(labels[seed]))} topics", flush=True)
            first = args.seeds[0]
            if method.startswith("ours"):
                rounded, model16 = fit_ours(texts, e16, embedding_model, sae, args.k, first, **params)
                models[first]._stability_embeddings = e32
                notes.append((f"{name}, {method}", diagnose(models[first], model16)))
            elif method == "kmeans":
                rounded = fit_kmeans(e16, args.k, first)
            else:
                rounded = fit_bertopic(texts, e16, embedding_model, vocab, args.k, first)
            pairs = [
                adjusted_rand_score(labels[a], labels[b]) for a, b in itertools.combinations(args.seeds, 2)
            ]
            row = {
                "corpus": name,
                "n_docs": len(texts),
                "k": args.k,
                "method": method,
                "fp16_ari": round(float(adjusted_rand_score(labels[first], rounded)), 4),
                "seed_ari_mean": round(float(np.mean(pairs)), 4) if pairs else "",
                "seed_ari_min": round(float(np.min(pairs)), 4) if pairs else "",
                "seeds": " ".join(map(str, args.seeds)),
                "seconds": round(time.perf_counter() - started, 1),
            }
            rows.append(row)
            print(row, flush=True)
            write(args, rows, notes, cpu_model(), cpu_cores())  # after every method: a cut run keeps rows


def write(args, rows, notes, cpu: str, cores: int) -> None:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
    ).stdout.strip()
    stamp = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu}, {cores} cores, commit {commit}"
    csv_path = args.out.with_suffix(".csv")
    with open(csv_path.with_suffix(".tmp"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(csv_path.with_suffix(".tmp"), csv_path)
    lines = [
        "# Topic stability: float16 rounding and seeds",
        "",
        f"{stamp}. Written by `benchmarks/stability.py` (`python -m benchmarks.stability "
        f"--corpora {' '.join(args.corpora)} --n-docs {args.n_docs} --k {args.k} "
        f"--seeds {' '.join(map(str, args.seeds))} --methods {' '.join(args.methods)}`).",
        "",
        "ARI of the topics: float32 vs float16-rounded embeddings (first seed), and over all seed pairs "
        "(float32). ours = bertopic_sae.BERTopic + SAEAtomMerger (shipped MiniLM SAE; "
        "merge_init='consensus'); ours_kmeans++ = the same with 0.1.0's merge (merge_init='k-means++', "
        "n_init=1); kmeans = KMeans on the embeddings; bertopic = UMAP + HDBSCAN reduced to K (+ outliers).",
        "",
        "| corpus | docs | K | method | float16 ARI | seed ARI mean | seed ARI min | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['corpus']} | {r['n_docs']} | {r['k']} | {r['method']} | {r['fp16_ari']} | "
            f"{r['seed_ari_mean']} | {r['seed_ari_min']} | {r['seconds']} |"
        )
    if notes:
        lines += ["", "Where float16 rounding enters ours (first seed):", ""]
        for name, note in notes:
            lines.append(f"- {name}: " + ", ".join(f"{key} {value:.4g}" for key, value in note.items()))
    md_path = args.out.with_suffix(".md")
    md_path.with_suffix(".tmp").write_text("\n".join(lines) + "\n")
    os.replace(md_path.with_suffix(".tmp"), md_path)
    print(f"wrote {md_path} and {csv_path}")


if __name__ == "__main__":
    main()
