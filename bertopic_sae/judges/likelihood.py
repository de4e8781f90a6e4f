"""Log-likelihood scoring with a causal LM: continuation log-probabilities and the likelihood (PMI) judge.

:func:`sequence_log_probs` scores token continuations after token contexts in right-padded batches.
:class:`LMLikelihoodJudge` answers the embedding judge's question, ``compare(document, renderings)``,
without a question and so without an A/B position: each rendering's score is its pointwise mutual
information with the document under the LM, per token,

    PMI(r; d) = [log p(r | template(d)) - log p(r | template(""))] / |r|,

so a rendering scores high when reading the document makes it likelier than it is a priori (the prior term
cancels how common or short the words are). A 135M model that cannot follow a comparison prompt can still
do this: it is the language-modelling it was trained for.

Usage:

```python
from bertopic_sae.judges import LMLikelihoodJudge
judge = LMLikelihoodJudge()                      # SmolLM2-135M-Instruct, offline
judge.compare("Stocks fell today.", ["- market, stock, share", "- game, team, player"])   # two PMIs
```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["sequence_log_probs", "LMLikelihoodJudge", "LIKELIHOOD_TEMPLATE"]

LIKELIHOOD_TEMPLATE = "{document}\n\nTopic keywords:"
"""Context of the likelihood judge (``{document}``); the rendering follows after a space."""


def sequence_log_probs(
    lm: Any,
    contexts: Sequence[list[int]],
    continuations: Sequence[list[int]],
    *,
    batch_size: int = 8,
    verbose: bool = False,
) -> np.ndarray:
    """Summed log-probability of every ``continuations[i]`` (token ids) after ``contexts[i]`` under ``lm``.

    Arguments:
        lm: a ``bertopic_sae.lm.LanguageModel``.
        contexts: token ids of each context (at least one token each).
        continuations: token ids scored after each context (at least one token each).
        batch_size: sequences per forward pass (right-padded; causal attention ignores the padding).
        verbose: progress bar.
    """
    import torch
    from tqdm.auto import tqdm

    if len(contexts) != len(continuations):
        raise ValueError(f"{len(contexts)} contexts but {len(continuations)} continuations; pass pairs.")
    if any(not c for c in contexts) or any(not c for c in continuations):
        raise ValueError("every context and every continuation needs at least one token.")
    lengths = [len(a) + len(b) for a, b in zip(contexts, continuations, strict=True)]
    order = np.argsort(lengths)
    out = np.zeros(len(contexts))
    pad = lm.tokenizer.pad_token_id or 0
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    for batch in tqdm(batches, desc="log-likelihood", disable=not verbose or len(batches) < 2, leave=False):
        width = max(lengths[i] for i in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            seq = list(contexts[i]) + list(continuations[i])
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        # the LM head only over the positions that predict a continuation token (the window of the batch)
        first = min(len(contexts[i]) for i in batch) - 1
        keep = torch.arange(first, width - 1)
        with torch.no_grad():
            logits = lm.model(
                input_ids=ids.to(lm.device), attention_mask=mask.to(lm.device), logits_to_keep=keep
            ).logits.float()
        log_probs = torch.log_softmax(logits, dim=-1).cpu()
        for row, i in enumerate(batch):
            start, stop = len(contexts[i]), lengths[i]
            targets = ids[row, start:stop]
            window = log_probs[row, start - 1 - first : stop - 1 - first]
            out[i] = float(window.gather(1, targets[:, None]).sum())
    return out


class LMLikelihoodJudge:
    """Scores renderings by their per-token PMI with the document under a causal LM (no question asked).

    Arguments:
        lm: a ``bertopic_sae.lm.LanguageModel``; ``None`` loads SmolLM2-135M-Instruct offline on first use.
        template: the context, with ``{document}``; the rendering is scored right after it.
        max_document_tokens: the document is cut to this many tokens.
        batch_size: sequences per forward pass.

    Usage:

    ```python
    judge = LMLikelihoodJudge()
    compare_models(views, texts, judge, n_docs=40)      # plugs in wherever the EmbeddingJudge does
    ```
    """

    def __init__(
        self,
        lm: Any = None,
        *,
        template: str = LIKELIHOOD_TEMPLATE,
        max_document_tokens: int = 256,
        batch_size: int = 8,
    ):
        self.lm = lm
        self.template = template
        self.max_document_tokens = max_document_tokens
        self.batch_size = batch_size
        self._prior: dict[str, float] = {}
        self._scores: dict[tuple[str, str], float] = {}

    @property
    def name(self) -> str:
        return f"lm-pmi:{self._lm().name}"

    def _lm(self) -> Any:
        if self.lm is None:
            from bertopic_sae.lm import load_causal_lm

            self.lm = load_causal_lm(verbose=False)
        return self.lm

    def _context(self, document: str) -> list[int]:
        tokenizer = self._lm().tokenizer
        doc = tokenizer.encode(document, add_special_tokens=False)[: self.max_document_tokens]
        head, _, tail = self.template.partition("{document}")
        ids = (
            tokenizer.encode(head, add_special_tokens=False)
            + doc
            + tokenizer.encode(tail, add_special_tokens=False)
        )
        return ids or [tokenizer.eos_token_id]

    def _tokens(self, text: str) -> list[int]:
        return self._lm().tokenizer.encode(text, add_special_tokens=False)

    def pmi(self, contexts: Sequence[str], continuations: Sequence[str], prior_context: str) -> np.ndarray:
        """Per-token PMI of ``continuations[i]`` with ``contexts[i]``, against ``prior_context`` (raw text).

        ``[log p(c | context) - log p(c | prior_context)] / |c|``; the prior term is memoised per
        (prior context, continuation).
        """
        lm = self._lm()
        conts = [self._tokens(c) for c in continuations]
        key = [f"{prior_context}\x1f{c}" for c in continuations]
        missing = [i for i, k in enumerate(key) if k not in self._prior]
        missing = list({key[i]: i for i in missing}.values())
        prior_ids = self._tokens(prior_context) or [lm.tokenizer.eos_token_id]
        ctx = [self._tokens(c) or [lm.tokenizer.eos_token_id] for c in contexts]
        scores = sequence_log_probs(
            lm,
            ctx + [prior_ids] * len(missing),
            conts + [conts[i] for i in missing],
            batch_size=self.batch_size,
        )
        for i, score in zip(missing, scores[len(contexts) :], strict=True):
            self._prior[key[i]] = float(score)
        prior = np.array([self._prior[k] for k in key])
        return (scores[: len(contexts)] - prior) / np.array([len(c) for c in conts], dtype=float)

    def compare(self, document: str, renderings: Sequence[str]) -> np.ndarray:
        """Per-token PMI of each rendering with ``document`` (memoised: a pairwise run shows each model's
        rendering of a document in every pair it plays)."""
        missing = list(dict.fromkeys(r for r in renderings if (document, r) not in self._scores))
        if missing:
            doc = self._lm().tokenizer.decode(self._tokens(document)[: self.max_document_tokens])
            context = self.template.format(document=doc)
            prior = self.template.format(document="")
            scores = self.pmi([context] * len(missing), [" " + r.strip() for r in missing], prior)
            self._scores.update({(document, r): float(v) for r, v in zip(missing, scores, strict=True)})
        return np.array([self._scores[(document, r)] for r in renderings])
