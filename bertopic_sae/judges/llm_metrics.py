"""SAE-TM's LLM topic metrics with a pluggable judge: intruder detection C_I and coherence rating C_R.

Both follow SAE-TM's ``evaluation.py`` (pool = a topic's first ``n_words`` = 5 words, ``repetitions`` = 3,
each repetition a fresh random order), with the answers read from label probabilities instead of parsed text:

* **C_I**: the 5 top words plus one intruder, a word of a uniformly random *other* topic's word list that is
  **not among this topic's own words** (its whole list; the reference code does not check), shuffled and
  listed as A-F; the judge names the intruder's letter. Accuracy per topic = share of repetitions where the
  most probable letter is the intruder's. (The reference shows 4 of the 5 words + the intruder and asks for
  the word; letters make a one-token answer that a log-prob judge can score.)
* **C_R**: the judge rates the 5 words' coherence on a 0-9 scale (one digit token each); the score is the
  **expected value** of the digit under the judge's probabilities renormalised over the ten digits, × 100/9,
  i.e. on the reference's 0-100 scale. A text judge (one-hot answer) gives its parsed digit.

A failed answer (exception, or text that is none of the labels) is counted in ``n_failures`` and left out of
that topic's mean, never silently: a topic whose every answer failed scores NaN.

Usage:

```python
from bertopic_sae.judges import LMJudge, intruder_detection, coherence_rating
judge = LMJudge()
ci = intruder_detection(topics, judge)       # topics: list of word lists
cr = coherence_rating(topics, judge)
print(ci.mean, cr.mean, ci.n_failures)
```
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .base import as_judge, choose_many

__all__ = ["TopicScores", "intruder_detection", "coherence_rating", "INTRUDER_PROMPT", "COHERENCE_PROMPT"]

INTRUDER_PROMPT = (
    "From the following list of words, identify the single word that does not belong with the others.\n\n"
    "{options}\n\nAnswer with the letter of the word that does not belong, and nothing else."
)
"""C_I prompt (``{options}``: one "A. word" line per word)."""

COHERENCE_PROMPT = (
    "You are an expert in semantics and lexical relationships. Rate the coherence of this list of words: "
    "{words}.\nCoherence is how well the words belong to a single, clear and specific category. "
    "9 = extremely coherent (e.g. all types of citrus fruits), "
    "5 = moderately coherent (e.g. all vehicles, but a mix of cars, "
    "boats and planes), 0 = completely unrelated words.\n\nAnswer with a single digit from 0 to 9."
)
"""C_R prompt (``{words}``: comma-separated)."""


class TopicScores(NamedTuple):
    """A per-topic LLM metric."""

    per_topic: np.ndarray
    """Score of every topic (NaN where every answer failed)."""
    mean: float
    """Mean over the topics that have a score."""
    n_questions: int
    """Questions asked."""
    n_failures: int
    """Questions the judge failed (counted, not scored)."""


def _check_topics(topics: Sequence[Sequence[str]], n_words: int, minimum_topics: int) -> list[list[str]]:
    checked = [list(t) for t in topics]
    if len(checked) < minimum_topics:
        raise ValueError(f"{len(checked)} topics given; this metric needs at least {minimum_topics}.")
    short = [i for i, t in enumerate(checked) if len(t) < n_words]
    if short:
        raise ValueError(
            f"topics {short[:5]} have fewer than n_words={n_words} words; pass longer word lists."
        )
    return checked


def _score(answers: list, owners: list[int], values: list[Any], n_topics: int) -> TopicScores:
    sums, counts, failures = np.zeros(n_topics), np.zeros(n_topics), 0
    for answer, topic, value in zip(answers, owners, values, strict=True):
        if isinstance(answer, Exception):
            failures += 1
            continue
        sums[topic] += value(np.asarray(answer, dtype=float))
        counts[topic] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        per_topic = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    mean = float(np.nanmean(per_topic)) if np.isfinite(per_topic).any() else float("nan")
    return TopicScores(per_topic, mean, len(answers), failures)


def intruder_detection(
    topics: Sequence[Sequence[str]],
    judge: Any,
    *,
    n_words: int = 5,
    repetitions: int = 3,
    seed: int = 0,
) -> TopicScores:
    """C_I: per-topic accuracy of the judge at spotting an intruder among a topic's top words.

    Arguments:
        topics: each topic's words, best first (the whole list is what the intruder must not be in).
        judge: a ``Judge`` (``choose(prompt, labels)``) or a callable ``prompt -> str``.
        n_words: top words shown with the intruder.
        repetitions: questions per topic (a new intruder and order each).
        seed: seed of the intruders and orders.

    Usage:

    ```python
    scores = intruder_detection([["cat", "dog", ...], ["stock", "bond", ...]], LMJudge())
    ```
    """
    topics = _check_topics(topics, n_words, 2)
    judge = as_judge(judge)
    rng = np.random.default_rng(seed)
    prompts, owners, values = [], [], []
    labels = list(string.ascii_uppercase[: n_words + 1])
    for k, words in enumerate(topics):
        own = {w.lower() for w in words}
        candidates = [[w for w in t if w.lower() not in own] for i, t in enumerate(topics) if i != k]
        candidates = [c for c in candidates if c]
        if not candidates:
            raise ValueError(
                f"every word of every other topic is among topic {k}'s words: no intruder exists."
            )
        for _ in range(repetitions):
            pool = candidates[int(rng.integers(len(candidates)))]
            intruder = pool[int(rng.integers(len(pool)))]
            shown = [*words[:n_words], intruder]
            order = rng.permutation(len(shown))
            options = "\n".join(f"{labels[i]}. {shown[j]}" for i, j in enumerate(order))
            prompts.append(INTRUDER_PROMPT.format(options=options))
            owners.append(k)
            target = int(np.flatnonzero(order == n_words)[0])
            values.append(lambda p, target=target: float(np.argmax(p) == target))
    return _score(choose_many(judge, prompts, labels), owners, values, len(topics))


def coherence_rating(
    topics: Sequence[Sequence[str]],
    judge: Any,
    *,
    n_words: int = 5,
    repetitions: int = 3,
    seed: int = 0,
) -> TopicScores:
    """C_R: per-topic coherence on 0-100, the expected 0-9 rating under the judge's digit probabilities.

    Arguments:
        topics: each topic's words, best first.
        judge: a ``Judge`` or a callable ``prompt -> str`` (its digit is the rating).
        n_words: top words rated.
        repetitions: ratings per topic, each of a fresh random order of the words.
        seed: seed of the orders.

    Usage:

    ```python
    scores = coherence_rating(topics, LMJudge())
    ```
    """
    topics = _check_topics(topics, n_words, 1)
    judge = as_judge(judge)
    rng = np.random.default_rng(seed)
    digits = [str(d) for d in range(10)]
    scale = np.arange(10) * 100.0 / 9.0
    prompts, owners = [], []
    for k, words in enumerate(topics):
        for _ in range(repetitions):
            pool = [words[i] for i in rng.permutation(n_words)]
            prompts.append(COHERENCE_PROMPT.format(words=", ".join(pool)))
            owners.append(k)
    values = [lambda p: float(p @ scale / p.sum())] * len(prompts)
    return _score(choose_many(judge, prompts, digits), owners, values, len(topics))
