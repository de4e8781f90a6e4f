"""What the plots share: the fitted SAE merger of a topic model, topic names, and BERTopic's look."""

from __future__ import annotations

import numpy as np

# BERTopic's own palette and layout (bertopic/plotting/_barchart.py), so these plots sit next to its.
COLORS = ("#D55E00", "#0072B2", "#CC79A7", "#E69F00", "#56B4E9", "#009E73", "#F0E442")
HOVERLABEL = {"bgcolor": "white", "font_size": 16, "font_family": "Rockwell"}


def title_layout(title: str) -> dict:
    """BERTopic's centred bold title."""
    return {"text": title, "x": 0.5, "xanchor": "center", "yanchor": "top",
            "font": {"size": 22, "color": "Black"}}


def fitted_merger(topic_model):
    """The fitted :class:`~bertopic_sae.SAEAtomMerger` of ``topic_model``, or a clear error."""
    from bertopic_sae import SAEAtomMerger

    merger = getattr(topic_model, "hdbscan_model", None)
    if not isinstance(merger, SAEAtomMerger):
        raise ValueError(
            "This plot needs a topic model whose clustering model is an SAEAtomMerger, e.g. "
            "bertopic_sae.BERTopic(clustering_model=SAEAtomMerger(...)); got "
            f"{type(merger).__name__}."
        )
    if not hasattr(merger, "atom_topic_"):
        raise ValueError("The topic model is not fitted yet: call fit_transform(docs, embeddings) first.")
    return merger


def atom_topics(topic_model, merger) -> np.ndarray:
    """Topic of every atom as the topic model numbers topics now (-1 for atoms that never fire)."""
    mapping = topic_model.topic_mapper_.get_mappings(original_topics=True)
    return np.array([mapping.get(int(t), -1) if t >= 0 else -1 for t in merger.atom_topic_], dtype=np.int64)


def vocabulary(topic_model, merger) -> np.ndarray | None:
    """The words of the emission matrix's columns, or None when the merger learned no words."""
    emission = getattr(merger, "emission_model_", None)
    if emission is None:
        return None
    words = np.asarray(topic_model.vectorizer_model.get_feature_names_out())
    if words.size != emission.emission_.shape[1]:
        raise ValueError(
            f"The vectorizer has {words.size} words but the emission model {emission.emission_.shape[1]}: "
            "refit the model (or call update_topics with the new vectorizer) before plotting atoms."
        )
    return words


def top_words(rows: np.ndarray, words: np.ndarray | None, n_words: int) -> list[str]:
    """The ``n_words`` most probable words of each row, joined by spaces ('' without words)."""
    if words is None:
        return ["" for _ in range(rows.shape[0])]
    best = np.argsort(-rows, axis=1, kind="stable")[:, :n_words]
    return [" ".join(words[row]) for row in best]


def topic_name(topic_model, topic: int) -> str:
    """The topic's custom label when set, else BERTopic's default label (``3_word_word_word``)."""
    custom = getattr(topic_model, "custom_labels_", None)
    if custom is not None:
        return custom[topic + int(-1 in topic_model.topic_labels_)]  # the list starts at -1 when it exists
    return topic_model.topic_labels_.get(topic, str(topic))
