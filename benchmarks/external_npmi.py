"""NPMI of the OCTIS grid's topic words against an external reference corpus (issue 18, item 4).

The grid scores NPMI with the scored corpus itself as the reference. Here the reference is the union of
the other shared corpora: for a scored corpus C, a seeded random subset (``--per-corpus`` documents, seed 0)
of each of 20NG, BBC, M10, DBLP, Reuters, health-news headlines, Trump tweets and IMDB except C. Vocabulary
handling as the internal score: lower-cased tokens of 3+ letters (the OCTIS corpora's own token pattern),
kept only when in C's vocabulary. Words of a topic absent from the reference are dropped from that topic
(their share is reported); a topic left with fewer than 2 words scores NaN. NPMI is gensim's
``CoherenceModel(coherence="c_npmi")`` (sliding window 10, as OCTIS), one pass per scored corpus over
every topic set, averaged per cell.

Inputs: the topic words the grid logged (``*_topics.jsonl``) for the new SAE rows and the committed peers.

Usage:

```bash
python -m benchmarks.external_npmi --new benchmarks/results/octis_grid_sae_defaults_topics.jsonl
```
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).resolve().parent / "results"
SCORED = ("20newsgroups", "bbc_news", "m10", "dblp")
OTHERS = ("reuters", "health_news_tweets", "trump_tweets", "imdb")
TOKEN = re.compile(r"\b[a-z]{3,}\b")


def corpus_texts(name: str) -> list[str]:
    """Raw texts of a shared corpus (DBLP: its OCTIS tokens joined; no raw titles ship)."""
    if name in SCORED:
        from bertopic_sae.eval import load_octis_corpus

        return [str(t) for t in load_octis_corpus(name).texts]
    from bertopic_sae.data import load_corpus

    return load_corpus(name).texts


def reference(scored: str, vocabulary: set[str], per_corpus: int, pool: dict) -> list[list[str]]:
    """Token lists of the external reference of ``scored`` (see the module docstring)."""
    texts: list[list[str]] = []
    for name in (*SCORED, *OTHERS):
        if name == scored:
            continue
        docs = pool[name]
        rows = np.sort(np.random.default_rng(0).choice(len(docs), min(per_corpus, len(docs)), replace=False))
        for i in rows:
            tokens = [w for w in TOKEN.findall(docs[i].lower()) if w in vocabulary]
            if tokens:
                texts.append(tokens)
    return texts


def read_topics(path: Path, label: str | None = None) -> list[dict]:
    rows = [json.loads(line) for line in open(path)]
    for row in rows:
        row["dataset"] = row["dataset"].split("[")[0]
        if label:
            row["model"] = label
    return rows


def score(rows: list[dict], texts: list[list[str]]) -> tuple[list[float], float]:
    """Mean external NPMI of every row's topics (one gensim pass) and the share of topic words dropped."""
    from gensim.corpora.dictionary import Dictionary
    from gensim.models import CoherenceModel

    dictionary = Dictionary(texts)
    topics, owner, dropped, total = [], [], 0, 0
    for index, row in enumerate(rows):
        for topic in row["topics"]:
            words = [w for w in topic[:10] if w in dictionary.token2id]
            dropped += len(topic[:10]) - len(words)
            total += len(topic[:10])
            if len(words) >= 2:
                topics.append(words)
                owner.append(index)
    model = CoherenceModel(topics=topics, texts=texts, dictionary=dictionary, coherence="c_npmi", topn=10,
                           processes=1)
    per_topic = np.asarray(model.get_coherence_per_topic())
    owner_arr = np.asarray(owner)
    means = []
    for index in range(len(rows)):
        values = per_topic[owner_arr == index]
        # a topic with < 2 words in the reference counts as NaN: the cell's mean is over the scored topics
        means.append(float(np.nanmean(values)) if values.size else float("nan"))
    return means, dropped / max(total, 1)


