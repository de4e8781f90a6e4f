"""The sparse autoencoder: stage 1 of SAE-TM. Its decoder rows are the topic atoms.

Checkpoints use SAELens's layout, so SAEs move between SAELens and this package; EleutherAI sparsify
checkpoints load too (:mod:`bertopic_sae.sae.checkpoint`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from .._types import Codes, Embeddings
from .checkpoint import (
    CFG_FILE,
    SPARSIFY_WEIGHTS_FILE,
    TO_SAELENS,
    WEIGHTS_FILE,
    _download_from_hub,
    _read_saelens,
    _read_sparsify,
    sparsify_layout,
)
from .config import BATCHTOPK_FAMILY, SAEConfig

__all__ = ["SparseAutoencoder", "EncoderOutput", "ForwardOutput", "check_embeddings", "round_to_float16"]


class EncoderOutput(NamedTuple):
    """What :meth:`SparseAutoencoder.encode` returns."""

    acts: Tensor
    """Sparse non-negative atom activations, shape ``(n, d_sae)`` (stored dense)."""
    pre_acts: Tensor
    """Activations before the sparsifying nonlinearity, shape ``(n, d_sae)``."""


class ForwardOutput(NamedTuple):
    """What :meth:`SparseAutoencoder.forward` returns."""

    recon: Tensor
    """Reconstructed embeddings, ``(n, d_in)``."""
    acts: Tensor
    """Atom activations, ``(n, d_sae)``."""
    loss: Tensor
    """Total training loss: ``mse + l1 + auxk``."""
    mse: Tensor
    """Squared reconstruction error summed over dimensions, averaged over the batch."""
    l1: Tensor
    """``l1_coefficient * mean_n ||acts||_1`` (zero for top-k architectures)."""
    auxk: Tensor
    """AuxK loss that trains dead atoms to explain the residual (zero for ``relu-l1``)."""
    fvu: Tensor
    """Fraction of variance unexplained (0 = perfect reconstruction)."""


def check_embeddings(X: Embeddings, d_in: int | None = None, *, name: str = "embeddings") -> np.ndarray:
    """Validate a 2-D float array of embeddings; return it as float32 (no copy when possible).

    Raises ``ValueError`` naming the problem and the fix for empty, 1-D, wrong-width or non-finite input.
    """
    if sp.issparse(X):
        raise ValueError(f"{name} must be a dense array of embeddings, got a sparse matrix.")
    # asanyarray, not asarray: asarray turns a np.memmap into a plain ndarray view, after which the NaN
    # check below reads the whole file and astype(float32) copies all of it into memory.
    X = np.asanyarray(X)
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_documents, dim), got shape {X.shape}. Reshape your data: "
            "X.reshape(1, -1) for one document."
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: pass at least one document.")
    if X.shape[1] == 0:  # sklearn's wording, which its estimator checks look for
        raise ValueError(f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required ({name}).")
    if np.iscomplexobj(X):  # astype(float32) below would silently drop the imaginary part
        raise ValueError(f"Complex data not supported: {name} must be real numbers.")
    if d_in is not None and X.shape[1] != d_in:
        raise ValueError(
            f"The SAE expects d_in={d_in}, {name} have {X.shape[1]} columns; use the embedding model the SAE "
            "was trained on, or train a new SAE on these embeddings."
        )
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float32)
    # A memmap is read block by block, so the check never holds more than one block in memory.
    blocks = range(0, X.shape[0], 65_536)
    bad = np.concatenate([~np.isfinite(X[start : start + 65_536]).all(axis=1) for start in blocks])
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise ValueError(
            f"{name} contain NaN or infinite values in {int(bad.sum())} rows (first: {rows}); "
            "re-embed those documents or drop them."
        )
    return X if X.dtype == np.float32 or isinstance(X, np.memmap) else X.astype(np.float32)


def round_to_float16(X: np.ndarray) -> np.ndarray:
    """``X`` (float32) rounded to float16 precision, unless that would overflow (|x| > 60,000).

    Rounding is idempotent, so embeddings stored as float16 (the CLI's default) and the float32 originals
    round to the same values. The topic pipeline reads embeddings this way because its later steps
    (EM over the emission matrix, k-means over atoms and documents) amplify code differences of 1e-4 into
    different topics (``benchmarks/results/stability.md``).
    """
    X = np.asarray(X, dtype=np.float32)
    if X.size and np.abs(X).max() > 6e4:
        return X
    return X.astype(np.float16).astype(np.float32)


class SparseAutoencoder(nn.Module):
    """A sparse autoencoder over document embeddings.

    ``encode``: ``acts = σ((x − b_dec) W_enc + b_enc)`` with σ = ReLU (``relu-l1``), ReLU + top-k
    (``topk``), or ReLU + a learned per-atom threshold (``batchtopk`` at inference).
    ``decode``: ``x̂ = acts W_dec + b_dec``; the rows of ``W_dec`` (the atoms) have unit norm.

    Arguments:
        cfg: an :class:`~bertopic_sae.SAEConfig`.

    Usage:

    ```python
    import numpy as np
    from bertopic_sae import SparseAutoencoder, SAEConfig
    sae = SparseAutoencoder(SAEConfig(d_in=384, d_sae=1536))
    codes = sae.encode_csr(np.random.randn(10, 384).astype("float32"))   # scipy CSR (10, 1536)
    sae.save_pretrained("my-sae")
    same = SparseAutoencoder.from_pretrained("my-sae")
    ```
    """

    def __init__(self, cfg: SAEConfig, *, seed: int | None = None):
        super().__init__()
        self.cfg = cfg
        d_in, d_sae = cfg.d_in, cfg.d_sae
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        # Tied initialisation (paper code): unit-direction atoms scaled to norm 0.1; the decoder is
        # renormalised to unit norm at the first training step.
        w = torch.randn(d_in, d_sae, generator=generator)
        w = 0.1 * w / w.norm(dim=0, keepdim=True)
        bound = 1 / d_in**0.5
        self.W_enc = nn.Parameter(w.clone())
        self.b_enc = nn.Parameter(torch.empty(d_sae).uniform_(-bound, bound, generator=generator))
        self.W_dec = nn.Parameter(w.T.clone())
        self.b_dec = nn.Parameter(torch.zeros(d_in))
        # Per-atom inference threshold of batchtopk (SAELens "jumprelu" layout); zero otherwise.
        self.register_buffer("threshold", torch.zeros(d_sae))
        self.metadata: dict = {}

    # ------------------------------------------------------------------ properties
    @property
    def d_in(self) -> int:
        return self.cfg.d_in

    @property
    def d_sae(self) -> int:
        return self.cfg.d_sae

    @property
    def device(self) -> torch.device:
        return self.W_enc.device

    @property
    def dtype(self) -> torch.dtype:
        return self.W_enc.dtype

    # ------------------------------------------------------------------ maths
    def pre_activations(self, x: Tensor) -> Tensor:
        return (x - self.b_dec) @ self.W_enc + self.b_enc

    def activate(self, pre_acts: Tensor, *, batch_topk: bool = False) -> Tensor:
        """Turn pre-activations into sparse activations with the configured nonlinearity."""
        acts = torch.relu(pre_acts)
        arch = self.cfg.architecture
        if arch == "relu-l1":
            return acts
        if arch == "topk" or (arch in BATCHTOPK_FAMILY and batch_topk):
            k = self.cfg.k
            if arch in BATCHTOPK_FAMILY:  # keep the k*n largest activations of the whole batch
                flat = acts.flatten()
                values, indices = flat.topk(min(k * acts.shape[0], flat.numel()), sorted=False)
                return torch.zeros_like(flat).scatter_(0, indices, values).view_as(acts)
            values, indices = acts.topk(k, dim=-1, sorted=False)
            return torch.zeros_like(acts).scatter_(-1, indices, values)
        return acts * (acts > self.threshold)  # batchtopk and matryoshka at inference

    def encode(self, x: Tensor) -> EncoderOutput:
        """Encode a batch of embeddings ``(n, d_in)`` into atom activations ``(n, d_sae)``."""
        pre_acts = self.pre_activations(x)
        return EncoderOutput(self.activate(pre_acts), pre_acts)

    def decode(self, acts: Tensor) -> Tensor:
        """Reconstruct embeddings ``(n, d_in)`` from activations ``(n, d_sae)``."""
        return acts @ self.W_dec + self.b_dec

    def forward(
        self,
        x: Tensor,
        *,
        l1_coefficient: float | None = None,
        dead_mask: Tensor | None = None,
        auxk_alpha: float = 1 / 32,
    ) -> ForwardOutput:
        """Encode, decode and compute the training loss for a batch ``(n, d_in)``.

        Arguments:
            l1_coefficient: overrides ``cfg.l1_coefficient`` (the trainer ramps it up during warm-up).
            dead_mask: boolean ``(d_sae,)`` of atoms considered dead, for the AuxK loss.
            auxk_alpha: weight of the AuxK loss.
        """
        pre_acts = self.pre_activations(x)
        acts = self.activate(pre_acts, batch_topk=self.training)
        recon = self.decode(acts)
        error = x - recon
        mse = error.pow(2).sum(-1).mean()
        # Matryoshka: every nested prefix of the dictionary reconstructs x on its own; the loss is the mean
        # of their errors (the last prefix is the whole dictionary, so its error is ``mse``).
        recon_loss = self._prefix_mse(x, acts) if self.cfg.architecture == "matryoshka-batchtopk" else mse
        total_variance = (x - x.mean(0)).pow(2).sum(-1).mean().clamp_min(1e-12)
        zero = x.new_zeros(())
        l1 = auxk = zero
        if self.cfg.architecture == "relu-l1":
            coefficient = self.cfg.l1_coefficient if l1_coefficient is None else l1_coefficient
            l1 = coefficient * acts.abs().sum(-1).mean()
        elif dead_mask is not None and bool(dead_mask.any()):
            # AuxK (Gao et al. 2024): the top dead atoms try to explain the residual, which gives
            # them gradient again.
            k_aux = min(x.shape[-1] // 2, int(dead_mask.sum()))
            dead_pre = torch.where(dead_mask, torch.relu(pre_acts), torch.zeros_like(pre_acts))
            values, indices = dead_pre.topk(k_aux, dim=-1, sorted=False)
            aux_recon = torch.zeros_like(pre_acts).scatter_(-1, indices, values) @ self.W_dec
            residual = error.detach()
            auxk = auxk_alpha * (residual - aux_recon).pow(2).sum(-1).mean() / residual.pow(2).sum(
                -1
            ).mean().clamp_min(1e-12)
        return ForwardOutput(recon, acts, recon_loss + l1 + auxk, mse, l1, auxk, mse / total_variance)

    def _prefix_mse(self, x: Tensor, acts: Tensor) -> Tensor:
        """Mean over the nested prefixes of the squared error of reconstructing ``x`` from that prefix."""
        partial = self.b_dec.expand_as(x)
        start, errors = 0, []
        for stop in self.cfg.prefixes:
            partial = partial + acts[:, start:stop] @ self.W_dec[start:stop]
            errors.append((x - partial).pow(2).sum(-1).mean())
            start = stop
        return torch.stack(errors).mean()

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        """Rescale every atom (row of ``W_dec``) to unit norm."""
        self.W_dec.div_(self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-8))

    @torch.no_grad()
    def remove_parallel_decoder_grad(self) -> None:
        """Project out the gradient component along each atom, so a step keeps atoms on the unit sphere."""
        if self.W_dec.grad is None:
            return
        parallel = (self.W_dec.grad * self.W_dec).sum(-1, keepdim=True)
        self.W_dec.grad.sub_(parallel * self.W_dec)

    # ------------------------------------------------------------------ numpy / scipy helpers
    @torch.no_grad()
    def encode_csr(
        self, X: Embeddings, *, batch_size: int = 4096, verbose: bool = False, float16_grid: bool = False
    ) -> sp.csr_matrix:
        """Encode an array (or memmap) of embeddings into a scipy CSR matrix ``(n, d_sae)`` (float32).

        With ``float16_grid`` the embeddings are first rounded to float16 precision (see
        :func:`round_to_float16`), so float32 embeddings and their float16-stored copy give the same codes.
        """
        from tqdm.auto import tqdm

        X = check_embeddings(X, self.d_in)
        was_training = self.training
        self.eval()
        blocks = []
        use_bf16 = self.device.type == "cuda"
        for start in tqdm(range(0, X.shape[0], batch_size), disable=not verbose, desc="SAE encode"):
            batch = np.asarray(X[start : start + batch_size], dtype=np.float32)
            batch = round_to_float16(batch) if float16_grid else batch
            bad = ~np.isfinite(batch).all(axis=1)
            if bad.any():
                rows = (start + np.flatnonzero(bad)[:5]).tolist()
                raise ValueError(f"embeddings contain NaN or infinite values in rows {rows}; re-embed or "
                                 "drop them.")
            tensor = torch.from_numpy(batch).to(self.device, self.dtype)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
                acts = self.encode(tensor).acts
            blocks.append(sp.csr_matrix(acts.float().cpu().numpy()))
        self.train(was_training)
        return sp.vstack(blocks, format="csr").astype(np.float32, copy=False)

    @torch.no_grad()
    def decode_numpy(self, codes: Codes) -> np.ndarray:
        """Decode a CSR or dense array of activations back to embeddings (numpy)."""
        if sp.issparse(codes):
            # Sparse x dense costs nnz * d_in instead of n * d_sae * d_in (~100x less at L0 ≈ 15 of 1536),
            # and never materialises the dense (n, d_sae) codes.
            decoder = self.W_dec.detach().float().cpu().numpy()
            bias = self.b_dec.detach().float().cpu().numpy()
            return np.asarray(sp.csr_matrix(codes, dtype=np.float32) @ decoder + bias, dtype=np.float32)
        dense = np.asarray(codes)
        tensor = torch.as_tensor(dense, dtype=self.dtype, device=self.device)
        return self.decode(tensor).float().cpu().numpy()

    @torch.no_grad()
    def atoms(self) -> np.ndarray:
        """The decoder atoms as a numpy array ``(d_sae, d_in)``."""
        return self.W_dec.detach().float().cpu().numpy()

    # ------------------------------------------------------------------ persistence
    def state_tensors(self) -> dict[str, Tensor]:
        tensors = {
            "W_enc": self.W_enc.detach(),
            "b_enc": self.b_enc.detach(),
            "W_dec": self.W_dec.detach(),
            "b_dec": self.b_dec.detach(),
        }
        if self.cfg.architecture in BATCHTOPK_FAMILY:
            tensors["threshold"] = self.threshold.detach()
        return {name: t.float().cpu().contiguous() for name, t in tensors.items()}

    def saelens_config(self) -> dict:
        from .. import __version__

        cfg = {
            "d_in": self.d_in,
            "d_sae": self.d_sae,
            "architecture": TO_SAELENS[self.cfg.architecture],
            "dtype": "float32",
            "device": "cpu",
            "apply_b_dec_to_input": True,
            "normalize_activations": "none",
            "metadata": {"bertopic_sae_version": __version__, **self.metadata},
            "bertopic_sae": self.cfg.to_dict(),
        }
        if self.cfg.architecture != "relu-l1":
            cfg["k"] = self.cfg.k
        return cfg

    def save_pretrained(
        self,
        path: str | os.PathLike,
        *,
        overwrite: bool = False,
        layout: Literal["saelens", "sparsify"] = "saelens",
    ) -> list[Path]:
        """Write ``cfg.json`` and ``sae_weights.safetensors`` (SAELens layout) into folder ``path``.

        With ``layout="sparsify"`` write EleutherAI sparsify's ``cfg.json`` and ``sae.safetensors``
        instead (topk SAEs only; ``SparseCoder.load_from_disk`` reads it).

        The folder is written whole and swapped in (:mod:`bertopic_sae._io`), so an interrupted save
        never pairs new weights with an old ``cfg.json``; a folder holding other files is refused unless
        ``overwrite=True`` (a ``checkpoint`` sub-folder of :func:`~bertopic_sae.train_sae` is kept).
        Returns the paths written.

        Arguments:
            path: the folder.
            overwrite: replace a folder that holds files not written by bertopic-sae.
            layout: ``"saelens"`` (read by SAELens and this package) or ``"sparsify"``.
        """
        from safetensors.torch import save_file

        from .._io import atomic_folder

        if layout == "sparsify":
            cfg, tensors = sparsify_layout(self.cfg, self.state_tensors())
            weights_file = SPARSIFY_WEIGHTS_FILE
        elif layout == "saelens":
            cfg, tensors, weights_file = self.saelens_config(), self.state_tensors(), WEIGHTS_FILE
        else:
            raise ValueError(f"layout must be 'saelens' or 'sparsify', got {layout!r}.")
        target = Path(path)
        with atomic_folder(target, kind="sae", overwrite=overwrite, legacy=(CFG_FILE, weights_file),
                           keep=("checkpoint",)) as staging:
            save_file(tensors, str(staging / weights_file))
            (staging / CFG_FILE).write_text(json.dumps(cfg, indent=2))
        return [target / CFG_FILE, target / weights_file]

    @classmethod
    def from_pretrained(
        cls,
        path_or_hub_id: str | os.PathLike,
        *,
        hookpoint: str | None = None,
        device: str | torch.device = "cpu",
    ) -> SparseAutoencoder:
        """Load an SAE saved by this package, SAELens, or EleutherAI sparsify.

        Arguments:
            path_or_hub_id: a local folder, or a Hugging Face Hub repo id (downloaded when online).
            hookpoint: sub-folder to read when the folder holds one SAE per hookpoint (sparsify).
            device: where to put the weights.

        Raises:
            FileNotFoundError: no checkpoint in the folder (lists what is there).
            ValueError: a corrupt or inconsistent checkpoint; nothing is half-loaded.
        """
        from .._io import recover

        folder = Path(path_or_hub_id)
        recover(folder)  # a save killed between its two renames left only the aside copy
        if not folder.exists():
            folder = _download_from_hub(str(path_or_hub_id))
        if hookpoint is not None:
            folder = folder / hookpoint
        if not (folder / CFG_FILE).exists():
            children = folder.iterdir() if folder.is_dir() else []
            subfolders = sorted(p.name for p in children if (p / CFG_FILE).exists())
            hint = f" It has SAEs for hookpoints {subfolders}: pass hookpoint=..." if subfolders else ""
            raise FileNotFoundError(f"No {CFG_FILE} in {folder}.{hint}")
        try:
            raw_cfg = json.loads((folder / CFG_FILE).read_text())
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{folder / CFG_FILE} is not valid JSON ({err}); the checkpoint is corrupt."
            ) from err
        if (folder / WEIGHTS_FILE).exists():
            cfg, tensors = _read_saelens(folder, raw_cfg)
        elif (folder / SPARSIFY_WEIGHTS_FILE).exists():
            cfg, tensors = _read_sparsify(folder, raw_cfg)
        else:
            raise FileNotFoundError(
                f"{folder} has {CFG_FILE} but neither {WEIGHTS_FILE} (SAELens) nor {SPARSIFY_WEIGHTS_FILE} "
                "(sparsify); the checkpoint is incomplete."
            )
        expected = {
            "W_enc": (cfg.d_in, cfg.d_sae),
            "b_enc": (cfg.d_sae,),
            "W_dec": (cfg.d_sae, cfg.d_in),
            "b_dec": (cfg.d_in,),
        }
        for name, shape in expected.items():
            if name not in tensors:
                raise ValueError(f"Checkpoint {folder} lacks tensor {name!r} (has {sorted(tensors)}).")
            if tuple(tensors[name].shape) != shape:
                raise ValueError(
                    f"Checkpoint {folder}: {name} has shape {tuple(tensors[name].shape)} but cfg.json says "
                    f"{shape} (d_in={cfg.d_in}, d_sae={cfg.d_sae}); the files do not belong together."
                )
            if not torch.isfinite(tensors[name]).all():
                raise ValueError(f"Checkpoint {folder}: {name} contains NaN or infinite values.")
        sae = cls(cfg)
        with torch.no_grad():
            for name in expected:
                getattr(sae, name).copy_(tensors[name].float())
            if "threshold" in tensors:
                sae.threshold.copy_(tensors["threshold"].float().reshape(-1))
        sae.metadata = dict(raw_cfg.get("metadata") or {})
        return sae.to(device)
