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

__all__ = [
    "CFG_FILE", "WEIGHTS_FILE", "SPARSIFY_WEIGHTS_FILE", "TO_SAELENS", "FROM_SAELENS", "sparsify_layout",
]

CFG_FILE = "cfg.json"
WEIGHTS_FILE = "sae_weights.safetensors"  # SAELens
SPARSIFY_WEIGHTS_FILE = "sae.safetensors"  # EleutherAI sparsify

# Our architecture name -> the name SAELens uses in cfg.json. A trained batchtopk SAE is a JumpReLU
# SAE with one threshold for every atom, which is how SAELens stores it too; so is a Matryoshka one (its
# nested prefixes only shape the training loss; cfg.json's "bertopic_sae" section keeps them).
TO_SAELENS = {"relu-l1": "standard", "topk": "topk", "batchtopk": "jumprelu",
              "matryoshka-batchtopk": "jumprelu"}
FROM_SAELENS = {"standard": "relu-l1", "topk": "topk", "jumprelu": "batchtopk", "batchtopk": "batchtopk"}


def _load_safetensors(path: Path) -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        raise ValueError(f"Cannot read {path}: {err}. The file is corrupt or truncated.") from err


# SAELens cfg.json fields whose other values change what the SAE computes; each value listed here is one
# this package computes identically. Anything else is refused rather than loaded with wrong outputs.
_SAELENS_SAME = {
    "apply_b_dec_to_input": (True,),
    "normalize_activations": ("none", None, False),  # pre-6.0 configs wrote a bool
    "reshape_activations": ("none",),
    "finetuning_scaling_factor": (False, None),
    "activation_fn": ("relu", "topk", None),  # pre-6.0 "activation_fn_str"
    "hook_head_index": (None,),
}


def _saelens_fields(raw: dict) -> dict:
    """cfg.json read as SAELens 6 reads it: pre-6.0 names renamed, ``activation_fn_str="topk"`` turned
    into the topk architecture (as SAELens's ``handle_pre_6_0_config`` does)."""
    renames = {"activation_fn_str": "activation_fn", "hook_point_head_index": "hook_head_index"}
    fields = {renames.get(key, key): value for key, value in raw.items()}
    if fields.get("activation_fn") == "topk":
        k = (fields.get("activation_fn_kwargs") or {}).get("k")
        if k is None:
            raise ValueError("cfg.json has activation_fn_str='topk' but no activation_fn_kwargs.k.")
        fields.setdefault("architecture", "topk")
        if fields["architecture"] == "standard":
            fields["architecture"] = "topk"
        fields["k"] = k
    fields.setdefault("architecture", "standard")
    return fields


def _read_saelens(folder: Path, raw: dict) -> tuple[SAEConfig, dict[str, Tensor]]:
    ours = raw.get("bertopic_sae") or {}
    fields = _saelens_fields(raw)
    saelens_arch = fields["architecture"]
    if saelens_arch not in FROM_SAELENS:
        raise ValueError(
            f"{folder}: SAELens architecture {saelens_arch!r} is not supported "
            f"(supported: {sorted(FROM_SAELENS)})."
        )
    for field, same in _SAELENS_SAME.items():
        if field in fields and fields[field] not in same:
            raise ValueError(
                f"{folder}: SAELens field {field}={fields[field]!r} is not supported (this package computes "
                f"only {field} in {list(same)}); it would load with different outputs."
            )
    try:
        cfg = SAEConfig.from_dict(
            {
                **ours,
                "d_in": int(fields["d_in"]),
                "d_sae": int(fields["d_sae"]),
                "architecture": ours.get("architecture", FROM_SAELENS[saelens_arch]),
                "k": int(fields.get("k", ours.get("k", 32))),
            }
        )
    except KeyError as err:
        raise ValueError(f"{folder / CFG_FILE} lacks the field {err}.") from err
    tensors = _load_safetensors(folder / WEIGHTS_FILE)
    if saelens_arch == "batchtopk":  # a BatchTopKTrainingSAE checkpoint: one threshold for every atom
        if "topk_threshold" not in tensors:
            raise ValueError(f"{folder}: a batchtopk checkpoint needs a 'topk_threshold' tensor.")
        tensors["threshold"] = tensors.pop("topk_threshold").reshape(()).expand(cfg.d_sae).clone()
    if saelens_arch in ("jumprelu", "batchtopk") and "threshold" not in tensors:
        raise ValueError(f"{folder}: a {saelens_arch} checkpoint needs a 'threshold' tensor.")
    if fields.get("rescale_acts_by_decoder_norm") and saelens_arch in ("topk", "batchtopk"):
        _fold_decoder_norm(folder, tensors)
    return cfg, tensors


