"""mLDA: latent Dirichlet allocation over SAE feature counts (Mechanistic Topic Models, §4.2.1).

Each document is the bag of its feature counts c[d, i]; tomotopy's collapsed-Gibbs LDA with hyper-parameter
optimisation stands in for the reference's MALLET (α summed over topics = 5, η = 0.01, optimisation every
10 iterations, as in the reference code).

Usage:

```python
from bertopic_sae.mtm import MLDA
model = MLDA(n_topics=10).fit(texts)
model.get_topic_words(0), model.get_topic_features(0), model.describe_topic(0)
theta = model.transform(new_texts)
with model.steer(topic=0, strength=8.0):
    ...
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .base import MechanisticTopicModel
from .features import FeatureCounts

__all__ = ["MLDA"]

_MODEL_FILE = "tomotopy_lda.bin"


class MLDA(MechanisticTopicModel):
    """LDA whose vocabulary is the SAE's features.

    Arguments:
        n_topics: number of topics K.
        alpha_sum: Dirichlet prior on θ summed over topics (α_k = alpha_sum / K; reference: 5).
        eta: Dirichlet prior on the topic-feature distributions (reference: 0.01).
        iterations: Gibbs sweeps.
        optim_interval: sweeps between hyper-parameter optimisations (0 = off; reference: 10).
        burn_in: sweeps before the first optimisation.
        infer_iterations: Gibbs sweeps for :meth:`transform`.
        workers: sampling threads (0 = all cores).
        **kwargs: shared arguments of :class:`~bertopic_sae.mtm.base.MechanisticTopicModel` (sae, lm,
            max_tokens, vectorizer, word_weighting, random_state, verbose, ...).

    Attributes:
        doc_topic_: θ of the training documents ``(n_docs, K)``.
        topic_feature_: β ``(K, n_features)``, each row a distribution over ``features_``.
        features_: SAE feature id of each column.
        topic_word_: topic word distributions over ``vocabulary_``.
        model_: the fitted ``tomotopy.LDAModel``.
    """

    kind = "mlda"

    def __init__(
        self,
        n_topics: int = 20,
        *,
        alpha_sum: float = 5.0,
        eta: float = 0.01,
        iterations: int = 1000,
        optim_interval: int = 10,
        burn_in: int = 100,
        infer_iterations: int = 100,
        workers: int = 1,
        **kwargs: Any,
    ):
        super().__init__(n_topics, **kwargs)
        self.alpha_sum = alpha_sum
        self.eta = eta
        self.iterations = iterations
        self.optim_interval = optim_interval
        self.burn_in = burn_in
        self.infer_iterations = infer_iterations
        self.workers = workers

    def _words(self, counts, row: int) -> list[str]:
        start, end = counts.indptr[row], counts.indptr[row + 1]
        return [
            f"f{int(self.features_[j])}"
            for j, c in zip(counts.indices[start:end], counts.data[start:end], strict=True)
            for _ in range(int(c))
        ]

    def _fit_counts(self, fc: FeatureCounts) -> tuple[np.ndarray, np.ndarray]:
        import tomotopy as tp
        from tqdm.auto import trange

        if self.alpha_sum <= 0 or self.eta <= 0:
            raise ValueError("alpha_sum and eta must be positive.")
        if self.iterations <= 0:
            raise ValueError(f"iterations must be positive, got {self.iterations}.")
        K = int(self.n_topics)
        seed = 0 if self.random_state is None else int(self.random_state)
        model = tp.LDAModel(k=K, alpha=self.alpha_sum / K, eta=self.eta, seed=seed)
        model.optim_interval = self.optim_interval
        model.burn_in = self.burn_in
        counts = fc.counts.tocsr()
        kept = []
        for row in range(counts.shape[0]):
            words = self._words(counts, row)
            if words:  # tomotopy cannot hold empty documents; they get the prior below
                model.add_doc(words)
                kept.append(row)
        if not kept:
            raise ValueError("No document has any feature count; every document is empty after filtering.")
        step = 10
        for _ in trange(0, self.iterations, step, disable=not self.verbose, desc="mLDA Gibbs"):
            model.train(step, workers=self.workers)
        self.model_ = model
        theta = np.tile(np.asarray(model.alpha) / np.sum(model.alpha), (counts.shape[0], 1))
        theta[kept] = np.stack([doc.get_topic_dist() for doc in model.docs])
        vocab = {word: j for j, word in enumerate(model.used_vocabs)}
        beta = np.zeros((K, len(self.features_)))
        columns = np.array([vocab.get(f"f{int(f)}", -1) for f in self.features_])
        for k in range(K):
            dist = np.asarray(model.get_topic_word_dist(k))
            beta[k, columns >= 0] = dist[columns[columns >= 0]]
        return theta.astype(np.float32), beta.astype(np.float32)

    def _transform_counts(self, fc: FeatureCounts) -> np.ndarray:
        model = self.model_
        counts = fc.counts.tocsr()
        prior = np.asarray(model.alpha) / np.sum(model.alpha)
        theta = np.tile(prior, (counts.shape[0], 1))
        docs, rows = [], []
        for row in range(counts.shape[0]):
            words = self._words(counts, row)
            if words:
                docs.append(model.make_doc(words))
                rows.append(row)
        if docs:
            dists, _ = model.infer(docs, iterations=self.infer_iterations, workers=self.workers)
            theta[rows] = np.stack([np.asarray(d) for d in dists])
        return theta.astype(np.float32)

    def _save_state(self, folder: Path) -> None:
        self.model_.save(str(folder / _MODEL_FILE))

    def _load_state(self, folder: Path) -> None:
        import tomotopy as tp

        self.model_ = tp.LDAModel.load(str(folder / _MODEL_FILE))
