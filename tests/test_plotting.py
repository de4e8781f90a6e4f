"""The SAE plots show what they claim: a topic's own atoms, document flows that add up, honest intervals."""

import numpy as np
import pytest
from scipy.stats import binomtest

from bertopic_sae.plotting import (
    corpus_composition,
    topic_atom_table,
    topic_tree,
    visualize_atoms,
    visualize_corpus_comparison,
    visualize_topic_tree,
)


@pytest.fixture(scope="module")
def fitted(bbc, embedding_model):
    """BERTopic with the shipped MiniLM SAE on 600 BBC articles, 8 topics."""
    from bertopic_sae import BERTopic, SAEAtomMerger

    texts, labels, embeddings = bbc
    model = BERTopic(clustering_model=SAEAtomMerger(n_topics=8), embedding_model=embedding_model)
    model.fit_transform(texts, embeddings)
    return model, texts, labels, embeddings


def test_atoms_are_exactly_the_topics_atoms(fitted):
    model, *_ = fitted
    merger = model.clustering_model
    mapping = model.topic_mapper_.get_mappings(original_topics=True)
    for topic in range(len(model.get_topic_info())):
        raw = [r for r, t in mapping.items() if t == topic]
        expected = np.flatnonzero(np.isin(merger.atom_topic_, raw))
        table = topic_atom_table(model, topic)
        assert sorted(table.atom) == sorted(expected)
        np.testing.assert_allclose(table.weight, merger.atom_weights_[table.atom])
        assert table.share.sum() == pytest.approx(1.0)
        assert (np.diff(table.weight) <= 0).all()  # heaviest first
    # The figure with every atom shows those atoms and their shares, and words each atom emits.
    table = topic_atom_table(model, 0, n_words=4)
    figure = visualize_atoms(model, 0, top_n_atoms=None, n_words=4)
    bar = figure.data[0]
    shown = np.asarray(bar.customdata)[::-1, 0].astype(int)
    np.testing.assert_array_equal(shown, table.atom)
    np.testing.assert_allclose(np.asarray(bar.x)[::-1], table.share)
    words = model.vectorizer_model.get_feature_names_out()
    first = int(table.atom[0])
    top = words[np.argsort(-merger.emission_model_.emission_[first])[:4]]
    assert bar.y[-1].split()[2:] == list(top)
    # A cut shows the heaviest atoms only.
    assert len(visualize_atoms(model, 0, top_n_atoms=3).data[0].y) == min(3, len(table))


def test_atoms_errors(fitted):
    model, *_ = fitted
    with pytest.raises(ValueError, match="has no atoms"):
        visualize_atoms(model, 99)
    with pytest.raises(ValueError, match="top_n_atoms"):
        visualize_atoms(model, 0, top_n_atoms=0)
    from bertopic import BERTopic as StockBERTopic

    with pytest.raises(ValueError, match="SAEAtomMerger"):
        visualize_atoms(StockBERTopic(), 0)


def test_topic_tree_flows_add_up_and_model_is_unchanged(fitted):
    model, texts, _, embeddings = fitted
    merger = model.clustering_model
    before = (model.topics_.copy(), merger.atom_topic_.copy(), merger.labels_.copy(), merger.n_topics_)
    ks = (4, 8, 16)
    tree = topic_tree(model, ks, embeddings=embeddings)
    assert tree.labels.shape == (3, len(texts))
    for level, k in enumerate(ks):
        sizes = np.bincount(tree.labels[level], minlength=k)
        assert sizes.size == k and (sizes > 0).all()
        assert (np.diff(sizes) <= 0).all()  # topic 0 is the largest
        assert len(tree.words[level]) == k and all(tree.words[level])
        if level < len(ks) - 1:  # every document leaves each topic ...
            out = tree.flows[tree.flows.level == level].groupby("source").documents.sum()
            np.testing.assert_array_equal(out.reindex(range(k)).to_numpy(), sizes)
        if level > 0:  # ... and arrives in exactly one topic of the next K
            into = tree.flows[tree.flows.level == level - 1].groupby("target").documents.sum()
            np.testing.assert_array_equal(into.reindex(range(k)).to_numpy(), sizes)
    # Same as the model's own re-merge at that K (set_n_topics on a copy would give these partitions).
    reference = __import__("copy").copy(merger).merge_atoms(8, embeddings).labels_
    assert _same_partition(reference, tree.labels[1])
    after = (model.topics_, merger.atom_topic_, merger.labels_, merger.n_topics_)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert len(model.get_topic_info()) == 8

    figure = visualize_topic_tree(model, tree=tree)
    sankey = figure.data[0]
    assert len(sankey.node.label) == sum(ks)
    values = np.asarray(sankey.link.value)
    assert values.sum() == len(texts) * (len(ks) - 1)
    sources = np.asarray(sankey.link.source)
    for node in range(ks[0]):  # the first column's outflows are its topics' documents
        assert values[sources == node].sum() == np.sum(tree.labels[0] == node)


