"""mETM: an embedded topic model whose topics are vectors in the LM's activation space (MTM, §4.2.2).

Topic k is a vector ρ_k in the residual stream. The frozen SAE encoder maps it to pre-activations
``u_k = (ρ_k − b_dec) W_enc + b_enc``, and feature i fires for topic k with probability
``p_ki = sigmoid((u_ki − q_i) / τ)`` (q_i: the count threshold of eq. 5, τ > 0 learned): a topic is "a point
in activation space whose features exceed their thresholds". A document reads the θ-mixture of its topics'
points through the same (affine) encoder, so topics mix in logit space, as in ProdLDA:
``π_d = sigmoid(Σ_k θ_dk (u_k − q) / τ)``, and its counts are binomial,
``c[d, i] ~ Binomial(N_tok(d), π_di)``.
θ_d is the softmax of a logistic-normal variable inferred by an amortised encoder (an MLP on log(1 + c_d)),
trained as a VAE (reparameterised sample, KL to N(0, I), KL warm-up) with Adam, as in ETM. Runs on CPU or
CUDA.

Two choices keep the K topics apart (without them every document went to one topic):

* ``init="kmeans"``: topic k starts at the point of activation space whose encoder pre-activations best match
  (least squares) the firing rates of the k-th k-means cluster of the documents' feature profiles; topics
  that start as near-copies stay interchangeable.
* ``batch_norm=True``: batch normalisation (no affine part) of the encoder's μ and log σ², as in ProdLDA, so
  the encoder cannot give every document the same θ.

The topic-feature weights ``topic_feature_`` are ``p_k`` normalised to sum to 1.

Usage:

```python
from bertopic_sae.mtm import METM
model = METM(n_topics=10, epochs=100).fit(texts)
model.get_topic_features(0), model.get_topic_words(0)
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from .base import MechanisticTopicModel
from .features import FeatureCounts

__all__ = ["METM", "METMInit", "METMMixing"]

_WEIGHTS = "metm.safetensors"
METMInit = Literal["kmeans", "document"]
METMMixing = Literal["logit", "probability"]


class _Net(nn.Module):
    w_enc: torch.Tensor
    b_enc: torch.Tensor
    b_dec: torch.Tensor
    q: torch.Tensor

    def __init__(
        self,
        n_features: int,
        n_topics: int,
        hidden: int,
        batch_norm: bool,
        rho: torch.Tensor,
        scale: torch.Tensor,
        frozen: tuple[torch.Tensor, ...],
    ):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, hidden), nn.Softplus(), nn.Linear(hidden, hidden), nn.Softplus()
        )
        self.mu = nn.Linear(hidden, n_topics)
        self.logvar = nn.Linear(hidden, n_topics)
        norm = (lambda: nn.BatchNorm1d(n_topics, affine=False)) if batch_norm else nn.Identity
        self.mu_norm, self.logvar_norm = norm(), norm()
        self.rho = nn.Parameter(rho)
        self.log_tau = nn.Parameter(torch.tensor(float(np.log(0.25))))  # τ = exp(log_tau) · scale
        self.register_buffer("scale", scale, persistent=False)
        for name, value in zip(("w_enc", "b_enc", "b_dec", "q"), frozen, strict=True):
            self.register_buffer(name, value, persistent=False)  # the frozen SAE: never trained, never saved

    def logits(self, points: torch.Tensor) -> torch.Tensor:
        """Feature firing logits of points in activation space, through the frozen SAE encoder."""
        pre = (points - self.b_dec) @ self.w_enc + self.b_enc
        return (pre - self.q) / self.tau()

    def tau(self) -> torch.Tensor:
        return self.log_tau.exp() * self.scale

    def theta(self, counts: torch.Tensor, sample: bool) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(torch.log1p(counts))
        mu = self.mu_norm(self.mu(hidden))
        logvar = self.logvar_norm(self.logvar(hidden)).clamp(-10, 10)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
        return torch.softmax(z, -1), kl


def binomial_nll(counts: torch.Tensor, trials: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """−log Binomial(counts | trials, sigmoid(logits)) per document, up to the constant binomial coefficient.

    Written with log-sigmoids so saturated logits keep their gradient.
    """
    log_p, log_not_p = nn.functional.logsigmoid(logits), nn.functional.logsigmoid(-logits)
    return -(counts * log_p + (trials - counts) * log_not_p).sum(-1)


class METM(MechanisticTopicModel):
    """Embedded topic model over SAE features with topic vectors in activation space.

    Arguments:
        n_topics: number of topics K.
        epochs: passes over the documents.
        batch_size_docs: documents per optimisation step.
        lr: Adam learning rate.
        hidden: width of the amortised encoder's two hidden layers.
        batch_norm: batch-normalise the encoder's μ and log σ² (ProdLDA), against collapse onto one topic.
        init: ``"kmeans"`` (topic points fitted to k-means clusters of the documents) or ``"document"``
            (each topic at the decoded features of one random document, pushed past their thresholds).
        kl_warmup: share of the training steps over which the KL weight rises from 0 to 1 (0 = no warm-up).
        mixing: ``"logit"`` (a document reads the θ-mixture of its topics' points: logits mix) or
            ``"probability"`` (its firing probabilities are the θ-mixture of its topics', as in ETM).
        device: ``"cpu"``, ``"cuda"``...; None picks CUDA when present.
        **kwargs: shared arguments of :class:`~bertopic_sae.mtm.base.MechanisticTopicModel`.

    Attributes:
        rho_: ``(K, d_model)`` topic vectors in the residual stream.
        tau_: the learned temperature τ (one for every feature).
        doc_topic_, topic_feature_, features_, topic_word_: see the base class.
    """

    kind = "metm"

    def __init__(
        self,
        n_topics: int = 20,
        *,
        epochs: int = 150,
        batch_size_docs: int = 256,
        lr: float = 5e-3,
        hidden: int = 256,
        batch_norm: bool = True,
        init: METMInit = "kmeans",
        kl_warmup: float = 0.5,
        mixing: METMMixing = "logit",
        device: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(n_topics, **kwargs)
        self.epochs = epochs
        self.batch_size_docs = batch_size_docs
        self.lr = lr
        self.hidden = hidden
        self.batch_norm = batch_norm
        self.init = init
        self.kl_warmup = kl_warmup
        self.mixing = mixing
        self.device = device

    def _frozen(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        bundle = self.bundle_
        if bundle.stats is None:
            raise ValueError(
                "mETM needs the SAE's count thresholds q_i (feature_stats.npz); this SAE has none."
            )
        cols = torch.as_tensor(np.asarray(self.features_), dtype=torch.long)
        sae = bundle.sae
        return (
            sae.W_enc.detach().float().cpu()[:, cols].to(device),
            sae.b_enc.detach().float().cpu()[cols].to(device),
            sae.b_dec.detach().float().cpu().to(device),
            torch.as_tensor(bundle.stats.thresholds, dtype=torch.float32)[cols].to(device),
        )

    @staticmethod
    def _scale(q: torch.Tensor) -> torch.Tensor:
        """τ's unit: the median threshold, shared by every feature (a τ_i ∝ q_i per feature did worse on the
        development corpora: the topics shared their top features)."""
        return q.median().clamp_min(1e-3).expand_as(q)

    def _net(self, device: torch.device, rho: torch.Tensor | None = None) -> _Net:
        frozen = self._frozen(torch.device("cpu"))
        if rho is None:
            rho = torch.zeros(int(self.n_topics), frozen[2].shape[0])
        return _Net(
            len(self.features_), int(self.n_topics), self.hidden, bool(self.batch_norm), rho.float().cpu(),
            self._scale(frozen[3]).clone(), frozen,
        ).to(device)

    def _init_rho(self, counts: torch.Tensor, n_tok: torch.Tensor, seed: int) -> torch.Tensor:
        """Starting topic points (see the module docstring), on the CPU."""
        w_enc, b_enc, b_dec, q = self._frozen(torch.device("cpu"))
        k = int(self.n_topics)
        if self.init == "document":
            generator = torch.Generator().manual_seed(seed)
            seeds = torch.randperm(counts.shape[0], generator=generator)[:k]
            decoder = self.bundle_.sae.W_dec.detach().float().cpu()[torch.as_tensor(self.features_)]
            return b_dec + ((counts[seeds] > 0).float() * 1.5 * q) @ decoder
        from sklearn.cluster import KMeans
        from sklearn.preprocessing import normalize

        profiles = normalize(np.log1p(counts.numpy()))
        labels = KMeans(k, n_init=3, random_state=seed).fit_predict(profiles)
        member = torch.as_tensor(np.eye(k, dtype=np.float32)[labels])  # (n_docs, K) one-hot
        rate = (member.T @ counts + 0.5) / (member.T @ n_tok + 1.0)  # smoothed firing rate per token
        # the pre-activations that fire at that rate under the starting temperature τ = 0.25 · scale
        target = q + 0.25 * self._scale(q) * torch.logit(rate.clamp(1e-6, 1 - 1e-6))
        # the affine encoder: (ρ − b_dec) W_enc = target − b_enc, solved for ρ in least squares
        # in float64: the system is ill-conditioned, and float32 last-bit differences between processes (BLAS
        # paths) grew into different starting points
        offset = torch.linalg.lstsq(w_enc.T.double(), (target - b_enc).T.double()).solution.T.float()
        return b_dec + offset

    def _fit_counts(self, fc: FeatureCounts) -> tuple[np.ndarray, np.ndarray]:
        from tqdm.auto import trange

        if self.epochs <= 0 or self.lr <= 0 or self.batch_size_docs <= 0:
            raise ValueError("epochs, lr and batch_size_docs must be positive.")
        if self.init not in ("kmeans", "document"):
            raise ValueError(f"init must be 'kmeans' or 'document', got {self.init!r}.")
        if self.mixing not in ("logit", "probability"):
            raise ValueError(f"mixing must be 'logit' or 'probability', got {self.mixing!r}.")
        if not 0 <= self.kl_warmup <= 1:
            raise ValueError(f"kl_warmup must be in [0, 1], got {self.kl_warmup!r}.")
        device = torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        seed = 0 if self.random_state is None else int(self.random_state)
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        counts = torch.as_tensor(fc.counts.toarray(), dtype=torch.float32)
        n_tok = torch.as_tensor(np.asarray(fc.n_tok), dtype=torch.float32).unsqueeze(1)
        n_docs = counts.shape[0]
        net = self._net(device, self._init_rho(counts, n_tok, seed))
        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr)
        counts, n_tok = counts.to(device), n_tok.to(device)
        bar = trange(self.epochs, disable=not self.verbose, desc="mETM")
        steps_per_epoch = -(-n_docs // self.batch_size_docs)
        warmup, step = self.kl_warmup * self.epochs * steps_per_epoch, 0
        for _ in bar:
            order = torch.randperm(n_docs, generator=generator).to(device)
            total = 0.0
            for start in range(0, n_docs, self.batch_size_docs):
                rows = order[start : start + self.batch_size_docs]
                if len(rows) < 2 and self.batch_norm:
                    continue  # batch norm needs two documents
                c, n = counts[rows], n_tok[rows]
                theta, kl = net.theta(c, sample=True)
                topic_logits = net.logits(net.rho)
                if self.mixing == "logit":
                    nll = binomial_nll(c, n, theta @ topic_logits)
                else:  # π_d = Σ_k θ_dk p_k, as ETM mixes its topics' word distributions
                    pi = (theta @ torch.sigmoid(topic_logits)).clamp(1e-6, 1 - 1e-6)
                    nll = binomial_nll(c, n, torch.logit(pi))
                # KL warm-up (against posterior collapse: θ ignored while the KL term dominates)
                loss = (nll + min(1.0, step / warmup if warmup > 0 else 1.0) * kl).mean()
                step += 1
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(rows)
            bar.set_postfix(loss=f"{total / n_docs:.1f}")
        self.net_ = net.eval()
        return self._theta(counts), self._beta()

    def _beta(self) -> np.ndarray:
        with torch.no_grad():
            probs = torch.sigmoid(self.net_.logits(self.net_.rho)).cpu().numpy()
        self.rho_ = self.net_.rho.detach().cpu().numpy()
        self.tau_ = float(self.net_.tau()[0].detach())
        return (probs / probs.sum(1, keepdims=True).clip(1e-12)).astype(np.float32)

    def _theta(self, counts: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return self.net_.theta(counts, sample=False)[0].cpu().numpy().astype(np.float32)

    def _transform_counts(self, fc: FeatureCounts) -> np.ndarray:
        device = self.net_.rho.device
        return self._theta(torch.as_tensor(fc.counts.toarray(), dtype=torch.float32, device=device))

    def _save_state(self, folder: Path) -> None:
        from safetensors.torch import save_file

        save_file(
            {k: v.detach().cpu().contiguous() for k, v in self.net_.state_dict().items()},
            str(folder / _WEIGHTS),
        )

    def _load_state(self, folder: Path) -> None:
        from safetensors.torch import load_file

        device = torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        weights = load_file(str(folder / _WEIGHTS))
        self.batch_norm = "mu_norm.running_mean" in weights  # models saved before batch norm had none
        net = self._net(device)
        net.load_state_dict(weights)
        self.net_ = net.eval()
        self._beta()
