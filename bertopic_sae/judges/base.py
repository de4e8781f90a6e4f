"""Judges: anything that picks one of a few labelled answers to a prompt, and the embedding judge.

A :class:`Judge` has ``choose(prompt, labels) -> probabilities`` (one per label, summing to 1). Three kinds:

* :class:`LMJudge`: a causal LM (offline: SmolLM2-135M-Instruct). The prompt is chat-templated and the
  answer is read from the next-token log-probabilities of the label tokens (``"A"``, ``"B"``, digits, ...),
  renormalised over the labels: it never generates or parses free text, so it never fails to answer.
* :class:`TextJudge`: any plain callable ``prompt -> str`` (a local model, an API wrapper). The text is
  parsed strictly; an answer that is none of the labels raises :class:`JudgeFailure`, which callers count.
* :class:`OpenAIJudge`: a :class:`TextJudge` around any OpenAI-compatible client
  (``client.chat.completions.create``), temperature 0.

:class:`EmbeddingJudge` answers a different question, ``compare(document, renderings)``: the cosine of the
document's embedding with each rendering's embedding (all-MiniLM-L6-v2 offline).

Usage:

```python
from bertopic_sae.judges import LMJudge, as_judge
judge = LMJudge()                                   # SmolLM2, offline
judge.choose("Is the sky blue? Answer A (yes) or B (no).", ["A", "B"])   # array([0.8, 0.2])
judge = as_judge(lambda prompt: "A")                # any callable prompt -> str
```
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "Judge",
    "JudgeFailure",
    "LMJudge",
    "TextJudge",
    "OpenAIJudge",
    "EmbeddingJudge",
    "as_judge",
    "content_free_offsets",
    "CONTENT_FREE",
]

CONTENT_FREE = ("N/A", "", "[MASK]")
"""Content-free inputs of contextual calibration (Zhao et al. 2021), put in every slot of a prompt."""


class JudgeFailure(RuntimeError):
    """The judge gave an answer that is none of the allowed labels (counted, never dropped silently)."""


@runtime_checkable
class Judge(Protocol):
    """Picks among labelled answers: probabilities over ``labels`` for ``prompt``."""

    def choose(self, prompt: str, labels: Sequence[str]) -> np.ndarray: ...


def as_judge(judge: Any) -> Judge:
    """``judge`` if it has ``choose``; a plain callable ``prompt -> str`` becomes a :class:`TextJudge`."""
    if hasattr(judge, "choose"):
        return judge
    if callable(judge):
        return TextJudge(judge)
    raise TypeError(
        f"{type(judge).__name__} is not a judge: pass an object with choose(prompt, labels), a callable "
        "prompt -> str, or an EmbeddingJudge where a document comparison is asked."
    )


def content_free_offsets(judge: Any, prompts: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Contextual calibration: the judge's log-probabilities of ``labels`` on content-free ``prompts``.

    The label probabilities (renormalised over the labels) are averaged over the prompts; the log of that
    mean is the judge's answer bias, which :func:`choose_many` subtracts when given it as ``calibration``.
    """
    if not hasattr(judge, "label_log_probs"):
        raise ValueError(
            f"calibration needs label log-probabilities; {type(judge).__name__} has no label_log_probs "
            "(use an LMJudge, or calibrate=False for a text judge)."
        )
    log_probs = np.asarray(judge.label_log_probs(prompts, labels), dtype=float)
    probs = np.exp(log_probs - log_probs.max(axis=1, keepdims=True))
    return np.log((probs / probs.sum(axis=1, keepdims=True)).mean(axis=0))


def choose_many(
    judge: Judge,
    prompts: Sequence[str],
    labels: Sequence[str],
    *,
    calibration: np.ndarray | None = None,
) -> list[np.ndarray | Exception]:
    """Ask ``judge`` every prompt (batched if it has ``choose_many``); failures come back as exceptions.

    ``calibration`` (from :func:`content_free_offsets`) is subtracted from the label log-probabilities
    before they are renormalised: the answer bias the judge shows without content is taken out.
    """
    if calibration is not None:
        if not hasattr(judge, "label_log_probs"):
            raise ValueError("calibration needs a judge with label_log_probs (an LMJudge).")
        log_probs = np.asarray(judge.label_log_probs(prompts, labels), dtype=float) - calibration
        probs = np.exp(log_probs - log_probs.max(axis=1, keepdims=True))
        return list(probs / probs.sum(axis=1, keepdims=True))
    if hasattr(judge, "choose_many"):
        return list(judge.choose_many(prompts, labels))
    answers: list[np.ndarray | Exception] = []
    for prompt in prompts:
        try:
            answers.append(np.asarray(judge.choose(prompt, labels), dtype=float))
        except Exception as error:  # noqa: BLE001 - every failure is counted by the caller
            answers.append(error)
    return answers


