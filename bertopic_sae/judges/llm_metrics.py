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

Small judges answer with a bias whatever the content (SmolLM2-135M picks "A" for C_I). Two remedies:

* ``calibrate=True`` (an :class:`~bertopic_sae.judges.LMJudge`): contextual calibration, the label
  log-probabilities minus those on the same prompt with content-free words ("N/A", "", "[MASK]");
* ``answer="likelihood"`` for C_I (an :class:`~bertopic_sae.judges.LMLikelihoodJudge`): no question; the
  intruder named is the shown word with the lowest per-token PMI with the other five
  (``log p(w | "Keywords: the others,") - log p(w | "Keywords:")``), the language modelling a small LM does;
* ``answer="word"`` for C_I: no letters; the judge's log-probability of each of the 6 candidate *words* as
  its reply is compared (``calibrate=True`` then subtracts each word's log-probability as a reply to the
  content-free prompt, i.e. ranks the words by PMI with the question, cancelling word frequency and length).

A failed answer (exception, or text that is none of the labels) is counted in ``n_failures`` and left out of
that topic's mean, never silently: a topic whose every answer failed scores NaN.

Usage:

```python
from bertopic_sae.judges import LMJudge, intruder_detection, coherence_rating
judge = LMJudge()
ci = intruder_detection(topics, judge)       # topics: list of word lists
cr = coherence_rating(topics, judge)
print(ci.mean, cr.mean, ci.n_failures)
ci_lik = llm_metric("C_I_lik", topics, judge)   # a named variant (METRIC_VARIANTS)
```
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import numpy as np

from .base import CONTENT_FREE, as_judge, choose_many, content_free_offsets

__all__ = [
    "TopicScores",
    "intruder_detection",
    "coherence_rating",
    "llm_metric",
    "sample_topic_subset",
    "METRIC_VARIANTS",
    "INTRUDER_PROMPT",
    "INTRUDER_WORD_PROMPT",
    "COHERENCE_PROMPT",
]

INTRUDER_PROMPT = (
    "From the following list of words, identify the single word that does not belong with the others.\n\n"
    "{options}\n\nAnswer with the letter of the word that does not belong, and nothing else."
)
"""C_I prompt (``{options}``: one "A. word" line per word)."""

INTRUDER_WORD_PROMPT = "Which word does not belong with the others: {words}?\n\nAnswer with that word only."
"""C_I prompt of ``answer="word"`` (``{words}``: comma-separated); the reply is the word itself."""

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


def _asked(topic_subset: Sequence[int] | None, n_topics: int) -> list[int]:
    if topic_subset is None:
        return list(range(n_topics))
    asked = sorted({int(k) for k in topic_subset})
    if not asked or asked[0] < 0 or asked[-1] >= n_topics:
        raise ValueError(
            f"topic_subset={list(topic_subset)[:5]}...: give at least one topic index in 0..{n_topics - 1}."
        )
    return asked


def sample_topic_subset(n_topics: int, max_topics: int | None, seed: int = 0) -> list[int] | None:
    """A seeded sample of ``max_topics`` topic indices to ask about (``None``: all ``n_topics``).

    Arguments:
        n_topics: number of topics of the model.
        max_topics: largest number asked about; ``None`` or ``>= n_topics`` asks about all.
        seed: seed of the sample.

    Usage:

    ```python
    scores = llm_metric("C_I_lik", topics, judge, topic_subset=sample_topic_subset(len(topics), 25))
    ```
    """
    if max_topics is not None and max_topics < 1:
        raise ValueError(f"max_topics={max_topics}: ask about at least 1 topic, or pass None for all.")
    if max_topics is None or max_topics >= n_topics:
        return None
    return sorted(np.random.default_rng(seed).choice(n_topics, size=max_topics, replace=False).tolist())


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
    answer: Literal["letter", "word", "likelihood"] = "letter",
    calibrate: bool = False,
    topic_subset: Sequence[int] | None = None,
) -> TopicScores:
    """C_I: per-topic accuracy of the judge at spotting an intruder among a topic's top words.

    Arguments:
        topics: each topic's words, best first (the whole list is what the intruder must not be in).
        judge: a ``Judge`` (``choose(prompt, labels)``) or a callable ``prompt -> str``.
        n_words: top words shown with the intruder.
        repetitions: questions per topic (a new intruder and order each).
        seed: seed of the intruders and orders.
        answer: ``"letter"`` (options A-F, the letter's probability) or ``"word"`` (the candidate words'
            log-probabilities as the reply; needs a judge with ``answer_log_probs``, an LMJudge) or
            ``"likelihood"`` (the word least predicted by the others; needs an LMLikelihoodJudge).
        calibrate: subtract the judge's answers to content-free prompts (see the module docstring).
        topic_subset: indices of the topics asked about (all by default); intruders still come from every
            topic, and the topics not asked stay NaN in ``per_topic``.

    Usage:

    ```python
    scores = intruder_detection([["cat", "dog", ...], ["stock", "bond", ...]], LMJudge())
    scores = intruder_detection(topics, LMJudge(), answer="word", calibrate=True)
    ```
    """
    if answer not in ("letter", "word", "likelihood"):
        raise ValueError(f"answer={answer!r}: use 'letter', 'word' or 'likelihood'.")
    topics = _check_topics(topics, n_words, 2)
    if answer != "likelihood":
        judge = as_judge(judge)
    rng = np.random.default_rng(seed)
    needs = {"word": ("answer_log_probs", "an LMJudge"), "likelihood": ("pmi", "an LMLikelihoodJudge")}
    if answer in needs and not hasattr(judge, needs[answer][0]):
        raise ValueError(f"answer={answer!r} needs {needs[answer][1]}, not {type(judge).__name__}.")
    prompts, owners, values, shown_words = [], [], [], []
    labels = list(string.ascii_uppercase[: n_words + 1])
    for k in _asked(topic_subset, len(topics)):
        words = topics[k]
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
            if answer != "letter":
                shown_words.append([shown[j] for j in order])
                prompts.append(INTRUDER_WORD_PROMPT.format(words=", ".join(shown_words[-1])))
            else:
                prompts.append(INTRUDER_PROMPT.format(options=options))
            owners.append(k)
            target = int(np.flatnonzero(order == n_words)[0])
            values.append(lambda p, target=target: float(np.argmax(p) == target))
    if answer == "likelihood":
        contexts, replies = [], []
        for shown in shown_words:
            for i, w in enumerate(shown):
                contexts.append("Keywords: " + ", ".join(shown[:i] + shown[i + 1 :]) + ",")
                replies.append(" " + w)
        pmi = judge.pmi(contexts, replies, "Keywords:").reshape(len(shown_words), n_words + 1)
        return _score(list(-pmi), owners, values, len(topics))
    if answer == "word":
        scores = judge.answer_log_probs(prompts, shown_words)
        if calibrate:  # each candidate's log-probability as a reply when no words are shown
            blank = [INTRUDER_WORD_PROMPT.format(words=x) for x in CONTENT_FREE]
            unique = sorted({w for words in shown_words for w in words})
            prior = np.log(np.mean(np.exp(np.array(judge.answer_log_probs(blank, [unique] * len(blank)))), 0))
            lookup = dict(zip(unique, prior, strict=True))
            scores = [
                row - np.array([lookup[w] for w in words])
                for words, row in zip(shown_words, scores, strict=True)
            ]
        return _score(list(scores), owners, values, len(topics))
    offsets = None
    if calibrate:
        template = "\n".join(f"{label}. {{x}}" for label in labels)
        offsets = content_free_offsets(
            judge, [INTRUDER_PROMPT.format(options=template.format(x=x)) for x in CONTENT_FREE], labels
        )
    return _score(choose_many(judge, prompts, labels, calibration=offsets), owners, values, len(topics))


