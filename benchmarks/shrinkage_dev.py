"""Hierarchical shrinkage of topic words (issue 18, item 3): small topics borrow their parent's words.

A topic's words are the default document reading ``p̂_c`` (``EmissionModel.document_topic_word``)
shrunk towards a parent with the weight of ``τ`` tokens: ``p_c = (n_c p̂_c + τ p_parent) / (n_c + τ)``,
``n_c`` = the tokens of the topic's documents (``EmissionTopicWords(parent_prior=τ, parent=...)``).
Parents: ``tree`` (an average-linkage tree of the topics, each node shrunk towards its own parent) or
``atoms`` (the atom average of the topic's atoms). This script fits ``BERTopic(clustering_model=
SAEAtomMerger(K))`` once per corpus and seed, re-merges to every K (``set_n_topics``), and scores on the
*same* clusters the current default reading, c-TF-IDF and every shrinkage variant (gensim c_npmi / c_v
over the top 10 words against the corpus's own tokens, TD = unique share of the top words; the harness of
``benchmarks/word_ranking.py``).

Seeds: the default merge (consensus start) does not depend on the merger's seed, so a seed here is a
document subsample: seed 0 = every document, seed s > 0 = a random 90% of them (``default_rng(s)``); the
spread over seeds is how much a cell moves when the corpus does.

**Adoption rule, fixed before any number was seen** (2026-12-01 15:20 UTC). Dev cells = 4 development
corpora × K 20/50/100/200; Δ = candidate − default, paired by seed, mean over seeds; spread = std over
seeds of the default's NPMI in that cell (at least 0.005). A shrinkage candidate (parent × τ, documents
counted fully) is *admissible* if (a) no cell has Δ NPMI < −spread, (b) TD ≥ 0.8 in every cell where the
default has TD ≥ 0.8, (c) mean C_V over the cells is not below the default's. The admissible candidate
with the highest mean Δ NPMI over the 16 cells becomes the default if that mean is > 0. For short
documents (headlines, tweets: 8 cells) the same rule picks among every candidate (also those combined with
``weight_documents`` or without IDF weights); it is adopted as a separate short-text reading only if it is
not the long-text choice and beats it by more than 0.005 mean NPMI on those 8 cells. ``weight_documents``
alone is a reference row, not a candidate: issue 4 adopted it for short texts and dropped it after the
test corpora (DBLP, 20NG, BBC lost), so choosing it again here would be choosing on those corpora.

Usage: ``python -m benchmarks.shrinkage_dev`` (development corpora, writes
``results/shrinkage_dev.{csv,md}``); ``python -m benchmarks.shrinkage_dev --corpora bbc_news 20newsgroups
--ks 100 200 --seeds 0 --variants default c-TF-IDF "tree τ=1000" --out shrinkage_test`` measures a choice
once on the benchmark corpora.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import scipy.sparse as sp

from benchmarks._machine import cpu_cores, cpu_model

RESULTS = Path(__file__).resolve().parent / "results"
DEV_CORPORA = ("reuters", "health_news_tweets", "trump_tweets", "imdb")
SHORT = ("health_news_tweets", "trump_tweets")
DEFAULT, CTFIDF = "default", "c-TF-IDF, same clusters"
TAUS = (100, 300, 1000, 3000, 10000)


def git_commit() -> str:
    """Short commit of the checkout (with ``+dirty`` when files differ from it)."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def load_dev(name: str):
    """(texts, embeddings, model): Reuters' first 2,225 documents of >= 5 words (a small corpus, the
    size of BBC; word_ranking's 2,225 slice), 8,000 random headlines of >= 4 words (as in word_ranking),
    8,000 random Trump tweets of >= 4 words, the first 2,000 IMDB reviews; the benchmark corpora as
    word_ranking loads them."""
    from benchmarks.word_ranking import load
    from bertopic_sae.data import default_embedding_model, embed, load_corpus

    if name not in ("reuters", "trump_tweets", "imdb"):
        return load(name)
    texts = load_corpus(name).texts
    if name == "reuters":
        texts = [t for t in texts if len(t.split()) >= 5][:2225]
    elif name == "trump_tweets":
        texts = [t for t in texts if len(t.split()) >= 4]
        texts = [texts[i] for i in np.sort(np.random.default_rng(0).choice(len(texts), 8000, replace=False))]
    else:
        texts = texts[:2000]
    model = default_embedding_model()
    return texts, embed(texts, model, show_progress_bar=False), model


