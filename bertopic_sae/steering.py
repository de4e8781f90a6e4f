"""Steer a causal LM along a direction of its residual stream, through a forward hook.

At the residual stream after block ``layer`` (the ``layer``-th entry of ``output_hidden_states``, 0 being
the token embeddings) every position's hidden state ``h`` is replaced by

    h' = h - (h . v) v + s v,      v = direction / |direction|

so the component along ``v`` is set to ``s``: ``s = strength`` (``mode="absolute"``) or
``s = strength * |h|`` (``mode="relative"``, the same push for every token whatever its norm). With
``strength=0`` the direction is projected out. ``replace=False`` adds instead, ``h' = h + s v`` (the token's
own component is kept; 0 is then a no-op). ``positions="new"`` leaves the prompt alone and steers only the
positions whose next token is generated (the prompt's last one, then every new one, with the KV cache on),
so the prompt's cached keys and values stay unsteered. The hook works for any Hugging Face decoder whose blocks sit
in ``model.model.layers`` (Llama, Gemma, Qwen, Mistral, SmolLM), ``model.transformer.h`` (GPT-2) or
``model.gpt_neox.layers`` (Pythia). (``output_hidden_states`` of a steered call still reports the unsteered
state at ``layer`` itself: transformers records it before this hook runs; every later layer sees the steered one.)

Usage:

```python
from bertopic_sae.lm import load_causal_lm
from bertopic_sae.steering import steer
lm = load_causal_lm()
with steer(lm.model, layer=15, direction=v, strength=8.0):
    out = lm.model.generate(ids, max_new_tokens=40)
```
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import torch

__all__ = ["steer", "decoder_blocks", "SteeringMode", "SteeringPositions"]

SteeringMode = Literal["absolute", "relative"]
SteeringPositions = Literal["all", "new"]


def decoder_blocks(model: Any) -> torch.nn.ModuleList:
    """The list of transformer blocks of a Hugging Face causal LM."""
    for path in ("model.layers", "transformer.h", "gpt_neox.layers", "model.decoder.layers"):
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, torch.nn.ModuleList):
            return obj
    raise ValueError(
        f"Cannot find the transformer blocks of {type(model).__name__} (looked for model.layers, "
        "transformer.h, gpt_neox.layers, model.decoder.layers); pass a Hugging Face causal LM."
    )


@contextmanager
def steer(
    model: Any,
    layer: int,
    direction: torch.Tensor,
    strength: float,
    *,
    mode: SteeringMode = "absolute",
    skip_sinks: float | None = None,
    replace: bool = True,
    positions: SteeringPositions = "all",
) -> Iterator[None]:
    """Context manager: within it, ``model`` runs with its residual stream at ``layer`` steered.

    Arguments:
        model: a Hugging Face causal LM.
        layer: hidden-state index, 1 = after the first block, ``n_layers`` = after the last.
        direction: ``(d_model,)`` steering direction; normalised here.
        strength: the value the component along the direction is set to (see ``mode``).
        mode: ``"absolute"`` (component = strength) or ``"relative"`` (component = strength * |h|).
        skip_sinks: leave alone tokens whose residual norm is over ``skip_sinks`` x the median norm of the
            first call's tokens (attention sinks such as the first token carry ~10x the norm; editing
            them breaks the model even at strength 0); ``None`` steers every token.
        replace: True sets the component along the direction (``h - (h.v) v + s v``); False adds
            ``s v`` to ``h``.
        positions: ``"all"`` steers every position; ``"new"`` steers, in a call over several positions (a
            prompt), only its last one, and one-position calls (cached decoding) fully: the generated tokens.

    Usage:

    ```python
    with steer(lm.model, layer=15, direction=v, strength=0.5, mode="relative"):
        text = lm.model.generate(ids, max_new_tokens=30)
    ```
    """
    blocks = decoder_blocks(model)
    if not 1 <= layer <= len(blocks):
        raise ValueError(f"layer={layer} is out of range: this model has blocks 1..{len(blocks)}.")
    if mode not in ("absolute", "relative"):
        raise ValueError(f"mode={mode!r}: use 'absolute' or 'relative'.")
    if positions not in ("all", "new"):
        raise ValueError(f"positions={positions!r}: use 'all' or 'new'.")
    direction = torch.as_tensor(direction).detach().flatten()
    width = int(model.config.hidden_size)
    if direction.numel() != width:
        raise ValueError(f"direction has {direction.numel()} values, the residual stream has {width}.")
    norm = direction.norm()
    if not torch.isfinite(norm) or norm == 0:
        raise ValueError("direction is zero or not finite; pass a non-zero finite vector.")
    param = next(model.parameters())
    unit = (direction / norm).to(device=param.device, dtype=param.dtype)

    reference: dict[str, torch.Tensor] = {}

    def hook(_module: Any, _inputs: Any, output: Any) -> Any:
        hidden = output[0] if isinstance(output, tuple) else output
        along = hidden @ unit
        norms = hidden.norm(dim=-1)
        target = strength * norms if mode == "relative" else torch.full_like(norms, strength)
        shift = (target - along if replace else target).unsqueeze(-1)
        if skip_sinks is not None:
            # the prompt's (first call's) median norm is the yardstick for later one-token calls too
            limit = reference.setdefault("limit", skip_sinks * norms.flatten().median())
            shift = shift * (norms <= limit).unsqueeze(-1).to(shift.dtype)
        if positions == "new" and hidden.shape[-2] > 1:  # a prompt: only its last position predicts
            keep = torch.zeros_like(norms)
            keep[..., -1] = 1.0
            shift = shift * keep.unsqueeze(-1)
        steered = hidden + shift * unit
        if isinstance(output, tuple):
            return (steered, *output[1:])
        return steered

    handle = blocks[layer - 1].register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
