"""An SAE on a language model's residual stream, with the per-feature statistics topic models need.

:class:`LMSAE` bundles a :class:`bertopic_sae.SparseAutoencoder` (any SAELens / sparsify checkpoint, e.g.
GemmaScope for Gemma-2, or the shipped SmolLM2 one), the LM and layer it reads, and optional
:class:`FeatureStats` computed on the SAE's training data: the count thresholds q_i (80th percentile of
each feature's non-zero activations, MTM eq. 5), firing rates (for the > 1% density filter) and
top-activating examples (for descriptions). Stats live next to the weights as ``feature_stats.npz`` and
``feature_examples.json``.

Usage:

```python
from bertopic_sae.mtm.lmsae import load_lm_sae
bundle = load_lm_sae()                                   # shipped SmolLM2-135M-Instruct, layer 15
bundle = load_lm_sae("my-gemmascope-folder", model="google/gemma-2-2b", layer=12)
```
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from .. import SparseAutoencoder

__all__ = [
    "FeatureStats",
    "LMSAE",
    "load_lm_sae",
    "SHIPPED",
    "DEFAULT_LM_SAE",
    "quantile_thresholds",
    "check_sae_fits",
]

_PRETRAINED = Path(__file__).resolve().parents[1] / "sae" / "pretrained"
SHIPPED = {
    "smollm2-135m-instruct-L15": ("smollm2-135m-instruct", 15),
}
"""Shipped LM SAEs: folder name -> (LM id for :func:`bertopic_sae.lm.load_causal_lm`, layer)."""
DEFAULT_LM_SAE = "smollm2-135m-instruct-L15"
"""The LM SAE the mechanistic topic models load when none is given (see its model card)."""
STATS_FILE = "feature_stats.npz"
EXAMPLES_FILE = "feature_examples.json"


@dataclass
class FeatureStats:
    """Per-feature statistics of an SAE on its training tokens."""

    thresholds: np.ndarray
    """``(d_sae,)`` q_i: a token counts for feature i when its activation is strictly above it."""
    firing_rate: np.ndarray
    """``(d_sae,)`` fraction of training tokens on which the feature is non-zero."""
    quantile: float = 0.8
    """The quantile of the non-zero activations that ``thresholds`` holds."""
    n_tokens: int = 0
    """Tokens the statistics were computed on."""
    source: str = "sae-training-data"
    """``"sae-training-data"`` (the paper's choice) or ``"corpus"`` (fallback on the user's documents)."""

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``feature_stats.npz`` into ``folder`` atomically."""
        path = Path(folder) / STATS_FILE
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=".npz", delete=False
        ) as f:
            np.savez(
                f,
                thresholds=self.thresholds.astype(np.float32),
                firing_rate=self.firing_rate.astype(np.float32),
                meta=np.array(
                    json.dumps({"quantile": self.quantile, "n_tokens": self.n_tokens, "source": self.source})
                ),
            )
        os.chmod(f.name, 0o644)  # package data: readable by every user, like the weights
        os.replace(f.name, path)
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike) -> FeatureStats:
        """Read ``feature_stats.npz`` from ``folder``."""
        with np.load(Path(folder) / STATS_FILE) as data:
            meta = json.loads(str(data["meta"]))
            return cls(np.asarray(data["thresholds"]), np.asarray(data["firing_rate"]), **meta)


class LMSAE(NamedTuple):
    """An SAE for one LM layer, with its statistics and examples when they exist."""

    sae: SparseAutoencoder
    """The sparse autoencoder (d_in = the LM's d_model)."""
    model: str
    """LM id it belongs to (for :func:`bertopic_sae.lm.load_causal_lm`)."""
    layer: int
    """Hidden-state index it reads (1 = after the first block)."""
    stats: FeatureStats | None
    """Thresholds and firing rates on the SAE's training data, or None (then the corpus fallback is used)."""
    examples: dict | None
    """Per feature ``{"top_tokens": [[token, count], ...], "contexts": [[[text, act], ...]]}`` or None."""
    folder: str
    """Where it was loaded from."""


