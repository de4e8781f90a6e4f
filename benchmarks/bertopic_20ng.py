"""SAE-TM inside BERTopic vs default BERTopic and k-means, on 20 Newsgroups (18,331 posts, MiniLM).

Parts (``--part``), each writing ``benchmarks/results/bertopic_20ng_<part>.md``:

* ``assignment``: NMI with the 20 newsgroups and the largest topic's share of documents (in multiples of a
  fair share, n/K), K = 20 and 50, 3 seeds: the SAE merger with its centroid assignment and with the
  paper's sum rule, vs k-means on the raw embeddings and default BERTopic.
* ``speed``: default BERTopic (UMAP + HDBSCAN) and ``BERTopic(clustering_model=SAEAtomMerger(50))`` with
  the shipped pretrained SAE, side by side in one run, embeddings given: the stage the plugin replaces,
  the whole ``fit_transform``, and ``transform`` of 10,000 documents. Also the fit when the SAE is trained
  on the corpus itself.
* ``words``: topic-word quality at K = 20, 50, 100 (gensim c_npmi and c_v over the top-10 words, reference
  = the tokenised corpus; TD = share of unique top-10 words): emission words, c-TF-IDF words of the *same*
  clusters, default BERTopic, and k-means + c-TF-IDF, all on one vocabulary.

Usage: ``python -m benchmarks.bertopic_20ng --part assignment`` (or speed, words, all).
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

from benchmarks._machine import cpu_cores, cpu_model
from benchmarks._stock import default_bertopic, stock_topics

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = Path(__file__).resolve().parent / ".cache"


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu_model()}, {cpu_cores()} cores, no GPU; load average {load:.1f} at the end of the run"


def header(title: str, notes: list[str]) -> list[str]:
    now = datetime.datetime.now(datetime.timezone.utc)
    return [
        f"# {title}",
        "",
        f"* Date: {now:%Y-%m-%d %H:%M} UTC. Machine: {machine()}.",
        "* Data: 20 Newsgroups (`text_clean`, 18,331 non-empty posts), all-MiniLM-L6-v2 embeddings (cached).",
        *[f"* {note}" for note in notes],
        "",
    ]


def load():
    from bertopic_sae.data import default_embedding_model, embed, load_corpus

    corpus = load_corpus("20newsgroups")
    model = default_embedding_model()
    return corpus, model, embed(corpus.texts, model)


def sae_model(K, sae, model, **merger):
    from bertopic_sae import BERTopic, SAEAtomMerger

    return BERTopic(clustering_model=SAEAtomMerger(n_topics=K, sae=sae, **merger), embedding_model=model)


def part_assignment(corpus, model, E) -> list[str]:
    from bertopic import BERTopic as StockBERTopic
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score as nmi

    from bertopic_sae import load_pretrained

    sae = load_pretrained()
    y = np.array(corpus.labels)
    rows = []

    def share(labels, k):
        counts = np.bincount(labels[labels >= 0], minlength=k)
        return counts.max() / (len(labels) / k)

    for K in (20, 50):
        for seed in (0, 1, 2):
            km = KMeans(K, n_init="auto", random_state=seed).fit(E).labels_
            rows.append(("k-means on raw embeddings", K, seed, nmi(y, km), share(km, K)))
            for rule in ("centroid", "sum"):
                tm = sae_model(K, sae, model, assignment=rule, random_state=seed)
                topics = np.array(tm.fit_transform(corpus.texts, E)[0])
                rows.append((f"SAE merger, assignment={rule!r}", K, seed, nmi(y, topics), share(topics, K)))
            print(rows[-3:], flush=True)
        from umap import UMAP

        tm = StockBERTopic(
            umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=0),
            nr_topics=K + 1,
            embedding_model=model,
        )
        topics = np.array(tm.fit_transform(corpus.texts, E)[0])
        outliers = (topics == -1).mean()
        rows.append(
            (
                f"default BERTopic (outliers {outliers:.0%} as one cluster)",
                K,
                0,
                nmi(y, topics),
                share(topics, K),
            )
        )
    lines = header(
        "Document assignment: NMI and topic balance",
        [
            "SAE merger: `BERTopic(clustering_model=SAEAtomMerger(K, random_state=seed))` with the shipped "
            "pretrained SAE.",
            "Max share = documents in the largest topic / (documents / K); 1.0 is perfectly even.",
        ],
    )
    lines += ["| model | K | NMI (mean ± sd over seeds) | max share (mean) |", "|---|---|---|---|"]
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["model", "K", "seed", "nmi", "share"])
    for (name, K), group in frame.groupby(["model", "K"], sort=False):
        sd = f" ± {group.nmi.std():.3f}" if len(group) > 1 else ""
        lines.append(f"| {name} | {K} | {group.nmi.mean():.3f}{sd} | {group.share.mean():.2f} |")
    return lines


def part_speed(corpus, model, E) -> list[str]:
    from bertopic import BERTopic as StockBERTopic

    from bertopic_sae import SAEConfig, TrainConfig, load_pretrained, train_sae

    docs = corpus.texts
    new_docs, new_E = docs[:10_000], E[:10_000]
    results = {}

    def timed_stage(topic_model):
        stage = {"t": 0.0}
        for name in ("_reduce_dimensionality", "_cluster_embeddings"):
            original = getattr(topic_model, name)

            def wrapper(*args, _original=original, **kwargs):
                started = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    stage["t"] += time.perf_counter() - started

            setattr(topic_model, name, wrapper)
        return stage

    for round_ in range(2):  # two alternating rounds; the second (warm caches, JIT compiled) is reported
        default = StockBERTopic(embedding_model=model)
        stage = timed_stage(default)
        started = time.perf_counter()
        default.fit_transform(docs, E)
        default_fit = time.perf_counter() - started
        started = time.perf_counter()
        default.transform(new_docs, new_E)
        default_transform = time.perf_counter() - started

        sae = load_pretrained()
        ours = sae_model(50, sae, model)
        started = time.perf_counter()
        ours.fit_transform(docs, E)
        ours_fit = time.perf_counter() - started
        timings = ours.hdbscan_model.timings_
        started = time.perf_counter()
        ours.transform(new_docs, new_E)
        ours_transform = time.perf_counter() - started
        results[round_] = dict(
            default_stage=stage["t"],
            default_fit=default_fit,
            default_transform=default_transform,
            ours_stage=timings["encode"] + timings["merge"],
            ours_emission=timings["emission"],
            ours_fit=ours_fit,
            ours_transform=ours_transform,
            n_default_topics=len(default.get_topic_info()),
        )
        print(round_, results[round_], flush=True)

    started = time.perf_counter()
    trained = train_sae(E, SAEConfig(d_in=384, d_sae=1536, l1_coefficient=0.25), TrainConfig(verbose=False))
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    sae_model(50, trained.sae, model).fit_transform(docs, E)
    in_domain_fit = time.perf_counter() - started

    r = results[1]
    lines = header(
        "Speed: SAE-TM in BERTopic vs default BERTopic, side by side",
        [
            "Embeddings given to both. Two alternating rounds in one process; the second is reported (the "
            "first pays "
            f"numba JIT and file caches). Default BERTopic found {r['n_default_topics'] - 1} topics + "
            "outliers; ours: 50.",
            "Ours: `BERTopic(clustering_model=SAEAtomMerger(n_topics=50))` with the shipped pretrained SAE "
            "(1,536 atoms) and MiniLM word vectors (cached on disk after the first fit).",
        ],
    )
    lines += [
        "| measurement | default BERTopic (s) | bertopic-sae (s) | speed-up |",
        "|---|---|---|---|",
        f"| replaced stage: UMAP + HDBSCAN vs SAE encoding + merge | {r['default_stage']:.2f} | "
        f"{r['ours_stage']:.2f} | "
        f"{r['default_stage'] / r['ours_stage']:.0f}× |",
        f"| whole `fit_transform` (vectorising and topic words included) | {r['default_fit']:.2f} | "
        f"{r['ours_fit']:.2f} | "
        f"{r['default_fit'] / r['ours_fit']:.1f}× |",
        f"| `transform` of 10,000 documents | {r['default_transform']:.2f} | {r['ours_transform']:.3f} | "
        f"{r['default_transform'] / r['ours_transform']:.0f}× |",
        "",
        f"* Of our fit, the emission model (stage 2, replacing c-TF-IDF) took {r['ours_emission']:.2f} s.",
        f"* First round (cold): default fit {results[0]['default_fit']:.1f} s, ours "
        f"{results[0]['ours_fit']:.1f} s.",
        "* SAE trained on the corpus itself (1,536 atoms, λ 0.25, 3,000 steps of 1,000): training "
        f"{train_seconds:.0f} s "
        f"(L0 {trained.l0:.1f}, FVU {trained.fvu:.2f}, {trained.dead} dead atoms), then fit_transform "
        f"{in_domain_fit:.1f} s.",
    ]
    return lines


def part_words(corpus, model, E) -> list[str]:
    from bertopic.vectorizers import ClassTfidfTransformer
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import CountVectorizer

    from bertopic_sae import load_pretrained

    sae = load_pretrained()
    docs = [d.replace("\n", " ").replace("\t", " ") for d in corpus.texts]
    probe = sae_model(20, sae, model)
    probe.fit_transform(corpus.texts, E)
    vectorizer = probe.vectorizer_model
    vocab = list(vectorizer.get_feature_names_out())
    analyzer, known = vectorizer.build_analyzer(), set(vocab)
    tokens = [[w for w in analyzer(d) if w in known] for d in docs]
    dictionary = Dictionary(tokens)

    def shared_vectorizer():
        return CountVectorizer(vocabulary=vocab, stop_words="english", token_pattern=r"(?u)\b[a-zA-Z]{3,}\b")

    def score(topics):
        # BERTopic pads short topics with "" words; gensim needs words it knows.
        topics = [[w for w in t if w in dictionary.token2id] for t in topics]
        topics = [t for t in topics if len(t) >= 2]
        npmi = CoherenceModel(
            topics=topics, texts=tokens, dictionary=dictionary, coherence="c_npmi", topn=10, processes=1
        ).get_coherence()
        cv = CoherenceModel(
            topics=topics, texts=tokens, dictionary=dictionary, coherence="c_v", topn=10, processes=1
        ).get_coherence()
        words = [w for t in topics for w in t[:10]]
        return npmi, cv, len(set(words)) / len(words)

    def words_of(topic_model, k):
        return [[w for w, _ in topic_model.get_topic(t)][:10] for t in range(k)]

    def ctfidf_words(labels, k):
        counts = shared_vectorizer().fit_transform(docs)
        import scipy.sparse as sp

        per_topic = (
            sp.csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(k, len(labels)))
            @ counts
        )
        weights = ClassTfidfTransformer().fit(per_topic).transform(per_topic).toarray()
        return [[vocab[i] for i in np.argsort(-row)[:10]] for row in weights]

    default = default_bertopic(docs, E, model, vocab, seed=0)
    rows = []
    for K in (20, 50, 100):
        started = time.perf_counter()
        ours = sae_model(K, sae, model)
        labels = np.array(ours.fit_transform(corpus.texts, E)[0])
        fit = time.perf_counter() - started
        rows.append(("SAE-TM: emission words (ours)", K, *score(words_of(ours, K)), fit))
        rows.append(
            ("c-TF-IDF words of the same SAE clusters", K, *score(ctfidf_words(labels, K)), float("nan"))
        )
        rows.append(
            (
                "default BERTopic (UMAP + HDBSCAN, reduced to K)",
                K,
                *score(stock_topics(default, docs, K, dictionary.token2id)[1]),
                float("nan"),
            )
        )
        km = KMeans(K, n_init="auto", random_state=0).fit(E).labels_
        rows.append(("k-means(K) on raw embeddings + c-TF-IDF", K, *score(ctfidf_words(km, K)), float("nan")))
        print(rows[-4:], flush=True)
    lines = header(
        "Topic words: emission vs c-TF-IDF, default BERTopic and k-means",
        [
            f"One vocabulary for all: the SAE model's default vectorizer ({len(vocab):,} words; English stop "
            "words, "
            "alphabetic tokens of 3+ letters, min_df 5, top 5,000). Reference corpus = every post's tokens "
            "in it.",
            "gensim `CoherenceModel` c_npmi and c_v, top 10 words, processes=1; TD = unique share of all "
            "top-10 words.",
            "SAE-TM uses the shipped pretrained SAE; default BERTopic is fitted once (UMAP random_state 0) "
            "and reduced "
            "to K topics + outliers with `reduce_topics`.",
        ],
    )
    lines += ["| model | K | NPMI | C_V | TD | fit s |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {m} | {K} | {a:.3f} | {b:.3f} | {c:.2f} | {'' if np.isnan(f) else f'{f:.1f}'} |"
        for m, K, a, b, c, f in rows
    ]
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["assignment", "speed", "words", "all"], default="all")
    args = parser.parse_args(argv)
    corpus, model, E = load()
    parts = ["assignment", "speed", "words"] if args.part == "all" else [args.part]
    RESULTS.mkdir(parents=True, exist_ok=True)
    for part in parts:
        lines = globals()[f"part_{part}"](corpus, model, E)
        out = RESULTS / f"bertopic_20ng_{part}.md"
        out.write_text("\n".join(lines) + "\n")
        print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
