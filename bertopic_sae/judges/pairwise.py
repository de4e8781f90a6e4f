"""The topic judge (MTM §5): which of two models' topics better captures a document, for sampled documents.

Every model enters as a :class:`ModelTopics` (its top words per topic and a document-topic matrix, optionally
one-line feature descriptions per topic), so LDA, stock BERTopic, ``bertopic_sae.BERTopic`` and the
mechanistic models all compare on equal terms. For each sampled document and each pair of models, each model's
``top_topics`` highest-weight topics for the document are rendered, and the judge is asked which set better
captures the document's subject, affect and style. The A/B order is random per comparison
(``both_orders=True`` asks both orders, which :func:`bertopic_sae.judges.combine_orders` averages to cancel
position bias). Identical renderings are ties (no judge call). Failed answers are returned with their
reason, never dropped. Finished comparisons are appended to a jsonl cache keyed by the judge and the exact
texts shown, so an interrupted run resumes and a refit model is judged afresh.

Usage:

```python
from bertopic_sae.judges import ModelTopics, LMJudge, compare_models, bradley_terry_elo
views = [ModelTopics.from_octis("lda", lda_output), ModelTopics.from_bertopic("bertopic", topic_model)]
comparisons = compare_models(views, documents, LMJudge(), n_docs=40, cache="judge.jsonl")
print(bradley_terry_elo(comparisons))
```
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .base import EmbeddingJudge, JudgeFailure, as_judge, choose_many

__all__ = [
    "ModelTopics",
    "Comparison",
    "compare_models",
    "content_free_bias",
    "TOPIC_JUDGE_PROMPT",
    "SIMPLE_TOPIC_JUDGE_PROMPT",
]

TOPIC_JUDGE_PROMPT = (
    "Read the document and two sets of topics. Which set better captures the document's subject, affect "
    "and style?\n\nDocument:\n{document}\n\nSet A:\n{a}\n\nSet B:\n{b}\n\n"
    "Answer with a single letter, A or B."
)
"""Prompt of the LLM topic judge (``{document}``, ``{a}``, ``{b}``)."""

SIMPLE_TOPIC_JUDGE_PROMPT = (
    "Text: {document}\n\nA: {a}\nB: {b}\n\nWhich keywords, A or B, are about the text?"
)
"""A shorter topic-judge prompt for small judges (the keywords on one line each)."""


class ModelTopics(NamedTuple):
    """A topic model as the judges see it: top words per topic and document-topic weights."""

    name: str
    """Model name in reports."""
    topic_words: list[list[str]]
    """Top words of every topic, best first (topic index = column of ``doc_topic``)."""
    doc_topic: np.ndarray
    """``(n_docs, n_topics)`` topic weights of each document (one-hot for hard assignments; 0 = none)."""
    descriptions: list[str] | None = None
    """Optional one-line description per topic, shown instead of the words."""

    @classmethod
    def from_octis(cls, name: str, output: dict) -> ModelTopics:
        """From an OCTIS output dict (``topics`` and the K x n ``topic-document-matrix``)."""
        return cls(name, [list(t) for t in output["topics"]], np.asarray(output["topic-document-matrix"]).T)

    @classmethod
    def from_bertopic(cls, name: str, model: Any, n_words: int = 10) -> ModelTopics:
        """From a fitted (stock or ``bertopic_sae``) BERTopic: ``probabilities_`` if 2-D, else ``topics_``."""
        topic_ids = sorted(t for t in model.get_topics() if t != -1)
        words = [[w for w, _ in model.get_topic(t)[:n_words]] for t in topic_ids]
        probs = getattr(model, "probabilities_", None)
        if probs is not None and np.ndim(probs) == 2 and np.shape(probs)[1] == len(topic_ids):
            return cls(name, words, np.asarray(probs, dtype=float))
        column = {t: i for i, t in enumerate(topic_ids)}
        doc_topic = np.zeros((len(model.topics_), len(topic_ids)))
        for row, topic in enumerate(model.topics_):
            if topic in column:
                doc_topic[row, column[topic]] = 1.0
        return cls(name, words, doc_topic)

    def render(self, doc: int, top_topics: int = 1, n_words: int = 10) -> str:
        """The ``top_topics`` highest-weight topics of document ``doc`` as text (one line per topic)."""
        weights = np.asarray(self.doc_topic[doc], dtype=float)
        order = [t for t in np.argsort(-weights, kind="stable")[:top_topics] if weights[t] > 0]
        if not order:
            return "(no topic)"
        lines = []
        for t in order:
            text = self.descriptions[t] if self.descriptions else ", ".join(self.topic_words[t][:n_words])
            lines.append(f"- {text}")
        return "\n".join(lines)


class Comparison(NamedTuple):
    """One judged comparison of two models' topics for one document."""

    doc: int
    """Row of the document."""
    first: str
    """Model shown as A."""
    second: str
    """Model shown as B."""
    p_first: float
    """The judge's probability (or score share) that A is better; 0.5 for a tie; NaN for a failure."""
    winner: str | None
    """Name of the winning model; None for a tie or a failure."""
    failure: str | None = None
    """Why the judge failed (an exception, an answer that is neither A nor B), else None."""


