"""The SAE-TM word-emission model: stage 2 of SAE-TM, which turns SAE atoms into word distributions.

Each document ``d`` has atom weights ``θ_d`` (its SAE code, L1-normalised) and word counts ``n_d``.
Words are generated from a mixture of the atoms' word distributions and a background unigram::

    q_dv = (1 - π) Σ_k θ_dk B_kv + π P0_v

with the background weight ``π`` fixed (0.3 in the paper). :class:`EmissionModel` learns the
row-stochastic ``B`` (atoms × words) and ``P0`` by maximising the IDF-weighted log-likelihood
``Σ_d Σ_v w_v n_dv log q_dv``.

The paper fits this with AdamW on softmax logits for 50-200 epochs. With ``θ`` fixed the problem is
a mixture with *known* mixing weights, so it is concave in ``(B, P0)`` and EM (multiplicative
updates) climbs to the global optimum. Both steps only touch the non-zeros of the counts and the
~25 active atoms of each document, and SQUAREM extrapolation cuts the number of EM steps several
fold, so the fit takes seconds instead of minutes. ``solver="adamw"`` keeps the paper's optimiser as
a reference. (Over 400 lines: one estimator, its two solvers and its scoring; the kernels are in
``_kernels.py``, the word readings in ``topic_words.py``.)

Usage:

```python
from bertopic_sae.emission import EmissionModel
from bertopic_sae.vocabulary import default_vectorizer

counts = default_vectorizer().fit_transform(texts)   # (n_docs, n_words)
theta = sae.encode_csr(embeddings)                     # (n_docs, n_atoms), rows need not sum to 1
model = EmissionModel().fit(theta, counts)
model.emission_        # (n_atoms, n_words), rows sum to 1
model.topic_word(atom_topic)   # topic words as the paper merges them: atom average
model.document_topic_word(theta, counts, atom_topic, doc_topic)   # topic words read off the documents
```
"""

from __future__ import annotations

import math
from typing import Literal, cast

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .._types import Codes, Counts, Labels
from ._kernels import (
    _as_csr,
    _fold_in,
    _Likelihood,
    _normalize_rows,
    _row_pairs,
    _squarem_extrapolate,
    _squarem_norms,
)
from .vocabulary import idf_weights

__all__ = ["EmissionModel"]



