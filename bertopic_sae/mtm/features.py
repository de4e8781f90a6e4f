"""SAE feature counts of documents (Mechanistic Topic Models, eq. 5).

For document d and SAE feature i, ``c[d, i] = #{tokens j of d : α_i(a_dj) > q_i}`` (strictly greater), with
a_dj the LM's residual stream at the SAE's layer (BOS, padding and special tokens dropped) and q_i the
80th percentile of feature i's non-zero activations **on the SAE's training data** (stored with the SAE,
:class:`~bertopic_sae.mtm.lmsae.FeatureStats`). When an SAE has no stored statistics the thresholds and
firing rates are computed on the user's corpus instead (``FeatureCounts.threshold_source == "corpus"``), a
different estimator than the paper's.

Two filters follow the paper: features active on more than ``max_firing_rate`` (1%) of the SAE's training
tokens, and features present in more than ``max_doc_fraction`` (90%) of the corpus's documents, are dropped.

Usage:

```python
from bertopic_sae.lm import load_causal_lm
from bertopic_sae.mtm.lmsae import load_lm_sae
from bertopic_sae.mtm.features import featurize
lm, bundle = load_causal_lm(), load_lm_sae()
fc = featurize(lm, bundle, ["Oil prices rose.", "The team won the cup."])
fc.counts          # scipy CSR (n_docs, n_features), int32
fc.features        # SAE feature id of each column
```
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
import scipy.sparse as sp
import torch

from .activations import iter_activations
from .lmsae import LMSAE, check_sae_fits, quantile_thresholds

__all__ = ["FeatureCounts", "featurize", "filter_features"]


class FeatureCounts(NamedTuple):
    """Feature counts of a corpus, over the features that passed the filters."""

    counts: sp.csr_matrix
    """``(n_docs, n_features)`` int32 counts c[d, i]."""
    features: np.ndarray
    """``(n_features,)`` SAE feature id of each column."""
    n_sae: np.ndarray
    """``(n_docs,)`` N_sae: total counts per document (over the kept features)."""
    n_tok: np.ndarray
    """``(n_docs,)`` N_tok: tokens per document after truncation and dropping special tokens."""
    mean_acts: sp.csr_matrix | None
    """``(n_docs, n_features)`` mean continuous activation per token (the reference mBERTopic's input),
    or None when not asked for."""
    threshold_source: Literal["sae-training-data", "corpus"]
    """Where the thresholds and firing rates came from."""
    tokens_per_second: float
    """Featurisation throughput of this call (LM forward + SAE + counting)."""

    def select(self, features: np.ndarray | Sequence[int]) -> FeatureCounts:
        """These counts over the given SAE feature ids only (each one of ``self.features``), N_sae recomputed.

        Arguments:
            features: SAE feature ids to keep, in the order the columns should take.

        Usage: ``fc.select(fc.features[:100])``; with :meth:`filtered`, filters can be tried without
        running the LM again.
        """
        wanted = np.asarray(features, dtype=np.int64).ravel()
        column = {int(f): j for j, f in enumerate(self.features)}
        missing = [int(f) for f in wanted if int(f) not in column]
        if missing:
            raise ValueError(
                f"Features {missing[:5]} are not columns of these counts (filtered out or never counted); "
                "featurize with looser filters (max_firing_rate=1.0, max_doc_fraction=1.0) to keep them."
            )
        if np.unique(wanted).size != wanted.size:
            raise ValueError("features lists a feature id more than once; pass each id once.")
        columns = np.array([column[int(f)] for f in wanted], dtype=np.int64)
        counts = sp.csr_matrix(self.counts[:, columns], dtype=np.int32)
        means = sp.csr_matrix(self.mean_acts[:, columns]) if self.mean_acts is not None else None
        return self._replace(counts=counts, features=wanted, n_sae=np.asarray(counts.sum(1)).ravel(),
                             mean_acts=means)

    def filtered(self, firing_rate: np.ndarray, *, max_firing_rate: float = 0.01,
                 max_doc_fraction: float = 0.9) -> FeatureCounts:
        """These counts after the density and document-frequency filters of :func:`filter_features`.

        Arguments:
            firing_rate: ``(d_sae,)`` fraction of SAE training tokens each feature is non-zero on
                (``bundle.stats.firing_rate``).
            max_firing_rate: density filter (the paper: 1%).
            max_doc_fraction: document-frequency filter (the paper: 90%).

        Usage:

        ```python
        everything = featurize(lm, bundle, texts, max_firing_rate=1.0, max_doc_fraction=1.0)
        paper = everything.filtered(bundle.stats.firing_rate)                      # 1% / 90%
        looser = everything.filtered(bundle.stats.firing_rate, max_firing_rate=0.05)
        ```
        """
        rates = np.asarray(firing_rate, dtype=np.float64).ravel()
        if rates.size <= int(self.features.max(initial=-1)):
            raise ValueError(
                f"firing_rate has {rates.size} entries but these counts use feature id "
                f"{int(self.features.max())}; pass the firing rates of the SAE that counted them "
                "(bundle.stats.firing_rate)."
            )
        keep = filter_features(self.counts, rates[self.features], max_firing_rate=max_firing_rate,
                               max_doc_fraction=max_doc_fraction)
        return self.select(self.features[keep])


def _doc_sum(local: torch.Tensor, values: torch.Tensor, n_docs: int) -> torch.Tensor:
    return torch.zeros((n_docs, values.shape[1]), dtype=values.dtype, device=values.device).index_add_(
        0, local, values
    )


def featurize(
    lm: Any,
    bundle: LMSAE,
    texts: Sequence[str],
    *,
    max_tokens: int = 128,
    batch_size: int = 32,
    quantile: float = 0.8,
    max_firing_rate: float = 0.01,
    max_doc_fraction: float = 0.9,
    mean_acts: bool = False,
    verbose: bool = True,
) -> FeatureCounts:
    """Count, per document, the tokens on which each SAE feature fires above its threshold.

    Arguments:
        lm: a :class:`bertopic_sae.lm.LanguageModel` (the one the SAE was trained on).
        bundle: the SAE with its layer and statistics (:func:`~bertopic_sae.mtm.lmsae.load_lm_sae`).
        texts: documents.
        max_tokens: tokens read per document (the rest is cut off; the SAE reads 128-token windows).
        batch_size: documents per LM forward pass.
        quantile: threshold quantile for the corpus fallback (stored thresholds are used when present).
        max_firing_rate: drop features non-zero on more than this fraction of training tokens.
        max_doc_fraction: drop features counted in more than this fraction of the corpus's documents.
        mean_acts: also return each document's mean continuous activations.
        verbose: progress bar.

    Raises:
        ValueError: the SAE does not fit the LM, a document has no token after tokenisation, or every
            feature is filtered out.
    """
    sae, stats = bundle.sae, bundle.stats
    check_sae_fits(lm, sae, bundle.layer)
    if len(texts) == 0:
        raise ValueError("texts is empty: pass at least one document.")
    device = next(lm.model.parameters()).device
    sae = sae.to(device).eval()
    thresholds = torch.as_tensor(stats.thresholds, device=device) if stats is not None else None
    count_rows, mean_rows, token_blocks, order = [], [], [], []
    n_tok = np.zeros(len(texts), dtype=np.int64)
    started, seen = time.perf_counter(), 0
    with torch.inference_mode():
        for batch in iter_activations(
            lm,
            texts,
            bundle.layer,
            max_tokens=max_tokens,
            batch_size=batch_size,
            verbose=verbose,
            desc="features",
        ):
            docs = batch.docs
            position = {int(d): k for k, d in enumerate(docs)}
            local = torch.as_tensor(
                [position[int(d)] for d in batch.doc_index], dtype=torch.long, device=device
            )
            acts = sae.encode(batch.acts.to(sae.dtype)).acts
            n_tok[docs] = np.bincount([position[int(d)] for d in batch.doc_index], minlength=len(docs))
            seen += acts.shape[0]
            order.append(docs)
            if thresholds is None:  # corpus fallback: thresholds need every token first
                token_blocks.append((sp.csr_matrix(acts.cpu().numpy()), batch.doc_index))
                continue
            count_rows.append(
                sp.csr_matrix(_doc_sum(local, (acts > thresholds).float(), len(docs)).cpu().numpy())
            )
            if mean_acts:
                mean_rows.append(sp.csr_matrix(_doc_sum(local, acts, len(docs)).cpu().numpy()))
    seconds = time.perf_counter() - started
    empty = np.flatnonzero(n_tok == 0)
    if empty.size:
        raise ValueError(
            f"{empty.size} documents have no token after tokenisation (first: {empty[:5].tolist()}); "
            "drop empty documents before featurising."
        )
    perm = np.argsort(np.concatenate(order))
    if thresholds is None:
        token_acts = sp.vstack([b[0] for b in token_blocks], format="csr")
        doc_of_token = np.concatenate([b[1] for b in token_blocks])
        q, firing = quantile_thresholds(token_acts, quantile)
        token_acts.data[token_acts.data <= q[token_acts.indices]] = 0
        token_acts.eliminate_zeros()
        token_acts.data[:] = 1
        to_doc = sp.csr_matrix(
            (np.ones(len(doc_of_token)), (doc_of_token, np.arange(len(doc_of_token)))),
            shape=(len(texts), len(doc_of_token)),
        )
        counts = to_doc @ token_acts
        sums = to_doc @ sp.vstack([b[0] for b in token_blocks], format="csr") if mean_acts else None
        source: Literal["sae-training-data", "corpus"] = "corpus"
    else:
        counts = sp.vstack(count_rows, format="csr")[perm]
        sums = sp.vstack(mean_rows, format="csr")[perm] if mean_acts else None
        firing = stats.firing_rate if stats is not None else firing
        source = "sae-training-data"
    keep = filter_features(counts, firing, max_firing_rate=max_firing_rate, max_doc_fraction=max_doc_fraction)
    counts = sp.csr_matrix(counts[:, keep], dtype=np.int32)
    means = (
        sp.csr_matrix(sp.diags(1.0 / n_tok) @ sums[:, keep], dtype=np.float32) if sums is not None else None
    )
    return FeatureCounts(
        counts, keep, np.asarray(counts.sum(1)).ravel(), n_tok, means, source, seen / max(seconds, 1e-9)
    )


def filter_features(
    counts: sp.spmatrix,
    firing_rate: np.ndarray,
    *,
    max_firing_rate: float = 0.01,
    max_doc_fraction: float = 0.9,
) -> np.ndarray:
    """Ids of the features that fire, are not dense on the SAE's data, and are not in most documents.

    Arguments:
        counts: ``(n_docs, d_sae)`` feature counts.
        firing_rate: ``(d_sae,)`` fraction of SAE training tokens each feature is non-zero on.
        max_firing_rate: density filter (the paper: 1%).
        max_doc_fraction: document-frequency filter (the paper: 90%).
    """
    counts = sp.csc_matrix(counts)
    doc_freq = np.diff((counts > 0).astype(np.int8).tocsc().indptr) / counts.shape[0]
    keep = (doc_freq > 0) & (np.asarray(firing_rate) <= max_firing_rate) & (doc_freq <= max_doc_fraction)
    if not keep.any():
        raise ValueError(
            f"Every feature was filtered out ({int((doc_freq > 0).sum())} fire at all; the density filter "
            f"max_firing_rate={max_firing_rate} and max_doc_fraction={max_doc_fraction} remove the rest). "
            "Use longer or more documents, or relax the filters."
        )
    return np.flatnonzero(keep)
