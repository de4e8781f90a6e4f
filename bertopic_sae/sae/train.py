"""Training a :class:`~bertopic_sae.SparseAutoencoder` on embeddings.

Data can be a numpy array, a ``np.memmap`` larger than memory (read chunk by chunk, so memory stays
bounded), or an iterable of batches. The batch order is a pure function of ``(seed, step)``, which
makes a run deterministic on CPU and lets a killed run resume from its last checkpoint exactly where
it stopped. Under ``torchrun`` the model is wrapped in DistributedDataParallel and each process
takes its slice of every global batch.

Usage:

```python
import numpy as np
from bertopic_sae import SAEConfig, TrainConfig, train_sae
X = np.random.randn(5000, 64).astype("float32")
X /= np.linalg.norm(X, axis=1, keepdims=True)
result = train_sae(X, SAEConfig(d_in=64, d_sae=256), TrainConfig(steps=200, verbose=False))
print(result.l0, result.fvu, result.dead)
```
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm.auto import tqdm

from .._io import atomic_file
from .._types import TrainingData
from .config import BATCHTOPK_FAMILY, SAEConfig, TrainConfig
from .model import SparseAutoencoder, check_embeddings

__all__ = ["train_sae", "TrainResult", "ArrayBatches", "pick_device"]

STATE_FILE = "trainer_state.pt"
SAE_SUBDIR = "sae"


class TrainResult(NamedTuple):
    """What :func:`train_sae` returns."""

    sae: SparseAutoencoder
    """The trained SAE (in eval mode, on the training device)."""
    steps: int
    """Optimisation steps done in total (including steps before a resume)."""
    l0: float
    """Mean number of active atoms per embedding over the last steps."""
    fvu: float
    """Fraction of variance unexplained over the last steps."""
    dead: int
    """Atoms that did not fire on the last ``dead_after`` embeddings."""
    seconds: float
    """Wall time of this call."""
    examples_per_second: float
    """Training throughput of this call."""


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class ArrayBatches:
    """Deterministic batches from an array or memmap: ``batch(step)`` depends only on ``(seed, step)``.

    Rows are visited in a random order each epoch. A memmap (or any array larger than
    ``chunk_rows``) is read in contiguous chunks whose order, and the rows within each, are shuffled:
    that keeps reads sequential and memory bounded by two chunks.
    """

    def __init__(self, X: np.ndarray, batch_size: int, seed: int = 0, chunk_rows: int = 262_144):
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"Training data must be a non-empty 2-D array, got shape {X.shape}.")
        self.X, self.batch_size, self.seed = X, batch_size, seed
        self.n = X.shape[0]
        self.chunk_rows = self.n if not isinstance(X, np.memmap) and self.n <= chunk_rows else chunk_rows
        self.n_chunks = math.ceil(self.n / self.chunk_rows)
        self._epoch_cache: tuple[int, np.ndarray, np.ndarray] | None = None
        self._chunk_cache: dict[tuple[int, int], np.ndarray] = {}

    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        if self._epoch_cache is None or self._epoch_cache[0] != epoch:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.n_chunks)
            sizes = np.array([min(self.chunk_rows, self.n - c * self.chunk_rows) for c in order])
            self._epoch_cache = (epoch, order, np.concatenate([[0], np.cumsum(sizes)]))
        return self._epoch_cache[1], self._epoch_cache[2]

    def _chunk(self, epoch: int, chunk: int) -> np.ndarray:
        key = (epoch, chunk)
        if key not in self._chunk_cache:
            start = chunk * self.chunk_rows
            rows = np.asarray(self.X[start : start + self.chunk_rows], dtype=np.float32)
            if not np.isfinite(rows).all():
                bad = start + int(np.flatnonzero(~np.isfinite(rows).all(axis=1))[0])
                raise ValueError(
                    f"Training data has NaN or infinite values at row {bad}; drop or re-embed it."
                )
            perm = np.random.default_rng([self.seed, epoch, chunk]).permutation(rows.shape[0])
            if len(self._chunk_cache) >= 2:  # bounded memory: keep the current and the next chunk
                self._chunk_cache.pop(next(iter(self._chunk_cache)))
            self._chunk_cache[key] = rows[perm]
        return self._chunk_cache[key]

    def rows(self, start: int, count: int) -> np.ndarray:
        """``count`` rows from position ``start`` of the endless shuffled stream."""
        out = []
        while count > 0:
            epoch, position = divmod(start, self.n)
            order, bounds = self._epoch(epoch)
            slot = int(np.searchsorted(bounds, position, side="right") - 1)
            offset = position - bounds[slot]
            block = self._chunk(epoch, int(order[slot]))[offset : offset + count]
            out.append(block)
            start += block.shape[0]
            count -= block.shape[0]
        return out[0] if len(out) == 1 else np.concatenate(out)

    def batch(self, step: int, rank: int = 0, world: int = 1) -> np.ndarray:
        """The slice of global batch ``step`` that process ``rank`` of ``world`` trains on."""
        per_rank = self.batch_size
        return self.rows((step * world + rank) * per_rank, per_rank)


def _is_row_source(data) -> bool:
    """A numpy array, a memmap, or a lazy 2-D row reader (``shape`` and ``X[a:b]``, such as
    :class:`bertopic_sae.data.ShardedEmbeddings`): data that :class:`ArrayBatches` can index by step."""
    if isinstance(data, np.ndarray):
        return True
    shape = getattr(data, "shape", None)
    return (
        not isinstance(data, torch.Tensor)
        and shape is not None
        and len(shape) == 2
        and hasattr(data, "__getitem__")
    )


def _iterable_batches(data: Iterable) -> Iterator[np.ndarray]:
    while True:
        produced = False
        for batch in data:
            produced = True
            yield batch
        if not produced or iter(data) is data:  # a one-shot iterator is exhausted: stop
            return


def train_sae(
    data: TrainingData,
    sae_config: SAEConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    sae: SparseAutoencoder | None = None,
) -> TrainResult:
    """Train a sparse autoencoder.

    Arguments:
        data: embeddings ``(n, d_in)`` as a numpy array or ``np.memmap``, or an iterable of
            ``(batch, d_in)`` arrays/tensors (re-iterated when exhausted, unless it is a one-shot
            iterator, which ends training early).
        sae_config: shape and sparsity of a new SAE; ``d_in`` defaults to the data's width.
        train_config: optimisation settings (:class:`~bertopic_sae.TrainConfig`).
        sae: continue training this SAE instead of creating one.

    Returns:
        A :class:`TrainResult` with the SAE and its final L0, FVU and dead-atom count.
    """
    cfg = train_config or TrainConfig()
    device = pick_device(cfg.device)
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    rank = torch.distributed.get_rank() if distributed else 0
    world = torch.distributed.get_world_size() if distributed else 1

    expected_d_in = sae.d_in if sae is not None else (sae_config.d_in if sae_config is not None else None)
    stream: Iterator | None
    if _is_row_source(data):
        if isinstance(data, np.ndarray):
            data = check_embeddings(data, expected_d_in, name="training embeddings")
        elif expected_d_in is not None and data.shape[1] != expected_d_in:
            raise ValueError(
                f"The SAE expects d_in={expected_d_in}, the training embeddings have {data.shape[1]} columns."
            )
        sampler: ArrayBatches | None = ArrayBatches(data, cfg.batch_size, cfg.seed)
        d_in, n_examples, stream = data.shape[1], data.shape[0], None
    else:
        stream = _iterable_batches(data)
        first = next(stream, None)
        if first is None:
            raise ValueError("The batch iterable produced no data.")
        first = first.numpy() if isinstance(first, torch.Tensor) else np.asarray(first)
        if first.ndim != 2:
            raise ValueError(f"Each batch must be 2-D (batch, d_in), got shape {first.shape}.")
        sampler, n_examples, d_in = None, None, first.shape[1]
        stream = _prepend(first, stream)

    new_sae = sae is None
    if sae is None:
        sae_config = sae_config or SAEConfig(d_in=d_in)
        if sae_config.d_in != d_in:
            raise ValueError(
                f"sae_config.d_in={sae_config.d_in} but the data has {d_in} columns; set d_in={d_in}."
            )
        sae = SparseAutoencoder(sae_config, seed=cfg.seed)
    elif sae.d_in != d_in:
        raise ValueError(f"The SAE expects d_in={sae.d_in} but the data has {d_in} columns.")
    sae.to(device)
    sae.train()

    optimizer = torch.optim.Adam(sae.parameters(), lr=cfg.lr, betas=(0.9, 0.999))
    warmup = max(1, int(cfg.warmup_ratio * cfg.steps))
    dead_after = cfg.dead_after or min(n_examples or 1_000_000, 1_000_000)
    since_fired = torch.zeros(sae.d_sae, dtype=torch.long, device=device)
    start_step = 0

    checkpoint_dir = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else None
    if checkpoint_dir is not None and cfg.resume and (checkpoint_dir / STATE_FILE).exists():
        start_step = _load_checkpoint(checkpoint_dir, sae, optimizer, since_fired, device)
    elif new_sae and cfg.init_b_dec == "mean" and sampler is not None:  # a given SAE keeps its bias
        with torch.no_grad():
            sae.b_dec.copy_(torch.from_numpy(sampler.rows(0, min(sampler.n, 8192)).mean(0)))

    model = sae
    if distributed:
        model = torch.nn.parallel.DistributedDataParallel(
            sae, device_ids=[device.index] if device.type == "cuda" else None
        )
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    low_precision = cfg.precision == "bfloat16" or (cfg.precision == "auto" and device.type == "cuda")
    recent_l0, recent_fvu = [], []
    started = time.perf_counter()
    seen = 0
    bar = tqdm(
        range(start_step, cfg.steps),
        disable=not cfg.verbose or rank != 0,
        desc="SAE training",
        initial=start_step,
        total=cfg.steps,
    )
    done = start_step
    for step in bar:
        if sampler is not None:
            batch = sampler.batch(step, rank, world)
        else:
            assert stream is not None  # set whenever there is no sampler
            try:
                batch = next(stream)
            except StopIteration:  # a one-shot iterator ran out before cfg.steps
                break
        x = torch.as_tensor(
            np.asarray(batch, dtype=np.float32) if not isinstance(batch, torch.Tensor) else batch
        )
        x = x.to(device, torch.float32, non_blocking=True)
        ramp = min(1.0, (step + 1) / warmup)
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr * ramp
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=low_precision):
            out = model(
                x,
                l1_coefficient=sae.cfg.l1_coefficient * ramp,
                dead_mask=since_fired >= dead_after,
                auxk_alpha=cfg.auxk_alpha,
            )
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        sae.remove_parallel_decoder_grad()
        optimizer.step()
        sae.normalize_decoder()
        if sae.cfg.architecture in BATCHTOPK_FAMILY:
            _update_threshold(sae, out.acts)

        with torch.no_grad():
            fired = (out.acts > 0).any(0)
            if distributed:
                fired = fired.float()
                torch.distributed.all_reduce(fired)
                fired = fired > 0
            since_fired += x.shape[0] * world
            since_fired[fired] = 0
        seen += x.shape[0]
        if step >= cfg.steps - 50 or step % 50 == 0:
            recent_l0.append(float((out.acts.detach() > 0).float().sum(-1).mean()))
            recent_fvu.append(float(out.fvu.detach()))
            recent_l0, recent_fvu = recent_l0[-20:], recent_fvu[-20:]
            bar.set_postfix(
                loss=f"{float(out.loss.detach()):.4f}",
                l0=f"{recent_l0[-1]:.1f}",
                fvu=f"{recent_fvu[-1]:.3f}",
                dead=int((since_fired >= dead_after).sum()),
            )
        if checkpoint_dir is not None and cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0:
            if rank == 0:
                _save_checkpoint(checkpoint_dir, sae, optimizer, since_fired, step + 1)
        done = step + 1
    bar.close()
    seconds = time.perf_counter() - started
    if checkpoint_dir is not None and rank == 0 and done > start_step:
        _save_checkpoint(checkpoint_dir, sae, optimizer, since_fired, done)
    sae.eval()
    dead = int((since_fired >= dead_after).sum())
    result = TrainResult(
        sae=sae,
        steps=done,
        l0=float(np.mean(recent_l0)) if recent_l0 else float("nan"),
        fvu=float(np.mean(recent_fvu)) if recent_fvu else float("nan"),
        dead=dead,
        seconds=seconds,
        examples_per_second=seen / max(seconds, 1e-9),
    )
    sae.metadata.update(
        {
            "train_steps": result.steps,
            "train_batch_size": cfg.batch_size,
            "train_lr": cfg.lr,
            "train_seed": cfg.seed,
            "l0": round(result.l0, 3),
            "fvu": round(result.fvu, 4),
            "dead_atoms": dead,
        }
    )
    return result


@torch.no_grad()
def _update_threshold(sae: SparseAutoencoder, acts: torch.Tensor, momentum: float = 0.99) -> None:
    """Track the smallest activation batch-top-k keeps; at inference it becomes the atoms' threshold."""
    kept = acts[acts > 0]
    if kept.numel():
        value = float(kept.min())
        current = float(sae.threshold[0])
        sae.threshold.fill_(value if current == 0 else momentum * current + (1 - momentum) * value)