def _truncate(text: str, n_words: int) -> str:
    words = text.split()
    return " ".join(words[:n_words]) + (" ..." if len(words) > n_words else "")


def _key(judge_name: str, document: str, a: str, b: str, prompt: str = TOPIC_JUDGE_PROMPT) -> str:
    parts = [judge_name, document, a, b] + ([] if prompt == TOPIC_JUDGE_PROMPT else [prompt])
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()


def content_free_bias(judge: Any, prompt: str = TOPIC_JUDGE_PROMPT) -> float:
    """The judge's log-odds of "A" over "B" on ``prompt`` filled with content-free text (document and sets).

    Pass it to :func:`bertopic_sae.judges.calibrate` to take a judge's position bias out of its verdicts
    (contextual calibration, averaged over :data:`~bertopic_sae.judges.base.CONTENT_FREE` inputs).
    """
    from .base import CONTENT_FREE, content_free_offsets

    prompts = [prompt.format(document=x, a=x, b=x) for x in CONTENT_FREE]
    offsets = content_free_offsets(judge, prompts, ["A", "B"])
    return float(offsets[0] - offsets[1])


def _read_cache(path: Path | None) -> dict[str, dict]:
    if path is None or not path.exists():
        return {}
    records = {}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut by an interrupted run is redone
            continue
        records[record["key"]] = record
    return records


