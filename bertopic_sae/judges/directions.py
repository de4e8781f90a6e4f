"""Topic directions: in an LM's residual stream (steering) and in SAE-TM's embedding space (retrieval).

* :class:`MeanDifferenceDirections`: a topic's direction at a layer = mean residual activation over its
  documents' tokens minus the mean over all documents' tokens (attention-sink tokens left out: each
  document's first token and any token whose norm is over 3x the median). It needs no SAE; it has the
  interface every steering source has (``layer`` and ``topic_direction(k)``), the one the mechanistic topic
  models expose, so :func:`bertopic_sae.judges.steering_sweep` takes either.
* :func:`sae_topic_direction`: for a fitted ``bertopic_sae.BERTopic`` with an ``SAEAtomMerger``, the topic's
  atoms' decoder rows weighted by the atoms' weights (their share of the corpus's code mass), normalised:
  a direction in the document-embedding space. :func:`shift_embedding` moves a query along it with the
  steering formula ``h' = h - (h.v) v + s v`` and :func:`retrieval_shift` shows the
  nearest neighbours it moves to.

Usage:

```python
directions = MeanDifferenceDirections(layer=15).fit(lm, texts, topic_of_each_text)
v = directions.topic_direction(3)
u = sae_topic_direction(topic_model, topic=3)
shift = retrieval_shift(query_embedding, u, corpus_embeddings, topic_model.topics_, topic=3)
```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np

__all__ = [
    "DirectionSource",
    "MeanDifferenceDirections",
    "sae_topic_direction",
    "shift_embedding",
    "retrieval_shift",
    "RetrievalShift",
]


class DirectionSource(Protocol):
    """Anything that steers: a residual-stream ``layer`` (hidden-state index) and a direction per topic."""

    layer: int

    def topic_direction(self, k: int) -> Any: ...


class MeanDifferenceDirections:
    """Topic directions from mean residual activations: mean over a topic's tokens minus mean over all tokens.

    Arguments:
        layer: hidden-state index to read (1 = after the first block).
        max_tokens: documents are cut to this many tokens.
        batch_size: documents per forward pass.
        verbose: progress bar.

    Usage:

    ```python
    source = MeanDifferenceDirections(layer=15).fit(lm, texts, labels)
    source.topic_direction(0)      # unit (d_model,) tensor
    ```
    """

    def __init__(self, layer: int, *, max_tokens: int = 64, batch_size: int = 8, verbose: bool = True):
        self.layer = layer
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.verbose = verbose

    def fit(self, lm: Any, texts: Sequence[str], labels: Sequence[int]) -> MeanDifferenceDirections:
        """Read the residual stream of ``texts`` at ``layer`` and average it per label."""
        import torch
        from tqdm.auto import tqdm

        if len(texts) != len(labels) or not len(texts):
            raise ValueError(
                f"got {len(texts)} texts and {len(labels)} labels; pass one label per text (non-empty)."
            )
        if not 1 <= self.layer <= lm.n_layers:
            raise ValueError(
                f"layer={self.layer} is out of range: this model has hidden states 1..{lm.n_layers}."
            )
        label_array = np.asarray(labels)
        sums: dict[int, torch.Tensor] = {}
        counts: dict[int, int] = {}
        tokenizer = lm.tokenizer
        for start in tqdm(
            range(0, len(texts), self.batch_size), desc="residual means", disable=not self.verbose
        ):
            batch = list(texts[start : start + self.batch_size])
            enc = tokenizer(
                batch, return_tensors="pt", padding=True, truncation=True, max_length=self.max_tokens
            )
            with torch.no_grad():
                hidden = lm.model(**enc.to(lm.device), output_hidden_states=True).hidden_states[self.layer]
            mask = enc["attention_mask"].bool()
            # The first token is the attention sink: its residual norm is ~10x the others' (massive
            # activations); left in, it dominates the means and the direction, and steering along it breaks
            # the model. Every document's first position is dropped.
            first = mask.float().argmax(dim=1)
            mask[torch.arange(len(batch)), first] = False
            norms = hidden.norm(dim=-1)
            # Other sink tokens (newlines, punctuation) carry massive activations too: leave out tokens whose
            # norm is over 3x the batch median, so the direction stays in the ordinary tokens' subspace.
            mask &= norms <= 3 * norms[mask].median()
            for row, label in enumerate(label_array[start : start + self.batch_size]):
                tokens = hidden[row][mask[row]].float().cpu()
                sums[int(label)] = sums.get(int(label), 0) + tokens.sum(0)
                counts[int(label)] = counts.get(int(label), 0) + len(tokens)
        overall = sum(sums.values()) / sum(counts.values())
        self.topics_ = sorted(sums)
        self.directions_ = {k: sums[k] / counts[k] - overall for k in self.topics_}
        return self

    def topic_direction(self, k: int):
        """Unit direction of topic ``k`` (a ``torch`` tensor, ``(d_model,)``)."""
        if not hasattr(self, "directions_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("MeanDifferenceDirections is not fitted; call fit(lm, texts, labels) first.")
        if k not in self.directions_:
            raise KeyError(f"topic {k} has no documents; topics are {self.topics_}.")
        v = self.directions_[k]
        return v / v.norm()


def sae_topic_direction(topic_model: Any, topic: int) -> np.ndarray:
    """Unit direction of an SAE-TM topic in embedding space: its atoms' decoder rows × the atoms' weights.

    Arguments:
        topic_model: a fitted ``bertopic_sae.BERTopic`` whose clustering model is an ``SAEAtomMerger``
            (or the merger itself).
        topic: the topic id as the model numbers it (``topics_``, ``get_topic``).
    """
    merger = getattr(topic_model, "clustering_model", topic_model)
    if not hasattr(merger, "atom_topic_") or getattr(merger, "sae_", None) is None:
        raise ValueError(
            "sae_topic_direction needs a fitted bertopic_sae.BERTopic with an SAEAtomMerger "
            "(clustering_model) "
            "that keeps its SAE (sae_)."
        )
    atom_topic = np.asarray(merger.atom_topic_)
    mapper = getattr(topic_model, "topic_mapper_", None)
    if mapper is not None:  # BERTopic renumbers the merger's topics (by size): use its numbering
        mapping = mapper.get_mappings(original_topics=True)
        atom_topic = np.array([mapping.get(int(t), -1) if t >= 0 else -1 for t in atom_topic])
    atoms = np.flatnonzero(atom_topic == topic)
    if len(atoms) == 0:
        known = sorted(set(atom_topic[atom_topic >= 0].tolist()))
        raise ValueError(f"topic {topic} has no atoms; topics are {known}.")
    decoder = merger.sae_.W_dec.detach().cpu().numpy()
    v = np.asarray(merger.atom_weights_)[atoms] @ decoder[atoms]
    norm = np.linalg.norm(v)
    if norm == 0:
        raise ValueError(f"topic {topic}'s atoms carry no weight: it has no direction.")
    return v / norm


def shift_embedding(embedding: np.ndarray, direction: np.ndarray, strength: float) -> np.ndarray:
    """``e' = e - (e.v) v + strength v`` for unit ``v`` (rows of ``embedding`` each shifted), renormalised."""
    v = np.asarray(direction, dtype=float) / np.linalg.norm(direction)
    e = np.atleast_2d(np.asarray(embedding, dtype=float))
    shifted = e + (strength - e @ v)[:, None] * v
    shifted /= np.maximum(np.linalg.norm(shifted, axis=1, keepdims=True), 1e-12)
    return shifted if np.ndim(embedding) == 2 else shifted[0]


