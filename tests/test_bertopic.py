"""The SAE components inside the real BERTopic: every BERTopic feature on real text."""

import inspect
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from bertopic import BERTopic as StockBERTopic
from bertopic.representation import KeyBERTInspired, MaximalMarginalRelevance
from bertopic.vectorizers import ClassTfidfTransformer, OnlineCountVectorizer

from bertopic_sae import BERTopic, EmissionTopicWords, SAEAtomMerger, SAEEncoder
from bertopic_sae.tm.topic_words import exclusive_scores

N_TOPICS = 8


@pytest.fixture(scope="module")
def fitted(bbc, small_sae, embedding_model):
    texts, labels, embeddings = bbc
    model = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=N_TOPICS, sae=small_sae), embedding_model=embedding_model
    )
    topics, probs = model.fit_transform(texts, embeddings)
    return model, topics, probs


def test_signature_covers_stock_bertopic():
    ours = set(inspect.signature(BERTopic.__init__).parameters)
    assert set(inspect.signature(StockBERTopic.__init__).parameters) <= ours
    assert "clustering_model" in ours


def test_clustering_model_and_hdbscan_model_together_is_an_error():
    with pytest.raises(ValueError, match="either clustering_model or hdbscan_model"):
        BERTopic(clustering_model=SAEAtomMerger(), hdbscan_model=SAEAtomMerger())


def test_fit_gives_n_topics_no_outliers_and_soft_probabilities(fitted, bbc):
    model, topics, probs = fitted
    assert sorted(set(topics)) == list(range(N_TOPICS))
    assert -1 not in topics and model._outliers == 0
    assert probs.shape == (len(bbc[0]), N_TOPICS)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-6)
    assert type(model.umap_model).__name__ == "BaseDimensionalityReduction"  # no UMAP ran
    assert isinstance(model.ctfidf_model, EmissionTopicWords)
    assert model.clustering_model is model.hdbscan_model


def test_topic_words_come_from_the_emission_matrix(fitted):
    model, _, _ = fitted
    merger = model.hdbscan_model
    np.testing.assert_allclose(np.asarray(model.c_tf_idf_.sum(axis=1)).ravel(), 1, atol=1e-5)
    atom_topic = model._current_atom_topics()
    # The default reads a topic's words off its documents: the tokens its own atoms emit there.
    assert model.ctfidf_model.words_from == "documents"
    p_c = merger.emission_model_.document_topic_word(
        merger.codes_, merger.counts_, atom_topic, np.asarray(model.topics_), N_TOPICS
    )
    assert model.ctfidf_model.exclusivity == 0.5  # ranked so that neighbouring topics share fewer words
    p_c = exclusive_scores(p_c, 0.5)
    words = model.vectorizer_model.get_feature_names_out()
    for topic in range(N_TOPICS):
        expected = [words[i] for i in np.argsort(-p_c[topic])[:10]]
        assert [w for w, _ in model.get_topic(topic)] == expected


def test_paper_atom_average_words_on_request(bbc, small_sae, embedding_model):
    texts, _, embeddings = bbc
    model = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=5, sae=small_sae),
        embedding_model=embedding_model,
        ctfidf_model=EmissionTopicWords(words_from="atoms", exclusivity=0.0),
    )
    model.fit_transform(texts, embeddings)
    p_c = model.hdbscan_model.emission_model_.topic_word(model._current_atom_topics(), 5)
    words = model.vectorizer_model.get_feature_names_out()
    for topic in range(5):
        assert [w for w, _ in model.get_topic(topic)] == [words[i] for i in np.argsort(-p_c[topic])[:10]]
    raw = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=5, sae=small_sae),
        embedding_model=embedding_model,
        ctfidf_model=EmissionTopicWords(
            binary=False, idf_weighted=False, share_prior=0, weight_documents=False, exclusivity=0.0
        ),
    )
    raw.fit_transform(texts, embeddings)
    merger = raw.hdbscan_model
    table = merger.emission_model_.document_topic_word(
        merger.codes_,
        merger.counts_,
        raw._current_atom_topics(),
        np.asarray(raw.topics_),
        5,
        binary=False,
        idf_weighted=False,
        share_prior=0,
        weight_documents=False,
    )
    for topic in range(5):
        assert [w for w, _ in raw.get_topic(topic)] == [words[i] for i in np.argsort(-table[topic])[:10]]
    generic = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=5, sae=small_sae),
        embedding_model=embedding_model,
        ctfidf_model=EmissionTopicWords(background_tokens=0.5, exclusivity=0.0),
    )
    generic.fit_transform(texts, embeddings)
    merger = generic.hdbscan_model
    table = merger.emission_model_.document_topic_word(
        merger.codes_,
        merger.counts_,
        generic._current_atom_topics(),
        np.asarray(generic.topics_),
        5,
        background_tokens=0.5,
    )
    for topic in range(5):
        assert [w for w, _ in generic.get_topic(topic)] == [words[i] for i in np.argsort(-table[topic])[:10]]
    with pytest.raises(ValueError, match="words_from"):
        BERTopic(
            clustering_model=SAEAtomMerger(n_topics=5, sae=small_sae),
            embedding_model=embedding_model,
            ctfidf_model=EmissionTopicWords(words_from="bogus"),
        ).fit_transform(texts, embeddings)


