"""Distinct topic words: rank each topic's words by how much more it uses them than the other topics.

At many topics neighbouring topics share their top words (TD falls below 0.8 at K >= 100 with
``centroid_init="documents"``). This script fits ``SAETopicModel`` once per (development corpus, K, seed,
start) and scores, for the *same* topics, the emission topic words re-ranked by exclusivity::

    score_c(w) = p_c(w) * (p_c(w) / max_j p_j(w)) ** alpha      ("strongest": the owner keeps its score)
    score_c(w) = p_c(w) * (p_c(w) / sum_j p_j(w)) ** alpha      ("all": STM's exclusivity)

(``alpha = 0``: the package's words). Each row also gives the topics' separation: the largest cosine between
two topic embeddings (BERTopic's ``topic_embeddings_``, the mean embedding of each topic's documents), the
quantity ``merge_models`` compares to its 0.7 threshold.

Development corpora only (``benchmarks.foundation_sae.dev_texts``); the rule below is fixed before the first
row is measured.

Usage: ``python -m benchmarks.distinct_words_dev run [--corpora reuters ...] [--ks 20 50] [--seeds 0 1 2]``,
then ``python -m benchmarks.distinct_words_dev report`` (writes ``results/distinct_words_dev.md``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

import numpy as np

from benchmarks._machine import cpu_cores, cpu_model
from benchmarks.foundation_sae import DEV_CORPORA, append_row, dev_corpus, done_cells

RESULTS = Path(__file__).parent / "results"
DEFAULT_CSV = RESULTS / "distinct_words_dev.csv"
ALPHAS = {"strongest": (0.0, 0.5, 1.0, 2.0, 4.0), "all": (0.5, 1.0)}
RULE = (
    "Per start (atoms / documents): the reading with the highest mean NPMI over the development cells "
    "(corpus x K, seeds averaged) among those whose TD, averaged over the corpora, is >= 0.8 at every "
    "K <= 100; the package's words (alpha = 0) when none is. Fixed before the first row was measured."
)
FIELDS = ["corpus", "n_docs", "k", "init", "seed", "against", "alpha", "npmi", "c_v", "td",
          "closest_pair_cos", "fit_seconds", "load1", "date", "machine"]


def exclusive(rows: np.ndarray, alpha: float, against: str) -> np.ndarray:
    """The ranking scores above for ``(n_topics, n_words)`` non-negative rows ("strongest": the package's)."""
    from bertopic_sae.tm.topic_words import exclusive_scores

    if against == "strongest":
        return exclusive_scores(rows, alpha)
    rows = np.asarray(rows, dtype=np.float64)
    total = rows.sum(axis=0)
    return rows * np.divide(rows, total, out=np.zeros_like(rows), where=total > 0) ** alpha


def _top_words(rows: np.ndarray, vocab: list[str], n: int = 10) -> list[list[str]]:
    return [[vocab[i] for i in np.argsort(-row, kind="stable")[:n]] for row in rows]


def closest_pair(topic_embeddings: np.ndarray) -> float:
    unit = topic_embeddings / np.linalg.norm(topic_embeddings, axis=1, keepdims=True)
    cos = unit @ unit.T
    np.fill_diagonal(cos, -1.0)
    return float(cos.max())


def run(args) -> None:
    import torch

    from bertopic_sae.data import default_embedding_model
    from bertopic_sae.eval import SAETopicModel, seed_everything

    torch.set_num_threads(args.threads)
    done = done_cells(args.out, "init")
    model = default_embedding_model(device="cpu")
    machine = f"{cpu_model()}, {cpu_cores()} cores (shared), torch threads {torch.get_num_threads()}"
    for corpus in args.corpora:
        texts, embeddings, dataset, evaluator = dev_corpus(corpus, model)
        vocab = list(dataset.get_vocabulary())
        for k in args.ks:
            for init in args.inits:
                for seed in args.seeds if init == "documents" else args.seeds[:1]:  # atoms: seed-free
                    if (corpus, k, init, seed) in done:
                        continue
                    seed_everything(seed)
                    topic_model = SAETopicModel(num_topics=k, embeddings=embeddings, seed=seed,
                                                embedding_model=model, merger_params={"centroid_init": init})
                    load, started = os.getloadavg()[0], time.perf_counter()
                    output = topic_model.train_model(dataset)
                    seconds = time.perf_counter() - started
                    separation = closest_pair(np.asarray(topic_model.model_.topic_embeddings_))
                    for against, alphas in ALPHAS.items():
                        for alpha in alphas:
                            ranked = exclusive(output["topic-word-matrix"], alpha, against)
                            scores = evaluator.score({**output, "topics": _top_words(ranked, vocab)})
                            row = {
                                "corpus": corpus, "n_docs": len(texts), "k": k, "init": init, "seed": seed,
                                "against": against, "alpha": alpha, "npmi": round(scores["npmi"], 4),
                                "c_v": round(scores["c_v"], 4), "td": round(scores["td"], 4),
                                "closest_pair_cos": round(separation, 4), "fit_seconds": round(seconds, 1),
                                "load1": round(load, 2),
                                "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                "machine": machine,
                            }
                            append_row(args.out, row, FIELDS)
                    print(corpus, k, init, seed, f"{seconds:.0f}s sep {separation:.3f}", flush=True)
    report(args.out)


def winner(frame):
    """Per start, the reading chosen by :data:`RULE` (``(against, alpha)``) and the table it was read from."""
    cells = frame.groupby(["init", "against", "alpha", "corpus", "k"])[["npmi", "c_v", "td"]].mean()
    by_k = cells.groupby(["init", "against", "alpha", "k"]).mean()
    overall = cells.groupby(["init", "against", "alpha"]).mean()
    chosen = {}
    for init in overall.index.get_level_values("init").unique():
        best, best_npmi = ("strongest", 0.0), -np.inf
        for (against, alpha), scores in overall.loc[init].iterrows():
            td = by_k.loc[(init, against, alpha)]["td"]
            if (td[td.index <= 100] >= 0.8).all() and scores["npmi"] > best_npmi:
                best, best_npmi = (against, alpha), scores["npmi"]
        chosen[init] = best
    return chosen, overall, by_k


def auto_start(frame):
    """The rows of ``centroid_init="auto"``: the atom start below ``DOCUMENT_START_FROM`` topics, documents
    from it."""
    from bertopic_sae.tm.assignment import centroid_start

    start = [centroid_start("auto", int(k)) for k in frame["k"]]
    auto = frame[frame["init"] == np.array(start)].copy()
    auto["init"] = "auto"
    return auto


def report(path: Path) -> None:
    import pandas as pd

    from bertopic_sae._io import atomic_write_text

    frame = pd.read_csv(path)
    frame = pd.concat([frame, auto_start(frame)], ignore_index=True)
    chosen, overall, by_k = winner(frame)
    table = by_k.reset_index().pivot_table(index=["init", "against", "alpha"], columns="k",
                                           values=["npmi", "td"]).round(3)
    strongest = frame["against"] == "strongest"
    per_corpus = frame[(frame["k"] == 20) & frame["alpha"].isin([0.0, 0.5]) & strongest]
    per_corpus = per_corpus.groupby(["corpus", "init", "alpha"])[["npmi", "td", "closest_pair_cos"]].mean()
    sep = frame.drop_duplicates(["corpus", "k", "init", "seed"]).groupby(["init", "k"])["closest_pair_cos"]
    seeds = frame[frame["init"] == "documents"].groupby(["against", "alpha", "corpus", "k"])["npmi"].std()
    doc_seeds = sorted(frame.loc[frame["init"] == "documents", "seed"].unique().tolist())
    lines = [
        "# Distinct topic words on the development corpora",
        "",
        f"`python -m benchmarks.distinct_words_dev run` ({frame['date'].min()} to {frame['date'].max()}; "
        f"{frame['machine'].iloc[0]}; corpora {', '.join(sorted(frame['corpus'].unique()))}; documents "
        f"start seeds {doc_seeds}, atom start once). Same topics per row group, words re-ranked by "
        "exclusivity (module docstring); NPMI / C_V / TD of the top 10 words by "
        "`bertopic_sae.eval.OctisEvaluator`, the corpus as reference. Rows `auto` are the atom start "
        "below 50 topics and the documents start from 50 (`centroid_init=\"auto\"`), from the same fits.",
        "",
        f"**Rule**: {RULE}",
        "",
        "**Chosen**: " + "; ".join(f"{init}: against={a}, alpha={al}" for init, (a, al) in chosen.items()),
        "",
        "## Mean over the corpora, by K (NPMI, TD)",
        "",
        table.to_markdown(),
        "",
        "## Mean over every cell",
        "",
        overall.round(3).to_markdown(),
        "",
        "## K = 20 by corpus (NPMI, TD, closest pair; alpha 0 and 0.5)",
        "",
        per_corpus.round(3).to_markdown(),
        "",
        "## Separation: largest cosine between two topic embeddings (mean over corpora and seeds)",
        "",
        sep.mean().unstack().round(3).to_markdown(),
        "",
        f"Seed spread of the documents start: mean NPMI std over cells {seeds.mean():.3f}.",
        "",
    ]
    atomic_write_text(path.with_suffix(".md"), "\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distinct_words_dev", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--corpora", nargs="+", choices=DEV_CORPORA, default=list(DEV_CORPORA))
    p.add_argument("--ks", nargs="+", type=int, default=[20, 50, 100, 200])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--inits", nargs="+", choices=("atoms", "documents"), default=["atoms", "documents"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=DEFAULT_CSV)
    p = sub.add_parser("report")
    p.add_argument("--out", type=Path, default=DEFAULT_CSV)
    args = parser.parse_args()
    run(args) if args.command == "run" else report(args.out)


if __name__ == "__main__":
    main()
