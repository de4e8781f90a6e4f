"""Steering evaluation: steer an LM along topic directions and measure topic relevance and fluency.

For every topic k, strength λ and neutral prompt, the LM continues the prompt under
``bertopic_sae.steering.steer`` (``h' = h - (h.v_k) v_k + λ v_k``) and, once per prompt, unsteered. Measured:

* **relevance (judge)**: a judge asks which of the steered and the unsteered continuation is more about the
  topic (shown as its top words), in both orders; ``relevance`` = the order-averaged probability that the
  steered one is (0.5 = no change; a win when > 0.5). An :class:`~bertopic_sae.judges.EmbeddingJudge` scores
  it as the cosine of each continuation with the topic's words.
* **Δℓ**: mean per-token log-likelihood of the topic's own documents under the steered LM minus under the
  unsteered LM (the MTM paper's on-topic likelihood shift; > 0 = steering makes on-topic text likelier),
  and the same on other topics' documents (``delta_loglik_off``): a steer that only damages the model
  lowers both, one toward the topic lowers the second more (or raises the first).
* **perplexity**: of the steered continuation under the *unsteered* LM, given the prompt (fluency).

The source of directions is anything with ``layer`` and ``topic_direction(k)``: a
:class:`~bertopic_sae.judges.MeanDifferenceDirections` or a mechanistic topic model.

Usage:

```python
rows = steering_sweep(lm, source, topics=[0, 1], prompts=["Tell me about your day."], strengths=[0, 4, 8],
                      topic_words=words, topic_documents=docs, judge=LMJudge(lm))
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..steering import SteeringMode, SteeringPositions, steer
from .base import EmbeddingJudge, as_judge, choose_many

__all__ = [
    "SteeringRow",
    "steering_sweep",
    "summarize",
    "continuation_perplexity",
    "mean_log_likelihood",
    "RELEVANCE_PROMPT",
]

RELEVANCE_PROMPT = (
    "Which text is more about the topic described by these words: {words}?\n\n"
    "Text A:\n{a}\n\nText B:\n{b}\n\n"
    "Answer with a single letter, A or B."
)
"""Prompt of the steering relevance judge (``{words}``, ``{a}``, ``{b}``)."""


class SteeringRow(NamedTuple):
    """One steered generation and its scores."""

    topic: int
    """Topic steered towards."""
    strength: float
    """λ."""
    prompt: int
    """Index of the neutral prompt."""
    text: str
    """The steered continuation."""
    baseline: str
    """The unsteered continuation of the same prompt."""
    perplexity: float
    """Perplexity of ``text`` under the unsteered LM, given the prompt."""
    delta_loglik: float
    """Mean per-token log-likelihood of the topic's documents, steered minus unsteered."""
    relevance: float
    """Order-averaged probability that the judge finds ``text`` more on-topic than ``baseline``."""
    delta_loglik_off: float = float("nan")
    """The same shift on other topics' documents (NaN when none were given)."""


def continuation_perplexity(lm: Any, prompt_ids, text: str) -> float:
    """Perplexity of ``text`` as a continuation of ``prompt_ids`` under ``lm`` as it is (steered or not)."""
    import torch

    cont = lm.tokenizer.encode(text, add_special_tokens=False)
    if not cont:
        return float("nan")
    ids = torch.cat([prompt_ids, torch.tensor([cont], device=prompt_ids.device)], dim=1)
    with torch.no_grad():
        logits = lm.model(ids).logits[0, prompt_ids.shape[1] - 1 : -1].float()
    nll = torch.nn.functional.cross_entropy(logits, ids[0, prompt_ids.shape[1] :])
    return float(torch.exp(nll))


def mean_log_likelihood(lm: Any, texts: Sequence[str], max_tokens: int = 64) -> float:
    """Mean per-token log-likelihood of ``texts`` (each cut to ``max_tokens``) under ``lm`` as it is."""
    import torch

    total, count = 0.0, 0
    for text in texts:
        ids = lm.tokenizer.encode(text, add_special_tokens=False)[:max_tokens]
        if len(ids) < 2:
            continue
        ids_t = torch.tensor([ids], device=lm.device)
        with torch.no_grad():
            logits = lm.model(ids_t).logits[0, :-1].float()
        total -= float(torch.nn.functional.cross_entropy(logits, ids_t[0, 1:], reduction="sum"))
        count += len(ids) - 1
    if not count:
        raise ValueError("no text has two tokens or more: pass the topic's documents.")
    return total / count


