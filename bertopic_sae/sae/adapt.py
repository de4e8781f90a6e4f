"""Corpus adaptation: continue training a pretrained SAE briefly on the corpus it is about to encode.

The shipped SAE was trained on other documents; on a small corpus an SAE that has seen the corpus can
give more coherent topics. :func:`fine_tune_sae` trains a *copy* of the SAE for a few hundred steps at a
small learning rate (the given SAE is never changed); :func:`adapt_sae` applies a rule (``adapt=``) to
decide whether to adapt at all.

Usage:

```python
from bertopic_sae.sae.adapt import adapt_sae
from bertopic_sae.sae.pretrained import load_pretrained
sae = adapt_sae(load_pretrained(), embeddings, adapt="fine-tune", steps=300)
```
"""

from __future__ import annotations

import copy
from typing import Literal

import numpy as np

from .config import TrainConfig
from .model import SparseAutoencoder, check_embeddings

__all__ = ["AdaptMode", "ADAPT_MODES", "fine_tune_sae", "adapt_sae", "should_adapt"]

AdaptMode = Literal["auto", "never", "fine-tune"]
ADAPT_MODES = ("auto", "never", "fine-tune")

FINE_TUNE_LR = 2e-4
"""Adam learning rate of the fine-tuning (a fifth of the pretraining's 1e-3, so the atoms move, not reset)."""
FINE_TUNE_BATCH = 500
"""Embeddings per fine-tuning step."""


def fine_tune_sae(
    sae: SparseAutoencoder,
    X: np.ndarray,
    *,
    steps: int = 300,
    lr: float = FINE_TUNE_LR,
    batch_size: int = FINE_TUNE_BATCH,
    seed: int = 0,
    verbose: bool = False,
) -> SparseAutoencoder:
    """A copy of ``sae`` trained ``steps`` more steps on the embeddings ``X`` (``sae`` is left as it was).

    Full learning rate and sparsity penalty from the first step (no warm-up: the SAE is already trained) and
    the SAE's own decoder bias kept. The copy's ``metadata["adapted"]`` records what was done.

    Arguments:
        sae: the pretrained SAE.
        X: embeddings ``(n, d_in)`` of the corpus.
        steps: optimisation steps.
        lr: Adam learning rate.
        batch_size: embeddings per step (at most ``n``).
        seed: seed of the batch order.
        verbose: show a progress bar.
    """
    from .train import train_sae

    X = check_embeddings(X, sae.d_in)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}.")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}.")
    tuned = copy.deepcopy(sae)
    config = TrainConfig(
        steps=int(steps), lr=lr, batch_size=int(min(batch_size, X.shape[0])), warmup_ratio=0.0,
        seed=int(seed), verbose=verbose, device=str(sae.device),
    )
    result = train_sae(X, train_config=config, sae=tuned)
    tuned = result.sae
    tuned.metadata["adapted"] = {
        "method": "fine-tune", "steps": int(steps), "lr": lr, "batch_size": config.batch_size,
        "seed": int(seed), "n_docs": int(X.shape[0]), "from": sae.metadata.get("name", "given SAE"),
        "seconds": round(result.seconds, 2),
    }
    return tuned


def should_adapt(adapt: AdaptMode, n_docs: int, max_docs: int) -> bool:
    """Whether ``adapt`` fine-tunes on a corpus of ``n_docs`` documents (``"auto"``: ``n_docs <= max_docs``);
    raises on a bad ``adapt`` or ``max_docs``."""
    if adapt not in ADAPT_MODES:
        raise ValueError(f"adapt must be one of {', '.join(map(repr, ADAPT_MODES))}, got {adapt!r}.")
    if isinstance(max_docs, bool) or not isinstance(max_docs, (int, np.integer)) or max_docs < 0:
        raise ValueError(f"adapt_max_docs must be an integer >= 0, got {max_docs!r}.")
    return adapt == "fine-tune" or (adapt == "auto" and n_docs <= max_docs)


def adapt_sae(
    sae: SparseAutoencoder,
    X: np.ndarray,
    *,
    adapt: AdaptMode = "fine-tune",
    max_docs: int = 0,
    steps: int = 300,
    seed: int | None = 0,
    verbose: bool = False,
) -> SparseAutoencoder:
    """``sae`` itself, or a fine-tuned copy when the rule ``adapt`` says so for the corpus ``X``.

    Arguments:
        sae: the pretrained SAE.
        X: the corpus's embeddings ``(n, d_in)``.
        adapt: ``"never"``, ``"fine-tune"`` (always) or ``"auto"`` (fine-tune when ``n <= max_docs``).
        max_docs: the corpus-size threshold of ``"auto"``.
        steps: fine-tuning steps.
        seed: seed of the batch order.
        verbose: show a progress bar.
    """
    if not should_adapt(adapt, X.shape[0], max_docs):
        return sae
    return fine_tune_sae(sae, X, steps=steps, seed=seed or 0, verbose=verbose)
