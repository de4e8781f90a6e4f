"""Stage 1 in BERTopic: :class:`SAEEncoder`, the SAE where UMAP stands (BERTopic's ``umap_model`` slot)."""

from __future__ import annotations

import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError

from .._types import Embeddings, Labels
from ..sae.config import SAEConfig, TrainConfig
from ..sae.model import check_embeddings
from ..sae.resolve import resolve_sae

__all__ = ["SAEEncoder"]


class SAEEncoder(TransformerMixin, BaseEstimator):  # mixins first: sklearn reads their tags
    """Maps document embeddings to sparse SAE codes; a drop-in for BERTopic's ``umap_model``.

    Arguments:
        sae: a :class:`SparseAutoencoder`, a checkpoint folder, ``"auto"`` (the SAE shipped for the
            embedding model, else train one) or ``None`` (train one on the documents in ``fit``).
        sae_config: shape of the SAE to train when one is trained.
        train_config: how to train it.
        batch_size: embeddings encoded per batch.
        verbose: show progress.

    Usage:

    ```python
    from bertopic import BERTopic
    from bertopic_sae import SAEEncoder, SAEAtomMerger
    topic_model = BERTopic(umap_model=SAEEncoder(sae="my-sae"), hdbscan_model=SAEAtomMerger(n_topics=20))
    ```
    """

    def __init__(
        self,
        sae=None,
        sae_config: SAEConfig | None = None,
        train_config: TrainConfig | None = None,
        batch_size: int = 4096,
        verbose: bool = False,
    ):
        self.sae = sae
        self.sae_config = sae_config
        self.train_config = train_config
        self.batch_size = batch_size
        self.verbose = verbose

    def fit(
        self, X: Embeddings, y: Labels | None = None, *, embedding_model_name: str | None = None
    ) -> SAEEncoder:
        """Resolve (or train) the SAE; ``embedding_model_name`` lets ``sae="auto"`` find a shipped SAE."""
        X = check_embeddings(X)
        self.sae_ = resolve_sae(
            self.sae, X, sae_config=self.sae_config, train_config=self.train_config,
            embedding_model_name=embedding_model_name, verbose=self.verbose,
        )
        if self.sae_.d_in != X.shape[1]:
            check_embeddings(X, self.sae_.d_in)
        self.n_features_in_ = X.shape[1]
        self.float16_grid_ = True  # read embeddings at float16 precision, as the merger does
        return self

    def partial_fit(self, X: Embeddings, y: Labels | None = None) -> SAEEncoder:
        """Online BERTopic: the SAE is fixed after the first batch (a pretrained SAE needs no update)."""
        if not hasattr(self, "sae_"):
            return self.fit(X)
        self._check_width(check_embeddings(X))
        return self

    def transform(self, X: Embeddings) -> sp.csr_matrix:
        """SAE activations ``(n, d_sae)`` as a scipy CSR matrix."""
        if not hasattr(self, "sae_"):
            raise NotFittedError("This SAEEncoder is not fitted yet; call fit(embeddings) first.")
        X = self._check_width(check_embeddings(X))
        grid = getattr(self, "float16_grid_", False)  # pickled by 0.1.0: full precision
        return self.sae_.encode_csr(X, batch_size=self.batch_size, verbose=self.verbose, float16_grid=grid)

    def _check_width(self, X):
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but SAEEncoder is expecting {self.n_features_in_} features as "
                "input: use the embedding model the SAE was fitted on."
            )
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # the SAE computes in float32
        return tags

    def fit_transform(self, X: Embeddings, y: Labels | None = None, **fit_params) -> sp.csr_matrix:
        return self.fit(X, y).transform(X)
