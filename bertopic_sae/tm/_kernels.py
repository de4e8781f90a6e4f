"""Numba kernels of the emission model's EM fit and word readings, and the data layout they read.

Shapes: counts and theta are CSR (indptr int64, indices int32); ``wn`` holds w_v * n_dv at the
non-zeros of the counts; ``ratio`` is a work array of the same length.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import scipy.sparse as sp


@numba.njit(parallel=True, cache=True)
def _e_step(c_indptr, c_rows, c_data, n_indptr, n_indices, wn, B, P0, pi, order, partial, ratio, doc_ll):
    """ratio[j] = w n / q at each non-zero of the counts; doc_ll[d] = Σ_v w n log q for document d.

    The mixture Σ_k θ_dk B_kv is accumulated atom by atom (θ in CSC): one row of B stays in cache
    while the documents of that atom add into contiguous runs of ``partial``. Reading B document by
    document instead costs one cache miss per (atom, word) pair and is ~4x slower. Each of the
    ``partial.shape[0]`` tasks owns one row of ``partial``, so there are no write races.
    """
    n_tasks = partial.shape[0]
    n_atoms = B.shape[0]
    n_docs = n_indptr.shape[0] - 1
    for task in numba.prange(n_tasks):
        buffer = partial[task]
        buffer[:] = 0.0
        for position in range(task, n_atoms, n_tasks):  # interleaved, so tasks get similar work
            k = order[position]
            for i in range(c_indptr[k], c_indptr[k + 1]):
                d = c_rows[i]
                weight = c_data[i]
                for j in range(n_indptr[d], n_indptr[d + 1]):
                    buffer[j] += weight * B[k, n_indices[j]]
    for d in numba.prange(n_docs):
        ll = 0.0
        for j in range(n_indptr[d], n_indptr[d + 1]):
            mix = 0.0
            for task in range(n_tasks):
                mix += partial[task, j]
            if wn[j] > 0.0:
                q = (1.0 - pi) * mix + pi * P0[n_indices[j]]
                if q > 0.0:
                    ll += wn[j] * math.log(q)
                    ratio[j] = wn[j] / q
                else:
                    ll = -math.inf
                    ratio[j] = 0.0
            else:
                ratio[j] = 0.0
        doc_ll[d] = ll


@numba.njit(parallel=True, cache=True)
def _m_step_emission(c_indptr, c_rows, c_data, n_indptr, n_indices, ratio, B, order, n_tasks, out):
    """out[k] ∝ B[k] * Σ_d θ_dk ratio_d· (θ in CSC). Each task owns whole atoms, so rows are written
    race-free, and accumulates into one dense row that stays in cache."""
    n_atoms, n_words = B.shape
    for task in numba.prange(n_tasks):
        acc = np.empty(n_words)
        for position in range(task, n_atoms, n_tasks):  # interleaved, so tasks get similar work
            k = order[position]
            acc[:] = 0.0
            for i in range(c_indptr[k], c_indptr[k + 1]):
                d = c_rows[i]
                weight = c_data[i]
                for j in range(n_indptr[d], n_indptr[d + 1]):
                    acc[n_indices[j]] += weight * ratio[j]
            total = 0.0
            for v in range(n_words):
                acc[v] *= B[k, v]
                total += acc[v]
            if total > 0.0:
                for v in range(n_words):
                    out[k, v] = acc[v] / total
            else:  # atom never active on a weighted word: nothing to learn, keep it
                for v in range(n_words):
                    out[k, v] = B[k, v]


@numba.njit(parallel=True, cache=True)
def _squarem_norms(X0, X1, X2):
    """Squared norms of r = X1 - X0 and v = X2 - 2 X1 + X0, row-parallel."""
    n_rows, n_cols = X0.shape
    rr = np.zeros(n_rows)
    vv = np.zeros(n_rows)
    for k in numba.prange(n_rows):
        a = 0.0
        b = 0.0
        for v in range(n_cols):
            r = X1[k, v] - X0[k, v]
            s = X2[k, v] - X1[k, v] - r
            a += r * r
            b += s * s
        rr[k] = a
        vv[k] = b
    return rr.sum(), vv.sum()


@numba.njit(parallel=True, cache=True)
def _squarem_extrapolate(X0, X1, X2, alpha, out):
    """out = X0 - 2α r + α² v, projected back onto the simplex row by row.

    Entries that overshoot below zero are replaced by a small fraction of the plain EM value X2, which
    keeps structural zeros at zero and lets the next EM step move them.
    """
    n_rows, n_cols = X0.shape
    for k in numba.prange(n_rows):
        total = 0.0
        for v in range(n_cols):
            r = X1[k, v] - X0[k, v]
            s = X2[k, v] - X1[k, v] - r
            x = X0[k, v] - 2.0 * alpha * r + alpha * alpha * s
            if not x > 0.0:
                x = 1e-2 * X2[k, v]
            out[k, v] = x
            total += x
        if total > 0.0:
            for v in range(n_cols):
                out[k, v] /= total


@numba.njit(parallel=True, cache=True)
def _fold_in(n_indptr, n_indices, wn, B, P0, pi, prior, n_iter, out):
    """EM over θ_d (support = rows of B) with B and P0 fixed; one document per task."""
    n_docs = n_indptr.shape[0] - 1
    n_atoms = B.shape[0]
    for d in numba.prange(n_docs):
        start, stop = n_indptr[d], n_indptr[d + 1]
        mass = 0.0
        for j in range(start, stop):
            mass += wn[j]
        if mass <= 0.0:
            continue  # no evidence: the row stays zero, like an SAE code with no active atom
        theta = prior.copy()
        mix = np.zeros(stop - start)
        new = np.zeros(n_atoms)
        for _ in range(n_iter):
            mix[:] = 0.0
            for k in range(n_atoms):
                if theta[k] > 0.0:
                    for j in range(start, stop):
                        mix[j - start] += theta[k] * B[k, n_indices[j]]
            for j in range(start, stop):
                q = (1.0 - pi) * mix[j - start] + pi * P0[n_indices[j]]
                mix[j - start] = wn[j] / q if q > 0.0 else 0.0
            total = 0.0
            for k in range(n_atoms):
                acc = 0.0
                if theta[k] > 0.0:
                    for j in range(start, stop):
                        acc += B[k, n_indices[j]] * mix[j - start]
                new[k] = theta[k] * acc
                total += new[k]
            if total <= 0.0:
                break
            for k in range(n_atoms):
                theta[k] = new[k] / total
        out[d, :] = theta


@numba.njit(parallel=True, cache=True)
def _topic_explained(
    t_indptr, t_indices, t_data, n_indptr, n_indices, wn, B, P0, pi, share, background, doc_topic, out
):
    """out[j] = wn[j] ((1-π) Σ_k P(c|k) θ_dk B_kv + λ π P0_v) / q_dv at each non-zero j = (d, v) of the
    counts, c the topic of d: the share of word v in document d (weighted count or presence, ``wn``) that
    the atoms emit for its topic (E-step responsibility), plus ``λ = background`` times the share the
    background explains."""
    n_docs = n_indptr.shape[0] - 1
    for d in numba.prange(n_docs):
        topic = doc_topic[d]
        for j in range(n_indptr[d], n_indptr[d + 1]):
            v = n_indices[j]
            full = 0.0
            own = 0.0
            for i in range(t_indptr[d], t_indptr[d + 1]):
                k = t_indices[i]
                contribution = t_data[i] * B[k, v]
                full += contribution
                if topic >= 0:
                    own += contribution * share[k, topic]
            q = (1.0 - pi) * full + pi * P0[v]
            explained = (1.0 - pi) * own + background * pi * P0[v]
            out[j] = wn[j] * explained / q if (topic >= 0 and q > 0.0) else 0.0


# ------------------------------------------------------------------------------------- helpers


def _as_csr(matrix, name: str, fix: str) -> sp.csr_matrix:
    if sp.issparse(matrix):
        # A copy: canonicalising below must not touch the caller's matrix.
        matrix = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    else:
        try:
            array = np.asarray(matrix, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name} must be a numeric 2-D matrix; {fix}") from error
        if array.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {array.shape}; {fix}")
        matrix = sp.csr_matrix(array)
    if not np.isfinite(matrix.data).all():
        raise ValueError(f"{name} contains NaN or infinite values; {fix}")
    if matrix.nnz and matrix.data.min() < 0:
        raise ValueError(f"{name} contains negative values; {fix}")
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    matrix.indptr = matrix.indptr.astype(np.int64, copy=False)
    matrix.indices = matrix.indices.astype(np.int32, copy=False)
    return matrix


def _normalize_rows(theta: sp.csr_matrix) -> sp.csr_matrix:
    """Rows divided by their sums, in place (callers pass the copy :func:`_as_csr` made; at a million
    documents a second copy of θ is ~0.5 GB)."""
    sums = np.asarray(theta.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    theta.data *= np.repeat(scale, np.diff(theta.indptr))
    return theta


def _row_pairs(a_indptr: np.ndarray, b_indptr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j) with i a stored entry of row r of A and j one of row r of B, for every row r."""
    n_a, n_b = np.diff(a_indptr), np.diff(b_indptr)
    per_row = n_a * n_b
    row = np.repeat(np.arange(n_a.size), per_row)
    offset = np.arange(per_row.sum()) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    width = n_b[row]
    return a_indptr[row] + offset // width, b_indptr[row] + offset % width


