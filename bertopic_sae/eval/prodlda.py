"""OCTIS's own ProdLDA (AVITM), wrapped to take a seed and a quiet mode."""

from __future__ import annotations

from typing import Any

from ._base import (
    _in_temp_dir,
    _OctisProdLDA,
    _quiet,
    seed_everything,
)


class ProdLDAModel(_OctisProdLDA):
    """OCTIS ProdLDA (AVITM), unchanged, plus a seed, a quiet mode and a scratch CWD for its checkpoints.

    ``use_partitions`` defaults to False (OCTIS: True), i.e. train on all documents without early stopping.

    Usage:

    ```python
    output = ProdLDAModel(num_topics=50, seed=0, num_epochs=100).train_model(dataset)
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
        super().__init__(num_topics=num_topics, use_partitions=use_partitions, **params)
        self.seed, self.verbose = seed, verbose  # embeddings/texts are accepted for a uniform API, unused

    def train_model(self, dataset, hyperparameters=None, top_words=10):
        seed_everything(self.seed)
        with _in_temp_dir(), _quiet(not self.verbose):
            return super().train_model(dataset, hyperparameters, top_words)


