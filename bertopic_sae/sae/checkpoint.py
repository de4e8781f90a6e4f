"""Checkpoint layouts: this package's and SAELens's (``cfg.json`` + ``sae_weights.safetensors``) and
EleutherAI sparsify's (``cfg.json`` + ``sae.safetensors``), read into one :class:`SAEConfig` and tensors.

SAELens's layout holds ``W_enc`` (d_in, d_sae), ``b_enc``, ``W_dec`` (d_sae, d_in), ``b_dec``, so SAEs move
between SAELens and this package; sparsify checkpoints load too.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from .config import SAEConfig

__all__ = ["CFG_FILE", "WEIGHTS_FILE", "SPARSIFY_WEIGHTS_FILE", "TO_SAELENS", "FROM_SAELENS"]

CFG_FILE = "cfg.json"
WEIGHTS_FILE = "sae_weights.safetensors"  # SAELens
SPARSIFY_WEIGHTS_FILE = "sae.safetensors"  # EleutherAI sparsify

# Our architecture name -> the name SAELens uses in cfg.json. A trained batchtopk SAE is a JumpReLU
# SAE with one threshold for every atom, which is how SAELens stores it too.
TO_SAELENS = {"relu-l1": "standard", "topk": "topk", "batchtopk": "jumprelu"}
FROM_SAELENS = {"standard": "relu-l1", "topk": "topk", "jumprelu": "batchtopk", "batchtopk": "batchtopk"}




def _load_safetensors(path: Path) -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        raise ValueError(f"Cannot read {path}: {err}. The file is corrupt or truncated.") from err


def _read_saelens(folder: Path, raw: dict) -> tuple[SAEConfig, dict[str, Tensor]]:
    ours = raw.get("bertopic_sae") or {}
    saelens_arch = raw.get("architecture", "standard")
    if saelens_arch not in FROM_SAELENS:
        raise ValueError(
            f"{folder}: SAELens architecture {saelens_arch!r} is not supported "
            f"(supported: {sorted(FROM_SAELENS)})."
        )
    if raw.get("apply_b_dec_to_input") is False:
        raise ValueError(f"{folder}: SAEs with apply_b_dec_to_input=false are not supported.")
    if raw.get("normalize_activations") not in (None, "none"):
        raise ValueError(
            f"{folder}: normalize_activations={raw['normalize_activations']!r} is not supported; "
            "normalise the embeddings yourself and save the SAE without it."
        )
    try:
        cfg = SAEConfig.from_dict(
            {
                **ours,
                "d_in": int(raw["d_in"]),
                "d_sae": int(raw["d_sae"]),
                "architecture": ours.get("architecture", FROM_SAELENS[saelens_arch]),
                "k": int(raw.get("k", ours.get("k", 32))),
            }
        )
    except KeyError as err:
        raise ValueError(f"{folder / CFG_FILE} lacks the field {err}.") from err
    tensors = _load_safetensors(folder / WEIGHTS_FILE)
    if saelens_arch == "jumprelu" and "threshold" not in tensors:
        raise ValueError(f"{folder}: a jumprelu checkpoint needs a 'threshold' tensor.")
    return cfg, tensors


def _read_sparsify(folder: Path, raw: dict) -> tuple[SAEConfig, dict[str, Tensor]]:
    tensors = _load_safetensors(folder / SPARSIFY_WEIGHTS_FILE)
    if "encoder.weight" not in tensors:
        raise ValueError(f"{folder}: sparsify checkpoint lacks 'encoder.weight' (has {sorted(tensors)}).")
    n_latents, d_in = tensors["encoder.weight"].shape
    if "d_in" in raw and int(raw["d_in"]) != d_in:
        raise ValueError(f"{folder}: cfg.json says d_in={raw['d_in']} but encoder.weight has {d_in} columns.")
    k = int(raw.get("k", 32))
    cfg = SAEConfig(d_in=int(d_in), d_sae=int(n_latents), architecture="topk", k=min(k, int(n_latents)))
    converted = {
        "W_enc": tensors["encoder.weight"].T.contiguous(),
        "b_enc": tensors.get("encoder.bias", torch.zeros(n_latents)),
    }
    if "W_dec" in tensors:
        converted["W_dec"] = tensors["W_dec"]
    if "b_dec" in tensors:
        converted["b_dec"] = tensors["b_dec"]
    return cfg, converted


def _download_from_hub(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id))
    except Exception as err:  # offline, unknown repo, no huggingface_hub
        raise FileNotFoundError(
            f"{repo_id!r} is not a local folder and could not be downloaded from the Hugging Face Hub "
            f"({type(err).__name__}: {err}). Pass a folder that holds cfg.json and sae_weights.safetensors."
        ) from err
