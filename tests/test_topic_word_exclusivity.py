"""Exclusive topic words (``exclusivity``): the formula by hand, bad values, BERTopic's ranking, save/load."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bertopic_sae import BERTopic, EmissionTopicWords, SAEAtomMerger  # noqa: E402
from bertopic_sae.tm.topic_words import exclusive_scores  # noqa: E402


def test_a_word_keeps_its_weight_only_in_the_topic_using_it_most():
    rows = np.array([[0.4, 0.4, 0.2, 0.0], [0.1, 0.5, 0.0, 0.4], [0.0, 0.0, 0.0, 0.0]])
    out = exclusive_scores(rows, 2.0)
    # word 1: topic 1 uses it most; topic 0 uses it 0.8 times as much: weight 0.4 * 0.8^2. Word 0: the
    # other way round, 0.1 * (1/4)^2. Then each row is rescaled to its old sum.
    row0 = np.array([0.4, 0.4 * 0.8**2, 0.2, 0.0])
    row1 = np.array([0.1 / 16, 0.5, 0.0, 0.4])
    np.testing.assert_allclose(out[0], row0 / row0.sum())
    np.testing.assert_allclose(out[1], row1 / row1.sum())
    np.testing.assert_allclose(out[2], 0.0)  # an empty topic stays empty (no division by zero)
    np.testing.assert_array_equal(exclusive_scores(rows, 0.0), rows)
    # The shared word 1 stays topic 1's top word and falls behind word 0 in topic 0.
    assert np.argsort(-out[0])[:2].tolist() == [0, 1] and np.argmax(out[1]) == 1
    np.testing.assert_allclose(exclusive_scores(rows * 3, 2.0), out * 3)


def test_a_larger_exclusivity_makes_the_top_words_more_distinct():
    rng = np.random.default_rng(0)
    rows = rng.dirichlet(np.full(300, 0.3), size=40)

    def unique_share(scores):
        top = np.argsort(-scores, axis=1)[:, :10]
        return np.unique(top).size / top.size

    shares = [unique_share(exclusive_scores(rows, alpha)) for alpha in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert shares == sorted(shares) and shares[-1] > shares[0]
    owner = rows.argmax(axis=0)
    for alpha in (0.5, 1.0, 2.0, 4.0):  # within a topic, the words it owns lose the least weight
        ratio = exclusive_scores(rows, alpha) / rows
        for topic in range(40):
            owned = owner == topic
            assert ratio[topic, owned].min(initial=np.inf) >= ratio[topic, ~owned].max() * (1 - 1e-9)


def test_bad_values_raise_clear_errors():
    for bad in (-0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="exclusivity must be a finite number >= 0"):
            exclusive_scores(np.ones((2, 3)), bad)


def test_option_ranks_the_topics_words_and_is_saved(bbc, small_sae, embedding_model, tmp_path):
    texts, _, embeddings = bbc
    model = BERTopic(clustering_model=SAEAtomMerger(n_topics=6, sae=small_sae),
                     embedding_model=embedding_model, ctfidf_model=EmissionTopicWords(exclusivity=2.0))
    model.fit_transform(texts, embeddings)
    merger = model.hdbscan_model
    table = merger.emission_model_.document_topic_word(
        merger.codes_, merger.counts_, model._current_atom_topics(), np.asarray(model.topics_), 6)
    scores = exclusive_scores(table, 2.0)
    vocab = model.vectorizer_model.get_feature_names_out()
    plain_words = set()
    for topic in range(6):
        assert [w for w, _ in model.get_topic(topic)] == [vocab[i] for i in np.argsort(-scores[topic])[:10]]
        plain_words.update(vocab[i] for i in np.argsort(-table[topic])[:10])
    shown = {w for topic in range(6) for w, _ in model.get_topic(topic)}
    assert len(shown) >= len(plain_words)  # the ranking can only make the topics' top words more distinct
    model.save(tmp_path / "model", serialization="safetensors", save_embedding_model=False)
    loaded = BERTopic.load(str(tmp_path / "model"), embedding_model=embedding_model)
    assert loaded.ctfidf_model.exclusivity == 2.0
    rows = loaded.ctfidf_model.topic_rows(loaded.hdbscan_model.emission_model_, loaded._current_atom_topics(),
                                          np.arange(6), loaded._training_documents())
    np.testing.assert_allclose(rows.toarray(), model.c_tf_idf_.toarray(), rtol=1e-6, atol=1e-9)
    # A model saved before the option existed loads with the ranking it was saved with (none).
    config_path = tmp_path / "model" / "sae_merger.json"
    config = json.loads(config_path.read_text())
    del config["ctfidf"]["exclusivity"]
    config_path.write_text(json.dumps(config))
    old = BERTopic.load(str(tmp_path / "model"), embedding_model=embedding_model)
    assert old.ctfidf_model.exclusivity == 0
    with pytest.raises(ValueError, match="exclusivity must be"):
        EmissionTopicWords(exclusivity=-1.0).topic_rows(
            merger.emission_model_, model._current_atom_topics(), np.arange(6), model._training_documents())
