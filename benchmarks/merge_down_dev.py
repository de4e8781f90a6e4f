"""A lead for small K: merge the (stable) 100-topic documents solution down to K, on development corpora.

Below 50 topics the default merge (the k-means over atoms) moves when the embeddings' last bits change
(``results/ulp_stability.md``: ARI .70-.94 at K = 20), and on M10 its clusters lose to k-means at equal
diversity. From 100 topics the documents start does not move (ARI 1.00). This script measures one candidate
without touching the library: fit SAE-TM at K = 100 (default), merge its 100 topics to K by Ward linkage on
their document centroids (scikit-learn ``AgglomerativeClustering``; deterministic), map every document and
atom through the merge, and read the words with the package's default emission reading (and c-TF-IDF, as a
reference) on those clusters. Beside it: the default fit at K, read the same two ways. Both are also refitted
on embeddings with 0.05% of the values one float16 ulp away (``ulp_stability.move_ulps``) and scored by ARI.

Development corpora only. Nothing here changes a default.

Usage: ``python -m benchmarks.merge_down_dev [--corpora reuters ...] [--ks 20 35] [--repeats 2]`` (writes
``results/merge_down_dev.csv`` and ``.md``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from benchmarks._machine import cpu_cores, cpu_model  # noqa: E402
from benchmarks.foundation_sae import DEV_CORPORA, append_row, dev_corpus  # noqa: E402
from benchmarks.ulp_stability import move_ulps  # noqa: E402
from benchmarks.words_many_topics_dev import score_labelled_readings, topic_labels  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
FINE_K = 100
READINGS = {"default words": ({}, 0.5), "c-TF-IDF words": ("ctfidf", 0.0)}
FIELDS = ["corpus", "n_docs", "k", "seed", "method", "reading", "npmi", "c_v", "td", "ulp_ari_mean",
          "ulp_ari_min", "seconds", "date", "machine"]


def fit(embeddings, dataset, model, k: int, seed: int):
    """One SAE-TM fit at the defaults through the grid's adapter: ``(fitted BERTopic, output)``."""
    from bertopic_sae.eval import SAETopicModel, seed_everything

    seed_everything(seed)
    adapter = SAETopicModel(num_topics=k, embeddings=embeddings, seed=seed, embedding_model=model)
    output = adapter.train_model(dataset)
    return adapter.model_, output


def merged_down(fitted, embeddings: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The fine fit's topics merged to ``k`` by Ward linkage on their unit-norm document centroids."""
    from sklearn.cluster import AgglomerativeClustering

    doc_topic, atom_topic = topic_labels(fitted)
    n_fine = int(doc_topic.max()) + 1
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    centroids = np.stack([unit[doc_topic == t].mean(0) for t in range(n_fine)])
    coarse = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(centroids)
    atoms = np.where(atom_topic >= 0, coarse[np.maximum(atom_topic, 0)], -1)
    return coarse[doc_topic], atoms


def run(args) -> None:
    from bertopic_sae.data import default_embedding_model

    model = default_embedding_model(device="cpu")
    machine = f"{cpu_cores()} cores {cpu_model()}"
    for corpus in args.corpora:
        texts, embeddings, dataset, evaluator = dev_corpus(corpus, model)
        embeddings = embeddings.astype(np.float16).astype(np.float32)
        moved = [move_ulps(embeddings, 0.0005, seed=r) for r in range(args.repeats)]
        for seed, k in itertools.product(args.seeds, args.ks):
            if k == args.ks[0]:
                fine, fine_output = fit(embeddings, dataset, model, FINE_K, seed)
                moved_fine = [fit(m, dataset, model, FINE_K, seed)[0] for m in moved]
            start = time.perf_counter()
            default, output = fit(embeddings, dataset, model, k, seed)
            default_docs, default_atoms = topic_labels(default)
            default_ari = [
                adjusted_rand_score(default_docs, topic_labels(fit(m, dataset, model, k, seed)[0])[0])
                for m in moved
            ]
            down_docs, down_atoms = merged_down(fine, embeddings, k)
            down_ari = [adjusted_rand_score(down_docs, merged_down(f, m, k)[0])
                        for f, m in zip(moved_fine, moved, strict=True)]
            methods = {
                "default": (score_labelled_readings(default, default_docs, default_atoms, k, output,
                                                    evaluator, READINGS), default_ari),
                f"merge-down from {FINE_K}": (score_labelled_readings(fine, down_docs, down_atoms, k,
                                                                     fine_output, evaluator, READINGS),
                                              down_ari),
            }
            for method, (scored, ari) in methods.items():
                for reading, scores in scored.items():
                    row = {"corpus": corpus, "n_docs": len(texts), "k": k, "seed": seed, "method": method,
                           "reading": reading, "npmi": round(scores["npmi"], 4),
                           "c_v": round(scores["c_v"], 4), "td": round(scores["td"], 4),
                           "ulp_ari_mean": round(float(np.mean(ari)), 3),
                           "ulp_ari_min": round(float(np.min(ari)), 3),
                           "seconds": round(time.perf_counter() - start, 1),
                           "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                           "machine": machine}
                    append_row(args.out, row, FIELDS)
                    print({key: row[key] for key in FIELDS[:11]}, flush=True)
    report(args.out)


def report(path: Path) -> None:
    import pandas as pd

    from bertopic_sae._io import atomic_write_text

    frame = pd.read_csv(path)
    table = frame.pivot_table(index=["corpus", "k", "method"], columns="reading",
                              values=["npmi", "td"]).round(3)  # mean over the seeds
    ari = frame.groupby(["corpus", "k", "method"]).agg(ulp_ari_mean=("ulp_ari_mean", "mean"),
                                                       ulp_ari_min=("ulp_ari_min", "min")).round(3)
    spread = frame[frame.reading == "default words"].groupby(["corpus", "k", "method"])["npmi"].agg(
        lambda v: v.max() - v.min()).round(3).rename("default words NPMI range over seeds")
    table.columns = [f"{reading} {metric}" for metric, reading in table.columns]
    table = table.join(ari).join(spread).reset_index()
    means = frame.groupby(["k", "method", "reading"])[["npmi", "td"]].mean().round(3).reset_index()
    lines = [
        "# Small K: the 100-topic documents solution merged down (Ward) vs the default merge",
        "",
        f"`python -m benchmarks.merge_down_dev` ({frame['date'].min()} to {frame['date'].max()}; "
        f"{frame['machine'].iloc[0]}). Development corpora; seeds {sorted(frame['seed'].unique().tolist())} "
        "(NPMI / TD: mean over the seeds); top 10 words "
        "(`OctisEvaluator`); ulp ARI = ARI of the document topics after moving 0.05% of the embedding values "
        "by one float16 ulp (mean, min over the repeats). Nothing here changed a default.",
        "",
        table.to_markdown(index=False),
        "",
        "Means over the corpora:",
        "",
        means.to_markdown(index=False),
    ]
    atomic_write_text(path.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", nargs="+", choices=DEV_CORPORA, default=list(DEV_CORPORA))
    parser.add_argument("--ks", nargs="+", type=int, default=[20, 35])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "merge_down_dev.csv")
    parser.add_argument("--report", action="store_true", help="only rewrite the markdown from the CSV")
    args = parser.parse_args()
    report(args.out) if args.report else run(args)


if __name__ == "__main__":
    main()
