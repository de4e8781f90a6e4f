"""mETM: an embedded topic model whose topics are vectors in the LM's activation space (MTM, §4.2.2).

Topic k is a vector ρ_k in the residual stream. The frozen SAE encoder maps it to pre-activations
``u_k = (ρ_k − b_dec) W_enc + b_enc``; feature i fires for topic k with probability
``p_ki = sigmoid((u_ki − q_i) / τ)`` (q_i: the count threshold of eq. 5, τ > 0 learned), so a topic is
"a point in activation space whose features exceed their thresholds". A document is the θ-mixture of
its topics' points, read by the same encoder, ``π_d = sigmoid((enc(Σ_k θ_dk ρ_k) − q) / τ)`` (the encoder
is affine, so this is also ``sigmoid(Σ_k θ_dk (u_k − q) / τ)``: topics mix in logit space, as in ProdLDA;
mixing the probabilities instead let one broad topic take every document), and its counts are binomial:
``c[d, i] ~ Binomial(N_tok(d), π_di)``. θ_d is the
softmax of a logistic-normal variable inferred by an amortised encoder (an MLP on log(1 + c_d)), trained
as a VAE (reparameterised sample, KL to N(0, I)) with Adam, as in ETM. Runs on CPU or CUDA.

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
from typing import Any

import numpy as np
import torch
from torch import nn

from .base import MechanisticTopicModel
from .features import FeatureCounts

__all__ = ["METM"]

_WEIGHTS = "metm.safetensors"


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
        rho: torch.Tensor,
        tau: float,
        w_enc: torch.Tensor,
        b_enc: torch.Tensor,
        b_dec: torch.Tensor,
        q: torch.Tensor,
    ):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, hidden), nn.Softplus(), nn.Linear(hidden, hidden), nn.Softplus()
        )
        self.mu = nn.Linear(hidden, n_topics)
        self.logvar = nn.Linear(hidden, n_topics)
        self.rho = nn.Parameter(rho)
        self.log_tau = nn.Parameter(torch.tensor(float(np.log(tau))))
        for name, value in (("w_enc", w_enc), ("b_enc", b_enc), ("b_dec", b_dec), ("q", q)):
            self.register_buffer(name, value, persistent=False)  # the frozen SAE: never trained, never saved

    def probs(self, points: torch.Tensor) -> torch.Tensor:
        """Feature firing probabilities of points in activation space, through the frozen SAE encoder."""
        pre = (points - self.b_dec) @ self.w_enc + self.b_enc
        return torch.sigmoid((pre - self.q) / self.log_tau.exp())

    def topic_probs(self) -> torch.Tensor:
        return self.probs(self.rho)

    def theta(self, counts: torch.Tensor, sample: bool) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(torch.log1p(counts))
        mu, logvar = self.mu(hidden), self.logvar(hidden).clamp(-10, 10)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
        return torch.softmax(z, -1), kl


class METM(MechanisticTopicModel):
    """Embedded topic model over SAE features with topic vectors in activation space.

    Arguments:
        n_topics: number of topics K.
        epochs: passes over the documents.
        batch_size_docs: documents per optimisation step.
        lr: Adam learning rate.
        hidden: width of the amortised encoder's two hidden layers.
        device: ``"cpu"``, ``"cuda"``...; None picks CUDA when present.
        **kwargs: shared arguments of :class:`~bertopic_sae.mtm.base.MechanisticTopicModel`.

    Attributes:
        rho_: ``(K, d_model)`` topic vectors in the residual stream.
        tau_: the learned temperature τ.
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
        device: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(n_topics, **kwargs)
        self.epochs = epochs
        self.batch_size_docs = batch_size_docs
        self.lr = lr
        self.hidden = hidden
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

    def _net(self, device: torch.device, rho: torch.Tensor | None = None, tau: float = 1.0) -> _Net:
        w_enc, b_enc, b_dec, q = self._frozen(device)
        if rho is None:
            rho = torch.zeros(int(self.n_topics), b_dec.shape[0])
        return _Net(
            len(self.features_), int(self.n_topics), self.hidden, rho.float(), tau, w_enc, b_enc, b_dec, q
        ).to(device)

    def _fit_counts(self, fc: FeatureCounts) -> tuple[np.ndarray, np.ndarray]:
        from tqdm.auto import trange

        if self.epochs <= 0 or self.lr <= 0 or self.batch_size_docs <= 0:
            raise ValueError("epochs, lr and batch_size_docs must be positive.")
        device = torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        generator = torch.Generator().manual_seed(0 if self.random_state is None else int(self.random_state))
        torch.manual_seed(0 if self.random_state is None else int(self.random_state))
        counts = torch.as_tensor(fc.counts.toarray(), dtype=torch.float32)
        n_tok = torch.as_tensor(np.asarray(fc.n_tok), dtype=torch.float32).unsqueeze(1)
        n_docs = counts.shape[0]
        # Start each topic at the mean reconstruction of a random document's counted features.
        sae, stats = self.bundle_.sae, self.bundle_.stats
        if stats is None:
            raise ValueError("mETM needs the count thresholds q_i (feature_stats.npz); this SAE has none.")
        decoder = sae.W_dec.detach().float().cpu()[torch.as_tensor(np.asarray(self.features_))]
        q = torch.as_tensor(stats.thresholds, dtype=torch.float32)[
            torch.as_tensor(self.features_)
        ]
        # Topic k starts as the point whose features are those of a random document, each pushed 1.5x past
        # its threshold; topics that all started near b_dec would be interchangeable and θ would collapse.
        seeds = torch.randperm(n_docs, generator=generator)[: int(self.n_topics)] % n_docs
        present = (counts[seeds] > 0).float()
        rho = sae.b_dec.detach().float().cpu() + (present * 1.5 * q) @ decoder
        net = self._net(device, rho, tau=float(q.median().clamp_min(1e-3)) / 4)
        optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=self.lr)
        counts, n_tok = counts.to(device), n_tok.to(device)
        bar = trange(self.epochs, disable=not self.verbose, desc="mETM")
        steps_per_epoch = -(-n_docs // self.batch_size_docs)
        warmup, step = max(1, self.epochs * steps_per_epoch // 2), 0
        for _ in bar:
            order = torch.randperm(n_docs, generator=generator).to(device)
            total = 0.0
            for start in range(0, n_docs, self.batch_size_docs):
                rows = order[start : start + self.batch_size_docs]
                c, n = counts[rows], n_tok[rows]
                theta, kl = net.theta(c, sample=True)
                pi = net.probs(theta @ net.rho).clamp(1e-6, 1 - 1e-6)
                nll = -(c * pi.log() + (n - c) * torch.log1p(-pi)).sum(-1)
                # KL warm-up over the first half of training (against posterior collapse to uniform θ)
                loss = (nll + min(1.0, step / warmup) * kl).mean()
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
            probs = self.net_.topic_probs().cpu().numpy()
        self.rho_ = self.net_.rho.detach().cpu().numpy()
        self.tau_ = self.net_.log_tau.detach().exp().item()
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
        net = self._net(device)
        net.load_state_dict(load_file(str(folder / _WEIGHTS)))
        self.net_ = net.eval()
        self._beta()
