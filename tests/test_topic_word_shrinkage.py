"""Hierarchical shrinkage of topic words (``parent_prior``): the formula by hand, bad values, save/load."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from bertopic_sae import BERTopic, EmissionTopicWords, SAEAtomMerger  # noqa: E402
from bertopic_sae.tm.emission import EmissionModel  # noqa: E402
from bertopic_sae.tm.topic_words import shrink_to_parents  # noqa: E402


def normalized(row):
    row = np.asarray(row, dtype=float)
    return row / row.sum()


def test_atoms_parent_is_the_dirichlet_posterior_mean():
    rows = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 2.0], [0.0, 0.0, 0.0]])
    tokens = np.array([20.0, 5.0, 0.0])
    atoms = np.array([[0.2, 0.2, 0.6], [0.5, 0.5, 0.0], [0.1, 0.1, 0.8]])
    out = shrink_to_parents(rows, tokens, 10.0, "atoms", atom_rows=atoms)
    # Topic 0: (20 (.75, .25, 0) + 10 (.2, .2, .6)) / 30; topic 1: (5 (0, .5, .5) + 10 (.5, .5, 0)) / 15.
    np.testing.assert_allclose(out[0], [(15 + 2) / 30, (5 + 2) / 30, 6 / 30])
    np.testing.assert_allclose(out[1], [5 / 15, (2.5 + 5) / 15, 2.5 / 15])
    np.testing.assert_allclose(out[2], 0.0)  # no words, no evidence: left as it was
    np.testing.assert_allclose(shrink_to_parents(rows, tokens, 0.0, "atoms", atom_rows=atoms)[:2],
                               rows[:2] / rows[:2].sum(axis=1, keepdims=True))


def test_tree_parent_shrinks_along_the_average_linkage_tree():
    # Topics 0 and 1 share their words, topic 2 does not: the tree is ((0, 1), 2).
    rows = np.array([[4.0, 2.0, 0.0, 0.0], [3.0, 3.0, 0.0, 1.0], [0.0, 0.0, 5.0, 1.0]])
    tokens = np.array([30.0, 10.0, 50.0])
    tau = 20.0
    out = shrink_to_parents(rows, tokens, tau)
    plain = rows / rows.sum(axis=1, keepdims=True)
    root = (tokens @ plain) / tokens.sum()  # a node's words: its topics' words weighted by their tokens
    pair = (40 * (30 * plain[0] + 10 * plain[1]) / 40 + tau * root) / (40 + tau)  # node (0, 1), shrunk
    np.testing.assert_allclose(out[0], (30 * plain[0] + tau * pair) / (30 + tau))
    np.testing.assert_allclose(out[1], (10 * plain[1] + tau * pair) / (10 + tau))
    np.testing.assert_allclose(out[2], (50 * plain[2] + tau * root) / (50 + tau))
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    scaled = rows * [[2.0], [7.0], [0.5]]
    np.testing.assert_allclose(shrink_to_parents(scaled, tokens, tau), out)  # only the rows' shapes count
    # The less evidence, the closer to the parent: the small topic moves further than the large one.
    moved = np.abs(out - plain).sum(axis=1)
    assert moved[1] > moved[0]


def test_bad_values_raise_clear_errors():
    rows, tokens = np.ones((3, 4)), np.ones(3)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="parent_prior must be a finite number >= 0"):
            shrink_to_parents(rows, tokens, bad)
    with pytest.raises(ValueError, match="parent must be 'tree' or 'atoms'"):
        shrink_to_parents(rows, tokens, 1.0, "siblings")
    with pytest.raises(ValueError, match="one non-negative count per topic"):
        shrink_to_parents(rows, np.ones(2), 1.0)
    with pytest.raises(ValueError, match="needs atom_rows"):
        shrink_to_parents(rows, tokens, 1.0, "atoms")


def planted(n_docs=240, n_atoms=6, n_words=40, seed=0):
    rng = np.random.default_rng(seed)
    B = rng.dirichlet(np.full(n_words, 0.1), size=n_atoms)
    theta = np.zeros((n_docs, n_atoms))
    for row in theta:
        chosen = rng.choice(n_atoms, 2, replace=False)
        row[chosen] = rng.exponential(size=2)
    q = 0.7 * (theta / theta.sum(axis=1, keepdims=True)) @ B + 0.3 / n_words
    counts = np.stack([rng.multinomial(rng.integers(5, 40), row / row.sum()) for row in q])
    return sp.csr_matrix(theta), sp.csr_matrix(counts)


def test_document_topic_word_shrinks_with_the_topics_token_mass():
    theta, counts = planted()
    model = EmissionModel(max_iter=30).fit(theta, counts)
    atom_topic = np.array([0, 0, 1, 1, 2, 2])
    doc_topic = np.arange(240) % 3
    doc_topic[:100] = 0  # one large topic and two small ones
    plain = model.document_topic_word(theta, counts, atom_topic, doc_topic)
    atoms = model.topic_word(atom_topic, 3)
    n = np.array([counts[doc_topic == c].sum() for c in range(3)], dtype=float)
    tau = 400.0
    expected = (n[:, None] * plain + tau * atoms) / (n[:, None] + tau)
    shrunk = model.document_topic_word(theta, counts, atom_topic, doc_topic, parent_prior=tau, parent="atoms")
    np.testing.assert_allclose(shrunk, expected, rtol=1e-6)
    tree = model.document_topic_word(theta, counts, atom_topic, doc_topic, parent_prior=tau)
    np.testing.assert_allclose(tree, shrink_to_parents(plain, n, tau), rtol=1e-6)
    off = model.document_topic_word(theta, counts, atom_topic, doc_topic, parent_prior=0)
    np.testing.assert_allclose(off, plain)
    with pytest.raises(ValueError, match="parent_prior must be"):
        model.document_topic_word(theta, counts, atom_topic, doc_topic, parent_prior=-5)
    with pytest.raises(ValueError, match="parent must be"):
        model.document_topic_word(theta, counts, atom_topic, doc_topic, parent_prior=5, parent="root")


def test_option_is_used_saved_and_loaded(bbc, small_sae, embedding_model, tmp_path):
    texts, _, embeddings = bbc
    words = EmissionTopicWords(parent_prior=2000.0, parent="atoms", exclusivity=0.0)  # the plain ranking
    model = BERTopic(clustering_model=SAEAtomMerger(n_topics=6, sae=small_sae),
                     embedding_model=embedding_model, ctfidf_model=words)
    model.fit_transform(texts, embeddings)
    merger = model.hdbscan_model
    table = merger.emission_model_.document_topic_word(
        merger.codes_, merger.counts_, model._current_atom_topics(), np.asarray(model.topics_), 6,
        parent_prior=2000.0, parent="atoms")
    vocab = model.vectorizer_model.get_feature_names_out()
    for topic in range(6):
        assert [w for w, _ in model.get_topic(topic)] == [vocab[i] for i in np.argsort(-table[topic])[:10]]
    model.save(tmp_path / "model", serialization="safetensors", save_embedding_model=False)
    loaded = BERTopic.load(str(tmp_path / "model"), embedding_model=embedding_model)
    assert loaded.ctfidf_model.parent_prior == 2000.0 and loaded.ctfidf_model.parent == "atoms"
    rows = loaded.ctfidf_model.topic_rows(loaded.hdbscan_model.emission_model_, loaded._current_atom_topics(),
                                          np.arange(6), loaded._training_documents())
    np.testing.assert_allclose(rows.toarray(), model.c_tf_idf_.toarray(), rtol=1e-6, atol=1e-9)
    # A model saved before the option existed loads without shrinkage, the words it was saved with.
    config_path = tmp_path / "model" / "sae_merger.json"
    config = json.loads(config_path.read_text())
    del config["ctfidf"]["parent_prior"], config["ctfidf"]["parent"]
    config_path.write_text(json.dumps(config))
    old = BERTopic.load(str(tmp_path / "model"), embedding_model=embedding_model).ctfidf_model
    assert old.parent_prior == 0.0 and old.parent == "tree"
    with pytest.raises(ValueError, match="parent must be"):
        EmissionTopicWords(parent_prior=1.0, parent="tre").topic_rows(
            merger.emission_model_, model._current_atom_topics(), np.arange(6), model._training_documents())
