"""The one place that turns an ``sae=`` argument into a ready :class:`SparseAutoencoder`, and names
embedding models (to find the SAE shipped for one).

``sae`` may be a :class:`SparseAutoencoder`, a checkpoint folder or Hub id, a shipped SAE's name,
``"auto"`` (the SAE shipped for the embedding model if there is one, else train one) or ``None`` /
``"train"`` (train a new SAE on the documents).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .config import SAEConfig, TrainConfig
from .model import SparseAutoencoder, check_embeddings

__all__ = [
    "resolve_sae",
    "resolve_sae_spec",
    "embedding_model_name",
    "canonical_model_name",
    "hub_model_name",
    "DEFAULT_MODEL",
    "WORDLLAMA_MODEL",
]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
"""The default sentence-transformers model (shipped offline; an SAE for it ships too)."""


# ------------------------------------------------------------------------------- embedding-model naming
WORDLLAMA_MODEL = "wordllama-l2_supercat-256"
"""The name recorded for WordLlama embeddings (``bertopic_sae.components.wordllama.WordLlamaEmbedder``)."""


def canonical_model_name(name: str) -> str:
    """The name recorded for an embedding model: ``all-MiniLM-L6-v2`` for any spelling of it, the WordLlama
    embedder's full name for ``wordllama``, else itself."""
    if name.strip().lower() in ("wordllama", WORDLLAMA_MODEL, "l2_supercat"):
        return WORDLLAMA_MODEL
    return name.split("/")[-1] if name.split("/")[-1] == DEFAULT_MODEL else name


def hub_model_name(name: str) -> str:
    """The Hugging Face Hub id of an embedding model name (``sentence-transformers/...`` for the default)."""
    return f"sentence-transformers/{DEFAULT_MODEL}" if canonical_model_name(name) == DEFAULT_MODEL else name


def embedding_model_name(model) -> str | None:
    """Hub id or local folder of an embedding model (a name, a sentence-transformers model or a BERTopic
    backend wrapping one), to find the SAE shipped for it; None when it cannot be told."""
    model = getattr(model, "embedding_model", model)
    if isinstance(model, str):
        return model
    candidates = [getattr(getattr(model, "model_card_data", None), "base_model", None)]
    try:  # sentence-transformers: the transformer module knows where its weights came from
        candidates.append(model[0].auto_model.config._name_or_path)
    except (TypeError, AttributeError, IndexError, KeyError):
        pass
    candidates += [getattr(model, name, None) for name in ("model_name_or_path", "name_or_path")]
    return next((c for c in candidates if isinstance(c, str) and c), None)


# ------------------------------------------------------------------------------- SAE resolution
def _shipped(name) -> str | None:
    from .pretrained import PRETRAINED

    return name if isinstance(name, str) and name in PRETRAINED and not Path(name).exists() else None


def resolve_sae_spec(spec: str, dim: int, model_name: str) -> tuple[SparseAutoencoder | str, str]:
    """The command line's ``--sae``: ``(an SAE, or "train" to train one on the documents; a description)``.

    Arguments:
        spec: ``"auto"``, ``"train"``, a shipped SAE's name or a checkpoint folder.
        dim: width of the documents' embeddings.
        model_name: the embedding model's name.
    """
    from .pretrained import load_pretrained, pretrained_for

    if spec in ("auto", "train"):
        name = pretrained_for(dim, model_name) if spec == "auto" else None
        if name is None:
            why = " (no shipped SAE for this model)" if spec == "auto" else ""
            return "train", f"trained on these documents{why}"
        return load_pretrained(name), f"shipped {name}"
    if _shipped(spec):
        return load_pretrained(spec), f"shipped {spec}"
    return SparseAutoencoder.from_pretrained(spec), spec


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

    ``sae`` may be a :class:`SparseAutoencoder`, a shipped SAE's name (``"minilm-l6-v2"``), a checkpoint
    folder or Hub id, ``"auto"`` (the SAE shipped with the package for ``embedding_model_name`` if there
    is one, else train on ``X``), or ``None`` / ``"train"`` (train a new SAE on ``X``).

    Arguments:
        sae: the ``sae=`` argument.
        X: the documents' embeddings (to train on, and for their width), or None.
        sae_config: shape of an SAE trained on ``X``.
        train_config: how to train it.
        embedding_model_name: the embedding model's name, to pick a shipped SAE.
        seed: seed of the training when no ``train_config`` is given.
        verbose: show progress.
    """
    if isinstance(sae, SparseAutoencoder):
        return sae
    if _shipped(sae):
        from .pretrained import load_pretrained

        return load_pretrained(sae)
    if isinstance(sae, (str, os.PathLike)) and sae not in ("auto", "train"):
        return SparseAutoencoder.from_pretrained(sae)
    if sae == "auto" and embedding_model_name is not None:
        from .pretrained import load_pretrained, pretrained_for

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
        from .pretrained import PRETRAINED

        warnings.warn(
            f"No shipped SAE for the embedding model {embedding_model_name or '(name unknown)'} with "
            f"{X.shape[1]}-d embeddings (shipped: {', '.join(sorted(PRETRAINED))}); training a "
            f"{cfg.d_sae}-atom "
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