def main() -> None:
    import pandas as pd

    from benchmarks._machine import cpu_cores, cpu_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--new", type=Path, nargs="+", required=True, help="topics JSONL of the new SAE rows")
    parser.add_argument("--new-label", default="sae (new defaults)")
    parser.add_argument("--peers", type=Path, default=RESULTS / "octis_grid_topics.jsonl")
    parser.add_argument("--new-csv", type=Path, nargs="+", default=[RESULTS / "octis_grid_sae_defaults.csv"],
                        help="grid CSVs with the internal NPMI of the new rows")
    parser.add_argument("--peers-csv", type=Path, default=RESULTS / "octis_grid.csv")
    parser.add_argument("--per-corpus", type=int, default=3000)
    parser.add_argument("--datasets", nargs="+", choices=SCORED, default=list(SCORED))
    parser.add_argument("--out", type=Path, default=RESULTS / "octis_grid_external_npmi.csv")
    args = parser.parse_args()

    from bertopic_sae.eval import load_octis_corpus

    rows = [r for path in args.new for r in read_topics(path, args.new_label)]
    peers = [r for r in read_topics(args.peers) if r["model"] != "sae"]
    rows += peers
    pool = {name: corpus_texts(name) for name in (*SCORED, *OTHERS)}
    records = []
    for dataset in args.datasets:
        cell_rows = [r for r in rows if r["dataset"] == dataset]
        if not cell_rows:
            continue
        vocabulary = set(load_octis_corpus(dataset).dataset.get_vocabulary())
        texts = reference(dataset, vocabulary, args.per_corpus, pool)
        started = time.perf_counter()
        means, dropped = score(cell_rows, texts)
        seconds = time.perf_counter() - started
        print(f"{dataset}: {len(texts):,} reference documents, {len(cell_rows)} topic sets, "
              f"{dropped:.1%} of topic words not in the reference, {seconds:.0f} s", flush=True)
        for row, value in zip(cell_rows, means, strict=True):
            records.append({"model": row["model"], "dataset": dataset, "num_topics": row["num_topics"],
                            "seed": row["seed"], "npmi_external": round(value, 5),
                            "reference_docs": len(texts), "words_dropped_share": round(dropped, 4)})
    frame = pd.DataFrame(records)
    internal = pd.concat([pd.read_csv(args.peers_csv).assign(new=False),
                          *[pd.read_csv(p).assign(new=True) for p in args.new_csv]])
    is_sae = internal["model"] == "sae"
    internal.loc[is_sae & internal["new"], "model"] = args.new_label
    internal.loc[is_sae & ~internal["new"], "model"] = "sae (committed)"
    internal["dataset"] = internal["dataset"].str.split("[").str[0]
    keys = ["model", "dataset", "num_topics", "seed"]
    frame = frame.merge(internal[[*keys, "npmi"]].drop_duplicates(keys), on=keys, how="left")
    frame = frame.rename(columns={"npmi": "npmi_internal"})
    frame.to_csv(args.out.with_suffix(".tmp"), index=False)
    os.replace(args.out.with_suffix(".tmp"), args.out)
    write_report(frame, args)
    print(f"machine: {cpu_model()}, {cpu_cores()} cores")


def write_report(frame, args) -> None:
    from bertopic_sae._io import atomic_write_text

    means = frame.groupby(["dataset", "num_topics", "model"])[["npmi_internal", "npmi_external"]].mean()
    ours = args.new_label
    lines = ["# OCTIS grid: NPMI against an external reference beside the corpus-internal NPMI", "",
             f"`python -m benchmarks.external_npmi` ({len(frame)} topic sets). Reference of a scored corpus: "
             f"{args.per_corpus:,} random documents (seed 0) of each other shared corpus "
             f"({', '.join((*SCORED, *OTHERS))}), tokens in the scored corpus's vocabulary; gensim c_npmi, "
             "top 10 words; topic words absent from the reference dropped (share below). Means over seeds. "
             "Best peer = the other model with the highest internal NPMI in the cell (committed peers, whose "
             "topic words the grid logged for every cell).", "",
             "| dataset | K | SAE internal | SAE external | best peer (internal) | its internal | "
             "its external | best peer (external) | its external | SAE rank (external) | words dropped |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    dropped = frame.groupby("dataset")["words_dropped_share"].first()
    for (dataset, k), cell in means.groupby(level=[0, 1]):
        cell = cell.droplevel([0, 1])
        if ours not in cell.index:
            continue
        others = cell.drop([ours, "sae (committed)"], errors="ignore")
        peer = others["npmi_internal"].idxmax()
        peer_ext = others["npmi_external"].idxmax()
        rank = int((others["npmi_external"] > cell.loc[ours, "npmi_external"]).sum()) + 1
        lines.append(
            f"| {dataset} | {k} | {cell.loc[ours, 'npmi_internal']:.3f} | "
            f"{cell.loc[ours, 'npmi_external']:.3f} "
            f"| {peer} | {others.loc[peer, 'npmi_internal']:.3f} | {others.loc[peer, 'npmi_external']:.3f} | "
            f"{peer_ext} | {others.loc[peer_ext, 'npmi_external']:.3f} | {rank} of {len(others) + 1} | "
            f"{dropped[dataset]:.1%} |")
    atomic_write_text(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