def _same_partition(a, b) -> bool:
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_topic_tree_rejects_bad_ks(fitted):
    model, *_ = fitted
    with pytest.raises(ValueError, match="increasing"):
        topic_tree(model, (8, 4))
    with pytest.raises(ValueError, match="keep every K"):
        topic_tree(model, (4, 10_000))


def test_corpus_composition_by_hand():
    topics = [0] * 30 + [1] * 10 + [0] * 5 + [1] * 15 + [2] * 5
    groups = ["news"] * 40 + ["tweets"] * 25
    table = corpus_composition(topics, groups).set_index(["group", "topic"])
    row = table.loc[("news", 0)]
    assert (row.documents, row.group_documents) == (30, 40)
    assert row.share == pytest.approx(0.75) and row.rest_share == pytest.approx(5 / 25)
    low, high = binomtest(30, 40).proportion_ci(0.95, method="wilson")
    assert (row.share_low, row.share_high) == pytest.approx((low, high))
    assert row.ratio == pytest.approx(0.75 / 0.2)
    spread = 1.959964 * np.sqrt(1 / 30 - 1 / 40 + 1 / 5 - 1 / 25)
    assert row.ratio_low == pytest.approx(3.75 * np.exp(-spread), rel=1e-5)
    # Topic 2 only occurs in tweets: a finite ratio below 1 for news, above 1 for tweets.
    assert 0 < table.loc[("news", 2)].ratio < 1 < table.loc[("tweets", 2)].ratio < np.inf
    for _, part in table.groupby(level="group"):
        assert part.share.sum() == pytest.approx(1.0)
        assert (part.share_low <= part.share).all() and (part.share <= part.share_high).all()
        assert (part.ratio_low <= part.ratio).all() and (part.ratio <= part.ratio_high).all()
    with pytest.raises(ValueError, match="at least two groups"):
        corpus_composition([0, 1], ["a", "a"])
    with pytest.raises(ValueError, match="one group per document"):
        corpus_composition([0, 1], ["a"])


def test_corpus_comparison_figure(fitted):
    model, _, labels, _ = fitted
    table = corpus_composition(model.topics_, labels)
    figure = visualize_corpus_comparison(model, labels, top_n_topics=5)
    assert [trace.name for trace in figure.data] == list(dict.fromkeys(labels))
    for trace in figure.data:
        part = table[table.group == trace.name].set_index("topic")
        shown = np.asarray(trace.customdata)[:, 0].astype(int)
        assert len(shown) == 5
        np.testing.assert_allclose(trace.x, part.loc[shown, "ratio"])
        np.testing.assert_allclose(np.asarray(trace.error_x.array), part.loc[shown, "ratio_high"] - trace.x)
    shares = visualize_corpus_comparison(model, labels, topics=[0, 1], relative=False)
    part = table[(table.group == shares.data[0].name) & table.topic.isin([0, 1])]
    np.testing.assert_allclose(sorted(shares.data[0].x), sorted(part.share))
    with pytest.raises(ValueError, match="hold none"):
        visualize_corpus_comparison(model, labels, topics=[99])


def test_methods_on_bertopic(fitted):
    model, _, labels, embeddings = fitted
    assert model.visualize_atoms(1).data[0].customdata is not None
    assert len(model.visualize_topic_tree(ks=(2, 4), embeddings=embeddings).data[0].node.label) == 6
    assert len(model.visualize_corpus_comparison(labels).data) == len(set(labels))