def load_lm_sae(
    name_or_folder: str | os.PathLike = DEFAULT_LM_SAE,
    *,
    model: str | None = None,
    layer: int | None = None,
    hookpoint: str | None = None,
) -> LMSAE:
    """Load a shipped LM SAE by name, or any SAELens / sparsify checkpoint folder for a user's LM and layer.

    Arguments:
        name_or_folder: a name in :data:`SHIPPED`, or a checkpoint folder (or Hub id).
        model: the LM id; read from the checkpoint's metadata (``model_name``) when omitted.
        layer: hidden-state index; read from the metadata (``hidden_state_index``, or the number in
            SAELens's ``hook_name`` ``blocks.<i>.hook_resid_post`` + 1) when omitted.
        hookpoint: sub-folder for sparsify checkpoints that hold one SAE per layer.

    Usage:

    ```python
    bundle = load_lm_sae()
    bundle.sae.d_sae, bundle.layer, bundle.stats.thresholds[:5]
    ```
    """
    shipped = str(name_or_folder) in SHIPPED
    folder = _PRETRAINED / str(name_or_folder) if shipped else Path(name_or_folder)
    sae = SparseAutoencoder.from_pretrained(folder, hookpoint=hookpoint)
    if hookpoint is not None:
        folder = folder / hookpoint
    meta = sae.metadata or {}
    if shipped:
        model, layer = model or SHIPPED[str(name_or_folder)][0], layer or SHIPPED[str(name_or_folder)][1]
    model = model or meta.get("model_name")
    if layer is None:
        layer = meta.get("hidden_state_index")
        hook = str(meta.get("hook_name", ""))
        if layer is None and hook.startswith("blocks.") and hook.endswith("hook_resid_post"):
            layer = int(hook.split(".")[1]) + 1
    if model is None or layer is None:
        raise ValueError(
            f"{folder}: cannot tell which LM and layer this SAE reads (no model_name / hook_name in its "
            "metadata); pass model=... and layer=... (layer = hidden-state index, 1 = after the first block)."
        )
    stats = FeatureStats.load(folder) if (folder / STATS_FILE).exists() else None
    if stats is not None and stats.thresholds.shape != (sae.d_sae,):
        raise ValueError(
            f"{folder / STATS_FILE} has {stats.thresholds.shape[0]} features, the SAE {sae.d_sae}."
        )
    examples = json.loads((folder / EXAMPLES_FILE).read_text()) if (folder / EXAMPLES_FILE).exists() else None
    return LMSAE(sae, str(model), int(layer), stats, examples, str(folder))


def check_sae_fits(lm: Any, sae: SparseAutoencoder, layer: int) -> None:
    """Raise ``ValueError`` when the SAE's width is not the LM's residual-stream width."""
    from .activations import check_layer

    check_layer(lm, layer)
    if sae.d_in != lm.d_model:
        raise ValueError(
            f"The SAE reads {sae.d_in}-d vectors but {lm.name} has a {lm.d_model}-d residual stream; "
            "use an SAE trained on this model (or load the model it was trained on)."
        )


def quantile_thresholds(token_acts: sp.csr_matrix, quantile: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """q_i = ``quantile`` of each column's non-zero values, and each column's firing rate.

    Arguments:
        token_acts: ``(n_tokens, d_sae)`` sparse SAE activations.
        quantile: in (0, 1); the paper uses 0.8.

    Returns ``(thresholds, firing_rate)``; a feature that never fires gets threshold ``inf``.
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}.")
    csc = sp.csc_matrix(token_acts)
    thresholds = np.full(csc.shape[1], np.inf, dtype=np.float32)
    for j in range(csc.shape[1]):
        values = csc.data[csc.indptr[j] : csc.indptr[j + 1]]
        values = values[values > 0]
        if values.size:
            thresholds[j] = np.quantile(values, quantile)
    firing = np.diff(csc.indptr) / max(csc.shape[0], 1)
    return thresholds, firing.astype(np.float32)
