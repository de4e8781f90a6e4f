"""Could a fit choose its own start? Cluster separation of the atom merge vs the document k-means.

Below ``DOCUMENT_START_FROM`` topics the default starts from the atom merge because the document k-means'
topics lie closer together (benchmarks/README.md, "Distinct topics"), although its words score higher NPMI.
This script measures, on the development corpora, whether a separation score computed from the fit alone
would pick the start with the better words: for each corpus, K and start it records the silhouette
(cosine, scikit-learn's ``silhouette_score`` on 3,000 sampled documents, seed 0) of the topics on the
document embeddings, the largest cosine between two topic embeddings, and the topic words' NPMI / TD
(the package defaults otherwise). Nothing here changes a default.

Usage: ``python -m benchmarks.start_selection_dev [--ks 20 50] [--seeds 0 1 2]`` (writes
``results/start_selection_dev.md`` and ``.csv``).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np

from benchmarks._machine import cpu_cores, cpu_model
from benchmarks.distinct_words_dev import closest_pair
from benchmarks.foundation_sae import DEV_CORPORA, dev_corpus

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    import pandas as pd
    import torch
    from sklearn.metrics import silhouette_score

    from bertopic_sae._io import atomic_write_text
    from bertopic_sae.data import default_embedding_model
    from bertopic_sae.eval import SAETopicModel, seed_everything

    parser = argparse.ArgumentParser(prog="python -m benchmarks.start_selection_dev", description=__doc__)
    parser.add_argument("--corpora", nargs="+", choices=DEV_CORPORA, default=list(DEV_CORPORA))
    parser.add_argument("--ks", nargs="+", type=int, default=[20, 50])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=RESULTS / "start_selection_dev")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = default_embedding_model(device="cpu")
    rows = []
    for corpus in args.corpora:
        texts, embeddings, dataset, evaluator = dev_corpus(corpus, model)
        for k in args.ks:
            for start in ("atoms", "documents"):
                for seed in args.seeds if start == "documents" else args.seeds[:1]:
                    seed_everything(seed)
                    topic_model = SAETopicModel(num_topics=k, embeddings=embeddings, seed=seed,
                                                embedding_model=model, merger_params={"centroid_init": start})
                    output = topic_model.train_model(dataset)
                    labels = np.asarray(topic_model.model_.topics_)
                    scores = evaluator.score(output)
                    rows.append({
                        "corpus": corpus, "k": k, "start": start, "seed": seed,
                        "silhouette": silhouette_score(embeddings, labels, metric="cosine",
                                                       sample_size=min(3000, len(labels)), random_state=0),
                        "closest_pair_cos": closest_pair(np.asarray(topic_model.model_.topic_embeddings_)),
                        "npmi": scores["npmi"], "td": scores["td"],
                    })
                    print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    frame.to_csv(args.out.with_suffix(".csv"), index=False)
    cells = frame.groupby(["corpus", "k", "start"])[["silhouette", "closest_pair_cos", "npmi", "td"]].mean()
    picks = []
    for (corpus, k), cell in cells.groupby(level=[0, 1]):
        cell = cell.droplevel([0, 1])
        chosen = cell["silhouette"].idxmax()
        npmi = cell["npmi"]
        picks.append({"corpus": corpus, "k": k, "silhouette picks": chosen, "NPMI picks": npmi.idxmax(),
                      "NPMI of the pick": npmi[chosen], "NPMI atoms": npmi["atoms"],
                      "NPMI documents": npmi["documents"]})
    lines = [
        "# Could a fit choose its own start? (development corpora)", "",
        f"`python -m benchmarks.start_selection_dev --ks {' '.join(map(str, args.ks))} --seeds "
        f"{' '.join(map(str, args.seeds))}` ({dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; "
        f"{cpu_model()}, {cpu_cores()} cores). Silhouette: cosine, 3,000 sampled documents; documents start "
        "averaged over the seeds, the atom merge once; words at the package defaults.", "",
        cells.round(3).to_markdown(), "", pd.DataFrame(picks).round(3).to_markdown(index=False), "",
    ]
    atomic_write_text(args.out.with_suffix(".md"), "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
