"""Human-readable SAE features: top-activating tokens and contexts, and pluggable one-line summaries.

No LLM is needed: the SAE's training data gives, for every feature, the tokens it fires on most often
above its threshold and the short contexts of its largest activations (stored with the SAE as
``feature_examples.json``). A *describer* is any callable ``(feature_id, FeatureDescription) -> str``;
an LLM client can be plugged in for one-line summaries, and the default joins the top tokens.

Usage:

```python
from bertopic_sae.mtm.lmsae import load_lm_sae
from bertopic_sae.mtm.descriptions import describe_feature, describe_features
bundle = load_lm_sae()
describe_feature(bundle, 12).top_tokens
describe_features(bundle, [12, 40], describer=lambda i, d: f"feature {i}: {d.contexts[0][0]}")
```
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from .lmsae import LMSAE

__all__ = [
    "FeatureDescription",
    "Describer",
    "describe_feature",
    "describe_features",
    "top_tokens_describer",
    "feature_examples",
    "content_features",
]


class FeatureDescription(NamedTuple):
    """What is known about one SAE feature without an LLM."""

    feature: int
    """SAE feature id."""
    top_tokens: list[tuple[str, int]]
    """Tokens it most often fires on above its threshold, with counts, on the SAE's training data."""
    contexts: list[tuple[str, float]]
    """Short contexts of its largest activations (the firing token in ``[[ ]]``), with the activation."""
    firing_rate: float | None
    """Fraction of training tokens it is non-zero on (None without stored statistics)."""


Describer = Callable[[int, FeatureDescription], str]
"""A callable that turns a feature's description into a one-line label (e.g. an LLM prompt)."""


def describe_feature(bundle: LMSAE, feature: int) -> FeatureDescription:
    """The stored top tokens and contexts of ``feature``.

    Raises:
        ValueError: the feature id is out of range.
    """
    if not 0 <= int(feature) < bundle.sae.d_sae:
        raise ValueError(
            f"feature={feature} is out of range: the SAE has features 0..{bundle.sae.d_sae - 1}."
        )
    examples = bundle.examples or {}
    tokens = examples.get("top_tokens", [])
    contexts = examples.get("contexts", [])
    i = int(feature)
    return FeatureDescription(
        feature=i,
        top_tokens=[(str(t), int(c)) for t, c in tokens[i]] if i < len(tokens) else [],
        contexts=[(str(t), float(a)) for t, a in contexts[i]] if i < len(contexts) else [],
        firing_rate=float(bundle.stats.firing_rate[i]) if bundle.stats is not None else None,
    )


def top_tokens_describer(feature: int, description: FeatureDescription, n: int = 4) -> str:
    """The default label: the feature's ``n`` most frequent firing tokens, e.g. ``"oil/crude/barrel"``."""
    words = [token.strip() for token, _ in description.top_tokens[:n] if token.strip()]
    return "/".join(words) if words else f"feature {feature}"


def describe_features(
    bundle: LMSAE, features: Sequence[int], describer: Describer | None = None
) -> list[str]:
    """One label per feature, from ``describer`` (default: :func:`top_tokens_describer`).

    A describer that raises is reported with the feature id, never silently dropped.
    """
    describer = describer or top_tokens_describer
    labels = []
    for feature in features:
        description = describe_feature(bundle, int(feature))
        try:
            labels.append(str(describer(int(feature), description)))
        except Exception as err:
            raise RuntimeError(f"The describer failed on feature {feature}: {err}") from err
    return labels


