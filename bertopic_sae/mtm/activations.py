"""Residual-stream activations of a causal LM at one layer, token by token.

Documents are tokenised without special tokens, truncated to ``max_tokens`` tokens, and the tokenizer's
BOS token is put in front of each (the LM's own first-position "attention sink": its activation norm is
~100x that of other tokens). That first position, padding and every special token are dropped from the
output, so each kept row is one real token of one document. Only the blocks up to ``layer`` run: a
forward hook on block ``layer - 1`` stores its output and stops the forward pass.

``layer`` is the hidden-state index used by ``output_hidden_states`` and by
:func:`bertopic_sae.steering.steer`: 1 = after the first block, ``n_layers`` = after the last.

Usage:

```python
from bertopic_sae.lm import load_causal_lm
from bertopic_sae.mtm.activations import collect_activations
lm = load_causal_lm()
acts = collect_activations(lm, ["A short text.", "Another one."], layer=15)
acts.acts.shape, acts.doc_index, acts.n_tokens
```
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from ..steering import decoder_blocks

__all__ = [
    "TokenBatch",
    "TokenActivations",
    "iter_activations",
    "collect_activations",
    "activations_to_shards",
    "check_layer",
]

MANIFEST = "manifest.json"


class TokenBatch(NamedTuple):
    """Activations of the real tokens of a batch of documents."""

    acts: torch.Tensor
    """``(n_tokens, d_model)`` residual-stream activations, on the LM's device."""
    doc_index: np.ndarray
    """``(n_tokens,)`` index of each token's document in the input sequence."""
    token_ids: np.ndarray
    """``(n_tokens,)`` vocabulary id of each token."""
    docs: np.ndarray
    """Indices of the documents in this batch (some may have no kept token)."""


class TokenActivations(NamedTuple):
    """What :func:`collect_activations` returns, rows in document order."""

    acts: np.ndarray
    """``(n_tokens, d_model)`` float32 activations."""
    doc_index: np.ndarray
    """``(n_tokens,)`` document of each row."""
    token_ids: np.ndarray
    """``(n_tokens,)`` vocabulary id of each row."""
    n_tokens: np.ndarray
    """``(n_docs,)`` kept tokens per document (N_tok)."""


def check_layer(lm: Any, layer: int) -> None:
    """Raise ``ValueError`` unless ``layer`` is a valid hidden-state index of ``lm`` (1..n_layers)."""
    n_layers = len(decoder_blocks(lm.model))
    if not isinstance(layer, (int, np.integer)) or not 1 <= layer <= n_layers:
        raise ValueError(
            f"layer={layer!r} is out of range: {lm.name} has hidden states 1..{n_layers} "
            f"(1 = after the first block); a middle layer such as {n_layers // 2} suits topic features."
        )


class _Stop(Exception):
    """Raised by the capture hook to end the forward pass at the chosen layer."""


@contextmanager
def _capture(model: Any, layer: int) -> Iterator[dict]:
    store: dict = {}

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        store["hidden"] = output[0] if isinstance(output, tuple) else output
        raise _Stop

    handle = decoder_blocks(model)[layer - 1].register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def _tokenize(tokenizer: Any, texts: Sequence[str], max_tokens: int) -> list[list[int]]:
    bos = tokenizer.bos_token_id
    encoded = tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=max_tokens)[
        "input_ids"
    ]
    return [([bos] if bos is not None else []) + ids for ids in encoded]


def iter_activations(
    lm: Any,
    texts: Sequence[str],
    layer: int,
    *,
    max_tokens: int = 128,
    batch_size: int = 32,
    verbose: bool = True,
    desc: str = "activations",
) -> Iterator[TokenBatch]:
    """Yield :class:`TokenBatch` es of the residual stream at ``layer``, documents sorted by length.

    Arguments:
        lm: a :class:`bertopic_sae.lm.LanguageModel`.
        texts: documents.
        layer: hidden-state index (1..n_layers).
        max_tokens: tokens kept per document (the rest is cut off), not counting the BOS token.
        batch_size: documents per forward pass.
        verbose: show a progress bar (in tokens).
        desc: progress bar label.
    """
    from tqdm.auto import tqdm

    check_layer(lm, layer)
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of documents, got a single string; wrap it in a list.")
    if max_tokens <= 0 or batch_size <= 0:
        raise ValueError("max_tokens and batch_size must be positive.")
    tokenizer, model = lm.tokenizer, lm.model
    special = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
    ids = _tokenize(tokenizer, texts, max_tokens)
    order = np.argsort([-len(row) for row in ids], kind="stable")  # similar lengths share a batch
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    bar = tqdm(total=sum(len(row) for row in ids), disable=not verbose, desc=desc, unit="tok", smoothing=0.05)
    with torch.inference_mode(), _capture(model, layer) as store:
        for start in range(0, len(order), batch_size):
            docs = order[start : start + batch_size]
            rows = [ids[i] for i in docs]
            width = max(1, max(len(r) for r in rows))
            input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for r, row in enumerate(rows):
                input_ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
                mask[r, : len(row)] = 1
            keep = mask.bool() & ~torch.isin(input_ids, special)
            if tokenizer.bos_token_id is None:
                keep[:, 0] = False  # no BOS to absorb the attention sink: drop the first token itself
            if keep.any():
                try:
                    model(input_ids=input_ids.to(device), attention_mask=mask.to(device), use_cache=False)
                except _Stop:
                    pass
                hidden = store.pop("hidden")
                acts = hidden[keep.to(device)].float()
            else:
                acts = torch.zeros((0, lm.d_model), device=device)
            doc_index = np.repeat(docs, keep.sum(1).numpy())
            yield TokenBatch(acts, doc_index, input_ids[keep].numpy(), docs)
            bar.update(int(mask.sum()))
    bar.close()