def readings(topic_model, only: list[str] | None) -> dict[str, np.ndarray]:
    """Topic-word rows (K, V) of every variant on the merger's raw topic ids."""
    from bertopic.vectorizers import ClassTfidfTransformer

    merger = topic_model.hdbscan_model
    emission, labels, K = merger.emission_model_, np.asarray(merger.labels_), merger.n_topics_
    counts = merger.counts_

    def read(**options):
        return emission.document_topic_word(merger.codes_, counts, merger.atom_topic_, labels, K, **options)

    out = {DEFAULT: read()}
    for tau in TAUS:
        out[f"tree τ={tau}"] = read(parent_prior=tau)
    for tau in TAUS[1:4]:
        out[f"atoms τ={tau}"] = read(parent_prior=tau, parent="atoms")
    out["weight_documents"] = read(weight_documents=True)
    out["no IDF"] = read(idf_weighted=False)
    out["no IDF + atoms τ=1000"] = read(idf_weighted=False, parent_prior=1000, parent="atoms")
    for tau in (300, 3000):
        out[f"weight_documents + tree τ={tau}"] = read(weight_documents=True, parent_prior=tau)
        out[f"no IDF + tree τ={tau}"] = read(idf_weighted=False, parent_prior=tau)
    members = sp.csr_matrix((np.ones(labels.size), (labels, np.arange(labels.size))), shape=(K, labels.size))
    per_topic = members @ counts
    out[CTFIDF] = ClassTfidfTransformer().fit(per_topic).transform(per_topic).toarray()
    if only:
        out = {name: table for name, table in out.items() if any(part == name for part in only)}
    return out


def score(tables: dict[str, list[list[str]]], tokens, dictionary) -> dict[str, tuple[float, float, float]]:
    """(NPMI, C_V, TD) of each variant; all variants' topics are scored in one gensim pass per measure
    (a topic's score depends only on its own words and the reference texts)."""
    from gensim.models.coherencemodel import CoherenceModel

    pooled = [topic for topics in tables.values() for topic in topics]
    per_topic = {}
    for measure in ("c_npmi", "c_v"):
        model = CoherenceModel(topics=pooled, texts=tokens, dictionary=dictionary, coherence=measure, topn=10,
                               processes=1)
        per_topic[measure] = np.asarray(model.get_coherence_per_topic())
    out, start = {}, 0
    for name, topics in tables.items():
        stop = start + len(topics)
        words = [w for t in topics for w in t]
        npmi, cv = (float(np.mean(per_topic[m][start:stop])) for m in ("c_npmi", "c_v"))
        out[name] = (npmi, cv, len(set(words)) / len(words))
        start = stop
    return out


def subsample(n: int, seed: int) -> np.ndarray:
    """Seed 0: every document; seed s: a sorted random 90% of them."""
    if seed == 0:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, int(0.9 * n), replace=False))


def run(corpus: str, ks: list[int], seeds: list[int], only: list[str] | None) -> list[dict]:
    from gensim.corpora import Dictionary

    from bertopic_sae import BERTopic, SAEAtomMerger

    texts_all, E_all, model = load_dev(corpus)
    rows = []
    for seed in seeds:
        keep = subsample(len(texts_all), seed)
        texts, E = [texts_all[i] for i in keep], E_all[keep]
        started = time.perf_counter()
        tm = BERTopic(clustering_model=SAEAtomMerger(n_topics=ks[0]), embedding_model=model)
        tm.fit_transform(texts, E)
        vocab = tm.vectorizer_model.get_feature_names_out()
        analyzer, known = tm.vectorizer_model.build_analyzer(), set(vocab)
        tokens = [[w for w in analyzer(d) if w in known] for d in texts]
        dictionary = Dictionary(tokens)
        median = float(np.median([len(d.split()) for d in texts]))
        for K in ks:
            if K != ks[0]:
                tm.set_n_topics(texts, K, E)
            tables = {n: [[vocab[i] for i in np.argsort(-row)[:10]] for row in table if row.sum() > 0]
                      for n, table in readings(tm, only).items()}
            for name, (npmi, cv, td) in score(tables, tokens, dictionary).items():
                rows.append(dict(corpus=corpus, K=K, seed=seed, variant=name, npmi=npmi, cv=cv, td=td,
                                 n_docs=len(texts), median_words=median))
                print(f"{corpus} K={K} seed={seed} {name:32s} NPMI {npmi:.3f} C_V {cv:.3f} TD {td:.2f}",
                      flush=True)
            print(f"{corpus} K={K} seed={seed} done at {time.perf_counter() - started:.0f}s", flush=True)
    return rows


