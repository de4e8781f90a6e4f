"""Fit :class:`~bertopic_sae.BERTopic` on embedding shards: data-parallel and in bounded memory.

Each process (one, or the ``torchrun`` ranks) reads only its own whole shards of the embeddings, runs the
data-parallel SAE-TM fit (:func:`bertopic_sae.tm.distributed.fit_sae_tm_distributed`), and rank 0 gathers
the codes, word counts and labels of all documents to build the saved model: a
:class:`~bertopic_sae.BERTopic` whose merger, emission model and topic words are the ones fitted here
(:meth:`BERTopic.from_fitted`), so ``transform``, ``set_n_topics``, ``save`` and ``load`` work as after
``fit_transform``. This is the command line's ``fit --embeddings ... --sharded``.

Usage:

```python
from bertopic_sae.components.sharded import fit_on_shards
model = fit_on_shards(texts, ShardedEmbeddings("emb/big"), load_pretrained("wordllama-256"),
                      n_topics=50, embedding_model=WordLlamaEmbedder())
model.save("model", serialization="safetensors")
```
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ..data import ShardedEmbeddings
from ..sae.model import SparseAutoencoder
from ..tm.assignment import BLOCK, one_hot
from ..tm.distributed import Reducer, fit_sae_tm_distributed, peak_rss_mb, rank_rows
from ..tm.state import FittedStages

__all__ = ["fit_on_shards", "rank_shard_rows", "RowView"]


class RowView:
    """Rows ``[start, stop)`` of a :class:`ShardedEmbeddings`, read lazily by ``X[a:b]`` (float32)."""

    def __init__(self, embeddings: ShardedEmbeddings, start: int, stop: int):
        self.embeddings, self.start, self.stop = embeddings, start, stop
        self.shape = (stop - start, embeddings.shape[1])
        self.ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("RowView supports X[a:b] only.")
        a, b, _ = key.indices(self.shape[0])
        return self.embeddings[self.start + a : self.start + max(a, b)]


def rank_shard_rows(embeddings: ShardedEmbeddings, rank: int, world: int) -> slice:
    """The rows of the whole shards that ``rank`` reads (shards dealt out in contiguous runs of similar row
    counts); with fewer shards than ranks, an even split of the rows."""
    offsets = embeddings.offsets
    if len(offsets) - 1 < world:
        return rank_rows(int(offsets[-1]), rank, world)
    targets = np.linspace(0, offsets[-1], world + 1)
    cuts = [0] + [int(np.abs(offsets - t).argmin()) for t in targets[1:-1]] + [len(offsets) - 1]
    return slice(int(offsets[cuts[rank]]), int(offsets[cuts[rank + 1]]))


def _gather_rows(reducer: Reducer, local):
    parts = reducer.gather(local)
    return parts if reducer.rank == 0 else None


def fit_on_shards(
    texts: Sequence[str],
    embeddings: ShardedEmbeddings,
    sae: SparseAutoencoder,
    *,
    n_topics: int = 50,
    embedding_model=None,
    reducer: Reducer | None = None,
    random_state: int | None = 42,
    verbose: bool = False,
):
    """A fitted :class:`~bertopic_sae.BERTopic` on rank 0 (None on the other ranks).

    Arguments:
        texts: all documents (each rank uses the rows of its shards).
        embeddings: their embeddings, as shards.
        sae: the SAE (the same on every rank).
        n_topics: number of topics K.
        embedding_model: the embedding model (its word vectors make the word merge; saved with the model).
        reducer: sums over ranks (:class:`~bertopic_sae.tm.distributed.TorchReducer` under torchrun).
        random_state: seed of the atom k-means.
        verbose: progress bars.
    """
    from .bertopic import BERTopic
    from .merger import SAEAtomMerger

    reducer = reducer or Reducer()
    if len(texts) != embeddings.shape[0]:
        raise ValueError(
            f"{len(texts):,} texts but {embeddings.shape[0]:,} embeddings; pass one per document."
        )
    rows = rank_shard_rows(embeddings, reducer.rank, reducer.world)
    local = RowView(embeddings, rows.start, rows.stop)
    word_vectors = None
    if embedding_model is not None:  # the word merge, as BERTopic.fit_transform does with an embedding model
        def word_vectors(words):
            return np.asarray(embedding_model.embed(list(words)), dtype=np.float32)
    fit = fit_sae_tm_distributed(list(texts[rows]), local, sae, n_topics=n_topics, reducer=reducer,
                                 word_vectors=word_vectors, probabilities=False,  # the merger recomputes them
                                 random_state=random_state, verbose=verbose)
    # Topic embeddings (mean embedding of each topic's documents), summed over ranks block by block.
    sums = np.zeros((n_topics, embeddings.shape[1]))
    for start in range(0, len(local), BLOCK):
        block = local[start : start + BLOCK]
        sums += one_hot(fit.labels[start : start + len(block)], n_topics).T @ block
    sums = reducer.sum(sums)
    started = time.perf_counter()
    parts = _gather_rows(reducer, (fit.codes, fit.counts, fit.labels))
    if parts is None:
        return None
    if len(parts) == 1:  # one process: its own matrices as they are (no second copy in memory)
        codes, counts, labels = parts[0]
    else:
        codes = sp.vstack([p[0] for p in parts], format="csr")
        counts = sp.vstack([p[1] for p in parts], format="csr")
        labels = np.concatenate([p[2] for p in parts])
    del parts
    sizes = np.bincount(labels, minlength=n_topics)
    stages = FittedStages(sae=sae, codes=codes, counts=counts, emission=fit.emission.to_emission_model())
    merger = SAEAtomMerger(n_topics=n_topics, sae=sae, random_state=random_state, verbose=verbose)
    merger.load_state(
        {"atom_topic": fit.atom_topic, "atom_weights": fit.atom_weights, "atom_vectors": fit.atom_vectors,
         "labels": labels, "topic_centroids": fit.centroids},
        {"n_topics_": n_topics, "merge_": fit.merge},
        stages,
    )
    model = BERTopic.from_fitted(list(texts), merger, fit.vectorizer, embedding_model=embedding_model,
                                 topic_embeddings=sums / np.maximum(sizes, 1)[:, None], verbose=verbose)
    model.fit_seconds_ = {**fit.seconds, "build_model": round(time.perf_counter() - started, 3),
                          "em_updates": int(fit.emission.n_iter_), "vocabulary_size": int(counts.shape[1]),
                          "atoms": int(sae.d_sae)}
    model.fit_peak_mb_ = {**fit.peak_mb, "build_model": peak_rss_mb()}
    return model
