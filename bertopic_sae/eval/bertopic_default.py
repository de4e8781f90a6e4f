"""OCTIS adapter of default BERTopic (UMAP + HDBSCAN), reduced to K non-outlier topics."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import (
    _CTfidfModel,
    _one_hot,
    route_hyperparameters,
)


class BERTopicModel(_CTfidfModel):
    """Default BERTopic (UMAP + HDBSCAN) reduced to ``num_topics`` non-outlier topics.

    Outliers are handled openly: HDBSCAN's outlier documents (topic -1) are not a topic; they get an all-zero
    column in ``topic-document-matrix`` (so they form one extra cluster for NMI/purity) and their share is
    kept
    in ``outlier_share_``. If HDBSCAN finds more than ``num_topics`` clusters, BERTopic's own
    ``reduce_topics``
    merges them to exactly ``num_topics`` real topics (``nr_topics`` counts the -1 topic, hence the +1); if it
    finds fewer, fewer topics come back (``n_topics_found_``).

    Usage:

    ```python
    output = BERTopicModel(num_topics=50, embeddings=E, seed=0).train_model(dataset)
    ```
    """

    def __init__(
        self,
        num_topics: int = 10,
        *,
        umap_params: dict | None = None,
        hdbscan_params: dict | None = None,
        **kwargs: Any,
    ):
        super().__init__(num_topics, **kwargs)
        self.umap_params = dict(umap_params or {})
        self.hdbscan_params = dict(hdbscan_params or {})

    def _fit(self, token_lists, embeddings, vocab):
        from bertopic import BERTopic
        from hdbscan import HDBSCAN
        from umap import UMAP

        seed = self.hyperparameters.get("seed")
        components = {"umap": UMAP, "hdbscan": HDBSCAN, "model": BERTopic}
        routed = route_hyperparameters(self.hyperparameters, components)
        umap_params = {**self.umap_params, **routed["umap"]}
        hdbscan_params = {**self.hdbscan_params, **routed["hdbscan"]}
        # BERTopic's default UMAP, plus a seed.
        umap_kw = {
            "n_neighbors": 15,
            "n_components": 5,
            "min_dist": 0.0,
            "metric": "cosine",
            "low_memory": False,
            "random_state": seed,
            **umap_params,
        }
        hdbscan_model = None
        if hdbscan_params:
            hdbscan_model = HDBSCAN(**{"min_cluster_size": 10, "prediction_data": True, **hdbscan_params})
        docs = [" ".join(d) for d in token_lists]
        self.model_ = BERTopic(
            umap_model=UMAP(**umap_kw),
            hdbscan_model=hdbscan_model,
            vectorizer_model=self._vectorizer(token_lists, vocab),
            **{"verbose": self.verbose, **routed["model"]},
        )
        topics, _ = self.model_.fit_transform(docs, embeddings=embeddings)
        k = self.hyperparameters["num_topics"]
        has_outliers = -1 in set(topics)
        self.n_clusters_before_reduction_ = len(set(topics)) - int(has_outliers)
        if self.n_clusters_before_reduction_ > k:
            self.model_.reduce_topics(docs, nr_topics=k + int(has_outliers))
        assignments = np.asarray(self.model_.topics_)
        self.topic_ids_, topic_word = self._topic_rows(self.model_)
        self.n_topics_found_ = len(self.topic_ids_)
        self.outlier_share_ = float(np.mean(assignments == -1))
        return topic_word, _one_hot(assignments, self.topic_ids_)
