"""OCTIS adapter of the real ``fastopic`` package, run offline on the same embeddings and vocabulary."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._base import (
    _TOKEN_SPLIT,
    FASTOPIC_INSTALL,
    _EmbeddingTopicModel,
)


class _PresetEmbedder:
    """FASTopic needs a non-string embedder (a string is loaded from the hub); the embeddings are preset."""

    def encode(self, docs, **_):  # pragma: no cover - only reached if FASTopic is asked to embed new text
        raise RuntimeError("FASTopicModel works on precomputed embeddings only; pass embeddings=.")


class _VocabBow:
    """FASTopic preprocess object: the bag of words of the dataset tokens over the dataset vocabulary."""

    def __init__(self, vocab: Sequence[str]):
        self.vocab = list(vocab)

    def preprocess(self, docs: Sequence[str]) -> dict:
        from sklearn.feature_extraction.text import CountVectorizer

        vectorizer = CountVectorizer(vocabulary=self.vocab, token_pattern=_TOKEN_SPLIT, lowercase=False)
        return {"train_bow": vectorizer.fit_transform(docs), "vocab": self.vocab}


class FASTopicModel(_EmbeddingTopicModel):
    """FASTopic (``fastopic`` 1.0.1) on precomputed embeddings and the dataset vocabulary, fully offline.

    Hyperparameters: ``epochs`` (default 200), ``learning_rate`` (0.002), ``device`` (default CUDA when
    available, else CPU) and FASTopic's own ``DT_alpha``, ``TW_alpha``, ``theta_temp``. Topic-word =
    FASTopic's beta, topic-document = its theta (transposed).

    Usage:

    ```python
    output = FASTopicModel(num_topics=50, embeddings=E, seed=0, epochs=200).train_model(dataset)
    ```
    """

    def __init__(
        self, num_topics: int = 10, *, epochs: int = 200, learning_rate: float = 0.002, **kwargs: Any
    ):
        super().__init__(num_topics, epochs=epochs, learning_rate=learning_rate, **kwargs)

    def _fit(self, token_lists, embeddings, vocab):
        try:
            import fastopic  # noqa: F401
            from fastopic import FASTopic
        except ModuleNotFoundError as error:
            raise ModuleNotFoundError(
                "FASTopicModel needs fastopic; install it without deps (they replace CPU torch): "
                f"`{FASTOPIC_INSTALL}`."
            ) from error
        import torch

        hp = self.hyperparameters
        extra = {k: hp[k] for k in ("DT_alpha", "TW_alpha", "theta_temp") if k in hp}
        self.model_ = FASTopic(
            hp["num_topics"],
            preprocess=_VocabBow(vocab),
            doc_embed_model=_PresetEmbedder(),
            device=hp.get("device") or ("cuda" if torch.cuda.is_available() else "cpu"),
            verbose=self.verbose,
            **extra,
        )
        module = sys.modules["fastopic.FASTopic"]
        old_tqdm = module.tqdm
        if not self.verbose:  # FASTopic's epoch bar has no switch of its own
            module.tqdm = lambda *a, **k: old_tqdm(*a, **{**k, "disable": True})
        try:
            _, theta = self.model_.fit_transform(
                [" ".join(d) for d in token_lists],
                epochs=int(hp["epochs"]),
                learning_rate=float(hp["learning_rate"]),
                preset_doc_embeddings=embeddings,
            )
        finally:
            module.tqdm = old_tqdm
        self._torch = torch
        return np.asarray(self.model_.beta, dtype=float), np.asarray(theta, dtype=float).T

    def _transform(self, token_lists, embeddings) -> np.ndarray:
        theta = self.model_.transform(doc_embeddings=self._torch.as_tensor(embeddings))
        return np.asarray(theta, dtype=float).T