class EmissionModel(BaseEstimator):
    """SAE-TM word-emission model: one word distribution per SAE atom plus a background unigram.

    Learns ``B`` (``emission_``, atoms × words, rows sum to 1) and ``P0`` (``background_``) that
    maximise ``Σ_d Σ_v w_v n_dv log q_dv`` with ``q_dv = (1-π) Σ_k θ_dk B_kv + π P0_v``, where
    ``θ_d`` is document ``d``'s SAE code divided by its sum, ``n_dv`` its word counts, ``π`` the
    fixed ``background_weight`` and ``w_v`` the normalised IDF of word ``v`` (or 1).

    Arguments:
        background_weight: π, the fixed share of each document's words drawn from the background
            unigram. Must be in (0, 1]; 1 gives a background-only (unigram) model.
        idf_weighting: weight each word's log-likelihood by ``log(n_docs/df) / max`` (the paper's
            default), so frequent words do not dominate the atoms; ``False`` weights all words 1.
        solver: ``"em"`` (default): EM with SQUAREM acceleration, seconds on a CPU.
            ``"adamw"``: the paper's optimiser (softmax logits, AdamW, mini-batches; torch), kept as
            a reference; minutes.
        max_iter: most EM updates (``solver="em"``).
        tol: stop EM once a SQUAREM cycle (three EM updates) changes the objective by less (relative).
        acceleration: ``"squarem"`` (default) extrapolates two EM steps at a time and falls back to
            plain EM whenever that would not improve the objective; ``None`` runs plain EM.
        epochs: passes over the documents for ``solver="adamw"`` (the paper uses 50-200).
        learning_rate: AdamW learning rate (``solver="adamw"``).
        batch_size: documents per AdamW step (``solver="adamw"``).
        smoothing: share of uniform mass mixed into every row of ``emission_`` and into ``background_``.
        random_state: seed for AdamW's initialisation and batch order (EM is deterministic).
        verbose: show a progress bar over iterations (EM) or epochs (AdamW).

    The uniform ``smoothing`` keeps held-out log-likelihoods finite without changing the order of any row's
    words; it and ``tol`` were chosen on 20 Newsgroups (``benchmarks/README.md``, "Emission fit").

    Attributes:
        emission_: ``(n_atoms, n_words)`` float32, row ``k`` is P(word | atom k).
        background_: ``(n_words,)`` background unigram P0.
        idf_: ``(n_words,)`` word weights used in the fit (all 1 without ``idf_weighting``).
        atom_weights_: ``(n_atoms,)`` atom prior P(k): mean of the normalised θ over documents,
            renormalised to sum to 1.
        n_iter_: EM updates performed (EM) or epochs run (AdamW).
        objective_: weighted negative log-likelihood per weighted token on the training data, as
            :meth:`objective` computes it.
        history_: objective after each recorded step (EM: each E-step, non-increasing; AdamW: the
            mean loss of each epoch).

    Usage:

    ```python
    model = EmissionModel(background_weight=0.3).fit(theta, counts)
    top = np.argsort(-model.emission_[k])[:10]                  # top words of atom k
    topics = model.topic_word(atom_topic)                        # (n_topics, n_words)
    model.perplexity(theta_test, counts_test)                    # held-out perplexity
    ```
    """

    def __init__(
        self,
        background_weight: float = 0.3,
        idf_weighting: bool = True,
        solver: Literal["em", "adamw"] = "em",
        max_iter: int = 500,
        tol: float = 1e-5,
        acceleration: Literal["squarem"] | None = "squarem",
        epochs: int = 50,
        learning_rate: float = 1e-2,
        batch_size: int = 1024,
        smoothing: float = 0.01,
        random_state: int | None = None,
        verbose: bool = False,
    ):
        self.background_weight = background_weight
        self.idf_weighting = idf_weighting
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.acceleration = acceleration
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.smoothing = smoothing
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        if not 0.0 < float(self.background_weight) <= 1.0:
            raise ValueError(
                f"background_weight must be in (0, 1], got {self.background_weight}; with 0, documents "
                "without any active atom would have zero likelihood. The paper uses 0.3."
            )
        if self.solver not in ("em", "adamw"):
            raise ValueError(f"solver must be 'em' or 'adamw', got {self.solver!r}.")
        if self.acceleration not in ("squarem", None):
            raise ValueError(f"acceleration must be 'squarem' or None, got {self.acceleration!r}.")
        if int(self.max_iter) < 1 or int(self.epochs) < 1 or int(self.batch_size) < 1:
            raise ValueError("max_iter, epochs and batch_size must all be positive integers.")
        if not self.tol >= 0 or not self.learning_rate > 0:
            raise ValueError(f"tol must be >= 0 and learning_rate > 0, got {self.tol}, {self.learning_rate}.")
        if not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {self.smoothing}.")

    def _check_data(self, theta, counts, *, fitting: bool) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        counts = _as_csr(
            counts,
            "counts",
            "pass raw word counts (n_docs, n_words), e.g. default_vectorizer().fit_transform(texts).",
        )
        theta = _as_csr(
            theta,
            "theta",
            "pass non-negative SAE activations (n_docs, n_atoms), e.g. sae.encode_csr(embeddings).",
        )
        if theta.shape[0] != counts.shape[0]:
            raise ValueError(
                f"theta has {theta.shape[0]} rows but counts has {counts.shape[0]}; both need one row per "
                "document, in the same order."
            )
        if counts.shape[1] == 0:
            raise ValueError(
                "counts has an empty vocabulary (0 columns); fit the vectorizer on more documents or lower "
                "its min_df (default_vectorizer(min_df='auto'))."
            )
        if theta.shape[1] == 0:
            raise ValueError("theta has 0 columns (atoms); pass the SAE codes of the documents.")
        if not fitting:
            if counts.shape[1] != self.emission_.shape[1]:
                raise ValueError(
                    f"counts has {counts.shape[1]} words but the model was fitted on "
                    f"{self.emission_.shape[1]}; count words with the vectorizer used for fitting."
                )
            if theta.shape[1] != self.emission_.shape[0]:
                raise ValueError(
                    f"theta has {theta.shape[1]} atoms but the model was fitted on "
                    f"{self.emission_.shape[0]}; encode the documents with the same SAE."
                )
        return _normalize_rows(theta), counts

    # ------------------------------------------------------------------------------ fitting
    def fit(self, theta: Codes, counts: Counts) -> EmissionModel:
        """Learn the emission matrix and background unigram.

        Arguments:
            theta: ``(n_docs, n_atoms)`` non-negative SAE codes (scipy sparse or dense). Rows are
                divided by their sum; all-zero rows (no active atom) are allowed.
            counts: ``(n_docs, n_words)`` word counts of the same documents.

        Returns:
            self.
        """
        self._check_params()
        theta, counts = self._check_data(theta, counts, fitting=True)
        n_docs, n_atoms = theta.shape
        weights = self._idf(counts) if self.idf_weighting else np.ones(counts.shape[1])
        wn = counts.data * weights[counts.indices]
        if not wn.sum() > 0:
            raise ValueError(
                "The documents have no words to learn topic words from: every document is empty, or every "
                "vocabulary word occurs in every document (IDF weight 0). Pass more varied documents (words "
                "that occur in some documents only)."
            )
        column_mass = self._column_mass(theta)
        total = column_mass.sum()
        self.idf_ = weights
        self.atom_weights_ = column_mass / total if total > 0 else np.full(n_atoms, 1.0 / n_atoms)

        if self.solver == "em":
            B, P0 = self._fit_em(theta, counts, wn)
        else:
            B, P0 = self._fit_adamw(theta, counts, wn)

        eps = float(self.smoothing)
        n_words = counts.shape[1]
        B = np.asarray(B, dtype=np.float32)
        B *= np.float32(1.0 - eps)
        B += np.float32(eps / n_words)
        self.emission_ = B
        self.background_ = (1.0 - eps) * P0 + eps / n_words
        self.objective_ = self._objective(theta, counts, wn)
        return self

    def _fit_em(self, theta, counts, wn) -> tuple[np.ndarray, np.ndarray]:
        n_docs, n_atoms = theta.shape
        n_words = counts.shape[1]
        data = self._likelihood(theta, counts, wn)

        # Start from the data: P0 = weighted unigram, B_k = weighted word profile of the documents
        # where atom k is active (one M-step from B = 1 with ratio = w n). Zeros in B_k are words
        # that never co-occur with atom k; they are zero at the optimum too, so multiplicative updates
        # keeping them at zero lose nothing.
        P0 = np.asarray(data.unigram(n_words), dtype=np.float64)
        P0 /= P0.sum()
        # float32 halves the memory of the (n_atoms, n_words) arrays and speeds up the E-step ~25%;
        # sums are accumulated in float64 inside the kernels.
        B, _ = data.m_step(
            np.ones((n_atoms, n_words), np.float32), P0, np.empty((n_atoms, n_words), np.float32), ratio=wn
        )
        idle = np.abs(B.sum(axis=1) - 1.0) > 1e-6  # rows the M-step left at 1: atom never fires
        B[idle] = P0  # the background is the least surprising guess for them

        objective = data.objective(B, P0)
        history = [objective]
        updates = 0
        squarem = self.acceleration == "squarem"
        spare = [np.empty_like(B) for _ in range(3 if squarem else 1)]
        progress = tqdm(total=int(self.max_iter), desc="EM", disable=not self.verbose, leave=False)
        try:
            while updates < self.max_iter:
                previous = objective
                if squarem and updates + 3 <= self.max_iter:
                    B, P0, objective = self._squarem_cycle(data, B, P0, spare, history)
                    steps = 3
                else:
                    B_new, P0 = data.m_step(B, P0, spare[0])
                    spare[0], B = B, B_new
                    objective = data.objective(B, P0)
                    history.append(objective)
                    steps = 1
                updates += steps
                progress.update(steps)
                progress.set_postfix(objective=f"{objective:.6f}")
                if abs(previous - objective) <= self.tol * abs(objective):
                    break
        finally:
            progress.close()
        self.n_iter_ = updates
        self.history_ = history
        return B, P0

    @staticmethod
    def _squarem_cycle(data: _Likelihood, B0, P00, spare, history):
        """One SQUAREM cycle (Varadhan & Roland 2008, steplength S3) with a monotone safeguard.

        Two EM steps give x1 and x2; the extrapolated point x' = x0 - 2αr + α²v (r = x1 - x0,
        v = x2 - 2x1 + x0) is kept only if its objective is no worse than x1's, else α is halved
        towards -1, where x' = x2, which EM guarantees is no worse. An EM step from x' stabilises
        it. Costs three EM updates; returns the new B, P0 and objective.
        """
        B1, P01 = data.m_step(B0, P00, spare[0])
        objective1 = data.objective(B1, P01)
        history.append(objective1)
        B2, P02 = data.m_step(B1, P01, spare[1])
        rr, vv = _squarem_norms(B0, B1, B2)
        r0, v0 = P01 - P00, P02 - 2 * P01 + P00
        rr += float(r0 @ r0)
        vv += float(v0 @ v0)
        alpha = min(-math.sqrt(rr / vv), -1.0) if vv > 0 else -1.0
        while True:
            if alpha == -1.0:
                Bx, P0x = B2, P02  # the plain EM point
            else:
                Bx = spare[2]
                _squarem_extrapolate(B0, B1, B2, alpha, Bx)
                P0x = P00 - 2 * alpha * r0 + alpha * alpha * v0
                P0x = np.where(P0x > 0, P0x, 1e-2 * P02)
                P0x /= P0x.sum()
            objective_x = data.objective(Bx, P0x)
            if objective_x <= objective1 or alpha == -1.0:
                break
            alpha = min((alpha - 1.0) / 2.0, -1.0)
        history.append(objective_x)
        # Stabilising EM step, written over x0's buffer (no longer needed); spare keeps x1, x2, x'.
        B_new, P0_new = data.m_step(Bx, P0x, B0)
        objective_new = data.objective(B_new, P0_new)
        history.append(objective_new)
        return B_new, P0_new, objective_new

    def _fit_adamw(self, theta, counts, wn) -> tuple[np.ndarray, np.ndarray]:
        import torch

        n_docs, n_atoms = theta.shape
        n_words = counts.shape[1]
        pi = float(self.background_weight)
        seed = self.random_state
        entropy = cast(int, np.random.SeedSequence().entropy)  # an int when no entropy is passed in
        seed = int(seed if seed is not None else entropy % 2**32)
        generator = torch.Generator().manual_seed(seed)
        rng = np.random.default_rng(seed)
        # The paper's parameterisation and initialisation: softmax logits ~ 0.01 N(0, 1), B and P0
        # start near uniform; π is fixed, not learned.
        B_logits = (0.01 * torch.randn(n_atoms, n_words, generator=generator)).requires_grad_()
        bg_logits = (0.01 * torch.randn(n_words, generator=generator)).requires_grad_()
        optimizer = torch.optim.AdamW(
            [B_logits, bg_logits], lr=float(self.learning_rate), weight_decay=0.0, fused=True
        )
        weighted = sp.csr_matrix((wn, counts.indices, counts.indptr), shape=counts.shape)
        total = float(wn.sum())
        batch_size = int(self.batch_size)
        history = []
        for _ in tqdm(range(int(self.epochs)), desc="AdamW", disable=not self.verbose, leave=False):
            epoch_loss = 0.0
            order = rng.permutation(n_docs)
            for start in range(0, n_docs, batch_size):
                rows = order[start : start + batch_size]
                batch_theta, batch_counts = theta[rows], weighted[rows]
                if batch_counts.nnz == 0:
                    continue
                cols = torch.from_numpy(batch_counts.indices.astype(np.int64))
                q = pi * torch.softmax(bg_logits, dim=0)[cols]
                # Σ_k θ_dk B_kv only at the (document, word) non-zeros, from the (atom, word) pairs of
                # each document; only the atoms active in the batch are normalised, but over the
                # full vocabulary (logsumexp), so B stays exact.
                at_theta, at_count = _row_pairs(batch_theta.indptr, batch_counts.indptr)
                if at_theta.size:
                    atoms, local = np.unique(batch_theta.indices, return_inverse=True)
                    # index_select, not [], because its backward is a fast index_add.
                    rows_B = torch.index_select(B_logits, 0, torch.from_numpy(atoms.astype(np.int64)))
                    B_batch = torch.softmax(rows_B, dim=1).reshape(-1)
                    flat = local[at_theta].astype(np.int64) * n_words + batch_counts.indices[at_count]
                    terms = torch.from_numpy(batch_theta.data[at_theta].astype(np.float32))
                    terms = terms * torch.index_select(B_batch, 0, torch.from_numpy(flat))
                    mix = torch.zeros(batch_counts.nnz).index_add(0, torch.from_numpy(at_count), terms)
                    q = q + (1.0 - pi) * mix
                values = torch.from_numpy(batch_counts.data.astype(np.float32))
                loss = -(values * torch.log(q.clamp_min(1e-8))).sum()  # summed, as in the paper
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                epoch_loss += float(loss.detach())
            history.append(epoch_loss / total)
        self.n_iter_ = int(self.epochs)
        self.history_ = history
        with torch.no_grad():
            B = torch.softmax(B_logits, dim=1).numpy()
            P0 = torch.softmax(bg_logits.double(), dim=0).numpy()
        return B, P0

    # ------------------------------------------------------------------------------ scoring
    def _objective(self, theta, counts, wn) -> float:
        return self._likelihood(theta, counts, wn).objective(self.emission_, self.background_)

    # Hooks for a fit over documents split across processes (tm/distributed.py sums these over ranks).
    def _likelihood(self, theta, counts, wn) -> _Likelihood:
        return _Likelihood(theta, counts, wn, float(self.background_weight))

    def _idf(self, counts) -> np.ndarray:
        return idf_weights(counts)

    def _column_mass(self, theta) -> np.ndarray:
        return np.asarray(theta.sum(axis=0)).ravel()

    def objective(self, theta: Codes, counts: Counts) -> float:
        """Weighted negative log-likelihood per weighted token (lower is better).

        ``-Σ w_v n_dv log q_dv / Σ w_v n_dv`` with the fitted ``idf_`` weights; the quantity both
        solvers minimise, so their fits can be compared.

        Arguments:
            theta: ``(n_docs, n_atoms)`` SAE codes (rows are normalised here).
            counts: ``(n_docs, n_words)`` word counts.
        """
        check_is_fitted(self, "emission_")
        theta, counts = self._check_data(theta, counts, fitting=False)
        wn = counts.data * self.idf_[counts.indices]
        if not wn.sum() > 0:
            raise ValueError("counts has no weighted tokens; pass documents that contain vocabulary words.")
        return self._objective(theta, counts, wn)

    def score(self, theta: Codes, counts: Counts) -> float:
        """``-objective(theta, counts)``: higher is better (scikit-learn convention)."""
        return -self.objective(theta, counts)

    def perplexity(self, theta: Codes, counts: Counts) -> float:
        """Unweighted per-token perplexity ``exp(-Σ n_dv log q_dv / Σ n_dv)``, e.g. on held-out documents.

        Arguments:
            theta: ``(n_docs, n_atoms)`` SAE codes of the documents.
            counts: ``(n_docs, n_words)`` their word counts.

        Usage:

        ```python
        model.perplexity(sae.encode_csr(test_embeddings), vectorizer.transform(test_texts))
        ```
        """
        check_is_fitted(self, "emission_")
        theta, counts = self._check_data(theta, counts, fitting=False)
        if not counts.data.sum() > 0:
            raise ValueError("counts has no tokens; pass documents that contain vocabulary words.")
        nll = self._objective(theta, counts, counts.data)
        return float(math.exp(nll))

    # ------------------------------------------------------------------------------ using B
    def topic_word(self, atom_topic: Labels, n_topics: int | None = None) -> np.ndarray:
        """The paper's atom average per topic; see :func:`bertopic_sae.tm.topic_words.topic_word`."""
        from .topic_words import topic_word

        return topic_word(self, atom_topic, n_topics)

    def document_topic_word(self, theta: Codes, counts: Counts, atom_topic: Labels, doc_topic: Labels,
                            n_topics: int | None = None,
                            **options) -> np.ndarray:
        """Words the atoms emit in each topic's documents; see
        :func:`bertopic_sae.tm.topic_words.document_topic_word` (``options``: its keyword arguments)."""
        from .topic_words import document_topic_word

        return document_topic_word(self, theta, counts, atom_topic, doc_topic, n_topics, **options)

    def fold_in(self, counts: Counts, atoms: Labels | None = None, n_iter: int = 50) -> sp.csr_matrix:
        """Infer atom weights θ for new count rows, with ``emission_`` and ``background_`` fixed.

        Runs ``n_iter`` EM steps per row over θ restricted to ``atoms``, maximising the same weighted
        likelihood as :meth:`fit`. Useful for rows without SAE codes, e.g. the summed counts of a
        time slice, to read off which atoms (and so topics) explain them.

        Arguments:
            counts: ``(n_rows, n_words)`` word counts.
            atoms: indices of the atoms θ may use; default every atom with a non-zero prior.
            n_iter: EM steps per row.

        Returns:
            ``(n_rows, n_atoms)`` CSR matrix; each row sums to 1 (rows without weighted words are zero).

        Usage:

        ```python
        theta_slice = model.fold_in(counts[in_2019].sum(axis=0), atoms=atoms_of_topic_3)
        ```
        """
        check_is_fitted(self, "emission_")
        counts = _as_csr(counts, "counts", "pass raw word counts (n_rows, n_words).")
        n_atoms, n_words = self.emission_.shape
        if counts.shape[1] != n_words:
            raise ValueError(
                f"counts has {counts.shape[1]} words but the model was fitted on {n_words}; count words "
                "with the vectorizer used for fitting."
            )
        if atoms is None:
            atoms = np.flatnonzero(self.atom_weights_ > 0)
        atoms = np.unique(np.asarray(atoms))
        valid = atoms.size > 0 and np.issubdtype(atoms.dtype, np.integer)
        if not valid or atoms[0] < 0 or atoms[-1] >= n_atoms:
            raise ValueError(f"atoms must be a non-empty array of atom indices in 0..{n_atoms - 1}.")
        if int(n_iter) < 0:
            raise ValueError(f"n_iter must be >= 0, got {n_iter}.")
        prior = self.atom_weights_[atoms].astype(np.float64)
        prior = prior / prior.sum() if prior.sum() > 0 else np.full(atoms.size, 1.0 / atoms.size)
        wn = counts.data * self.idf_[counts.indices]
        out = np.zeros((counts.shape[0], atoms.size))
        B = np.ascontiguousarray(self.emission_[atoms])
        _fold_in(
            counts.indptr, counts.indices, wn, B, self.background_, float(self.background_weight),
            prior, int(n_iter), out,
        )  # fmt: skip
        result = sp.csr_matrix(out)
        result.indices = atoms[result.indices].astype(result.indices.dtype)
        return sp.csr_matrix((result.data, result.indices, result.indptr), shape=(counts.shape[0], n_atoms))
