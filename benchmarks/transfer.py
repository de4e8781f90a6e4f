"""Transfer check: topics from the shipped (pretrained, out-of-domain) SAE vs an SAE trained in-domain.

For each benchmark corpus (20 Newsgroups, BBC News; never part of the shipped SAE's training data) and
each K, fit ``bertopic_sae.BERTopic`` + ``SAEAtomMerger`` twice on the same embeddings, vocabulary and
seed, once with ``sae=<shipped minilm-l6-v2>`` and once with ``sae="train"`` (the merger trains an SAE on
the corpus with its default size and schedule; that training is part of the fit time). Scores come from
``bertopic_sae.eval.OctisEvaluator`` (OCTIS / gensim ``CoherenceModel``: NPMI and C_V on the top-10
words with the corpus as reference, topic diversity TD, NMI against the labels).

Resumable: a finished cell (corpus, K, sae, seed) in the CSV is skipped.

Usage:

```bash
python benchmarks/transfer.py --corpora 20newsgroups bbc_news --ks 20 50 --threads 1
```
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).resolve().parent / "results"
FIELDS = ["corpus", "n_docs", "k", "sae", "seed", "npmi", "c_v", "td", "nmi", "topics_found", "fit_seconds",
          "sae_d_sae", "sae_l0", "load1", "date", "machine", "top_words_sample"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", default=["20newsgroups", "bbc_news"])
    parser.add_argument("--ks", type=int, nargs="+", default=[20, 50])
    parser.add_argument(
        "--saes", nargs="+", default=["shipped", "in-domain"], choices=["shipped", "in-domain"]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=RESULTS / "transfer.csv")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from bertopic_sae.data import default_embedding_model
    from bertopic_sae.eval import OctisEvaluator, SAETopicModel, load_octis_corpus, seed_everything
    from bertopic_sae.sae.pretrained import load_pretrained

    done = set()
    if args.out.exists():
        with open(args.out) as handle:
            done = {(r["corpus"], int(r["k"]), r["sae"], int(r["seed"])) for r in csv.DictReader(handle)}
    model = default_embedding_model(device="cpu")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs (shared), torch threads {torch.get_num_threads()}"
    for name in args.corpora:
        corpus = load_octis_corpus(name)
        embeddings = corpus.embeddings(model)
        evaluator = OctisEvaluator(corpus.dataset, word_embeddings=False)
        for k in args.ks:
            for which in args.saes:
                for seed in args.seeds:
                    if (name, k, which, seed) in done:
                        continue
                    seed_everything(seed)
                    sae = load_pretrained() if which == "shipped" else "train"
                    topic_model = SAETopicModel(
                        num_topics=k,
                        embeddings=embeddings,
                        seed=seed,
                        embedding_model=model,
                        merger_params={"sae": sae},
                    )
                    load = os.getloadavg()[0]
                    started = time.perf_counter()
                    output = topic_model.train_model(corpus.dataset)
                    seconds = time.perf_counter() - started
                    scores = evaluator.score(output)
                    fitted_sae = topic_model.model_.clustering_model.sae_
                    codes = topic_model.model_.clustering_model.codes_
                    row = {
                        "corpus": name,
                        "n_docs": len(corpus),
                        "k": k,
                        "sae": which,
                        "seed": seed,
                        "npmi": round(scores["npmi"], 4),
                        "c_v": round(scores["c_v"], 4),
                        "td": round(scores["td"], 4),
                        "nmi": round(scores.get("nmi", float("nan")), 4),
                        "topics_found": len(output["topics"]),
                        "fit_seconds": round(seconds, 1),
                        "sae_d_sae": fitted_sae.d_sae,
                        "sae_l0": round(codes.nnz / codes.shape[0], 1),
                        "load1": round(load, 2),
                        "date": dt.datetime.now().isoformat(timespec="seconds"),
                        "machine": machine,
                        "top_words_sample": " | ".join(" ".join(t[:6]) for t in output["topics"][:3]),
                    }
                    _append(args.out, row)
                    print({k_: row[k_] for k_ in FIELDS[:12]}, flush=True)
    _report(args.out)


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

    frame = pd.read_csv(path)
    table = frame.groupby(["corpus", "k", "sae"])[["npmi", "c_v", "td", "nmi", "fit_seconds"]].mean().round(3)
    try:
        text = table.to_markdown()
    except ImportError:  # tabulate is optional
        text = table.to_string()
    tmp = path.with_suffix(".tmp.md")
    tmp.write_text(text + "\n")
    os.replace(tmp, path.with_suffix(".md"))
    print(text)


if __name__ == "__main__":
    main()
