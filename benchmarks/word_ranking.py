"""How to read a topic's words off the emission model: the variants, scored side by side.

The emission matrix B is fitted with IDF-weighted counts, so ``P_c(w) = Σ_{k∈c} θ̄_k B_kw / Σ θ̄_k``
carries an IDF tilt towards rare words, and at large K a topic owns only a few atoms. This script
fits ``BERTopic(clustering_model=SAEAtomMerger(K))`` once per K and scores, for the *same* clusters,
several ways to turn the fitted emission model into topic words:

* ``atoms``: the paper's ``P_c(w)`` over the atoms merged into topic c (the previous default);
* ``atoms / idf``: the same in token units (the IDF weight of the fit divided back out);
* ``documents``: the emission of the topic's documents, ``Σ_{d∈c} Σ_k θ_dk B_kw``;
* ``documents, tokens``: the tokens of the topic's documents that the atoms (not the background)
  explain: ``Σ_{d∈c} n_dw (1-π) (θ_d B)_w / q_dw`` (the E-step's attribution, summed by topic);
* ``documents, weighted tokens``: the same with the fit's IDF weights;
* ``documents x own atoms``: only the tokens that the topic's *own* atoms explain (plain or IDF-weighted);
* ``documents x P(topic | atom)``: every atom counts for topic c with the share of its activation that
  falls in c's documents, over documents using the word ("presence"), IDF-weighted (the 2026-11-29
  default);
* ``documents x P(topic | atom) shrunk``: the same, with ``P(topic | atom)`` shrunk towards the topic's
  share of documents with the weight of 10 documents (``share_prior``), so atoms active in only a few
  documents stop counting as specific to their topic (rows 'same, share prior 3/30' vary that weight);
  over presence or tokens, IDF-weighted or not.
  With IDF-weighted presence this is the package default;
* ``same, documents weighted by P(topic | document)``: each document of the topic counts with the share
  of its activation on the topic's own atoms, so documents at a topic's border lend it fewer words
  (``weight_documents=True``; 2026-11-30 check, not the default: it helps headlines, hurts longer texts);
* ``default + background tokens at λ``: the default, plus the tokens of the topic's documents that the
  *background* explains, at weight λ (``background_tokens``; λ = 1 counts every token): generic
  but frequent words ("study", "health") come back, which NPMI rewards on short texts, at a cost in
  topic diversity (2026-11-30 check of whether short texts want another default);
* c-TF-IDF over the same clusters, for reference.

Choose on a *development* corpus (Reuters-21578 or the headlines, which no benchmark table scores),
then measure the choice on the test corpora. Writes ``benchmarks/results/word_ranking_<corpus>.md``.

Usage: ``python -m benchmarks.word_ranking --corpus reuters [--limit 2225]`` (or health_news_tweets, the
development corpus for short texts; the test corpora 20newsgroups, bbc_news, m10); ``--limit N`` keeps
the first N documents (written as ``word_ranking_<corpus>_<N>.md``).

``--seeds 0 1 2 --variants default c-TF-IDF`` fits the merger once per seed and scores only the variants
whose names contain one of those strings; the table then gives mean ± std over the seeds and, per
variant, the paired difference to c-TF-IDF on the same clusters (written as
``word_ranking_<corpus>_seeds.md``): whether a gap is larger than the spread of the clustering.
``--background-weight π`` fits the emission model with another background weight than the paper's 0.3
(file name gains ``_pi<π>``).
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
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from benchmarks._machine import cpu_cores, cpu_model
from benchmarks._stock import default_bertopic, stock_topics

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_BERTOPIC = "default BERTopic (UMAP + HDBSCAN, reduced to K if it found more)"


def load(name: str):
    """(texts, embeddings) of a corpus; Reuters keeps its first 12,000 documents of >= 5 words,
    health_news_tweets (short headlines, the development corpus for titles) 8,000 random ones of >= 4."""
    from bertopic_sae.data import default_embedding_model, embed, load_corpus

    model = default_embedding_model()
    if name == "reuters":
        texts = [t for t in load_corpus("reuters").texts if len(t.split()) >= 5][:12000]
    elif name == "health_news_tweets":
        texts = [t for t in load_corpus(name).texts if len(t.split()) >= 4]
        texts = [texts[i] for i in np.sort(np.random.default_rng(0).choice(len(texts), 8000, replace=False))]
    elif name == "20newsgroups":
        texts = list(load_corpus("20newsgroups").texts)
    else:
        from bertopic_sae.eval import load_octis_corpus

        corpus = load_octis_corpus(name)
        return corpus.texts, corpus.embeddings(), model
    return texts, embed(texts, model, show_progress_bar=False), model


def emitted_tokens(merger, counts: sp.csr_matrix, weighted: bool, own_atoms: bool = False) -> sp.csr_matrix:
    """At every non-zero (d, w) of the counts: the tokens the atoms (not the background) explain;
    with ``own_atoms`` only those explained by the atoms of the document's own topic."""
    emission = merger.emission_model_
    theta = normalize(merger.codes_, norm="l1")
    own = theta.tocoo()
    keep = merger.atom_topic_[own.col] == np.asarray(merger.labels_)[own.row]
    own = sp.csr_matrix((own.data[keep], (own.row[keep], own.col[keep])), shape=theta.shape)
    B, P0, pi = emission.emission_, emission.background_, emission.background_weight
    out = counts.astype(np.float64).tocsr(copy=True)
    for start in range(0, counts.shape[0], 2048):
        stop = min(start + 2048, counts.shape[0])
        mix = np.asarray(theta[start:stop] @ B)
        lo, hi = out.indptr[start], out.indptr[stop]
        rows = np.repeat(np.arange(stop - start), np.diff(out.indptr[start : stop + 1]))
        cols = out.indices[lo:hi]
        atom = (1 - pi) * mix[rows, cols]
        share = (1 - pi) * np.asarray(own[start:stop] @ B)[rows, cols] if own_atoms else atom
        out.data[lo:hi] *= share / (atom + pi * P0[cols])
    if weighted:
        out = out @ sp.diags(emission.idf_)
    return sp.csr_matrix(out)