def cell_stats(rows: list[dict]):
    """{(corpus, K, variant): (mean npmi, cv, td, Δ npmi vs default paired by seed)} and the default's
    NPMI spread per cell."""
    by = {(r["corpus"], r["K"], r["seed"], r["variant"]): r for r in rows}
    cells = list(dict.fromkeys((r["corpus"], r["K"]) for r in rows))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    stats, spread = {}, {}
    for corpus, K in cells:
        seeds = sorted({r["seed"] for r in rows if r["corpus"] == corpus and r["K"] == K})
        base = np.array([by[(corpus, K, s, DEFAULT)]["npmi"] for s in seeds]) if DEFAULT in variants else None
        several = len(seeds) > 1
        spread[(corpus, K)] = max(float(base.std(ddof=1)) if base is not None and several else 0.0, 0.005)
        for v in variants:
            vals = np.array([[by[(corpus, K, s, v)][m] for m in ("npmi", "cv", "td")] for s in seeds])
            delta = vals[:, 0] - base if base is not None else np.full(len(seeds), np.nan)
            std = vals.std(0, ddof=1) if several else np.zeros(3)
            stats[(corpus, K, v)] = (*vals.mean(0), *std[:2], float(delta.mean()),
                                     float(delta.std(ddof=1)) if several else 0.0)
    return cells, variants, stats, spread


def choose(cells, variants, stats, spread, candidates) -> tuple[str | None, list[str]]:
    """The module docstring's adoption rule over ``cells``: the choice, and a table line per candidate."""
    base_cv = np.mean([stats[(c, K, DEFAULT)][1] for c, K in cells])
    lines, best, best_gain = [], None, 0.0
    for v in candidates:
        deltas = np.array([stats[(c, K, v)][5] for c, K in cells])
        worst = min(cells, key=lambda cell: stats[(*cell, v)][5] + spread[cell])
        a = all(stats[(c, K, v)][5] >= -spread[(c, K)] for c, K in cells)
        b = all(stats[(c, K, v)][2] >= 0.8 for c, K in cells if stats[(c, K, DEFAULT)][2] >= 0.8)
        cv = np.mean([stats[(c, K, v)][1] for c, K in cells])
        ok = a and b and cv >= base_cv
        lines.append(f"| {v} | {deltas.mean():+.4f} | {deltas.min():+.3f} ({worst[0]} K={worst[1]}) | "
                     f"{'yes' if a else 'no'} | {'yes' if b else 'no'} | {cv - base_cv:+.4f} | "
                     f"{'**admissible**' if ok else 'no'} |")
        if ok and deltas.mean() > best_gain:
            best, best_gain = v, float(deltas.mean())
    return best, lines