def test_c_tf_idf_words_on_the_sae_clusters_on_request(bbc, small_sae, embedding_model):
    # The README's advice for titles that want frequent words: keep the SAE clusters, rank by c-TF-IDF.
    texts, _, embeddings = bbc
    model = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=5, sae=small_sae),
        embedding_model=embedding_model,
        ctfidf_model=ClassTfidfTransformer(),
    )
    topics, _ = model.fit_transform(texts, embeddings)
    counts = model.vectorizer_model.transform(texts)
    per_topic = sp.csr_matrix(
        np.vstack([np.asarray(counts[np.asarray(topics) == t].sum(axis=0)) for t in range(5)])
    )
    expected = ClassTfidfTransformer().fit(per_topic).transform(per_topic).toarray()
    words = model.vectorizer_model.get_feature_names_out()
    assert type(model.ctfidf_model) is ClassTfidfTransformer
    for topic in range(5):
        assert [w for w, _ in model.get_topic(topic)] == [words[i] for i in np.argsort(-expected[topic])[:10]]


def test_topics_match_bbc_categories(fitted, bbc):
    from sklearn.metrics import normalized_mutual_info_score

    assert normalized_mutual_info_score(bbc[1], fitted[1]) > 0.4


def test_transform_matches_fit_and_returns_probabilities(fitted, bbc):
    model, topics, probs = fitted
    texts, _, embeddings = bbc
    predicted, predicted_probs = model.transform(texts[:40], embeddings[:40])
    assert predicted == topics[:40]
    np.testing.assert_allclose(predicted_probs, probs[:40], atol=1e-6)


def test_transform_embeds_text_itself(fitted, bbc):
    model, topics, _ = fitted
    predicted, probs = model.transform(bbc[0][:5])
    assert len(predicted) == 5 and probs.shape == (5, N_TOPICS)


@pytest.mark.parametrize("serialization", ["safetensors", "pytorch", "pickle"])
def test_save_load_keeps_predictions_identical(fitted, bbc, embedding_model, tmp_path, serialization):
    model, _, _ = fitted
    texts, _, embeddings = bbc
    path = tmp_path / ("model.pkl" if serialization == "pickle" else "model")
    model.save(path, serialization=serialization, save_embedding_model=False)
    loaded = BERTopic.load(str(path), embedding_model=embedding_model)
    assert isinstance(loaded, BERTopic) and isinstance(loaded.hdbscan_model, SAEAtomMerger)
    before = model.transform(texts[:60], embeddings[:60])
    after = loaded.transform(texts[:60], embeddings[:60])
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    as_pairs = lambda words: [(w, float(s)) for w, s in words]  # noqa: E731  (JSON turns tuples into lists)
    assert as_pairs(loaded.get_topic(0)) == as_pairs(model.get_topic(0))
    assert loaded.get_topic_info().Name.equals(model.get_topic_info().Name)
    if serialization != "pickle":  # the training words come back, so document topic words can be recomputed
        merger = loaded.hdbscan_model
        assert (merger.counts_ != model.hdbscan_model.counts_).nnz == 0
        rows = loaded._c_tf_idf(pd.DataFrame({"Topic": range(N_TOPICS), "Document": [""] * N_TOPICS}))[0]
        np.testing.assert_allclose(rows.toarray(), model.c_tf_idf_.toarray(), rtol=1e-6, atol=1e-9)