def variants(topic_model, docs, only: list[str] | None = None) -> dict[str, np.ndarray]:
    """Topic-word score rows (K, V) for each variant, on the merger's raw topic ids; with ``only``,
    just the variants whose names contain one of those strings (cheap to compute; scoring is the cost)."""
    from bertopic.vectorizers import ClassTfidfTransformer

    merger = topic_model.hdbscan_model
    emission = merger.emission_model_
    K = merger.n_topics_
    labels = np.asarray(merger.labels_)
    members = sp.csr_matrix((np.ones(labels.size), (labels, np.arange(labels.size))), shape=(K, labels.size))
    counts = topic_model.vectorizer_model.transform(docs)
    theta = normalize(merger.codes_, norm="l1")
    atoms = emission.topic_word(merger.atom_topic_, K)

    def read(**options):  # the document reading with every document of a topic counted fully
        return emission.document_topic_word(merger.codes_, counts, merger.atom_topic_, labels, K,
                                            weight_documents=False, **options)

    out = {
        "atoms (paper P_c)": atoms,
        "atoms / idf": atoms / np.maximum(emission.idf_, 1e-6),
        "documents": np.asarray((members @ theta) @ emission.emission_),
        "documents, tokens": np.asarray((members @ emitted_tokens(merger, counts, False)).todense()),
        "documents, weighted tokens": np.asarray((members @ emitted_tokens(merger, counts, True)).todense()),
        "documents x own atoms, weighted tokens": np.asarray(
            (members @ emitted_tokens(merger, counts, True, own_atoms=True)).todense()),
        "documents x P(topic | atom) shrunk, weighted tokens": read(binary=False),
        "documents x P(topic | atom) shrunk, tokens": read(binary=False, idf_weighted=False),
        "documents x P(topic | atom), weighted presence": read(share_prior=0),
        "documents x P(topic | atom) shrunk, weighted presence": read(),
        "same, share prior 3 documents": read(share_prior=3),
        "same, share prior 30 documents": read(share_prior=30),
        "documents x P(topic | atom) shrunk, presence": read(idf_weighted=False),
        "documents x own atoms, tokens": np.asarray(
            (members @ emitted_tokens(merger, counts, False, own_atoms=True)).todense()),
        "same, documents weighted by P(topic | document)": emission.document_topic_word(
            merger.codes_, counts, merger.atom_topic_, labels, K, weight_documents=True),
    }
    for level in (0.25, 0.5, 1.0):
        out[f"default + background tokens at {level}"] = emission.document_topic_word(
            merger.codes_, counts, merger.atom_topic_, labels, K, background_tokens=level)
    per_topic = members @ counts
    out["c-TF-IDF, same clusters"] = ClassTfidfTransformer().fit(per_topic).transform(per_topic).toarray()
    if only:
        out = {name: table for name, table in out.items() if any(part in name for part in only)}
    return out