def write(rows: list[dict], out: str, args) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"{out}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    cells, variants, stats, spread = cell_stats(rows)
    now = datetime.datetime.now(datetime.timezone.utc)
    sizes = {r["corpus"]: (r["n_docs"], r["median_words"]) for r in rows if r["seed"] == 0}
    lines = [
        f"# Hierarchical shrinkage of topic words: {', '.join(dict.fromkeys(c for c, _ in cells))}",
        "",
        f"* Written by `python -m benchmarks.shrinkage_dev {' '.join(args.argv)}` on {now:%Y-%m-%d %H:%M} "
        f"UTC, commit {git_commit()}; {cpu_model()}, {cpu_cores()} cores, no GPU, load "
        f"{os.getloadavg()[0]:.1f}.",
        "* Corpora (documents, median words): "
        + ", ".join(f"{c} ({n:,}, {m:g})" for c, (n, m) in sizes.items())
        + "; all-MiniLM-L6-v2, shipped SAE, `SAEAtomMerger(K)` defaults (consensus merge), one fit per seed "
        "then `set_n_topics` per K.",
        f"* Seeds {', '.join(map(str, args.seeds))}: 0 = every document, s > 0 = a random 90% "
        "(the consensus merge ignores the merger seed). Mean ± std over seeds; Δ = variant − current default "
        "reading on the same clusters, paired by seed.",
        "* gensim c_npmi / c_v over the top 10 words, reference = the corpus's own tokens; "
        "TD = unique share.",
        "",
        "| corpus | K | variant | NPMI | C_V | TD | Δ NPMI |",
        "|---|---|---|---|---|---|---|",
    ]
    for c, K in cells:
        for v in variants:
            n, cv, td, sn, _, d, sd = stats[(c, K, v)]
            delta = "" if v == DEFAULT else f"{d:+.3f} ± {sd:.3f}"
            lines.append(f"| {c} | {K} | {v} | {n:.3f} ± {sn:.3f} | {cv:.3f} | {td:.2f} | {delta} |")
    if DEFAULT in variants and len(cells) > 1:
        shrink = [v for v in variants if v.startswith(("tree", "atoms"))]
        others = [v for v in variants if v not in (DEFAULT, CTFIDF, "weight_documents")]
        header = ["", "| candidate | mean Δ NPMI | worst cell Δ | (a) no cell < −spread | "
                  "(b) TD ≥ 0.8 kept | Δ mean C_V | verdict |", "|---|---|---|---|---|---|---|"]
        choice, table = choose(cells, variants, stats, spread, shrink)
        lines += ["", "## Adoption rule over every cell (module docstring)", *header, *table, "",
                  f"**Choice for every document length: {choice or 'none (the default stays)'}.**"]
        short = [cell for cell in cells if cell[0] in SHORT]
        if short and len(short) < len(cells):
            short_choice, table = choose(short, variants, stats, spread, others)
            gain = lambda v: np.mean([stats[(*cell, v)][5] for cell in short]) if v else 0.0  # noqa: E731
            adopt = short_choice not in (None, choice) and gain(short_choice) > gain(choice) + 0.005
            lines += ["", "## Short documents (headlines, tweets only)", *header, *table, "",
                      f"**Short-text choice: {short_choice or 'none'}** (mean Δ NPMI "
                      f"{gain(short_choice):+.4f} vs {gain(choice):+.4f} for the all-length choice): "
                      + ("adopted as a separate short-text reading." if adopt else "not a separate reading.")]
    (RESULTS / f"{out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", default=list(DEV_CORPORA))
    parser.add_argument("--ks", type=int, nargs="+", default=[20, 50, 100, 200])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=None, help="score only these variants (exact names)")
    parser.add_argument("--out", default="shrinkage_dev", help="results/<out>.csv and .md")
    parser.add_argument("--resume", action="store_true",
                        help="keep the rows of results/<out>.csv and skip the (corpus, seed) runs it holds")
    args = parser.parse_args(argv)
    args.argv = argv if argv is not None else __import__("sys").argv[1:]
    rows = []
    if args.resume and (RESULTS / f"{args.out}.csv").exists():
        with open(RESULTS / f"{args.out}.csv") as handle:
            rows = [{**r, "K": int(r["K"]), "seed": int(r["seed"]), "n_docs": int(r["n_docs"]),
                     **{m: float(r[m]) for m in ("npmi", "cv", "td", "median_words")}}
                    for r in csv.DictReader(handle)]
    done = {(r["corpus"], r["seed"]) for r in rows}
    for seed in args.seeds:  # every corpus at a seed before the next seed, so a cut run covers every corpus
        for corpus in args.corpora:
            if (corpus, seed) in done:
                continue
            rows += run(corpus, args.ks, [seed], args.variants)
            write(rows, args.out, args)


if __name__ == "__main__":
    main()
