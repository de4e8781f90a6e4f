"""Stage 1 in BERTopic: :class:`SAEEncoder`, the SAE where UMAP stands (BERTopic's ``umap_model`` slot)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from .config import SAEConfig, TrainConfig
from .sae import SparseAutoencoder, check_embeddings

__all__ = ["SAEEncoder", "resolve_sae"]


def resolve_sae(
    sae,
    X: np.ndarray | None,
    *,
    sae_config: SAEConfig | None = None,
    train_config: TrainConfig | None = None,
    embedding_model_name: str | None = None,
    seed: int | None = None,
    verbose: bool = False,
) -> SparseAutoencoder:
    """Turn the ``sae`` argument of the BERTopic components into a ready SparseAutoencoder.

    ``sae`` may be a :class:`SparseAutoencoder`, a checkpoint folder or Hub id, ``"auto"`` (the
    SAE shipped with the package for ``embedding_model_name`` if there is one, else train on ``X``),
    or ``None`` / ``"train"`` (train a new SAE on ``X``).
    """
    from .pretrained import PRETRAINED, load_pretrained, pretrained_for

    if isinstance(sae, SparseAutoencoder):
        return sae
    if isinstance(sae, str) and sae in PRETRAINED and not os.path.exists(sae):
        return load_pretrained(sae)
    if isinstance(sae, (str, os.PathLike)) and sae not in ("auto", "train"):
        return SparseAutoencoder.from_pretrained(sae)
    if sae == "auto" and embedding_model_name is not None:
        name = pretrained_for(X.shape[1] if X is not None else None, embedding_model_name)
        if name is not None:
            return load_pretrained(name)
    if X is None:
        raise ValueError("No SAE given and no embeddings to train one on: pass sae=... or fit on embeddings.")
    if sp.issparse(X):
        raise ValueError(
            "Got sparse SAE codes but no SAE: pass the same SAE to SAEAtomMerger(sae=...) as to SAEEncoder."
        )
    from .train import train_sae

    X = check_embeddings(X)
    cfg = sae_config or SAEConfig(d_in=X.shape[1], d_sae=_default_atoms(X.shape[0], X.shape[1]))
    if sae == "auto":
        warnings.warn(
            f"No shipped SAE for the embedding model {embedding_model_name or '(name unknown)'} with "
            f"{X.shape[1]}-d embeddings (shipped: {', '.join(sorted(PRETRAINED))}); training a {cfg.d_sae}-atom "
            f"SAE on these {X.shape[0]} documents. Pass sae=<checkpoint> (see `bertopic-sae pretrain`) for a "
            "bigger SAE, or sae='train' to silence this.",
            UserWarning, stacklevel=3,
        )
    train_cfg = train_config or TrainConfig(verbose=verbose, steps=_default_steps(X.shape[0]), seed=seed or 0)
    return train_sae(X, cfg, train_cfg).sae


def _default_atoms(n_docs: int, d_in: int) -> int:
    # The paper's 4x expansion needs many documents; a small corpus supports fewer atoms.
    return int(min(4 * d_in, max(64, n_docs // 8)))


def _default_steps(n_docs: int) -> int:
    return int(min(3000, max(500, 30 * n_docs // 1000)))


class SAEEncoder(BaseEstimator, TransformerMixin):
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

    def fit(self, X, y=None, *, embedding_model_name: str | None = None) -> "SAEEncoder":
        """Resolve (or train) the SAE; ``embedding_model_name`` lets ``sae="auto"`` find a shipped SAE."""
        X = check_embeddings(X)
        self.sae_ = resolve_sae(
            self.sae, X, sae_config=self.sae_config, train_config=self.train_config,
            embedding_model_name=embedding_model_name, verbose=self.verbose,
        )
        if self.sae_.d_in != X.shape[1]:
            check_embeddings(X, self.sae_.d_in)
        self.n_features_in_ = X.shape[1]
        return self

    def partial_fit(self, X, y=None) -> "SAEEncoder":
        """Online BERTopic: the SAE is fixed after the first batch (a pretrained SAE needs no update)."""
        if not hasattr(self, "sae_"):
            self.fit(X)
        return self

    def transform(self, X) -> sp.csr_matrix:
        """SAE activations ``(n, d_sae)`` as a scipy CSR matrix."""
        if not hasattr(self, "sae_"):
            raise ValueError("This SAEEncoder is not fitted yet; call fit(embeddings) first.")
        return self.sae_.encode_csr(X, batch_size=self.batch_size, verbose=self.verbose, float16_grid=True)

    def fit_transform(self, X, y=None, **fit_params) -> sp.csr_matrix:
        return self.fit(X, y).transform(X)
