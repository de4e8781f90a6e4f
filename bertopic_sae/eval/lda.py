"""OCTIS's own gensim LDA, seeded, with the topic-word matrix in the dataset's vocabulary order."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import (
    _OctisLDA,
)


class LDAModel(_OctisLDA):
    """OCTIS LDA (gensim ``LdaModel``), seeded, its topic-word matrix reordered to the dataset vocabulary.

    OCTIS returns LDA's topic-word columns in gensim ``Dictionary`` order; here they follow
    ``dataset.get_vocabulary()`` like every other adapter (words absent from the corpus get zero columns).

    Usage:

    ```python
    output = LDAModel(num_topics=50, seed=0, passes=5).train_model(dataset)
    ```
    """

    def __init__(
        self,
        num_topics: int = 10,
        *,
        seed: int | None = 0,
        use_partitions: bool = False,
        verbose: bool = False,
        embeddings: Any = None,
        texts: Any = None,
        **params: Any,
    ):
        super().__init__(num_topics=num_topics, random_state=seed, **params)
        self.partitioning(use_partitions)
        self.verbose = verbose

    def train_model(self, dataset, hyperparameters=None, top_words=10):
        output = super().train_model(dataset, hyperparameters, top_words)
        vocab = list(dataset.get_vocabulary())
        column = {w: i for i, w in enumerate(vocab)}
        matrix = np.zeros((output["topic-word-matrix"].shape[0], len(vocab)))
        for token_id, token in self.id2word.items():
            if token in column:
                matrix[:, column[token]] = output["topic-word-matrix"][:, token_id]
        output["topic-word-matrix"] = matrix
        return output