def feature_examples(
    token_acts: sp.csr_matrix,
    token_ids: np.ndarray,
    doc_index: np.ndarray,
    thresholds: np.ndarray,
    tokenizer: Any,
    *,
    n_tokens: int = 8,
    n_contexts: int = 5,
    before: int = 10,
    after: int = 3,
) -> dict:
    """Top firing tokens and top-activation contexts of every feature, for ``feature_examples.json``.

    Arguments:
        token_acts: ``(n_tokens, d_sae)`` SAE activations of the training tokens, rows in document order.
        token_ids: vocabulary id of each row.
        doc_index: document of each row (rows of one document are contiguous).
        thresholds: q_i; a token counts toward a feature's top tokens when its activation exceeds it.
        tokenizer: the LM's tokenizer (to turn ids into text).
        n_tokens: top tokens kept per feature.
        n_contexts: contexts kept per feature (its largest activations, one per document).
        before: tokens of context before the firing token.
        after: tokens of context after it.
    """
    acts = sp.csc_matrix(token_acts)
    token_ids, doc_index = np.asarray(token_ids), np.asarray(doc_index)
    starts = np.r_[0, np.flatnonzero(np.diff(doc_index)) + 1]
    which = np.searchsorted(starts, np.arange(len(doc_index)), side="right") - 1
    doc_start, doc_end = starts[which], np.r_[starts[1:], len(doc_index)][which]
    top_tokens, contexts = [], []
    for j in range(acts.shape[1]):
        rows = acts.indices[acts.indptr[j] : acts.indptr[j + 1]]
        values = acts.data[acts.indptr[j] : acts.indptr[j + 1]]
        above = rows[values > thresholds[j]]
        ids, counts = np.unique(token_ids[above], return_counts=True)
        best = np.argsort(-counts)[:n_tokens]
        top_tokens.append([[tokenizer.decode([int(ids[b])]), int(counts[b])] for b in best])
        chosen, seen_docs = [], set()
        for o in np.argsort(-values):
            r = rows[o]
            if doc_index[r] in seen_docs:
                continue
            seen_docs.add(doc_index[r])
            left = tokenizer.decode(token_ids[max(doc_start[r], r - before) : r].tolist())
            right = tokenizer.decode(token_ids[r + 1 : min(doc_end[r], r + 1 + after)].tolist())
            text = f"{left}[[{tokenizer.decode([int(token_ids[r])])}]]{right}".replace("\n", " ")
            chosen.append([text, round(float(values[o]), 3)])
            if len(chosen) == n_contexts:
                break
        contexts.append(chosen)
    return {"top_tokens": top_tokens, "contexts": contexts}


_ENTITIES = {"amp", "quot", "nbsp"}


def content_features(
    bundle: LMSAE,
    features: Sequence[int] | np.ndarray,
    *,
    n_tokens: int = 4,
    min_letters: int = 3,
    share: float = 0.5,
    min_count: int = 25,
) -> np.ndarray:
    """Boolean mask: which ``features`` fire mostly on words (content), not digits, punctuation or pieces.

    A feature is content when at least ``share`` of the counts of its ``n_tokens`` most frequent firing
    tokens (on the SAE's training data) fall on words: tokens with ``min_letters`` letters or more (one more
    without a leading space, to leave out word pieces) that are not English stop words (scikit-learn's
    list) or HTML entities; and those counts add up to ``min_count``
    or more (rarer features have no reliable description).

    Raises:
        ValueError: the SAE has no stored examples (``feature_examples.json``).
    """
    if not bundle.examples or "top_tokens" not in bundle.examples:
        raise ValueError(
            f"{bundle.folder} has no feature_examples.json: content features cannot be told apart; "
            "build the SAE's examples (benchmarks/mtm_build_sae.py package) or pass content_only=False."
        )
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    def is_word(token: str) -> bool:
        # a token without a leading space is often a word piece ("ack", "enn"): it needs one letter more
        needed = min_letters if token.startswith(" ") else min_letters + 1
        token = token.strip().lower()
        letters = sum(ch.isalpha() for ch in token)
        return letters >= needed and token not in ENGLISH_STOP_WORDS and token not in _ENTITIES

    tokens = bundle.examples["top_tokens"]
    mask = np.zeros(len(features), dtype=bool)
    for j, feature in enumerate(features):
        top = tokens[int(feature)][:n_tokens] if int(feature) < len(tokens) else []
        total = sum(int(c) for _, c in top)
        wordy = sum(int(c) for t, c in top if is_word(str(t)))
        mask[j] = total >= min_count and wordy >= share * total
    return mask
