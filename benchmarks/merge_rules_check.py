"""Candidate merge starts on one fitted model per corpus: the k-means objective they reach and their words.

Ran once at commit 549f955 (while the package's start was Ward); its printed lines are kept in
``benchmarks/results/merge_rules_check.log``. Per corpus (2,000 documents as in ``benchmarks/stability.py``,
K = 20), one ``bertopic_sae.BERTopic`` fit, then the θ̄-weighted k-means over the same atom vectors started
four ways: ``ward`` (Ward centroids of all atoms), ``best of fixed 20`` (lowest inertia of k-means++ seeds
0-19), ``ward heaviest 25%`` and ``consensus 30 (avg link)`` (co-association of k-means++ seeds 0-29,
average linkage, then k-means: what became ``merge_init="consensus"``); the words of each merge are scored
as in ``benchmarks/merge_stability.py`` (the merger's k-means is swapped for the given labels). Also printed:
the inertia of single k-means++ runs (seeds 0-4), 0.1.0's rule.

Usage: ``python benchmarks/merge_rules_check.py reuters health_news_tweets``
"""
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
import numpy as np
import scipy.sparse as sp
from gensim.corpora import Dictionary
from sklearn.cluster import AgglomerativeClustering, KMeans

import bertopic_sae.components.merger as merger_mod
from benchmarks.merge_stability import coherence, fit
from benchmarks.stability import load_texts
from bertopic_sae import load_pretrained
from bertopic_sae.data import default_embedding_model, embed


def inertia(points, w, labels):
    """θ̄-weighted k-means objective of a labelling."""
    total = 0.0
    for c in np.unique(labels):
        m = labels == c
        mu = np.average(points[m], axis=0, weights=w[m])
        total += float((w[m] * ((points[m] - mu) ** 2).sum(1)).sum())
    return total


def centroids(points, w, labels, k):
    return np.vstack([np.average(points[labels == c], axis=0, weights=w[labels == c]) for c in range(k)])


def ward_centroids(points, w, k):
    """Weighted means of a Ward clustering (the start this package used at commit 549f955)."""
    groups = AgglomerativeClustering(k, linkage="ward").fit_predict(points)
    return centroids(points, w, groups, k)


def km_from(points, w, k, init):
    return KMeans(k, init=init, n_init=1).fit(points, sample_weight=w).labels_


def rules(points, w, k):
    """Labels of the active atoms under each candidate start."""
    out = {"ward": km_from(points, w, k, ward_centroids(points, w, k))}
    runs = [KMeans(k, n_init=1, random_state=s).fit(points, sample_weight=w) for s in range(30)]
    out["best of fixed 20"] = min(runs[:20], key=lambda m: m.inertia_).labels_
    heavy = np.argsort(-w, kind="stable")[: max(4 * k, len(w) // 4)]
    groups = AgglomerativeClustering(k, linkage="ward").fit_predict(points[heavy])
    out["ward heaviest 25%"] = km_from(points, w, k, centroids(points[heavy], w[heavy], groups, k))
    rows = np.arange(len(w))
    ones = np.ones(len(w))
    together = sp.hstack([sp.csr_matrix((ones, (rows, r.labels_)), shape=(len(w), k)) for r in runs])
    share = np.asarray((together.tocsr() @ together.T).todense()) / len(runs)
    groups = AgglomerativeClustering(k, metric="precomputed", linkage="average").fit_predict(1 - share)
    out["consensus 30 (avg link)"] = km_from(points, w, k, centroids(points, w, groups, k))
    return out


def main() -> None:
    embedding_model, sae = default_embedding_model(device="cpu"), load_pretrained()
    for name in sys.argv[1:]:
        texts = load_texts(name, 2000)
        E = embed(texts, embedding_model, show_progress_bar=False)
        model = fit(texts, E, embedding_model, sae, 20, "k-means++ x 1")
        merger = model.hdbscan_model
        analyzer = model.vectorizer_model.build_analyzer()
        known = set(model.vectorizer_model.get_feature_names_out())
        tokens = [[w for w in analyzer(d) if w in known] for d in texts]
        dictionary = Dictionary(tokens)
        active = np.flatnonzero(merger.atom_weights_ > 0)
        P, W = merger._atom_vectors[active], merger.atom_weights_[active]
        started = time.time()
        candidates = rules(P, W, 20)
        print("rules", time.time() - started, flush=True)
        single = [KMeans(20, n_init=1, random_state=s).fit(P, sample_weight=W).inertia_ for s in range(5)]
        print(name, "k-means++ x1 inertia over 5 seeds", np.round(single, 4), flush=True)
        original = merger_mod.kmeans_atoms
        for rule, labels in candidates.items():
            atom_topic = np.full(merger.atom_weights_.shape[0], -1)
            atom_topic[active] = labels
            merger_mod.kmeans_atoms = lambda *a, _at=atom_topic, **k: _at  # the merge under test
            model.set_n_topics(texts, 20, embeddings=E)
            topics = [[w for w, _ in model.get_topic(t)][:10] for t in range(20)]
            npmi, cv, td = coherence([[w for w in t if w in known] for t in topics], tokens, dictionary)
            sizes = np.bincount(merger.labels_, minlength=20)
            print(f"{name} | {rule} | inertia {inertia(P, W, labels):.4f} | NPMI {npmi:.3f} C_V {cv:.3f} "
                  f"TD {td:.3f} | largest topic {sizes.max()} smallest {sizes.min()}", flush=True)
        merger_mod.kmeans_atoms = original


if __name__ == "__main__":
    main()