def collect_activations(
    lm: Any,
    texts: Sequence[str],
    layer: int,
    *,
    max_tokens: int = 128,
    batch_size: int = 32,
    verbose: bool = True,
) -> TokenActivations:
    """All kept tokens' activations in memory, rows in document order (see :func:`iter_activations`).

    Usage:

    ```python
    acts = collect_activations(lm, texts, layer=15, max_tokens=64)
    ```
    """
    parts = list(
        iter_activations(lm, texts, layer, max_tokens=max_tokens, batch_size=batch_size, verbose=verbose)
    )
    acts = (
        np.concatenate([p.acts.cpu().numpy() for p in parts])
        if parts
        else np.zeros((0, lm.d_model), np.float32)
    )
    doc_index = np.concatenate([p.doc_index for p in parts]) if parts else np.zeros(0, np.int64)
    token_ids = np.concatenate([p.token_ids for p in parts]) if parts else np.zeros(0, np.int64)
    order = np.argsort(doc_index, kind="stable")
    return TokenActivations(
        acts[order], doc_index[order], token_ids[order], np.bincount(doc_index, minlength=len(texts))
    )


def _atomic_save(path: Path, array: np.ndarray) -> None:
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".npy", delete=False
    ) as f:
        np.save(f, array)
    os.replace(f.name, path)


def _atomic_text(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as f:
        f.write(text)
    os.replace(f.name, path)


def activations_to_shards(
    lm: Any,
    texts: Sequence[str],
    layer: int,
    out: str | os.PathLike,
    *,
    max_tokens: int = 128,
    docs_per_shard: int = 2000,
    batch_size: int = 32,
    dtype: str = "float16",
    source: str = "",
    verbose: bool = True,
) -> Path:
    """Stream token activations to ``out/shard-00000.npy, ...`` + ``manifest.json``; resumable.

    Each shard holds the kept tokens of ``docs_per_shard`` documents (``shard-*.npy``: activations,
    ``tokens-*.npz``: document index and token id of every row), written atomically; a rerun redoes only
    missing shards. The folder reads as one memory-mapped ``(n_tokens, d_model)`` array through
    ``bertopic_sae.cli.ShardedEmbeddings(out)``, which :func:`bertopic_sae.train_sae` streams from.
    Returns the manifest path.

    Usage:

    ```python
    activations_to_shards(lm, texts, 15, "acts/imdb")
    X = ShardedEmbeddings("acts/imdb")
    ```
    """
    from tqdm.auto import tqdm

    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be 'float16' or 'float32', got {dtype!r}.")
    check_layer(lm, layer)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / MANIFEST
    settings = {
        "model": lm.name,
        "layer": int(layer),
        "max_tokens": max_tokens,
        "n_docs": len(texts),
        "docs_per_shard": docs_per_shard,
        "dtype": dtype,
    }
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        changed = [key for key, value in settings.items() if old.get(key) != value]
        if changed:
            raise ValueError(
                f"{folder} holds activations with another {', '.join(changed)}; use another folder."
            )
    starts = list(range(0, len(texts), docs_per_shard))
    names = [f"shard-{i:05d}.npy" for i in range(len(starts))]
    _atomic_text(
        manifest_path,
        json.dumps(
            {**settings, "source": source, "complete": False, "shards": [], "dim": lm.d_model}, indent=2
        ),
    )
    started = time.perf_counter()
    done_tokens = 0
    for index in tqdm(range(len(starts)), disable=not verbose, desc="shards"):
        path, meta = folder / names[index], folder / f"tokens-{index:05d}.npz"
        if path.exists() and meta.exists():
            continue
        chunk = texts[starts[index] : starts[index] + docs_per_shard]
        got = collect_activations(
            lm, chunk, layer, max_tokens=max_tokens, batch_size=batch_size, verbose=verbose
        )
        with tempfile.NamedTemporaryFile(
            dir=folder, prefix=f".{meta.name}.", suffix=".npz", delete=False
        ) as f:
            np.savez(f, doc_index=got.doc_index + starts[index], token_ids=got.token_ids)
        os.replace(f.name, meta)
        _atomic_save(path, got.acts.astype(dtype))
        done_tokens += got.acts.shape[0]
    shards = [{"file": name, "rows": int(np.load(folder / name, mmap_mode="r").shape[0])} for name in names]
    seconds = time.perf_counter() - started
    _atomic_text(
        manifest_path,
        json.dumps(
            {
                **settings,
                "source": source,
                "complete": True,
                "dim": lm.d_model,
                "shards": shards,
                "n_rows": sum(s["rows"] for s in shards),
                "tokens_per_second_last_run": round(done_tokens / seconds, 1) if done_tokens else None,
            },
            indent=2,
        ),
    )
    return manifest_path
