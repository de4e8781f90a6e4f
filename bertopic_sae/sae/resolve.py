"""The one place that turns an ``sae=`` argument into a ready :class:`SparseAutoencoder`, and names
embedding models (to find the SAE shipped for one).

``sae`` may be a :class:`SparseAutoencoder`, a checkpoint folder or Hub id, a shipped SAE's name,
``"auto"`` (the SAE shipped for the embedding model if there is one, else train one) or ``None`` /
``"train"`` (train a new SAE on the documents).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import scipy.sparse as sp

from .config import SAEConfig, TrainConfig
from .model import SparseAutoencoder, check_embeddings

__all__ = ["resolve_sae"]


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
