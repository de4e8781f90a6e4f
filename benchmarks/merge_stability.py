"""How the k-means over atoms starts: seed-to-seed stability and word quality, side by side.

The SAE (shipped), its codes and the emission fit (EM) are deterministic; the seed of ``SAEAtomMerger``
enters only through the k-means that merges atoms into topics. For each development corpus (a random
subset of ``--n-docs`` documents of >= 4 words, seed 0, as in ``benchmarks/stability.py``) this script
fits ``bertopic_sae.BERTopic`` once and then re-merges the atoms (``set_n_topics``) with every start rule
and seed:

* ``k-means++ x n``: ``merge_init="k-means++", n_init=n`` (n = 1 is 0.1.0's rule);
* ``consensus x 30``: ``merge_init="consensus", n_init=30`` (the package default: one k-means run from the
  consensus of 30 k-means++ runs with fixed seeds).

Reported per rule: mean (min) ARI of the documents' topics and of the atoms' topics over all seed pairs;
NPMI / C_V (gensim, top 10 words, the corpus's own tokens as reference) and TD of the topics' words, mean
± std over the seeds; seconds per merge. ``--subsets N`` also refits the whole model (seed 0) on N random
90% subsets of the documents and gives the ARI, on the documents both fits hold, to the fit on all of them:
the perturbation a seed-free rule cannot hide (other documents change θ̄, the emission fit and so the
atom vectors); not measured for ``k-means++ x 20``.

Writes ``benchmarks/results/merge_stability.md``.

Usage:

```bash
python -m benchmarks.merge_stability --corpora health_news_tweets reuters trump_tweets --n-docs 2000 --k 20
```
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
RULES = {"k-means++ x 1": ("k-means++", 1), "k-means++ x 20": ("k-means++", 20),
         "k-means++ x 100": ("k-means++", 100), "consensus x 30": ("consensus", 30)}
"""Start rules: name -> (merge_init, n_init)."""


def coherence(topics: list[list[str]], tokens, dictionary) -> tuple[float, float, float]:
    """(NPMI, C_V, TD) of top-10 word lists."""
    from gensim.models.coherencemodel import CoherenceModel

    scores = [CoherenceModel(topics=topics, texts=tokens, dictionary=dictionary, coherence=name, topn=10,
                             processes=1).get_coherence() for name in ("c_npmi", "c_v")]
    words = [w for t in topics for w in t]
    return scores[0], scores[1], len(set(words)) / len(words)


def fit(texts, embeddings, embedding_model, sae, k: int, rule: str):
    from bertopic_sae import BERTopic, SAEAtomMerger

    init, n_init = RULES[rule]
    merger = SAEAtomMerger(n_topics=k, sae=sae, random_state=0, merge_init=init, n_init=n_init)
    model = BERTopic(clustering_model=merger, embedding_model=embedding_model)
    model.fit_transform(texts, embeddings=embeddings)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", default=["health_news_tweets", "reuters", "trump_tweets"])
    parser.add_argument("--n-docs", type=int, default=2000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--rules", nargs="+", default=["k-means++ x 1", "k-means++ x 20", "consensus x 30"],
                        choices=list(RULES))
    parser.add_argument("--subsets", type=int, default=0, help="refits on random 90%% subsets")
    parser.add_argument("--out", type=Path, default=RESULTS / "merge_stability.md")
    args = parser.parse_args()

    from gensim.corpora import Dictionary

    from benchmarks._machine import cpu_cores, cpu_model
    from benchmarks.stability import load_texts
    from bertopic_sae import load_pretrained
    from bertopic_sae.data import default_embedding_model, embed

    embedding_model = default_embedding_model(device="cpu")
    sae = load_pretrained()
    lines = [
        "# Merge start rules: seed stability and word quality",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {cpu_model()}, {cpu_cores()} cores. "
        f"Written by `benchmarks/merge_stability.py` (`--corpora {' '.join(args.corpora)} --n-docs "
        f"{args.n_docs} --k {args.k} --seeds {' '.join(map(str, args.seeds))} --rules "
        f"{' '.join(repr(r) for r in args.rules)} --subsets {args.subsets}`). One fit per corpus, "
        "then `set_n_topics` per rule and seed (the SAE, codes and emission fit are shared).",
        "",
        "| corpus | rule | doc ARI mean (min) | atom ARI mean (min) | NPMI | C_V | TD | s / merge |"
        + (" 90% subset ARI mean (min) |" if args.subsets else ""),
        "|---|---|---|---|---|---|---|---|" + ("---|" if args.subsets else ""),
    ]
    for name in args.corpora:
        texts = load_texts(name, args.n_docs)
        E = embed(texts, embedding_model, show_progress_bar=True)
        model = fit(texts, E, embedding_model, sae, args.k, "k-means++ x 1")
        merger = model.hdbscan_model
        analyzer = model.vectorizer_model.build_analyzer()
        known = set(model.vectorizer_model.get_feature_names_out())
        tokens = [[w for w in analyzer(d) if w in known] for d in texts]
        dictionary = Dictionary(tokens)
        for rule in args.rules:
            merger.merge_init, merger.n_init = RULES[rule]
            docs, atoms, scores, seconds = {}, {}, [], []
            for seed in args.seeds:
                merger.random_state = seed
                started = time.perf_counter()
                model.set_n_topics(texts, args.k, embeddings=E)
                seconds.append(time.perf_counter() - started)
                docs[seed], atoms[seed] = merger.labels_.copy(), merger.atom_topic_.copy()
                topics = [[w for w, _ in model.get_topic(t)][:10] for t in range(args.k)]
                scores.append(coherence([[w for w in t if w in known] for t in topics], tokens, dictionary))
            pairs = list(itertools.combinations(args.seeds, 2))
            active = merger.atom_weights_ > 0
            doc_ari = [adjusted_rand_score(docs[a], docs[b]) for a, b in pairs]
            atom_ari = [adjusted_rand_score(atoms[a][active], atoms[b][active]) for a, b in pairs]
            mean, std = np.mean(scores, axis=0), np.std(scores, axis=0)
            row = (f"| {name} ({len(texts)}) | {rule} | {np.mean(doc_ari):.3f} ({np.min(doc_ari):.3f}) | "
                   f"{np.mean(atom_ari):.3f} ({np.min(atom_ari):.3f}) | "
                   + " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in zip(mean, std, strict=True))
                   + f" | {np.mean(seconds):.1f} |")
            if args.subsets and rule != "k-means++ x 20":  # it only adds cost to this column
                reference = fit(texts, E, embedding_model, sae, args.k, rule).hdbscan_model.labels_
                subset_ari = []
                for draw in range(args.subsets):
                    keep = np.sort(np.random.default_rng(100 + draw).choice(len(texts), len(texts) * 9 // 10,
                                                                           replace=False))
                    part = fit([texts[i] for i in keep], E[keep], embedding_model, sae, args.k, rule)
                    subset_ari.append(adjusted_rand_score(reference[keep], part.hdbscan_model.labels_))
                row += f" {np.mean(subset_ari):.3f} ({np.min(subset_ari):.3f}) |"
            elif args.subsets:
                row += " |"
            lines.append(row)
            print(row, flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.with_suffix(".tmp").write_text("\n".join(lines) + "\n")
            os.replace(args.out.with_suffix(".tmp"), args.out)  # after every rule: a cut run keeps rows
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
