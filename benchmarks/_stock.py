"""Default BERTopic (UMAP + HDBSCAN + c-TF-IDF) as the benchmarks' reference, on a given vocabulary."""

from __future__ import annotations

import copy


def default_bertopic(texts, embeddings, embedding_model, vocab, seed: int):
    """Stock BERTopic fitted on ``texts`` with the vocabulary ``vocab`` (the SAE model's words, so both
    are scored on one vocabulary); UMAP seeded with ``seed`` for reproducibility."""
    from bertopic import BERTopic as StockBERTopic
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    vectorizer = CountVectorizer(vocabulary=list(vocab), stop_words="english",
                                 token_pattern=r"(?u)\b[a-zA-Z]{3,}\b")
    umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    topic_model = StockBERTopic(umap_model=umap, embedding_model=embedding_model, vectorizer_model=vectorizer)
    topic_model.fit_transform(list(texts), embeddings)
    return topic_model


def stock_topics(topic_model, texts, K: int, known) -> tuple[int, list[list[str]]]:
    """``(topics HDBSCAN found, top-10 words per topic)`` of ``topic_model`` reduced to K topics (plus
    outliers), or as found when it found K or fewer. The model itself is left as it is. Words not in
    ``known`` (BERTopic pads short topics with "") are dropped, and topics left with under 2 words."""
    found = len(topic_model.get_topic_info()) - (1 if -1 in topic_model.topic_sizes_ else 0)
    if found > K:
        topic_model = copy.deepcopy(topic_model)  # reduce_topics mutates the model: reduce a fresh copy
        topic_model.reduce_topics(list(texts), nr_topics=K + 1)
    n = len(topic_model.get_topic_info()) - (1 if -1 in topic_model.topic_sizes_ else 0)
    topics = [[w for w, _ in topic_model.get_topic(t)][:10] for t in range(n)]
    topics = [[w for w in t if w in known] for t in topics]
    return found, [t for t in topics if len(t) >= 2]
