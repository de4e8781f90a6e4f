"""Steering directions of mechanistic topics: ``normalize(Σ_i c_ki w_i)`` over SAE decoder rows w_i.

The paper's weights are c_ki = β_ki. Two measured problems with a small SAE (benchmarks/README.md, issue 17):
a β-weighted sum of many decoder rows points partly along the decoder bias (nearly the mean residual
stream), and topics share their heaviest features, many of them digit, punctuation or word-piece
features. ``weighting="specific"``, ``content_only`` and ``remove_bias`` address each.

Usage:

```python
from bertopic_sae.mtm.directions import topic_direction
v = topic_direction(model.topic_feature_, model.features_, model.bundle_, 3, weighting="specific")
```
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from .lmsae import LMSAE

__all__ = ["topic_direction", "DirectionWeighting"]

DirectionWeighting = Literal["beta", "specific"]


def topic_direction(
    topic_feature: np.ndarray,
    features: np.ndarray,
    bundle: LMSAE,
    topic: int,
    *,
    weighting: DirectionWeighting = "beta",
    content_only: bool = False,
    remove_bias: bool = False,
    top_features: int | None = None,
) -> torch.Tensor:
    """Unit ``(d_model,)`` direction of ``topic`` (see ``MechanisticTopicModel.topic_direction``).

    Arguments:
        topic_feature: β, ``(n_topics, n_features)``.
        features: SAE feature id of each column of β.
        bundle: the SAE (its decoder rows, bias and stored examples).
        topic: topic id.
        weighting: ``"beta"`` or ``"specific"`` (max(β_ki - mean_k' β_k'i, 0)).
        content_only: keep only word features (:func:`~bertopic_sae.mtm.descriptions.content_features`).
        remove_bias: project out the direction of the SAE's decoder bias ``b_dec``.
        top_features: keep only this many highest-weight features (after the options above); a unit push
            spread over n similar features moves each by about 1/sqrt(n), so fewer features steer harder.

    Raises:
        ValueError: unknown weighting, or no feature weight left after the options.
    """
    row = np.asarray(topic_feature[topic], dtype=np.float64)
    if weighting == "specific":
        row = np.clip(row - np.asarray(topic_feature).mean(0), 0.0, None)
    elif weighting != "beta":
        raise ValueError(f"weighting={weighting!r}: use 'beta' or 'specific'.")
    if content_only:
        from .descriptions import content_features

        row = row * content_features(bundle, features)
    if top_features is not None:
        if top_features < 1:
            raise ValueError(f"top_features={top_features}: pass a positive number or None.")
        row = np.where(row >= np.sort(row)[-min(top_features, len(row))], row, 0.0)
    if not np.any(row > 0):
        raise ValueError(
            f"topic {topic} has no feature weight left (weighting={weighting!r}, content_only="
            f"{content_only}); use weighting='beta' or content_only=False."
        )
    decoder = bundle.sae.W_dec.detach().float().cpu()[torch.as_tensor(np.asarray(features))]
    direction = torch.as_tensor(row, dtype=torch.float32) @ decoder
    if remove_bias:
        bias = bundle.sae.b_dec.detach().float().cpu()
        bias = bias / bias.norm().clamp_min(1e-12)
        direction = direction - (direction @ bias) * bias
    return direction / direction.norm().clamp_min(1e-12)
