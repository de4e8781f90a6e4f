"""Configuration dataclasses. Every field says what it does, so the config is its own documentation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Literal

Architecture = Literal["relu-l1", "topk", "batchtopk", "matryoshka-batchtopk"]
ARCHITECTURES = ("relu-l1", "topk", "batchtopk", "matryoshka-batchtopk")
BATCHTOPK_FAMILY = ("batchtopk", "matryoshka-batchtopk")
"""Architectures that keep the batch's top activations while training and a learned threshold at inference."""


@dataclass
class SAEConfig:
    """Shape and sparsity mechanism of a :class:`~bertopic_sae.SparseAutoencoder`."""

    d_in: int
    """Dimension of the embeddings the SAE reads (384 for all-MiniLM-L6-v2)."""

    d_sae: int = 0
    """Number of atoms (latents). 0 = ``expansion_factor * d_in``."""

    expansion_factor: int = 4
    """Atoms per input dimension when ``d_sae`` is 0. The SAE-TM paper uses 4."""

    architecture: Architecture = "relu-l1"
    """``relu-l1``: the SAE-TM paper's SAE (ReLU encoder, L1 penalty; the MAP estimator of a continuous
    LDA). ``topk``: keep the ``k`` largest activations per document (OpenAI / EleutherAI sparsify).
    ``batchtopk``: keep the ``k * batch`` largest activations of a batch while training, a learned
    threshold at inference (Bussmann et al.). ``matryoshka-batchtopk``: batchtopk whose loss adds the
    reconstruction of every nested prefix of the dictionary (``prefixes``), so the first atoms learn
    coarse directions and later ones refine them (Bussmann et al. 2025; the SAE-TM repository's trainer)."""

    l1_coefficient: float = 0.25
    """Weight λ of the L1 penalty (``relu-l1`` only); it sets the sparsity. It depends on the scale
    of the embeddings: for unit-norm all-MiniLM-L6-v2 embeddings λ ≈ 0.2-0.3 gives 20-30 active atoms
    per document; the paper's λ = 2 is for unnormalised 768-d embeddings and silences every atom
    here."""

    k: int = 32
    """Active atoms per document for ``topk``, ``batchtopk`` and ``matryoshka-batchtopk``."""

    prefixes: tuple[int, ...] = ()
    """Sizes of the nested dictionaries of ``matryoshka-batchtopk``, increasing, the last one ``d_sae``.
    Empty = doubling sizes from ``d_sae / 32``: 192, 384, ..., 6144 for 6,144 atoms. Each prefix's
    reconstruction error weighs the same in the loss."""

    def __post_init__(self) -> None:
        if self.d_in <= 0:
            raise ValueError(f"d_in must be positive, got {self.d_in}.")
        if self.d_sae < 0 or self.expansion_factor <= 0:
            raise ValueError("d_sae must be >= 0 (0 = derive it) and expansion_factor > 0.")
        if self.d_sae == 0:
            self.d_sae = self.expansion_factor * self.d_in
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"Unknown architecture {self.architecture!r}; use one of "
                f"{', '.join(map(repr, ARCHITECTURES))}."
            )
        if self.architecture != "relu-l1" and not 0 < self.k <= self.d_sae:
            raise ValueError(f"k must be in 1..d_sae={self.d_sae} for {self.architecture}, got {self.k}.")
        if self.l1_coefficient < 0:
            raise ValueError(f"l1_coefficient must be >= 0, got {self.l1_coefficient}.")
        self.prefixes = tuple(int(size) for size in self.prefixes)
        if self.architecture == "matryoshka-batchtopk":
            if not self.prefixes:
                self.prefixes = default_prefixes(self.d_sae)
            sizes = self.prefixes
            increasing = all(a < b for a, b in zip(sizes, sizes[1:], strict=False))
            if not increasing or sizes[0] < 1 or sizes[-1] != self.d_sae:
                raise ValueError(
                    f"prefixes must increase from >= 1 to d_sae={self.d_sae}, got {list(sizes)}; e.g. "
                    f"{list(default_prefixes(self.d_sae))}."
                )
        elif self.prefixes:
            raise ValueError(
                f"prefixes are for architecture='matryoshka-batchtopk' only, not {self.architecture!r}."
            )

    def to_dict(self) -> dict:
        values = asdict(self)
        values["prefixes"] = list(self.prefixes)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> SAEConfig:
        """Build from a dict, ignoring keys this version does not know (newer files still load)."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


def default_prefixes(d_sae: int, n_levels: int = 6) -> tuple[int, ...]:
    """Doubling nested-dictionary sizes ending at ``d_sae``: ``d_sae / 2**(n_levels-1)``, ..., ``d_sae``."""
    sizes = sorted({max(1, d_sae >> shift) for shift in range(n_levels - 1, -1, -1)})
    return tuple(sizes)


@dataclass
class TrainConfig:
    """How :func:`~bertopic_sae.train_sae` trains a sparse autoencoder."""

    batch_size: int = 1000
    """Embeddings per optimisation step (the paper: 1000)."""

    steps: int = 3000
    """Number of optimisation steps. The paper trains 50,000 steps on tens of millions of
    embeddings; a few thousand suffice for one corpus of ~10^4 documents."""

    lr: float = 1e-3
    """Adam learning rate (the paper: 1e-3)."""

    warmup_ratio: float = 0.1
    """Fraction of the steps over which the learning rate and the L1 coefficient ramp up linearly
    from 0, as in the paper's code."""

    init_b_dec: Literal["mean", "zeros"] = "mean"
    """Initial decoder bias: the mean of the first batch (converges faster on embeddings, which are
    far from centred) or zeros (the paper's code). A new SAE only: ``train_sae(..., sae=...)`` keeps the
    given SAE's bias."""

    auxk_alpha: float = 1 / 32
    """Weight of the AuxK loss that revives dead atoms (``topk``/``batchtopk`` only)."""

    dead_after: int = 0
    """An atom that fired on none of the last ``dead_after`` embeddings counts as dead.
    0 = one pass over the data, capped at 1,000,000 embeddings."""

    seed: int = 0
    """Seed for the initialisation and the batch order. On CPU the same seed gives identical weights."""

    device: str | None = None
    """``"cpu"``, ``"cuda"``, ``"cuda:1"``...; None picks CUDA when it is available."""

    precision: Literal["auto", "float32", "bfloat16"] = "auto"
    """Matmul precision: ``"bfloat16"`` autocasts forward passes (weights and Adam stay float32; 2-3x faster
    on CPUs with AVX-512 BF16), ``"float32"`` never does, ``"auto"`` = bfloat16 on CUDA, float32 on CPU."""

    checkpoint_dir: str | None = None
    """Folder for resumable checkpoints (written atomically). None = no checkpoints."""

    checkpoint_every: int = 1000
    """Steps between checkpoints when ``checkpoint_dir`` is set."""

    resume: bool = True
    """Continue from the checkpoint in ``checkpoint_dir`` when there is one."""

    verbose: bool = True
    """Show a progress bar with the loss, L0, FVU and dead-atom count."""

    def __post_init__(self) -> None:
        if self.batch_size <= 0 or self.steps <= 0:
            raise ValueError("batch_size and steps must be positive.")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}.")
        if self.init_b_dec not in ("mean", "zeros"):
            raise ValueError("init_b_dec must be 'mean' or 'zeros'.")
        if self.precision not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"precision must be 'auto', 'float32' or 'bfloat16', got {self.precision!r}.")

    def to_dict(self) -> dict:
        return asdict(self)
