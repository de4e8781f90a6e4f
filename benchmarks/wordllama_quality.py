"""Topic quality of the WordLlama backend against all-MiniLM-L6-v2, same harness, same corpora and seeds.

For each benchmark corpus (20 Newsgroups, BBC News: neither was in either shipped SAE's training data),
each K and each seed, fit ``bertopic_sae.BERTopic`` + ``SAEAtomMerger(sae="auto")`` twice on the same
vocabulary: once on all-MiniLM-L6-v2 embeddings (the shipped ``minilm-l6-v2`` SAE), once on WordLlama
embeddings (the shipped ``wordllama-256`` SAE). Scores come from ``bertopic_sae.eval.OctisEvaluator``
(NPMI and C_V on the top-10 words with the corpus as reference, topic diversity TD, NMI against the
labels), as in ``benchmarks/transfer.py``. The embedding time of each corpus is measured too (MiniLM's from
the on-disk cache when present, so it is reported only where it was measured in this run).

Resumable: a finished cell (corpus, K, embedder, seed) in the CSV is skipped.

Usage:

```bash
python benchmarks/wordllama_quality.py --corpora 20newsgroups bbc_news --ks 20 50 --seeds 0 1 --threads 1
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

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

RESULTS = Path(__file__).resolve().parent / "results"
FIELDS = ["corpus", "n_docs", "k", "embedder", "seed", "npmi", "c_v", "td", "nmi", "topics_found",
          "fit_seconds", "embed_seconds", "sae", "sae_l0", "load1", "date", "machine", "commit",
          "top_words_sample"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", default=["20newsgroups", "bbc_news"])
    parser.add_argument("--ks", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--embedders", nargs="+", default=["minilm", "wordllama"],
                        choices=["minilm", "wordllama"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=RESULTS / "wordllama_quality.csv")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from bertopic_sae import WordLlamaEmbedder
    from bertopic_sae.data import cache_dir, default_embedding_model
    from bertopic_sae.eval import OctisEvaluator, SAETopicModel, load_octis_corpus, seed_everything

    done = set()
    if args.out.exists():
        with open(args.out) as handle:
            done = {(r["corpus"], int(r["k"]), r["embedder"], int(r["seed"])) for r in csv.DictReader(handle)}
    models = {"minilm": default_embedding_model(device="cpu"), "wordllama": WordLlamaEmbedder()}
    from _machine import cpu_cores, cpu_model

    machine = f"{cpu_model()}, {cpu_cores()} cores (shared), torch threads {torch.get_num_threads()}"
    for name in args.corpora:
        corpus = load_octis_corpus(name)
        evaluator = OctisEvaluator(corpus.dataset, word_embeddings=False)
        for embedder in args.embedders:
            cached = len(list(cache_dir().glob("*.npy")))
            started = time.perf_counter()
            corpus._embeddings = None
            embeddings = corpus.embeddings(models[embedder])
            embed_seconds = time.perf_counter() - started
            if len(list(cache_dir().glob("*.npy"))) == cached:  # served from the cache: not a measurement
                embed_seconds = float("nan")
            for k in args.ks:
                for seed in args.seeds:
                    if (name, k, embedder, seed) in done:
                        continue
                    seed_everything(seed)
                    topic_model = SAETopicModel(
                        num_topics=k, embeddings=embeddings, seed=seed, embedding_model=models[embedder],
                        merger_params={"sae": "auto"},
                    )
                    load = os.getloadavg()[0]
                    started = time.perf_counter()
                    output = topic_model.train_model(corpus.dataset)
                    seconds = time.perf_counter() - started
                    scores = evaluator.score(output)
                    merger = topic_model.model_.clustering_model
                    row = {
                        "corpus": name, "n_docs": len(corpus), "k": k, "embedder": embedder, "seed": seed,
                        "npmi": round(scores["npmi"], 4), "c_v": round(scores["c_v"], 4),
                        "td": round(scores["td"], 4), "nmi": round(scores.get("nmi", float("nan")), 4),
                        "topics_found": len(output["topics"]), "fit_seconds": round(seconds, 1),
                        "embed_seconds": round(embed_seconds, 1),
                        "sae": f"{merger.sae_.d_in}->{merger.sae_.d_sae}",
                        "sae_l0": round(merger.codes_.nnz / merger.codes_.shape[0], 1),
                        "load1": round(load, 2), "date": dt.datetime.now().isoformat(timespec="seconds"),
                        "machine": machine, "commit": _commit(),
                        "top_words_sample": " | ".join(" ".join(t[:6]) for t in output["topics"][:3]),
                    }
                    _append(args.out, row)
                    print({k_: row[k_] for k_ in FIELDS[:13]}, flush=True)
    _report(args.out)


def _commit() -> str:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _append(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with open(path, "a", newline="") as handle:  # one whole line per cell: an interrupted run loses one cell
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def _report(path: Path) -> None:
    import pandas as pd

    from bertopic_sae._io import atomic_write_text

    frame = pd.read_csv(path)
    table = frame.groupby(["corpus", "k", "embedder"])[["npmi", "c_v", "td", "nmi", "fit_seconds"]]
    summary = table.mean().round(3)
    summary["seeds"] = table.size()
    embed = frame.groupby(["corpus", "embedder"])["embed_seconds"].max().round(1)
    text = (
        "# WordLlama vs all-MiniLM-L6-v2: topic quality (benchmarks/wordllama_quality.py)\n\n"
        "Mean over seeds; each embedder with its shipped SAE (sae='auto'), same vocabulary and K.\n\n"
        + _markdown(summary) + "\n\nEmbedding seconds (NaN: read from the cache, not measured here):\n\n"
        + _markdown(embed.to_frame()) + "\n"
    )
    atomic_write_text(path.with_suffix(".md"), text)
    print(text)


def _markdown(frame) -> str:
    try:
        return frame.to_markdown()
    except ImportError:  # tabulate is optional
        return frame.to_string()


if __name__ == "__main__":
    main()
