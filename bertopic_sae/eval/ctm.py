"""OCTIS's own CTM (combined), wrapped to take a seed, precomputed embeddings and a quiet mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._base import (
    _EmbeddingTopicModel,
    _in_temp_dir,
    _local_minilm_path,
    _OctisCTM,
    _quiet,
)


class CTMModel(_OctisCTM):
    """OCTIS CTM (``inference_type="combined"`` by default) on precomputed embeddings of the raw text.

    OCTIS would otherwise embed the space-joined *preprocessed* tokens with a hub model. Here the aligned
    embeddings are pickled to a fresh temporary ``bert_path`` for each fit (OCTIS caches by path only, so a
    shared path could silently reuse stale embeddings), and ``bert_model`` is a local path that is never
    loaded.

    Usage:

    ```python
    output = CTMModel(num_topics=50, embeddings=E, seed=0, num_epochs=50).train_model(dataset)
    ```
    """

    def __init__(
        self,
        num_topics: int = 10,
        *,
        embeddings: np.ndarray | None = None,
        texts: Sequence[str] | None = None,
        embedding_model: Any = None,
        seed: int | None = 0,
        use_partitions: bool = False,
        inference_type: str = "combined",
        verbose: bool = False,
        **params: Any,
    ):
        super().__init__(
            num_topics=num_topics,
            seed=seed,
            use_partitions=use_partitions,
            inference_type=inference_type,
            bert_model=_local_minilm_path(),
            **params,
        )
        self._helper = _EmbeddingTopicModel(
            num_topics, embeddings=embeddings, texts=texts, embedding_model=embedding_model, verbose=verbose
        )
        self.verbose = verbose

    def train_model(self, dataset, hyperparameters=None, top_words=10):
        import pickle

        embeddings = self._helper._dataset_embeddings(dataset)
        meta = dataset.get_metadata() or {}
        n = len(dataset.get_corpus())
        if self.use_partitions:
            n_train = int(meta.get("last-training-doc", n))
            n_val = int(meta.get("last-validation-doc", n_train))
            parts = {
                "train": embeddings[:n_train],
                "val": embeddings[n_train:n_val],
                "test": embeddings[n_val:],
            }
        else:
            parts = {"train": embeddings}
        with _in_temp_dir() as tmp, _quiet(not self.verbose):
            bert_path = str(tmp / "embeddings")
            for part, values in parts.items():
                with open(f"{bert_path}_{part}.pkl", "wb") as handle:
                    pickle.dump(np.asarray(values), handle)
            hyperparameters = {**(hyperparameters or {}), "bert_path": bert_path}
            return super().train_model(dataset, hyperparameters, top_words)