def _label_token_ids(tokenizer: Any, labels: Sequence[str]) -> list[int]:
    ids = []
    for label in labels:
        tokens = tokenizer.encode(label, add_special_tokens=False)
        if len(tokens) != 1:
            raise ValueError(
                f"label {label!r} is {len(tokens)} tokens for this tokenizer; LMJudge compares single-token "
                "answers: use letters or digits as labels."
            )
        ids.append(tokens[0])
    if len(set(ids)) != len(ids):
        raise ValueError(f"labels {list(labels)} share a token; pass distinct labels.")
    return ids


class LMJudge:
    """A causal LM judge: label probabilities from the next-token log-probabilities after the prompt.

    Arguments:
        lm: a ``bertopic_sae.lm.LanguageModel``; ``None`` loads SmolLM2-135M-Instruct offline on first use.
        system: optional system message put before every prompt.
        batch_size: prompts per forward pass in :meth:`choose_many` (left-padded).
        max_prompt_tokens: longer templated prompts raise a ValueError (shorten the document instead).
        verbose: progress bar in :meth:`choose_many`.

    Usage:

    ```python
    judge = LMJudge()
    judge.choose_many(["... Answer A or B."] * 3, ["A", "B"])
    ```
    """

    def __init__(
        self,
        lm: Any = None,
        *,
        system: str | None = None,
        batch_size: int = 8,
        max_prompt_tokens: int = 1024,
        verbose: bool = True,
    ):
        self.lm = lm
        self.system = system
        self.batch_size = batch_size
        self.max_prompt_tokens = max_prompt_tokens
        self.verbose = verbose

    @property
    def name(self) -> str:
        return f"lm:{self._lm().name}"

    def _lm(self) -> Any:
        if self.lm is None:
            from bertopic_sae.lm import load_causal_lm

            self.lm = load_causal_lm(verbose=False)
        return self.lm

    def _encode(self, prompt: str) -> list[int]:
        tokenizer = self._lm().tokenizer
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + [
            {"role": "user", "content": prompt}
        ]
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            ids = tokenizer.encode(text, add_special_tokens=False)
        else:  # base models: the plain prompt
            ids = tokenizer.encode(prompt)
        if len(ids) > self.max_prompt_tokens:
            raise ValueError(
                f"prompt is {len(ids)} tokens, over max_prompt_tokens={self.max_prompt_tokens}; shorten the "
                "document or raise max_prompt_tokens."
            )
        return ids

    def choose(self, prompt: str, labels: Sequence[str]) -> np.ndarray:
        """Probabilities over ``labels`` (renormalised over the label tokens) for one prompt."""
        answer = self.choose_many([prompt], labels)[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def label_log_probs(self, prompts: Sequence[str], labels: Sequence[str]) -> np.ndarray:
        """``(n_prompts, n_labels)`` next-token log-probabilities of the label tokens (not renormalised)."""
        import torch
        from tqdm.auto import tqdm

        lm = self._lm()
        label_ids = torch.tensor(_label_token_ids(lm.tokenizer, labels))
        encoded = [self._encode(p) for p in prompts]
        order = np.argsort([len(e) for e in encoded])  # similar lengths share a batch: less padding
        out = np.zeros((len(prompts), len(labels)))
        pad = lm.tokenizer.pad_token_id
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        for batch in tqdm(batches, desc="judge", disable=not self.verbose or len(batches) < 2, leave=False):
            width = max(len(encoded[i]) for i in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):  # left padding: the last position is every prompt's last token
                ids[row, width - len(encoded[i]) :] = torch.tensor(encoded[i])
                mask[row, width - len(encoded[i]) :] = 1
            positions = (mask.cumsum(-1) - 1).clamp_min(0)
            with torch.no_grad():
                logits = (
                    lm.model(
                        input_ids=ids.to(lm.device),
                        attention_mask=mask.to(lm.device),
                        position_ids=positions.to(lm.device),
                        logits_to_keep=1,  # only the next-token logits: no LM head over the prompt
                    )
                    .logits[:, -1]
                    .float()
                )
            out[batch] = torch.log_softmax(logits, dim=-1)[:, label_ids.to(logits.device)].cpu().numpy()
        return out

    def answer_log_probs(self, prompts: Sequence[str], answers: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Summed log-probability of each answer in ``answers[i]`` (any length) replying to ``prompts[i]``."""
        from .likelihood import sequence_log_probs

        tokenizer = self._lm().tokenizer
        contexts, conts = [], []
        for prompt, options in zip(prompts, answers, strict=True):
            ids = self._encode(prompt)
            for option in options:
                contexts.append(ids)
                conts.append(tokenizer.encode(option, add_special_tokens=False))
        scores = sequence_log_probs(
            self._lm(), contexts, conts, batch_size=self.batch_size, verbose=self.verbose
        )
        bounds = np.cumsum([0] + [len(a) for a in answers])
        return [scores[bounds[i] : bounds[i + 1]] for i in range(len(prompts))]

    def choose_many(self, prompts: Sequence[str], labels: Sequence[str]) -> list[np.ndarray | Exception]:
        """Probabilities over ``labels`` for every prompt, batched."""
        log_probs = self.label_log_probs(prompts, labels)
        probs = np.exp(log_probs - log_probs.max(axis=1, keepdims=True))
        return list(probs / probs.sum(axis=1, keepdims=True))


class TextJudge:
    """A judge from any callable ``prompt -> str``: the reply must be one of the labels.

    The reply is stripped of whitespace, quotes, a trailing period and a leading "Answer:"; it must then equal
    a label (case-insensitive) or start with one followed by a non-word character ("A) ...", "B: ...").
    Anything else raises :class:`JudgeFailure`.

    Arguments:
        fn: the callable, ``fn(prompt) -> str``.
        name: a name for caches and reports.

    Usage:

    ```python
    judge = TextJudge(lambda prompt: my_llm(prompt), name="my-llm")
    ```
    """

    def __init__(self, fn: Callable[[str], str], *, name: str | None = None):
        self.fn = fn
        self.name = name or f"text:{getattr(fn, '__name__', type(fn).__name__)}"

    def choose(self, prompt: str, labels: Sequence[str]) -> np.ndarray:
        reply = self.fn(prompt)
        if not isinstance(reply, str):
            raise JudgeFailure(f"the judge returned {type(reply).__name__}, not text")
        text = re.sub(r"^\s*(answer|the answer is)\s*[:\-]?\s*", "", reply.strip(), flags=re.I)
        text = text.strip().strip("\"'`*").rstrip(".").strip()
        lowered = [label.lower() for label in labels]
        for index, label in enumerate(lowered):
            if text.lower() == label or re.match(rf"{re.escape(label)}(\W|$)", text.lower()):
                probs = np.zeros(len(labels))
                probs[index] = 1.0
                return probs
        raise JudgeFailure(f"answer {reply[:60]!r} is none of {list(labels)}")


class OpenAIJudge(TextJudge):
    """A :class:`TextJudge` over an OpenAI-compatible client (OpenAI, vLLM, llama.cpp server, ...).

    Arguments:
        client: an object with ``client.chat.completions.create(model=..., messages=..., ...)``.
        model: the model name passed to the client.
        max_tokens: reply budget (the answer is a label).

    Usage:

    ```python
    from openai import OpenAI
    judge = OpenAIJudge(OpenAI(), model="gpt-4.1")
    ```
    """

    def __init__(self, client: Any, model: str, *, max_tokens: int = 5):
        self.client = client
        self.model = model
        self.max_tokens = max_tokens

        def ask(prompt: str) -> str:
            reply = client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": prompt}],
                temperature=0,
                max_tokens=max_tokens,
            )
            return reply.choices[0].message.content or ""

        super().__init__(ask, name=f"openai:{model}")


class EmbeddingJudge:
    """Cosine of a document's embedding with each candidate rendering's embedding (higher = better).

    Arguments:
        embedding_model: a sentence-transformers model; ``None`` loads all-MiniLM-L6-v2 offline.

    Usage:

    ```python
    judge = EmbeddingJudge()
    judge.compare("Stocks fell today.", ["market, stock, share", "game, team, player"])   # two cosines
    ```
    """

    name = "embedding:all-MiniLM-L6-v2"

    def __init__(self, embedding_model: Any = None):
        self.embedding_model = embedding_model
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm embeddings of ``texts`` (memoised)."""
        if self.embedding_model is None:
            from bertopic_sae.datasets import default_embedding_model

            self.embedding_model = default_embedding_model(device="cpu")
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = np.asarray(self.embedding_model.encode(missing, show_progress_bar=False), dtype=float)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            self._cache.update(zip(missing, vectors, strict=True))
        return np.stack([self._cache[t] for t in texts])

    def compare(self, document: str, renderings: Sequence[str]) -> np.ndarray:
        """Cosine of ``document`` with each rendering."""
        vectors = self.embed([document, *renderings])
        return vectors[1:] @ vectors[0]