def _append(path: Path, records: list[dict]) -> None:
    if not records:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for record in records:  # one write per line: appends do not interleave or half-write a line
            os.write(fd, (json.dumps(record) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def compare_models(
    models: Sequence[ModelTopics],
    documents: Sequence[str],
    judge: Any,
    *,
    n_docs: int = 50,
    docs: Sequence[int] | None = None,
    top_topics: int = 1,
    n_words: int = 10,
    doc_words: int = 120,
    both_orders: bool = False,
    prompt: str = TOPIC_JUDGE_PROMPT,
    seed: int = 0,
    cache: str | os.PathLike | None = None,
    judge_name: str | None = None,
    verbose: bool = True,
) -> list[Comparison]:
    """Judge every pair of models on sampled documents.

    Arguments:
        models: the models (at least two, distinct names, every ``doc_topic`` with ``len(documents)`` rows).
        documents: the documents the models were fit on (or transformed), raw text.
        judge: an :class:`~bertopic_sae.judges.EmbeddingJudge`, a ``Judge`` (``choose(prompt, labels)``) or a
            callable ``prompt -> str``.
        n_docs: how many documents to sample (ignored when ``docs`` is given).
        docs: explicit document rows to judge.
        top_topics: topics per model and document shown (1 or 2 in the paper).
        n_words: top words per topic shown.
        doc_words: the document is cut to this many words in the prompt.
        both_orders: ask A/B and B/A for every comparison (for :func:`combine_orders`); else one random order.
        prompt: the question (``{document}``, ``{a}``, ``{b}``), e.g. :data:`SIMPLE_TOPIC_JUDGE_PROMPT`.
        seed: seed of the document sample and the A/B orders.
        cache: jsonl file of finished comparisons (appended; read to resume).
        judge_name: name of the judge in the cache (default: the judge's ``name`` attribute or its type).
        verbose: progress bar.

    Usage:

    ```python
    comparisons = compare_models(views, texts, EmbeddingJudge(), n_docs=100, both_orders=True)
    ```
    """
    from tqdm.auto import tqdm

    names = [m.name for m in models]
    if len(models) < 2 or len(set(names)) != len(names):
        raise ValueError(f"compare_models needs at least two models with distinct names, got {names}.")
    for m in models:
        if len(m.doc_topic) != len(documents):
            raise ValueError(
                f"model {m.name!r} has {len(m.doc_topic)} document rows but {len(documents)} documents were "
                "passed; give every model's document-topic matrix for the same documents."
            )
    rng = np.random.default_rng(seed)
    if docs is None:
        docs = np.sort(rng.choice(len(documents), min(n_docs, len(documents)), replace=False)).tolist()
    embedding = isinstance(judge, EmbeddingJudge) or hasattr(judge, "compare")
    if not embedding:
        judge = as_judge(judge)
    name = str(judge_name or getattr(judge, "name", None) or type(judge).__name__)
    path = None if cache is None else Path(cache)
    done = _read_cache(path)

    tasks = []  # (doc, first, second, document text, rendering a, rendering b)
    for doc in docs:
        text = _truncate(documents[doc], doc_words)
        for i, j in itertools.combinations(range(len(models)), 2):
            orders = [(i, j), (j, i)] if both_orders else [(i, j) if rng.random() < 0.5 else (j, i)]
            for a, b in orders:
                shown = (
                    models[a].render(doc, top_topics, n_words),
                    models[b].render(doc, top_topics, n_words),
                )
                tasks.append((doc, a, b, text, *shown))

    results: dict[int, Comparison] = {}
    pending = []
    for index, (doc, a, b, text, ra, rb) in enumerate(tasks):
        record = done.get(_key(name, text, ra, rb, prompt))
        if ra == rb:
            results[index] = Comparison(doc, names[a], names[b], 0.5, None)
        elif record is not None:
            p = float(record["p_first"]) if record["p_first"] is not None else float("nan")
            results[index] = _comparison(doc, names[a], names[b], p, record.get("failure"))
        else:
            pending.append(index)

    chunk = 16  # cache writes every chunk, so an interruption loses little
    bar = tqdm(total=len(pending), desc=f"topic judge ({name})", disable=not verbose)
    for start in range(0, len(pending), chunk):
        batch = pending[start : start + chunk]
        if embedding:
            answers: list[Any] = []
            for index in batch:
                _, _, _, text, ra, rb = tasks[index]
                scores = judge.compare(text, [ra, rb])
                answers.append(
                    np.array([1.0, 0.0])
                    if scores[0] > scores[1]
                    else np.array([0.5, 0.5])
                    if scores[0] == scores[1]
                    else np.array([0.0, 1.0])
                )
        else:
            prompts = [prompt.format(document=tasks[i][3], a=tasks[i][4], b=tasks[i][5]) for i in batch]
            answers = choose_many(judge, prompts, ["A", "B"])
        new = []
        for index, answer in zip(batch, answers, strict=True):
            doc, a, b, text, ra, rb = tasks[index]
            failure = None
            if isinstance(answer, Exception):
                failure = f"{type(answer).__name__}: {answer}"
                p = float("nan")
            else:
                p = float(np.asarray(answer)[0])
            results[index] = _comparison(doc, names[a], names[b], p, failure)
            if failure is None or isinstance(answer, JudgeFailure):  # other exceptions are retried on resume
                new.append(
                    {
                        "key": _key(name, text, ra, rb, prompt),
                        "judge": name,
                        "doc": doc,
                        "first": names[a],
                        "second": names[b],
                        "p_first": None if failure else p,
                        "failure": failure,
                    }
                )
        if path is not None:
            _append(path, new)
        bar.update(len(batch))
    bar.close()
    return [results[i] for i in range(len(tasks))]


def _comparison(doc: int, first: str, second: str, p: float, failure: str | None) -> Comparison:
    if failure is not None or not np.isfinite(p):
        return Comparison(doc, first, second, float("nan"), None, failure or "no answer")
    winner = first if p > 0.5 else second if p < 0.5 else None
    return Comparison(doc, first, second, p, winner)
