"""Document → topic rules of SAE-TM, given the atoms' topics.

* ``"sum"`` (the paper's): the topic whose atoms carry the largest share of the document's normalised
  codes (:func:`mixture`);
* ``"centroid"``: the topic whose centroid is most similar to the document (its embedding, or its SAE
  reconstruction); centroids start as the mixture-weighted means of the documents (or as k-means++ seeds
  among the documents, :func:`document_seeds`) and are refined by spherical k-means steps
  (:func:`fit_centroids`); then every atom joins the topic of the documents it fires on
  (:func:`realign_atoms`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import kmeans_plusplus
from sklearn.preprocessing import normalize

from ..sae.model import round_to_float16

__all__ = ["one_hot", "membership", "mixture", "unit_points", "centroid_start", "document_seeds",
           "fit_centroids", "realign_atoms", "give_every_topic_a_document"]

BLOCK = 65_536
"""Documents per block when document vectors are formed (bounded memory)."""


def one_hot(labels: np.ndarray, n_columns: int) -> sp.csr_matrix:
    """``(n, n_columns)`` indicator matrix of integer ``labels``."""
    return sp.csr_matrix((np.ones(labels.size, np.float32), (np.arange(labels.size), labels)),
                         shape=(labels.size, n_columns))


def membership(atom_topic: np.ndarray, n_topics: int) -> sp.csr_matrix:
    """``(n_atoms, n_topics)`` indicator of each atom's topic (atoms at -1 belong to none)."""
    used = np.flatnonzero(atom_topic >= 0)
    return sp.csr_matrix((np.ones(used.size, np.float32), (used, atom_topic[used])),
                         shape=(atom_topic.shape[0], n_topics))


def mixture(codes: sp.csr_matrix, members: sp.csr_matrix, topic_weights: np.ndarray) -> np.ndarray:
    """Topic distribution of documents: their normalised codes summed over each topic's atoms."""
    theta = normalize(codes, norm="l1")
    scores = np.asarray((theta @ members).todense())
    totals = scores.sum(axis=1, keepdims=True)
    result = np.divide(scores, totals, out=np.zeros_like(scores), where=totals > 0)
    silent = totals.ravel() == 0
    if silent.any():  # documents no atom fires on (e.g. empty text): the topic prior
        result[silent] = topic_weights / max(topic_weights.sum(), 1e-12)
    return result


def unit_points(codes: sp.csr_matrix, decode: Callable[[sp.csr_matrix], np.ndarray] | None,
                embeddings=None, float16_grid: bool = True) -> Iterator[tuple[int, np.ndarray]]:
    """Unit-norm document vectors in blocks: the embeddings when given, else the SAE reconstructions of the
    codes (``decode``; less exact, most of all for an SAE trained on other data)."""
    for start in range(0, codes.shape[0], BLOCK):
        if embeddings is not None:
            block = np.asarray(embeddings[start : start + BLOCK], dtype=np.float32)
            block = round_to_float16(block) if float16_grid else block  # as the codes read them
        elif decode is not None:
            block = decode(codes[start : start + BLOCK])
        else:
            raise ValueError("Document vectors need the embeddings or the SAE's decoder.")
        yield start, normalize(block).astype(np.float32, copy=False)


DOCUMENT_START_FROM = 50
"""``centroid_init="auto"`` starts from the documents at this many topics or more, from the atom merge below
(the development table behind it: benchmarks/README.md, "Distinct topics")."""


def centroid_start(centroid_init: str, n_topics: int) -> str:
    """``"atoms"`` or ``"documents"``: where ``n_topics`` topics' centroids start under ``centroid_init``.

    Arguments:
        centroid_init: ``"auto"`` (documents from :data:`DOCUMENT_START_FROM` topics), ``"atoms"`` or
            ``"documents"``.
        n_topics: number of topics.

    Usage:

    ```python
    centroid_start("auto", 20)   # 'atoms'
    ```
    """
    if centroid_init not in ("auto", "atoms", "documents"):
        raise ValueError(f"centroid_init must be 'auto', 'atoms' or 'documents', got {centroid_init!r}.")
    if centroid_init == "auto":
        return "documents" if n_topics >= DOCUMENT_START_FROM else "atoms"
    return centroid_init


SEED_SAMPLE = 100_000
"""Most documents :func:`document_seeds` draws its k-means++ seeds from (an evenly spaced subset beyond)."""


