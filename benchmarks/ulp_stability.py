"""Topics under another machine's last bits: one float16 ulp moved in a few embedding values.

The same code and seed gave other topics on another CPU (20NG K = 20: 3 of 20 topics identical, NPMI .169 vs
.188; benchmarks/README, "How much of each lost grid cell is diversity?"). The embeddings differ between
CPUs in their last bits; after the pipeline's float16 rounding that means a few values one float16 ulp apart.
This script simulates exactly that on development corpora: it moves a random ``--share`` of the embedding
values by one float16 ulp (up or down, seeded), refits, and reports the ARI of the document topics against
the unperturbed fit, for SAE-TM at the defaults (the atom merge below 50 topics, the documents start from 50),
SAE-TM with the documents start at every K (``--methods "sae-tm documents"``) and scikit-learn's KMeans on
the same embeddings. Nothing here changes a default.

Usage: ``python -m benchmarks.ulp_stability --corpora reuters health_news_tweets --ks 20 100 --repeats 3``
(writes ``results/ulp_stability.csv`` and ``.md``).
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from benchmarks.foundation_sae import append_row, dev_texts  # noqa: E402
from benchmarks.stability import fit_kmeans, fit_ours  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ("sae-tm", "kmeans", "sae-tm documents")
"""SAE-TM at the defaults, scikit-learn KMeans, and SAE-TM with ``centroid_init="documents"`` at every K."""
FIELDS = ["corpus", "n_docs", "k", "method", "share", "repeat", "ari", "seconds", "date", "machine"]


def move_ulps(embeddings: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A float16-exact copy of ``embeddings`` with a random ``share`` of its values one float16 ulp away."""
    half = embeddings.astype(np.float16)
    rng = np.random.default_rng(seed)
    flat = half.reshape(-1).copy()
    picked = rng.choice(flat.size, max(1, int(share * flat.size)), replace=False)
    toward = np.where(rng.random(picked.size) < 0.5, np.float16(-np.inf), np.float16(np.inf))
    flat[picked] = np.nextafter(flat[picked], toward)
    return flat.reshape(half.shape).astype(np.float32)


def fit_topics(method: str, texts, embeddings, embedding_model, k: int) -> np.ndarray:
    if method == "kmeans":
        return fit_kmeans(embeddings, k, seed=0)
    start = {"sae-tm documents": {"centroid_init": "documents"}}.get(method, {})
    return fit_ours(texts, embeddings, embedding_model, "auto", k, seed=0, verbose=False, **start)[0]


def run(args) -> None:
    from bertopic_sae.data import embed, load_embedding_model

    model = load_embedding_model()
    machine = f"{cpu_cores()} cores {cpu_model()}"
    for corpus in args.corpora:
        texts = dev_texts(corpus)
        base_embeddings = embed(texts, model, show_progress_bar=False).astype(np.float16).astype(np.float32)
        for k in args.ks:
            for method in args.methods:
                base = fit_topics(method, texts, base_embeddings, model, k)
                for repeat in range(args.repeats):
                    start = time.perf_counter()
                    moved = move_ulps(base_embeddings, args.share, seed=repeat)
                    ari = adjusted_rand_score(base, fit_topics(method, texts, moved, model, k))
                    row = {"corpus": corpus, "n_docs": len(texts), "k": k, "method": method,
                           "share": args.share, "repeat": repeat, "ari": round(float(ari), 4),
                           "seconds": round(time.perf_counter() - start, 1),
                           "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                           "machine": machine}
                    append_row(args.out, row, FIELDS)
                    print(row, flush=True)
    report(args.out)


def report(path: Path) -> None:
    import pandas as pd

    from bertopic_sae._io import atomic_write_text

    frame = pd.read_csv(path)
    table = frame.groupby(["corpus", "k", "method"])["ari"].agg(["mean", "min", "count"]).round(3)
    lines = [
        "# Topics under one float16 ulp moved in a share of the embedding values",
        "",
        f"`python -m benchmarks.ulp_stability` ({frame['date'].min()} to {frame['date'].max()}; "
        f"{frame['machine'].iloc[0]}; share {sorted(frame['share'].unique().tolist())}). ARI of the document "
        "topics against the unperturbed fit (same seed), mean and min over the repeats. SAE-TM at the "
        "defaults; kmeans = scikit-learn KMeans(random_state=0) on the same embeddings.",
        "",
        table.reset_index().to_markdown(index=False),
    ]
    atomic_write_text(path.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", nargs="+", default=["reuters", "health_news_tweets"])
    parser.add_argument("--ks", nargs="+", type=int, default=[20, 100])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS[:2]))
    parser.add_argument("--share", type=float, default=0.0005, help="share of the values moved by one ulp")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "ulp_stability.csv")
    parser.add_argument("--report", action="store_true", help="only rewrite the markdown from the CSV")
    args = parser.parse_args()
    report(args.out) if args.report else run(args)


if __name__ == "__main__":
    main()