def test_load_keeps_the_word_options_a_model_was_saved_with(fitted, embedding_model, tmp_path):
    model, _, _ = fitted
    model.save(tmp_path / "model", serialization="safetensors", save_embedding_model=False)
    words = BERTopic.load(str(tmp_path / "model"), embedding_model=embedding_model).ctfidf_model
    assert words.share_prior == 10 and words.weight_documents is False
    # A model saved before these options existed recomputes its words without them, as it did when saved.
    config_path = tmp_path / "model" / "sae_merger.json"
    config = json.loads(config_path.read_text())
    del config["ctfidf"]["share_prior"], config["ctfidf"]["weight_documents"]
    config_path.write_text(json.dumps(config))
    words = BERTopic.load(str(tmp_path / "model"), embedding_model=embedding_model).ctfidf_model
    assert words.share_prior == 0 and words.weight_documents is False


def test_save_never_corrupts_an_earlier_save(fitted, tmp_path, monkeypatch):
    import bertopic_sae.components.bertopic as module

    model, _, _ = fitted
    model.save(tmp_path / "m", serialization="safetensors", save_embedding_model=False)
    before = sorted((p.name, p.read_bytes()) for p in (tmp_path / "m").iterdir() if p.is_file())

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(module, "_save_sae_parts", crash)
    with pytest.raises(OSError):
        model.save(tmp_path / "m", serialization="safetensors", save_embedding_model=False)
    after = sorted((p.name, p.read_bytes()) for p in (tmp_path / "m").iterdir() if p.is_file())
    assert before == after
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_save_keeps_a_users_files_and_checks_options_first(fitted, tmp_path):
    import stat

    model, _, _ = fitted
    folder = tmp_path / "m"
    (folder / "data").mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt.*overwrite=True"):
        model.save(folder, serialization="safetensors", save_embedding_model=False)
    assert sorted(p.name for p in folder.iterdir()) == ["data", "notes.txt"]
    model.save(tmp_path / "ok", serialization="safetensors", save_embedding_model=False)
    before = sorted(p.name for p in (tmp_path / "ok").iterdir())
    with pytest.raises(ValueError, match="serialization"):
        model.save(tmp_path / "ok", serialization="safetensor", save_embedding_model=False)  # a typo
    assert sorted(p.name for p in (tmp_path / "ok").iterdir()) == before
    model.save(tmp_path / "ok", serialization="safetensors", save_embedding_model=False)  # ours: replaced
    assert stat.S_IMODE((tmp_path / "ok").stat().st_mode) & 0o055 == 0o055  # readable by others
    assert stat.S_IMODE((tmp_path / "ok" / "sae_merger.safetensors").stat().st_mode) & 0o044 == 0o044
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "ok"]


def test_a_save_killed_between_its_two_renames_is_recovered_by_load(fitted, bbc, tmp_path):
    from bertopic_sae import _io

    model, _, _ = fitted
    texts, _, embeddings = bbc
    path = tmp_path / "m"
    model.save(path, serialization="safetensors", save_embedding_model=False)
    _io._move_aside(path)  # the first rename of the next save ran, then the process was killed
    assert not path.exists()
    loaded = BERTopic.load(str(path))
    assert path.is_dir()
    assert loaded.transform(texts[:5], embeddings[:5])[0] == model.transform(texts[:5], embeddings[:5])[0]


def test_stock_bertopic_with_sae_encoder_and_merger(bbc, small_sae, embedding_model):
    texts, _, embeddings = bbc
    model = StockBERTopic(
        umap_model=SAEEncoder(sae=small_sae),
        hdbscan_model=SAEAtomMerger(n_topics=5, sae=small_sae),
        embedding_model=embedding_model,
    )
    topics, probs = model.fit_transform(texts, embeddings)
    assert sorted(set(topics)) == list(range(5))
    assert probs.shape == (len(texts), 5)
    assert model.transform(texts[:10], embeddings[:10])[0] == topics[:10]


