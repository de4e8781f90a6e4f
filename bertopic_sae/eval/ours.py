"""OCTIS adapter of this package's model: :class:`SAETopicModel` (``BERTopic`` + ``SAEAtomMerger``)."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from ._base import (
    _CTfidfModel,
    _one_hot,
    route_hyperparameters,
)


class SAETopicModel(_CTfidfModel):
    """The SAE topic model: ``bertopic_sae.BERTopic``, ``SAEAtomMerger(n_topics=num_topics)`` as clustering.

    The topic-word matrix is the model's ``c_tf_idf_`` over the dataset vocabulary (the emission topic words),
    the topic-document matrix the one-hot of the model's own document assignment ``topics_`` (the centroid
    assignment), like the other BERTopic adapters. The soft ``probabilities_`` (the θ mixture of the atoms) is
    not used for it: its argmax disagrees with ``topics_`` on 20-40% of BBC documents, so NMI / purity would
    score another assignment than the model's; it is kept as ``probabilities_`` on the adapter.
    ``embedding_model`` defaults to all-MiniLM-L6-v2 (the model of the precomputed embeddings): the merge
    needs its word vectors.

    Arguments:
        merger_params: extra keyword arguments for ``SAEAtomMerger`` (a seed is passed as ``random_state`` or
            ``seed`` when the merger accepts one).
        model_params: extra keyword arguments for ``bertopic_sae.BERTopic``.
        **kwargs: hyperparameters: ``num_topics``, ``seed``, and any ``SAEAtomMerger``, ``BERTopic`` or
            ``EmissionTopicWords`` argument, bare (``top_p``, ``exclusivity``) or prefixed (``merger__top_p``,
            ``model__top_n_words``, ``words__exclusivity``); the same names work in
            ``train_model(dataset, hyperparameters)`` and an OCTIS Optimizer's search space.

    Usage:

    ```python
    output = SAETopicModel(num_topics=50, embeddings=E, seed=0).train_model(dataset)
    ```
    """

    def __init__(
        self,
        num_topics: int = 10,
        *,
        merger_params: dict | None = None,
        model_params: dict | None = None,
        **kwargs: Any,
    ):
        super().__init__(num_topics, **kwargs)
        self.merger_params = dict(merger_params or {})
        self.model_params = dict(model_params or {})

    def _fit(self, token_lists, embeddings, vocab):
        try:
            from bertopic_sae import BERTopic, EmissionTopicWords, SAEAtomMerger
        except ImportError as error:
            raise ImportError(
                "SAETopicModel needs bertopic_sae.BERTopic and bertopic_sae.SAEAtomMerger, which this "
                "version of "
                "bertopic_sae does not provide yet."
            ) from error
        # Hyperparameters (e.g. an OCTIS Optimizer's search space) override merger_params / model_params.
        routed = route_hyperparameters(
            self.hyperparameters, {"merger": SAEAtomMerger, "model": BERTopic, "words": EmissionTopicWords}
        )
        merger_kw = {**self.merger_params, **routed["merger"]}
        model_kw = {**self.model_params, **routed["model"]}
        if routed["words"]:
            if "ctfidf_model" in model_kw:
                raise ValueError(
                    f"Got topic-word hyperparameters {sorted(routed['words'])} and a ctfidf_model: pass one "
                    "(the hyperparameters build EmissionTopicWords)."
                )
            model_kw["ctfidf_model"] = EmissionTopicWords(**routed["words"])
        seed = self.hyperparameters.get("seed")
        accepted = inspect.signature(SAEAtomMerger).parameters
        for name in ("random_state", "seed"):
            if name in accepted and name not in merger_kw:
                merger_kw[name] = seed
                break
        if "verbose" in accepted:
            merger_kw.setdefault("verbose", self.verbose)
        # Plain dicts (from a CSV config / the grid's --set) become the package's config objects.
        if isinstance(merger_kw.get("train_config"), dict):
            from bertopic_sae import TrainConfig

            merger_kw["train_config"] = TrainConfig(
                **{"verbose": self.verbose, "seed": seed or 0, **merger_kw["train_config"]}
            )
        if isinstance(merger_kw.get("sae_config"), dict):
            from bertopic_sae import SAEConfig

            merger_kw["sae_config"] = SAEConfig(**{"d_in": embeddings.shape[1], **merger_kw["sae_config"]})
        if self.embedding_model is None:  # the SAE merge reads word vectors from the embedding model
            from bertopic_sae.data import default_embedding_model

            self.embedding_model = default_embedding_model()
        self.model_ = BERTopic(
            clustering_model=SAEAtomMerger(n_topics=self.hyperparameters["num_topics"], **merger_kw),
            embedding_model=self.embedding_model,
            vectorizer_model=self._vectorizer(token_lists, vocab),
            **model_kw,
        )
        self.model_.fit_transform([" ".join(d) for d in token_lists], embeddings=embeddings)
        self.topic_ids_, topic_word = self._topic_rows(self.model_)
        self.n_topics_found_ = len(self.topic_ids_)
        assignments = np.asarray(self.model_.topics_)
        self.outlier_share_ = float(np.mean(assignments == -1))
        return topic_word, self._doc_matrix(self.model_.probabilities_, assignments)

    def _doc_matrix(self, probs, assignments) -> np.ndarray:
        self.probabilities_ = None if probs is None else np.asarray(probs, dtype=float)
        return _one_hot(assignments, self.topic_ids_)

    def _transform(self, token_lists, embeddings) -> np.ndarray:
        topics, probs = self.model_.transform([" ".join(d) for d in token_lists], embeddings=embeddings)
        return self._doc_matrix(probs, np.asarray(topics))
