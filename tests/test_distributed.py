"""The data-parallel SAE-TM fit: 2 processes (torch.distributed, gloo on CPU) give the topics of 1 process.

Real parts: 2,000 Trump tweets, WordLlama embeddings, the shipped wordllama-256 SAE, gloo over a file store.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

N_DOCS, N_TOPICS = 2000, 10


def _data():
    from bertopic_sae import WordLlamaEmbedder
    from bertopic_sae.data import read_texts

    texts = read_texts("trump_tweets", limit=N_DOCS)
    return texts, WordLlamaEmbedder().embed(texts)


def _fit(texts, embeddings, reducer=None, **options):
    from bertopic_sae.sae.pretrained import load_pretrained
    from bertopic_sae.tm.distributed import fit_sae_tm_distributed

    return fit_sae_tm_distributed(texts, embeddings, load_pretrained("wordllama-256"), n_topics=N_TOPICS,
                                  reducer=reducer, random_state=0, **options)


def _rank_main(rank: int, world: int, store: str, out: str) -> None:
    import torch.distributed as dist

    from bertopic_sae.tm.distributed import TorchReducer, rank_rows

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        texts, embeddings = _data()
        rows = rank_rows(len(texts), rank, world)
        fit = _fit(texts[rows], embeddings[rows], TorchReducer())  # this rank reads only its rows
        np.savez(f"{out}-{rank}.npz", labels=fit.labels, probabilities=fit.probabilities,
                 emission=fit.emission.emission_, atom_topic=fit.atom_topic, centroids=fit.centroids,
                 words=np.array(fit.vectorizer.get_feature_names_out(), dtype=str),
                 topic_words=np.array(fit.topic_words, dtype=str), counts_nnz=fit.counts.nnz)
    finally:
        dist.destroy_process_group()


def test_two_processes_give_the_topics_of_one(tmp_path, monkeypatch):
    import torch.multiprocessing as mp

    for name in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS"):  # one thread per rank
        monkeypatch.setenv(name, "1")
    out = str(tmp_path / "rank")
    mp.spawn(_rank_main, args=(2, str(tmp_path / "store"), out), nprocs=2, join=True)
    ranks = [np.load(f"{out}-{r}.npz") for r in range(2)]

    texts, embeddings = _data()
    single = _fit(texts, embeddings)

    words = single.vectorizer.get_feature_names_out()
    for part in ranks:  # every rank holds the same shared state as the single process
        assert list(part["words"]) == list(words)
        np.testing.assert_allclose(part["emission"], single.emission.emission_, rtol=1e-4, atol=1e-7)
        np.testing.assert_array_equal(part["atom_topic"], single.atom_topic)
        np.testing.assert_allclose(part["centroids"], single.centroids, atol=1e-5)
        assert part["topic_words"].tolist() == single.topic_words
    labels = np.concatenate([p["labels"] for p in ranks])
    np.testing.assert_array_equal(labels, single.labels)
    merged = np.vstack([p["probabilities"] for p in ranks])
    np.testing.assert_allclose(merged, single.probabilities, atol=1e-6)
    assert sum(int(p["counts_nnz"]) for p in ranks) == single.counts.nnz
    assert len(set(single.labels.tolist())) == N_TOPICS


def test_shared_vocabulary_matches_scikit_learn():
    """One process: the vocabulary rule is CountVectorizer's own (min_df, max_features by total count)."""
    from bertopic_sae.data import read_texts
    from bertopic_sae.tm.distributed import Reducer, shared_vocabulary
    from bertopic_sae.tm.vocabulary import default_vectorizer

    texts = read_texts("trump_tweets", limit=N_DOCS)
    reference = default_vectorizer(max_features=800)
    expected = reference.fit_transform(texts)
    vectorizer, counts = shared_vocabulary(texts, default_vectorizer(max_features=800), Reducer(), len(texts))
    assert list(vectorizer.get_feature_names_out()) == list(reference.get_feature_names_out())
    assert (counts != expected).nnz == 0
    np.testing.assert_array_equal(vectorizer.transform(texts[:50]).toarray(), expected[:50].toarray())


def test_one_process_matches_the_emission_model():
    """With identity reductions the distributed EM is the plain EmissionModel fit (within float tolerance)."""
    from sklearn.preprocessing import normalize

    from bertopic_sae import EmissionModel
    from bertopic_sae.sae.pretrained import load_pretrained
    from bertopic_sae.tm.distributed import DistributedEmissionModel, Reducer, shared_vocabulary
    from bertopic_sae.tm.vocabulary import default_vectorizer

    texts, embeddings = _data()
    theta = normalize(load_pretrained("wordllama-256").encode_csr(embeddings, float16_grid=True), norm="l1")
    _, counts = shared_vocabulary(texts, default_vectorizer(min_df="auto"), Reducer(), len(texts))
    plain = EmissionModel().fit(theta, counts)
    reduced = DistributedEmissionModel(Reducer(), len(texts)).fit(theta, counts)
    np.testing.assert_allclose(reduced.emission_, plain.emission_, rtol=1e-3, atol=1e-6)
    assert abs(reduced.objective_ - plain.objective_) < 1e-6 * abs(plain.objective_)


def test_one_process_document_k_means_start():
    """centroid_init="documents": seeded topics, every document at its nearest centroid, atoms joined."""
    texts, embeddings = _data()
    fit = _fit(texts, embeddings, centroid_init="documents")
    assert len(set(fit.labels.tolist())) == N_TOPICS and fit.centroids.shape[0] == N_TOPICS
    fired = fit.atom_weights > 0
    assert (fit.atom_topic[fired] >= 0).all()
    np.testing.assert_array_equal(_fit(texts, embeddings, centroid_init="documents").labels, fit.labels)
    with pytest.raises(ValueError, match="centroid_init"):
        _fit(texts, embeddings, centroid_init="random")
