"""OCTIS adapter of BERTopic with no reduction and ``KMeans(K)`` on the raw embeddings."""

from __future__ import annotations

import numpy as np

from ._base import (
    _CTfidfModel,
    _one_hot,
    route_hyperparameters,
)


class KMeansBERTopicModel(_CTfidfModel):
    """BERTopic with no dimensionality reduction and ``KMeans(num_topics)`` on the raw embeddings.

    The cheap reference baseline of ``baselines-20ng.md`` (k-means + BERTopic c-TF-IDF). No outliers.

    Usage:

    ```python
    output = KMeansBERTopicModel(num_topics=50, embeddings=E, seed=0).train_model(dataset)
    ```
    """

    def _fit(self, token_lists, embeddings, vocab):
        from bertopic import BERTopic
        from bertopic.dimensionality import BaseDimensionalityReduction
        from sklearn.cluster import KMeans

        k = self.hyperparameters["num_topics"]
        routed = route_hyperparameters(self.hyperparameters, {"kmeans": KMeans, "model": BERTopic})
        kmeans_kw = {"n_init": "auto", "random_state": self.hyperparameters.get("seed"), **routed["kmeans"]}
        self.model_ = BERTopic(
            umap_model=BaseDimensionalityReduction(),
            hdbscan_model=KMeans(n_clusters=k, **kmeans_kw),
            vectorizer_model=self._vectorizer(token_lists, vocab),
            **{"verbose": self.verbose, **routed["model"]},
        )
        self.model_.fit_transform([" ".join(d) for d in token_lists], embeddings=embeddings)
        assignments = np.asarray(self.model_.topics_)
        self.topic_ids_, topic_word = self._topic_rows(self.model_)
        self.n_topics_found_ = len(self.topic_ids_)
        self.outlier_share_ = 0.0
        return topic_word, _one_hot(assignments, self.topic_ids_)