def steering_sweep(
    lm: Any,
    source: Any,
    *,
    topics: Sequence[int],
    prompts: Sequence[str],
    strengths: Sequence[float],
    topic_words: Mapping[int, Sequence[str]],
    topic_documents: Mapping[int, Sequence[str]],
    judge: Any,
    mode: SteeringMode = "absolute",
    max_new_tokens: int = 40,
    do_sample: bool = False,
    seed: int = 0,
    n_words: int = 8,
    skip_sinks: float | None = None,
    replace: bool = True,
    positions: SteeringPositions = "all",
    off_topic_documents: Mapping[int, Sequence[str]] | None = None,
    verbose: bool = True,
) -> list[SteeringRow]:
    """Steer ``lm`` towards each topic at each strength from each prompt and score the continuations.

    Arguments:
        lm: a ``bertopic_sae.lm.LanguageModel``.
        source: ``layer`` + ``topic_direction(k)`` (e.g. :class:`MeanDifferenceDirections`, an MTM model).
        topics: topics to steer towards.
        prompts: neutral prompts (chat-templated when the tokenizer has a template).
        strengths: the λ grid (0 = the topic direction projected out).
        topic_words: top words of each topic (shown to the judge).
        topic_documents: a few documents of each topic (for Δℓ).
        judge: ``Judge``, callable ``prompt -> str`` or :class:`EmbeddingJudge` for the relevance comparison.
        mode: ``"absolute"`` or ``"relative"`` strengths (see ``bertopic_sae.steering.steer``).
        max_new_tokens: continuation length.
        do_sample: sample (seeded) instead of greedy decoding.
        seed: sampling seed.
        n_words: topic words shown to the judge.
        skip_sinks: passed to ``bertopic_sae.steering.steer`` (leave attention-sink tokens unsteered).
        replace: set the component along the direction (True, the paper's) or add ``λ v`` (False).
        positions: ``"all"`` or ``"new"`` (steer the generated positions only) during generation; Δℓ is
            always measured with every position steered.
        off_topic_documents: documents of other topics per topic, for ``delta_loglik_off``.
        verbose: progress bar.
    """
    from tqdm.auto import tqdm

    layer = int(source.layer)
    ids = [lm.prompt_ids(p) for p in prompts]
    baselines = [lm.generate(p, max_new_tokens, do_sample=do_sample, seed=seed) for p in prompts]
    off = off_topic_documents or {}
    base_ll = {k: mean_log_likelihood(lm, topic_documents[k]) for k in topics}
    base_off = {k: mean_log_likelihood(lm, off[k]) for k in topics if off.get(k)}
    common: dict[str, Any] = dict(mode=mode, skip_sinks=skip_sinks, replace=replace)
    rows = []
    grid = [(k, s, p) for k in topics for s in strengths for p in range(len(prompts))]
    for k, s, p in tqdm(grid, desc="steering", disable=not verbose):
        if not replace and s == 0:  # h + 0 v is the unsteered model: nothing to run again
            ppl = continuation_perplexity(lm, ids[p], baselines[p])
            off_zero = 0.0 if k in base_off else float("nan")
            rows.append(SteeringRow(k, 0.0, p, baselines[p], baselines[p], ppl, 0.0, float("nan"), off_zero))
            continue
        direction = source.topic_direction(k)
        with steer(lm.model, layer, direction, float(s), positions=positions, **common):
            text = lm.generate(prompts[p], max_new_tokens, do_sample=do_sample, seed=seed)
        delta, delta_off = float("nan"), float("nan")
        if p == 0:  # Δℓ does not depend on the prompt: once per (topic, strength)
            with steer(lm.model, layer, direction, float(s), positions="all", **common):
                delta = mean_log_likelihood(lm, topic_documents[k]) - base_ll[k]
                if k in base_off:
                    delta_off = mean_log_likelihood(lm, off[k]) - base_off[k]
        ppl = continuation_perplexity(lm, ids[p], text)
        rows.append(SteeringRow(k, float(s), p, text, baselines[p], ppl, delta, float("nan"), delta_off))
    once = {(r.topic, r.strength): (r.delta_loglik, r.delta_loglik_off) for r in rows if r.prompt == 0}
    rows = [
        r._replace(
            delta_loglik=once[(r.topic, r.strength)][0], delta_loglik_off=once[(r.topic, r.strength)][1]
        )
        for r in rows
    ]
    return _judge_relevance(rows, judge, topic_words, n_words)


def _judge_relevance(rows: list[SteeringRow], judge: Any, topic_words, n_words: int) -> list[SteeringRow]:
    if isinstance(judge, EmbeddingJudge) or hasattr(judge, "compare"):
        out = []
        for r in rows:
            scores = judge.compare(", ".join(topic_words[r.topic][:n_words]), [r.text, r.baseline])
            out.append(
                r._replace(relevance=1.0 if scores[0] > scores[1] else 0.5 if scores[0] == scores[1] else 0.0)
            )
        return out
    judge = as_judge(judge)
    prompts = []
    for r in rows:
        words = ", ".join(topic_words[r.topic][:n_words])
        prompts.append(RELEVANCE_PROMPT.format(words=words, a=r.text, b=r.baseline))  # steered first
        prompts.append(RELEVANCE_PROMPT.format(words=words, a=r.baseline, b=r.text))  # steered second
    answers = choose_many(judge, prompts, ["A", "B"])
    out = []
    for i, r in enumerate(rows):
        first, second = answers[2 * i], answers[2 * i + 1]
        if isinstance(first, Exception) or isinstance(second, Exception):
            out.append(r)  # relevance stays NaN: a failure, counted by the caller
            continue
        out.append(r._replace(relevance=float((first[0] + second[1]) / 2)))
    return out


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def summarize(rows: Sequence[SteeringRow]) -> list[dict]:
    """Per strength: win rate (relevance > 0.5; ties half), mean relevance, mean Δℓ (on- and off-topic),
    median perplexity, failures."""
    table = []
    for s in sorted({r.strength for r in rows}):
        group = [r for r in rows if r.strength == s]
        rel = np.array([r.relevance for r in group])
        ok = np.isfinite(rel)
        table.append(
            {
                "strength": s,
                "n": len(group),
                # a tie (e.g. an unchanged continuation) counts as half a win
                "win_rate": float(np.mean(np.sign(rel[ok] - 0.5) / 2 + 0.5)) if ok.any() else float("nan"),
                "relevance": float(np.mean(rel[ok])) if ok.any() else float("nan"),
                "delta_loglik": float(np.nanmean([r.delta_loglik for r in group])),
                "delta_loglik_off": _nanmean([r.delta_loglik_off for r in group]),
                "perplexity": float(np.nanmedian([r.perplexity for r in group])),
                "changed": float(np.mean([r.text != r.baseline for r in group])),
                "failures": int((~ok).sum()),
            }
        )
    return table