def test_get_topic_info_and_document_info(fitted, bbc):
    model, topics, _ = fitted
    info = model.get_topic_info()
    assert list(info.Topic) == list(range(N_TOPICS)) and info.Count.sum() == len(bbc[0])
    assert all(len(docs) == 3 for docs in info.Representative_Docs)
    doc_info = model.get_document_info(bbc[0])
    assert list(doc_info.Topic) == topics and doc_info.Probability.between(0, 1).all()


def test_visualizations(fitted, bbc):
    model, _, probs = fitted
    texts, _, embeddings = bbc
    for figure in (
        model.visualize_topics(),
        model.visualize_barchart(top_n_topics=4),
        model.visualize_heatmap(),
        model.visualize_term_rank(),
        model.visualize_distribution(probs[0]),
        model.visualize_documents(texts, embeddings=embeddings, hide_annotations=True),
    ):
        assert figure.data


def test_hierarchy(fitted, bbc):
    model, _, _ = fitted
    hierarchy = model.hierarchical_topics(bbc[0])
    assert len(hierarchy) == N_TOPICS - 1
    assert model.visualize_hierarchy(hierarchical_topics=hierarchy).data
    assert "Topic" in model.get_topic_tree(hierarchy) or model.get_topic_tree(hierarchy)


def test_approximate_distribution(fitted, bbc):
    model, _, _ = fitted
    distribution, _ = model.approximate_distribution(bbc[0][:20])
    assert distribution.shape == (20, N_TOPICS)


def test_find_topics_and_labels(fitted):
    model, _, _ = fitted
    similar, similarity = model.find_topics("football match", top_n=3)
    assert len(similar) == 3 and similarity[0] >= similarity[-1]
    model.set_topic_labels({0: "first topic"})
    assert model.get_topic_info().CustomName[0] == "first topic"
    model.set_topic_labels({0: model.topic_labels_[0]})


def test_reduce_outliers_is_a_harmless_no_op(fitted, bbc):
    model, topics, _ = fitted
    assert model.reduce_outliers(bbc[0], topics) == topics


def test_topics_over_time_and_per_class(tweets, small_sae, embedding_model):
    texts, sources, dates, embeddings = tweets
    from bertopic_sae import SAEConfig, TrainConfig, train_sae

    sae = train_sae(
        embeddings,
        SAEConfig(d_in=384, d_sae=128, l1_coefficient=0.2),
        TrainConfig(steps=300, batch_size=200, lr=3e-3, verbose=False),
    ).sae
    model = BERTopic(clustering_model=SAEAtomMerger(n_topics=6, sae=sae), embedding_model=embedding_model)
    model.fit_transform(texts, embeddings)
    over_time = model.topics_over_time(texts, dates, nr_bins=5)
    assert set(over_time.Topic) <= set(range(6)) and over_time.Frequency.sum() == len(texts)
    assert model.visualize_topics_over_time(over_time).data
    per_class = model.topics_per_class(texts, classes=sources)
    assert per_class.Frequency.sum() == len(texts)
    assert model.visualize_topics_per_class(per_class).data
    # per-slice words are re-estimated from that slice's words, not copies of the global topic
    some_topic = over_time[over_time.Topic == 0]
    assert some_topic.Words.nunique() >= 1


def test_reduce_merge_and_set_n_topics(bbc, small_sae, embedding_model):
    texts, _, embeddings = bbc
    model = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=N_TOPICS, sae=small_sae), embedding_model=embedding_model
    )
    model.fit_transform(texts, embeddings)
    model.merge_topics(texts, [0, 1])
    assert len(model.get_topic_info()) == N_TOPICS - 1
    model.reduce_topics(texts, nr_topics=4)
    assert len(model.get_topic_info()) == 4
    assert model.transform(texts[:5], embeddings[:5])[1].shape == (5, 4)
    import time

    started = time.perf_counter()
    model.set_n_topics(texts, 12, embeddings=embeddings)
    assert time.perf_counter() - started < 5
    assert sorted(set(model.topics_)) == list(range(12))
    topics, probs = model.transform(texts, embeddings)
    assert probs.shape == (len(texts), 12) and topics == model.topics_


def test_nr_topics_at_construction(bbc, small_sae, embedding_model):
    texts, _, embeddings = bbc
    model = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=N_TOPICS, sae=small_sae),
        nr_topics=5,
        embedding_model=embedding_model,
    )
    topics, _ = model.fit_transform(texts, embeddings)
    assert len(set(topics)) == 5


