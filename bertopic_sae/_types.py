"""Type aliases of the public API's data arguments (for type checkers and readers; nothing is enforced)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Embeddings", "Codes", "Counts", "Labels", "TrainingData"]

Embeddings = np.ndarray
"""Document embeddings ``(n_documents, dim)``: a float array or an ``np.memmap``."""

TrainingData = Any
"""What :func:`~bertopic_sae.train_sae` reads: embeddings, a lazy row reader (``shape``, ``X[a:b]``; e.g.
:class:`~bertopic_sae.data.ShardedEmbeddings`), or an iterable of ``(batch, d_in)`` arrays or tensors."""

Codes = Any
"""SAE codes ``(n_documents, d_sae)``: a scipy sparse matrix (CSR) or a dense non-negative array."""

Counts = Any
"""Bag-of-words counts ``(n_documents, n_words)``: a scipy sparse matrix or a dense array."""

Labels = npt.ArrayLike
"""One integer per item (a topic id, -1 for none)."""