def coherence_rating(
    topics: Sequence[Sequence[str]],
    judge: Any,
    *,
    n_words: int = 5,
    repetitions: int = 3,
    seed: int = 0,
    calibrate: bool = False,
    topic_subset: Sequence[int] | None = None,
) -> TopicScores:
    """C_R: per-topic coherence on 0-100, the expected 0-9 rating under the judge's digit probabilities.

    Arguments:
        topics: each topic's words, best first.
        judge: a ``Judge`` or a callable ``prompt -> str`` (its digit is the rating).
        n_words: top words rated.
        repetitions: ratings per topic, each of a fresh random order of the words.
        seed: seed of the orders.
        calibrate: divide the digit probabilities by those on content-free words (an LMJudge).
        topic_subset: indices of the topics rated (all by default); the others stay NaN in ``per_topic``.

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
    for k in _asked(topic_subset, len(topics)):
        words = topics[k]
        for _ in range(repetitions):
            pool = [words[i] for i in rng.permutation(n_words)]
            prompts.append(COHERENCE_PROMPT.format(words=", ".join(pool)))
            owners.append(k)
    values = [lambda p: float(p @ scale / p.sum())] * len(prompts)
    offsets = None
    if calibrate:
        blank = [COHERENCE_PROMPT.format(words=x) for x in CONTENT_FREE]
        offsets = content_free_offsets(judge, blank, digits)
    return _score(choose_many(judge, prompts, digits, calibration=offsets), owners, values, len(topics))


METRIC_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "C_I": ("intruder", dict(answer="letter")),
    "C_I_cal": ("intruder", dict(answer="letter", calibrate=True)),
    "C_I_lik": ("intruder", dict(answer="likelihood")),
    "C_R": ("coherence", {}),
    "C_R_cal": ("coherence", dict(calibrate=True)),
}
"""Named metric variants -> (``"intruder"`` | ``"coherence"``, keyword arguments of that function)."""


def llm_metric(
    name: str,
    topics: Sequence[Sequence[str]],
    judge: Any,
    *,
    repetitions: int = 3,
    seed: int = 0,
    topic_subset: Sequence[int] | None = None,
) -> TopicScores:
    """One of :data:`METRIC_VARIANTS` by name.

    Arguments:
        name: ``C_I``, ``C_I_cal``, ``C_I_lik``, ``C_R`` or ``C_R_cal``.
        topics: each topic's words, best first.
        judge: the judge; for ``C_I_lik`` an ``LMLikelihoodJudge``, or an ``LMJudge`` whose LM it reuses.
        repetitions: questions per topic.
        seed: seed of the intruders and orders.
        topic_subset: indices of the topics asked about (all by default; see :func:`sample_topic_subset`).

    Usage:

    ```python
    scores = llm_metric("C_I_lik", topics, LMJudge())
    ```
    """
    if name not in METRIC_VARIANTS:
        raise ValueError(f"metric {name!r}: use one of {', '.join(METRIC_VARIANTS)}.")
    kind, kwargs = METRIC_VARIANTS[name]
    if kwargs.get("answer") == "likelihood" and not hasattr(judge, "pmi") and hasattr(judge, "_lm"):
        from .likelihood import LMLikelihoodJudge

        judge = LMLikelihoodJudge(judge._lm())  # the same loaded LM, asked for likelihoods
    fn = intruder_detection if kind == "intruder" else coherence_rating
    return fn(topics, judge, repetitions=repetitions, seed=seed, topic_subset=topic_subset, **kwargs)