def test_update_topics_keeps_emission_words_and_can_change_vocabulary(bbc, small_sae, embedding_model):
    from sklearn.feature_extraction.text import CountVectorizer

    texts, _, embeddings = bbc
    model = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=N_TOPICS, sae=small_sae), embedding_model=embedding_model
    )
    model.fit_transform(texts, embeddings)
    before = model.get_topic(0)
    model.update_topics(texts, top_n_words=5)
    assert isinstance(model.ctfidf_model, EmissionTopicWords)
    assert model.get_topic(0)[:5] == before[:5]
    model.update_topics(
        texts, vectorizer_model=CountVectorizer(stop_words="english", ngram_range=(1, 2), min_df=3)
    )
    assert any(" " in word for word in model.vectorizer_model.get_feature_names_out())
    assert model.hdbscan_model.emission_model_.emission_.shape[1] == len(model.vectorizer_model.vocabulary_)
    np.testing.assert_allclose(np.asarray(model.c_tf_idf_.sum(axis=1)).ravel(), 1, atol=1e-5)


@pytest.mark.parametrize("representation", [KeyBERTInspired(), MaximalMarginalRelevance(diversity=0.3)])
def test_representation_models_run_on_emission_words(bbc, small_sae, embedding_model, representation):
    texts, _, embeddings = bbc
    model = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=5, sae=small_sae),
        embedding_model=embedding_model,
        representation_model=representation,
    )
    model.fit_transform(texts, embeddings)
    assert all(len(model.get_topic(t)) > 0 for t in range(5))


def test_partial_fit(bbc, small_sae, embedding_model):
    texts, _, embeddings = bbc
    model = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=5, sae=small_sae),
        embedding_model=embedding_model,
        vectorizer_model=OnlineCountVectorizer(stop_words="english"),
    )
    for start in range(0, 300, 100):
        model.partial_fit(texts[start : start + 100], embeddings[start : start + 100])
    assert set(model.topics_) <= set(range(5))


def test_guided_topics_work_and_supervised_labels_are_ignored_with_a_warning(bbc, small_sae, embedding_model):
    texts, labels, embeddings = bbc
    guided = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=5, sae=small_sae),
        embedding_model=embedding_model,
        seed_topic_list=[["football", "match", "goal"], ["film", "actor", "award"]],
    )
    topics, _ = guided.fit_transform(texts, embeddings)
    assert len(set(topics)) == 5
    supervised = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=5, sae=small_sae), embedding_model=embedding_model
    )
    y = pd.factorize(pd.Series(labels))[0]
    with pytest.warns(UserWarning, match="ignores the labels y"):  # sklearn: unsupervised fit ignores y
        topics, _ = supervised.fit_transform(texts, embeddings, y=y)
    assert len(set(topics)) == 5


def test_bad_inputs_give_clear_errors(bbc, small_sae, embedding_model):
    texts, _, embeddings = bbc
    with pytest.raises(ValueError, match="n_topics=50"):
        BERTopic(clustering_model=SAEAtomMerger(n_topics=50, sae=small_sae)).fit_transform(
            texts[:10], embeddings[:10]
        )
    with pytest.raises(ValueError, match="d_in=384"):
        BERTopic(clustering_model=SAEAtomMerger(n_topics=3, sae=small_sae)).fit_transform(
            texts[:50], embeddings[:50, :100]
        )
    bad = embeddings[:50].copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        BERTopic(clustering_model=SAEAtomMerger(n_topics=3, sae=small_sae)).fit_transform(texts[:50], bad)


def test_empty_documents_get_a_topic(bbc, small_sae, embedding_model):
    texts, _, embeddings = bbc
    docs = list(texts[:100]) + ["", "   "]
    extra = embedding_model.encode(["", "   "], normalize_embeddings=True)
    model = BERTopic(
        clustering_model=SAEAtomMerger(n_topics=4, sae=small_sae),
        embedding_model=embedding_model,
        vectorizer_model=__import__("bertopic_sae").default_vectorizer(min_df=1),
    )
    topics, _ = model.fit_transform(docs, np.vstack([embeddings[:100], extra]))
    assert len(topics) == 102 and min(topics) >= 0
