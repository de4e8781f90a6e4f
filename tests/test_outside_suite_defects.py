"""Defects BERTopic's own test suite found in the plugin (issue 15), each pinned by a test."""

import numpy as np
import pytest
from bertopic import BERTopic as StockBERTopic
from bertopic.vectorizers import OnlineCountVectorizer

from bertopic_sae import BERTopic, SAEAtomMerger, load_pretrained


def _online(bbc, embedding_model, batches: int = 3, size: int = 50):
    texts, _, embeddings = bbc
    model = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=10),
        vectorizer_model=OnlineCountVectorizer(stop_words="english", decay=0.01),
        embedding_model=embedding_model,
    )
    topics = []
    for start in range(0, batches * size, size):
        model.partial_fit(texts[start : start + size], embeddings[start : start + size])
        topics.extend(model.topics_)
    model.topics_ = topics  # topics_ holds the last batch; BERTopic's online fixture collects them so
    return model, texts[: batches * size]


def test_partial_fit_uses_the_shipped_sae_for_sae_auto(bbc, embedding_model):
    # BERTopic.partial_fit calls the merger without the embedding model's name; sae="auto" used to
    # train a fresh SAE on the first 50 documents instead of using the SAE shipped for MiniLM.
    model, _ = _online(bbc, embedding_model)
    np.testing.assert_array_equal(model.hdbscan_model.sae_.atoms(), load_pretrained("minilm-l6-v2").atoms())


def test_online_probabilities_cover_every_document(bbc, embedding_model):
    model, texts = _online(bbc, embedding_model)
    # The first batch holds every topic: a topic BERTopic first sees in a later batch gets a new id, and
    # the probabilities (one column per merger topic) could no longer be mapped onto the topics.
    assert model.topic_mapper_.get_mappings() == {topic: topic for topic in range(10)}
    topics, probabilities = model.transform(texts[:5], bbc[2][:5])  # raised IndexError in _map_probabilities
    assert probabilities.shape == (5, 10) and len(topics) == 5
    merged = BERTopic.merge_models([model, model])  # it saves them: OnlineCountVectorizer raised KeyError
    assert len(merged.get_topic_info()) == len(model.get_topic_info())
    assert model.probabilities_.shape == (len(texts), 10)
    np.testing.assert_allclose(model.probabilities_.sum(axis=1), 1, atol=1e-5)
    info = model.get_document_info(texts)  # raised "Length of values (50) does not match length of index"
    assert len(info) == len(texts) and info.Probability.between(0, 1).all()


@pytest.mark.parametrize("serialization", ["safetensors", "pytorch"])
def test_stock_bertopic_load_of_a_plugin_model_can_refit(tmp_path, bbc, small_sae, embedding_model,
                                                         serialization):
    texts, _, embeddings = bbc
    merger = SAEAtomMerger(n_topics=6, sae=small_sae)
    model = BERTopic(clustering_model=merger, embedding_model=embedding_model)
    model.fit(texts[:200], embeddings[:200])
    model.save(tmp_path / "model", serialization=serialization, save_embedding_model=False)
    stock = StockBERTopic.load(str(tmp_path / "model"), embedding_model=embedding_model)
    assert stock.vectorizer_model.min_df == model.vectorizer_model.min_df_  # not "auto", which it cannot fit
    stock.reduce_topics(texts[:200], nr_topics=3)  # refits the CountVectorizer
    assert len(stock.get_topic_freq()) == 3
    same = BERTopic.load(str(tmp_path / "model"), embedding_model=embedding_model)  # ours reloads exactly
    np.testing.assert_array_equal(same.transform(texts[:20], embeddings[:20])[0],
                                  model.transform(texts[:20], embeddings[:20])[0])


def test_reduce_topics_to_at_least_as_many_topics_leaves_the_model_alone(bbc, embedding_model):
    # BERTopic's suite reduces its "auto"-reduced model to 10 topics; with fewer topics than that, stock
    # BERTopic 0.17.4 re-maps the probabilities with a stale mapping and raises IndexError.
    texts, _, embeddings = bbc
    model = BERTopic(clustering_model=SAEAtomMerger(n_topics=8), embedding_model=embedding_model,
                     calculate_probabilities=True).fit(texts, embeddings)
    model.reduce_topics(texts, nr_topics=6)
    topics, probabilities = list(model.topics_), model.probabilities_.copy()
    with pytest.warns(UserWarning, match="has 6 topics already"):
        assert model.reduce_topics(texts, nr_topics=10) is model
    assert model.topics_ == topics and probabilities.shape == (len(texts), 6)
    np.testing.assert_array_equal(model.probabilities_, probabilities)
    model.reduce_topics(texts, nr_topics=3)
    assert len(set(model.topics_)) == 3 and model.probabilities_.shape == (len(texts), 3)