def _prepend(first, stream):
    yield first
    yield from stream


def _save_checkpoint(folder: Path, sae, optimizer, since_fired, step: int) -> None:
    """Write the SAE and the trainer state so a killed run can resume; each file is replaced atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    sae.save_pretrained(folder / SAE_SUBDIR)
    # The weights go into the state file too: it is replaced in one os.replace, so a kill between the
    # two writes cannot pair step-N weights with a step-(N - every) optimizer state.
    state = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "since_fired": since_fired.cpu(),
        "threshold": sae.threshold.cpu(),
        "sae": sae.state_tensors(),
    }
    with atomic_file(folder / STATE_FILE) as temporary:
        torch.save(state, temporary)


def _load_checkpoint(folder: Path, sae, optimizer, since_fired, device) -> int:
    state = torch.load(folder / STATE_FILE, map_location=device, weights_only=True)
    saved = SparseAutoencoder.from_pretrained(folder / SAE_SUBDIR)
    if (saved.d_in, saved.d_sae) != (sae.d_in, sae.d_sae):
        raise ValueError(
            f"Checkpoint in {folder} is for d_in={saved.d_in}, d_sae={saved.d_sae}, not {sae.d_in}, "
            f"{sae.d_sae}; "
            "use another checkpoint_dir or resume=False."
        )
    tensors = state.get("sae") or saved.state_tensors()  # older checkpoints kept the weights only in sae/
    with torch.no_grad():
        for name, tensor in tensors.items():
            getattr(sae, name).copy_(tensor.to(device))
    optimizer.load_state_dict(state["optimizer"])
    since_fired.copy_(state["since_fired"].to(device))
    return int(state["step"])


def clear_checkpoint(folder: str | os.PathLike) -> None:
    """Delete a checkpoint folder written by :func:`train_sae`."""
    shutil.rmtree(folder, ignore_errors=True)