class RetrievalShift(NamedTuple):
    """Nearest neighbours of a query embedding as it moves along a topic direction."""

    strengths: np.ndarray
    """The strengths tried."""
    topic_share: np.ndarray
    """Share of the top-``k`` neighbours assigned to the topic, per strength."""
    neighbours: list[np.ndarray]
    """Row indices of the top-``k`` neighbours, per strength."""


def retrieval_shift(
    query: np.ndarray,
    direction: np.ndarray,
    corpus_embeddings: np.ndarray,
    corpus_topics: Sequence[int],
    topic: int,
    *,
    strengths: Sequence[float] = (0.0, 0.25, 0.5, 0.75),
    k: int = 10,
) -> RetrievalShift:
    """Retrieve the top-``k`` cosine neighbours of ``query`` shifted to each strength along ``direction``.

    Arguments:
        query: ``(d,)`` query embedding.
        direction: ``(d,)`` topic direction (e.g. :func:`sae_topic_direction`).
        corpus_embeddings: ``(n, d)`` embeddings to search.
        corpus_topics: topic of each corpus row (e.g. ``topic_model.topics_``).
        topic: the topic whose share among the neighbours is reported.
        strengths: component along the direction after the shift (unit-norm embeddings: in [-1, 1]).
        k: neighbours retrieved.
    """
    corpus = np.asarray(corpus_embeddings, dtype=float)
    corpus = corpus / np.maximum(np.linalg.norm(corpus, axis=1, keepdims=True), 1e-12)
    topics = np.asarray(corpus_topics)
    if len(topics) != len(corpus):
        raise ValueError(f"{len(corpus)} corpus embeddings but {len(topics)} topics; pass one topic per row.")
    shares, neighbours = [], []
    for s in strengths:
        top = np.argsort(-(corpus @ shift_embedding(query, direction, s)), kind="stable")[:k]
        neighbours.append(top)
        shares.append(float(np.mean(topics[top] == topic)))
    return RetrievalShift(np.asarray(strengths, dtype=float), np.asarray(shares), neighbours)