def main(argv=None) -> None:
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    from bertopic_sae import BERTopic, SAEAtomMerger

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="reuters")
    parser.add_argument("--ks", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--limit", type=int, default=None, help="only the first N documents")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42], help="merger random_state(s)")
    parser.add_argument("--variants", nargs="+", default=None,
                        help="score only variants whose names contain one of these strings")
    parser.add_argument("--background-weight", type=float, default=0.3, help="π of the emission fit")
    parser.add_argument("--default-bertopic", action="store_true",
                        help="also score default BERTopic (UMAP + HDBSCAN, reduced to K); seeded")
    args = parser.parse_args(argv)
    texts, E, model = load(args.corpus)
    texts, E = texts[: args.limit], E[: args.limit]
    name = args.corpus if args.limit is None else f"{args.corpus}_{args.limit}"
    if args.background_weight != 0.3:
        name += f"_pi{args.background_weight:g}"
    rows = []
    reference = None
    stock: dict[int, object] = {}
    found: dict[int, int] = {}  # topics default BERTopic's HDBSCAN found, per seed
    for K in args.ks:
        for seed in args.seeds:
            started = time.perf_counter()
            merger = SAEAtomMerger(n_topics=K, random_state=seed, background_weight=args.background_weight)
            tm = BERTopic(clustering_model=merger, embedding_model=model)
            tm.fit_transform(texts, E)
            fit = time.perf_counter() - started
            vocab = tm.vectorizer_model.get_feature_names_out()
            if reference is None:
                analyzer, known = tm.vectorizer_model.build_analyzer(), set(vocab)
                tokens = [[w for w in analyzer(d) if w in known] for d in texts]
                reference = (tokens, Dictionary(tokens))
            tokens, dictionary = reference
            tables = {n: [[vocab[i] for i in np.argsort(-row)[:10]] for row in table if row.sum() > 0]
                      for n, table in variants(tm, texts, args.variants).items()}
            if args.default_bertopic:
                if seed not in stock:
                    stock[seed] = default_bertopic(texts, E, model, vocab, seed)
                ids = dictionary.token2id
                found[seed], tables[DEFAULT_BERTOPIC] = stock_topics(stock[seed], texts, K, ids)
            for variant, topics in tables.items():
                npmi = CoherenceModel(
                    topics=topics,
                    texts=tokens,
                    dictionary=dictionary,
                    coherence="c_npmi",
                    topn=10,
                    processes=1,
                ).get_coherence()
                cv = CoherenceModel(
                    topics=topics, texts=tokens, dictionary=dictionary, coherence="c_v", topn=10, processes=1
                ).get_coherence()
                words = [w for t in topics for w in t]
                rows.append((variant, K, seed, npmi, cv, len(set(words)) / len(words)))
                print(
                    f"K={K} seed={seed} {variant:32s} NPMI {npmi:.3f} C_V {cv:.3f} TD {rows[-1][-1]:.2f}",
                    flush=True,
                )
            print(f"K={K} seed={seed} fit {fit:.1f}s", flush=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    load1 = os.getloadavg()[0]
    lines = [
        f"# Topic-word variants on {name} (same clusters, shipped SAE)",
        "",
        f"* Date: {now:%Y-%m-%d %H:%M} UTC. Machine: {cpu_model()}, {cpu_cores()} cores, no GPU; "
        f"load {load1:.1f}.",
        f"* {len(texts):,} documents, all-MiniLM-L6-v2 embeddings; "
        "`BERTopic(clustering_model=SAEAtomMerger(K))`"
        f", background weight π = {args.background_weight:g}.",
        "* gensim c_npmi / c_v over the top-10 words, reference = the corpus's own tokens; "
        "TD = unique share.",
    ]
    if found:
        lines.append(
            "* Default BERTopic: same vocabulary, UMAP random_state = the seed; HDBSCAN found "
            + ", ".join(f"{n} topics (seed {seed})" for seed, n in found.items())
            + "; reduced to K with `reduce_topics` where it found more, else scored as found."
        )
    if len(args.seeds) == 1:
        lines += ["", "| variant | K | NPMI | C_V | TD |", "|---|---|---|---|---|"]
        lines += [f"| {n} | {K} | {a:.3f} | {b:.3f} | {c:.2f} |" for n, K, _, a, b, c in rows]
        out = RESULTS / f"word_ranking_{name}.md"
    else:
        lines += seed_table(rows, args.seeds)
        out = RESULTS / f"word_ranking_{name}_seeds.md"
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def seed_table(rows: list[tuple], seeds: list[int]) -> list[str]:
    """Mean ± std over the merger seeds, and each variant's paired difference to c-TF-IDF on the
    same clusters (same K, same seed): the gap, and whether it exceeds the seed spread."""
    reference = "c-TF-IDF, same clusters"
    by = {(n, K, seed): (a, b, c) for n, K, seed, a, b, c in rows}
    lines = [
        f"* Merger random_state {', '.join(map(str, seeds))}: mean ± std over the seeds; "
        "Δ = variant − c-TF-IDF on the same clusters, paired by seed "
        "(none for default BERTopic: other clusters).",
        "",
        "| variant | K | NPMI | C_V | TD | Δ NPMI | Δ C_V |",
        "|---|---|---|---|---|---|---|",
    ]
    names = list(dict.fromkeys(n for n, *_ in rows))
    for K in dict.fromkeys(K for _, K, *_ in rows):
        for n in names:
            values = np.array([by[(n, K, seed)] for seed in seeds])
            mean, std = values.mean(0), values.std(0, ddof=1)
            cells = [f"{m:.3f} ± {s:.3f}" for m, s in zip(mean[:2], std[:2], strict=True)]
            cells += [f"{mean[2]:.2f}"]
            if n not in (reference, DEFAULT_BERTOPIC) and all((reference, K, seed) in by for seed in seeds):
                delta = values[:, :2] - np.array([by[(reference, K, seed)][:2] for seed in seeds])
                spread = zip(delta.mean(0), delta.std(0, ddof=1), strict=True)
                cells += [f"{m:+.3f} ± {s:.3f}" for m, s in spread]
            else:
                cells += ["", ""]
            lines.append(f"| {n} | {K} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
