"""Stage 3 of SAE-TM: atoms merged into topics by k-means over atom vectors.

``top_p_rows`` is the paper's sparsification of the emission rows B before they are turned into atom
vectors (the top-p part of each row times the word vectors).
"""

from __future__ import annotations

import numpy as np

__all__ = ["top_p_rows"]


def top_p_rows(matrix: np.ndarray, top_p: float) -> np.ndarray:
    """Keep, in every row of a row-stochastic matrix, the fewest largest entries whose sum exceeds
    ``top_p``; renormalise the kept entries to sum 1 (the paper's sparsification of B)."""
    order = np.argsort(-matrix, axis=1)
    sorted_rows = np.take_along_axis(matrix, order, axis=1)
    cumulative = np.cumsum(sorted_rows, axis=1)
    keep_sorted = np.concatenate(
        [np.ones((matrix.shape[0], 1), bool), cumulative[:, :-1] < top_p * cumulative[:, -1:]], axis=1
    )
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=1)
    kept = np.where(keep, matrix, 0.0)
    return kept / np.maximum(kept.sum(axis=1, keepdims=True), 1e-12)