def _fold_decoder_norm(folder: Path, tensors: dict[str, Tensor]) -> None:
    """``rescale_acts_by_decoder_norm``: SAELens scales pre-activations by the atom norms and divides them
    out before decoding; moving the norms into W_enc, b_enc and W_dec computes the same outputs (what
    SAELens's own ``_fold_norm_topk`` does when it saves an inference SAE)."""
    if "W_dec" not in tensors or "W_enc" not in tensors or "b_enc" not in tensors:
        return  # the shape check of from_pretrained names the missing tensor
    norm = tensors["W_dec"].float().norm(dim=-1)
    if not bool((norm > 0).all()):
        raise ValueError(
            f"{folder}: rescale_acts_by_decoder_norm with a zero decoder row cannot be folded."
        )
    tensors["W_enc"] = tensors["W_enc"] * norm
    tensors["b_enc"] = tensors["b_enc"] * norm
    tensors["W_dec"] = tensors["W_dec"] / norm[:, None]  # a batchtopk threshold applies to folded pre-acts


# sparsify cfg.json fields this package cannot compute: (field, the value it can, what the other value does).
_SPARSIFY_SAME = (
    ("activation", "topk", "groupmax keeps the largest activation of each group of latents"),
    ("skip_connection", False, "adds a linear skip connection W_skip from input to output"),
    ("transcode", False, "a transcoder predicts another layer's output and does not subtract b_dec"),
)


def _read_sparsify(folder: Path, raw: dict) -> tuple[SAEConfig, dict[str, Tensor]]:
    for field, same, meaning in _SPARSIFY_SAME:
        if raw.get(field, same) != same:
            raise ValueError(
                f"{folder}: sparsify field {field}={raw[field]!r} is not supported ({meaning}); only "
                f"{field}={same!r} checkpoints load."
            )
    tensors = _load_safetensors(folder / SPARSIFY_WEIGHTS_FILE)
    if "W_skip" in tensors:
        raise ValueError(f"{folder}: sparsify checkpoint has a skip connection (W_skip); not supported.")
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


def sparsify_layout(sae_cfg: SAEConfig, tensors: dict[str, Tensor]) -> tuple[dict, dict[str, Tensor]]:
    """``(cfg.json, sae.safetensors tensors)`` of a topk SAE in EleutherAI sparsify's layout.

    Raises:
        ValueError: the architecture has no sparsify equivalent (sparsify writes topk SAEs only).
    """
    if sae_cfg.architecture != "topk":
        raise ValueError(
            f"sparsify stores topk SAEs only; this SAE is {sae_cfg.architecture!r}. Save it with "
            "layout='saelens' instead."
        )
    cfg = {
        "activation": "topk",
        "expansion_factor": max(1, sae_cfg.d_sae // sae_cfg.d_in),
        "normalize_decoder": True,
        "num_latents": sae_cfg.d_sae,
        "k": sae_cfg.k,
        "multi_topk": False,
        "skip_connection": False,
        "transcode": False,
        "d_in": sae_cfg.d_in,
    }
    weights = {
        "encoder.weight": tensors["W_enc"].T.contiguous(),
        "encoder.bias": tensors["b_enc"],
        "W_dec": tensors["W_dec"],
        "b_dec": tensors["b_dec"],
    }
    return cfg, weights


def _download_from_hub(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id))
    except Exception as err:  # offline, unknown repo, no huggingface_hub
        raise FileNotFoundError(
            f"{repo_id!r} is not a local folder and could not be downloaded from the Hugging Face Hub "
            f"({type(err).__name__}: {err}). Pass a folder that holds cfg.json and sae_weights.safetensors."
        ) from err