class _Likelihood:
    """One data set laid out for the kernels (θ by atom, counts by document) plus their work arrays."""

    def __init__(self, theta: sp.csr_matrix, counts: sp.csr_matrix, wn: np.ndarray, pi: float):
        by_atom = theta.tocsc()
        self.c_indptr = by_atom.indptr.astype(np.int64)
        self.c_rows = by_atom.indices.astype(np.int32)
        self.c_data = by_atom.data
        # Largest atoms first, dealt out round-robin by the kernels, so parallel tasks get similar work.
        self.order = np.argsort(-np.diff(self.c_indptr), kind="stable").astype(np.int64)
        self.counts, self.wn, self.pi = counts, wn, pi
        self.total = float(wn.sum())
        self.partial = np.empty((min(max(1, numba.get_num_threads()), 8), wn.size))
        self.ratio = np.empty_like(wn)
        self.doc_ll = np.empty(counts.shape[0])

    def unigram(self, n_words: int) -> np.ndarray:
        """Weighted word counts Σ_d w n_dv (the background's starting point)."""
        return np.bincount(self.counts.indices, weights=self.wn, minlength=n_words)

    def objective(self, B: np.ndarray, P0: np.ndarray) -> float:
        """E-step: weighted NLL per weighted token; leaves w n / q in ``ratio`` for the M-step."""
        _e_step(
            self.c_indptr, self.c_rows, self.c_data, self.counts.indptr, self.counts.indices, self.wn,
            B, P0, self.pi, self.order, self.partial, self.ratio, self.doc_ll,
        )  # fmt: skip
        return -float(self.doc_ll.sum()) / self.total

    def m_step(self, B: np.ndarray, P0: np.ndarray, out: np.ndarray, ratio=None) -> tuple[np.ndarray, ...]:
        """M-step from the last E-step (or from ``ratio``): new B written into ``out``, new P0."""
        ratio = self.ratio if ratio is None else ratio
        _m_step_emission(
            self.c_indptr, self.c_rows, self.c_data, self.counts.indptr, self.counts.indices,
            ratio, B, self.order, self.partial.shape[0], out,
        )  # fmt: skip
        background = P0 * np.bincount(self.counts.indices, weights=ratio, minlength=P0.size)
        return out, background / background.sum()