def document_seeds(points: Callable[[], Iterator[tuple[int, np.ndarray]]], n_docs: int, n_topics: int,
                   random_state: int | None = None, max_points: int = SEED_SAMPLE,
                   gather: Callable[[np.ndarray], list[np.ndarray]] | None = None) -> np.ndarray:
    """``(n_topics, dim)`` k-means++ seeds among the documents (scikit-learn's ``kmeans_plusplus``), drawn
    from at most ``max_points`` evenly spaced ones; a start for :func:`fit_centroids`.

    Arguments:
        points: yields ``(start, block)`` of unit document vectors (:func:`unit_points`).
        n_docs: number of documents.
        n_topics: number of seeds.
        random_state: seed of the k-means++ draws.
        max_points: most documents the seeds are drawn from.
        gather: every process's sample, in rank order, when the documents are split across processes
            (``Reducer.gather``; each then draws the same seeds).
    """
    step = max(1, -(-n_docs // max_points))  # ceil: every step-th document
    sample = np.vstack([block[(-start) % step :: step] for start, block in points()])
    if gather is not None:
        sample = np.vstack(gather(sample))
    if sample.shape[0] < n_topics:
        raise ValueError(f"{sample.shape[0]} documents cannot seed {n_topics} topics; lower n_topics.")
    seeds, _ = kmeans_plusplus(sample, n_topics, random_state=random_state)
    return normalize(seeds).astype(np.float32)


def fit_centroids(points: Callable[[], Iterator[tuple[int, np.ndarray]]], weights: np.ndarray | None,
                  n_docs: int, dim: int, refine_iterations: int,
                  reduce: Callable[[np.ndarray], np.ndarray] | None = None,
                  start: np.ndarray | None = None) -> np.ndarray:
    """Topic centroids ``(n_topics, dim)``: the ``weights``-weighted means of the documents (``points()``
    yields them in blocks), or the given ``start`` centroids, refined by at most ``refine_iterations``
    spherical k-means steps, which stop once fewer than 0.1% of the documents change topic. ``reduce`` sums
    arrays over processes when the documents are split across them (tm/distributed.py)."""
    total = (lambda array: array) if reduce is None else reduce  # noqa: E731
    if (weights is None) == (start is None):
        raise ValueError("fit_centroids needs exactly one of weights (document mixtures) and start.")
    # Up to 256 MB: keep the points for all steps; else read them again on every pass.
    kept = list(points()) if n_docs * dim <= 2**26 else None
    passes = (lambda: kept) if kept is not None else points
    if weights is not None:
        centroids = np.zeros((weights.shape[1], dim), dtype=np.float32)
        for first, block in passes():
            centroids += weights[first : first + block.shape[0]].T.astype(np.float32) @ block
        centroids = normalize(np.asarray(total(centroids), dtype=np.float32))
    else:
        centroids = normalize(np.asarray(start, dtype=np.float32))
    n_topics = centroids.shape[0]
    previous = None
    for _ in range(refine_iterations):  # spherical k-means steps
        sums = np.zeros_like(centroids)
        parts = []
        for _, block in passes():
            nearest = (block @ centroids.T).argmax(axis=1)
            sums += one_hot(nearest, n_topics).T @ block
            parts.append(nearest)
        labels = np.concatenate(parts)
        if previous is not None:
            moved, seen = total(np.array([np.sum(labels != previous), labels.size]))
            if moved < 1e-3 * seen:  # < 0.1% of documents moved
                break
        previous = labels
        sums = np.asarray(total(sums), dtype=np.float32)
        empty = ~sums.any(axis=1)
        sums[empty] = centroids[empty]
        centroids = normalize(sums)
    return centroids.astype(np.float32)


def realign_atoms(
    codes: sp.csr_matrix, labels: np.ndarray, atom_topic: np.ndarray, n_topics: int,
    reduce: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Each atom joins the topic whose documents carry most of its mass, so a topic's words (from its atoms)
    describe the documents it holds. Atoms no document uses keep their topic. ``reduce`` sums the mass over
    processes when the documents are split across them."""
    theta = normalize(codes, norm="l1")
    mass = np.asarray((theta.T @ one_hot(labels, n_topics)).todense())
    mass = mass if reduce is None else reduce(mass)
    realigned = atom_topic.copy()
    used = mass.sum(axis=1) > 0
    realigned[used] = mass[used].argmax(axis=1)
    return realigned


def give_every_topic_a_document(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """BERTopic needs topic ids 0..K-1 to all occur; an empty topic takes the document that prefers it most
    among those whose own topic keeps other documents."""
    labels = labels.copy()
    for topic in np.flatnonzero(np.bincount(labels, minlength=scores.shape[1]) == 0):
        counts = np.bincount(labels, minlength=scores.shape[1])
        candidates = np.flatnonzero(counts[labels] > 1)
        labels[candidates[np.argmax(scores[candidates, topic])]] = topic
    return labels
