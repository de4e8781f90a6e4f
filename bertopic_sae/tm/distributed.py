"""SAE-TM fitted data-parallel with ``torch.distributed``: each process reads only its rows (its shards).

The data-parallel parts run on every rank over its own documents, and only small sums cross ranks
(``all_reduce``, gloo on CPU, NCCL on GPU; launched by ``torchrun``):

* SAE encode: local;
* the vocabulary: per-word document and total counts are gathered, so every rank keeps the same words
  scikit-learn's ``CountVectorizer`` would keep on all documents (``min_df``, ``max_df``, ``max_features``);
* the emission model's EM: each E-step's log-likelihood and each M-step's sufficient statistics
  (``B_kv Σ_d θ_dk w n_dv / q_dv``, ``n_atoms x V``) are summed over ranks, then normalised identically
  everywhere, so every rank holds the same ``B`` and ``P0``;
* the merge (k-means over the atoms, a few thousand points) runs on every rank on the same inputs;
* the centroid assignment: the centroid sums of each spherical k-means step and the atoms' topic mass
  (re-alignment) are summed over ranks; each rank labels its own documents.

With one process (no process group) the same code runs with identity reductions, so a 2-process fit and
a 1-process fit differ only by the order of floating-point sums. ``tests/test_distributed.py`` checks that.

Usage (one rank per process; ``torchrun --nproc_per_node=2 script.py``):

```python
torch.distributed.init_process_group("gloo")
rows = rank_rows(n_docs, rank, world)                # or whole shards per rank
fit = fit_sae_tm_distributed(texts[rows], X[rows], sae, n_topics=50, reducer=TorchReducer())
fit.labels          # topics of this rank's documents; fit.words, fit.emission identical on every rank
```
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numba
import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils.extmath import row_norms

from ..sae.model import SparseAutoencoder, round_to_float16
from ._kernels import _Likelihood
from .assignment import (
    BLOCK,
    SEED_SAMPLE,
    centroid_start,
    document_seeds,
    fit_centroids,
    membership,
    mixture,
    realign_atoms,
    unit_points,
)
from .emission import EmissionModel
from .merge import atom_vectors, kmeans_atoms
from .vocabulary import auto_min_df, default_vectorizer

__all__ = ["Reducer", "TorchReducer", "DistributedFit", "fit_sae_tm_distributed", "rank_rows",
           "DistributedEmissionModel"]


class Reducer:
    """Sums over processes; this base class is the one-process identity (no process group needed)."""

    rank = 0
    world = 1

    def sum(self, array: np.ndarray) -> np.ndarray:
        """Element-wise sum of ``array`` over ranks (float64)."""
        return np.asarray(array, dtype=np.float64)

    def gather(self, obj: Any) -> list:
        """Every rank's ``obj``, in rank order, on every rank."""
        return [obj]


class TorchReducer(Reducer):
    """Sums over the default ``torch.distributed`` process group (gloo, or NCCL with tensors on the GPU)."""

    def __init__(self):
        import torch.distributed as dist

        if not dist.is_initialized():
            raise RuntimeError("TorchReducer needs torch.distributed.init_process_group(...) first "
                               "(torchrun sets the environment; backend 'gloo' on CPU).")
        self.rank, self.world = dist.get_rank(), dist.get_world_size()

    def sum(self, array: np.ndarray) -> np.ndarray:
        import torch
        import torch.distributed as dist

        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64))
        if dist.get_backend() == "nccl":
            tensor = tensor.cuda()
        dist.all_reduce(tensor)
        return tensor.cpu().numpy()

    def gather(self, obj: Any) -> list:
        import torch.distributed as dist

        out: list = [None] * self.world
        dist.all_gather_object(out, obj)
        return out


def rank_rows(n_rows: int, rank: int, world: int) -> slice:
    """The contiguous block of ``n_rows`` that ``rank`` of ``world`` reads (sizes differ by at most 1)."""
    bounds = np.linspace(0, n_rows, world + 1).round().astype(int)
    return slice(int(bounds[rank]), int(bounds[rank + 1]))


# ---------------------------------------------------------------------------------------------- vocabulary
def shared_vocabulary(texts: Sequence[str], vectorizer: CountVectorizer, reducer: Reducer,
                      n_docs: int) -> tuple[CountVectorizer, sp.csr_matrix]:
    """Fit ``vectorizer``'s vocabulary on the documents of all ranks and count this rank's ``texts``.

    Keeps the words scikit-learn keeps on the union of the documents: sorted words, ``min_df`` / ``max_df``
    on document frequencies, then the ``max_features`` most frequent by total count (ties as it breaks them).
    """
    params = vectorizer.get_params()
    min_df, max_df, limit = params["min_df"], params["max_df"], params["max_features"]
    min_df = auto_min_df(n_docs) if min_df == "auto" else min_df
    local = CountVectorizer(**{**params, "min_df": 1, "max_df": 1.0, "max_features": None})
    try:
        counts = local.fit_transform(texts)
        words = local.get_feature_names_out()
    except ValueError:  # no word at all on this rank
        counts, words = sp.csr_matrix((len(texts), 0)), np.array([], dtype=object)
    df = np.bincount(counts.indices, minlength=len(words))
    tf = np.asarray(counts.sum(axis=0)).ravel()
    merged: dict[str, list[int]] = {}
    for part_words, part_df, part_tf in reducer.gather((list(words), df.tolist(), tf.tolist())):
        for word, d, t in zip(part_words, part_df, part_tf, strict=True):
            entry = merged.setdefault(word, [0, 0])
            entry[0] += int(d)
            entry[1] += int(t)
    vocabulary = np.array(sorted(merged), dtype=object)
    dfs = np.array([merged[w][0] for w in vocabulary], dtype=np.int64)
    tfs = np.array([merged[w][1] for w in vocabulary], dtype=np.int64)
    low = min_df if isinstance(min_df, (int, np.integer)) else min_df * n_docs
    high = max_df if isinstance(max_df, (int, np.integer)) else max_df * n_docs
    mask = (dfs >= low) & (dfs <= high)
    if limit is not None and mask.sum() > limit:
        inside = np.flatnonzero(mask)
        mask[:] = False
        mask[inside[(-tfs[inside]).argsort()[:limit]]] = True  # scikit-learn's own sort: the same ties
    kept = vocabulary[mask]
    if kept.size == 0:
        raise ValueError("The vocabulary is empty on all ranks: lower min_df or pass more documents.")
    vectorizer.vocabulary_ = {str(w): i for i, w in enumerate(kept)}
    vectorizer.fixed_vocabulary_ = False
    if hasattr(vectorizer, "min_df_") or params["min_df"] == "auto":
        vectorizer.min_df_ = min_df
    index = np.full(len(words), -1, dtype=np.int64)  # local column -> shared column
    for j, word in enumerate(words):
        index[j] = vectorizer.vocabulary_.get(str(word), -1)
    counts = counts.tocoo()
    keep = index[counts.col] >= 0
    shared = sp.csr_matrix((counts.data[keep], (counts.row[keep], index[counts.col[keep]])),
                           shape=(len(texts), kept.size), dtype=np.int64)
    return vectorizer, shared


# ---------------------------------------------------------------------------------------------- emission
@numba.njit(parallel=True, cache=True)
def _m_step_statistics(c_indptr, c_rows, c_data, n_indptr, n_indices, ratio, B, n_tasks, out):
    """out[k, v] = B[k, v] Σ_d θ_dk ratio_dv: the M-step's unnormalised statistics (summed over ranks)."""
    n_atoms, n_words = B.shape
    for task in numba.prange(n_tasks):
        acc = np.empty(n_words)
        for k in range(task, n_atoms, n_tasks):
            acc[:] = 0.0
            for i in range(c_indptr[k], c_indptr[k + 1]):
                d = c_rows[i]
                weight = c_data[i]
                for j in range(n_indptr[d], n_indptr[d + 1]):
                    acc[n_indices[j]] += weight * ratio[j]
            for v in range(n_words):
                out[k, v] = acc[v] * B[k, v]


class _ReducedLikelihood(_Likelihood):
    """The emission likelihood of this rank's documents, whose E- and M-step sums are reduced over ranks."""

    def __init__(self, theta, counts, wn, pi, reducer: Reducer):
        super().__init__(theta, counts, wn, pi)
        self.reducer = reducer
        self.total = float(reducer.sum(np.array([self.total]))[0])

    def unigram(self, n_words: int) -> np.ndarray:
        return self.reducer.sum(np.bincount(self.counts.indices, weights=self.wn, minlength=n_words))

    def objective(self, B, P0) -> float:
        super().objective(B, P0)
        return -float(self.reducer.sum(np.array([self.doc_ll.sum()]))[0]) / self.total

    def m_step(self, B, P0, out, ratio=None):
        ratio = self.ratio if ratio is None else ratio
        stats = np.empty(B.shape, dtype=np.float64)
        _m_step_statistics(self.c_indptr, self.c_rows, self.c_data, self.counts.indptr, self.counts.indices,
                           ratio, B, self.partial.shape[0], stats)
        stats = self.reducer.sum(stats)
        totals = stats.sum(axis=1, keepdims=True)
        np.divide(stats, totals, out=stats, where=totals > 0)
        out[...] = np.where(totals > 0, stats, B)  # an atom with no weighted word keeps its row
        background = P0 * self.reducer.sum(np.bincount(self.counts.indices, weights=ratio, minlength=P0.size))
        return out, background / background.sum()


class DistributedEmissionModel(EmissionModel):
    """:class:`EmissionModel` fitted on documents split over ranks (EM only); every rank gets the same fit.

    Arguments:
        reducer: the sums over ranks (:class:`TorchReducer`, or :class:`Reducer` for one process).
        n_docs: documents on all ranks together (for the IDF weights).
        **params: :class:`EmissionModel` arguments.
    """

    def __init__(self, reducer: Reducer | None = None, n_docs: int | None = None, **params):
        super().__init__(**params)
        self.reducer = reducer
        self.n_docs = n_docs

    def to_emission_model(self) -> EmissionModel:
        """The same fit as a plain :class:`EmissionModel` (to save, or to score one process's documents)."""
        params = {k: v for k, v in self.get_params().items() if k not in ("reducer", "n_docs")}
        plain = EmissionModel(**params)
        fitted = ("emission_", "background_", "idf_", "atom_weights_", "n_iter_", "objective_", "history_")
        for name in fitted:
            setattr(plain, name, getattr(self, name))
        return plain

    def _likelihood(self, theta, counts, wn) -> _Likelihood:
        return _ReducedLikelihood(theta, counts, wn, float(self.background_weight), self.reducer or Reducer())

    def _idf(self, counts) -> np.ndarray:
        reducer = self.reducer or Reducer()
        df = reducer.sum(np.bincount(counts.indices[counts.data != 0], minlength=counts.shape[1]))
        idf = np.zeros(df.shape[0])
        present = df > 0
        idf[present] = np.log(float(self.n_docs or counts.shape[0]) / df[present])
        top = idf.max(initial=0.0)
        return idf / top if top > 0 else idf

    def _column_mass(self, theta) -> np.ndarray:
        return (self.reducer or Reducer()).sum(np.asarray(theta.sum(axis=0)).ravel())


# ---------------------------------------------------------------------------------------------- the fit
def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (0 where the platform does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KB on Linux


class _Clock:
    """Wall seconds between calls, and the peak memory reached by the end of each step, by step name."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}
        self.last = time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(now - self.last, 3)
        self.peak_mb[step] = peak_rss_mb()
        self.last = now


def _points(codes: sp.csr_matrix, embeddings, budget: int) -> Callable[[], Any]:
    """The unit document vectors in blocks, for every pass of the centroid assignment. The rows are read on
    the float16 grid (:func:`round_to_float16`), so when they fit ``budget`` bytes as float16 they are kept
    that way (half the memory of float32, same values) with their norms, and divided again on each pass
    (what ``normalize`` does, so the vectors are the same)."""
    if embeddings.shape[0] * embeddings.shape[1] * 2 > budget:
        return lambda: unit_points(codes, None, embeddings)
    kept = []
    for start in range(0, embeddings.shape[0], BLOCK):
        block = round_to_float16(embeddings[start : start + BLOCK])
        norms = row_norms(block)
        norms[norms == 0.0] = 1.0  # as normalize leaves all-zero rows
        exact = np.array_equal(block, block.astype(np.float16).astype(np.float32))  # False only on overflow
        kept.append((start, block.astype(np.float16) if exact else block, norms[:, None]))

    def passes():
        for start, block, norms in kept:
            vectors = block.astype(np.float32)
            vectors /= norms
            yield start, vectors

    return passes


def _encode(sae: SparseAutoencoder, embeddings, verbose: bool) -> sp.csr_matrix:
    """SAE codes of an array, memmap or any ``X[a:b]``-sliceable rows (e.g. shards), block by block."""
    if isinstance(embeddings, np.ndarray):
        return sae.encode_csr(embeddings, verbose=verbose, float16_grid=True)
    from tqdm.auto import tqdm

    starts = range(0, embeddings.shape[0], BLOCK)
    return sp.vstack([sae.encode_csr(embeddings[s : s + BLOCK], float16_grid=True)
                      for s in tqdm(starts, disable=not verbose, desc="SAE encode")], format="csr")


class DistributedFit(NamedTuple):
    """What a data-parallel SAE-TM fit leaves on each rank."""

    codes: sp.csr_matrix
    """SAE codes of this rank's documents."""
    counts: sp.csr_matrix
    """Bag of words of this rank's documents over the shared vocabulary."""
    vectorizer: CountVectorizer
    """The vectorizer with the shared vocabulary (same on every rank)."""
    emission: DistributedEmissionModel
    """The emission model (same on every rank)."""
    atom_weights: np.ndarray
    """θ̄ over all documents."""
    atom_topic: np.ndarray
    """Topic of every atom (after re-alignment; same on every rank)."""
    centroids: np.ndarray
    """Topic centroids ``(n_topics, d_in)`` (same on every rank)."""
    labels: np.ndarray
    """Topic of each of this rank's documents."""
    probabilities: np.ndarray | None
    """Topic mixture ``(n_local, n_topics)`` of this rank's documents."""
    topic_words: list[list[str]]
    """The top 10 words of each topic (from the emission rows of its atoms; same on every rank)."""
    atom_vectors: np.ndarray
    """The unit atom vectors the k-means merged (same on every rank)."""
    merge: str
    """``"words"`` or ``"decoder"``: what the atom vectors were made of."""
    seconds: dict[str, float]
    """Wall seconds of each step on this rank (encode, vocabulary, emission, merge, assignment)."""
    peak_mb: dict[str, float]
    """Peak resident memory of this rank's process by the end of each step (MB)."""


def fit_sae_tm_distributed(
    texts: Sequence[str],
    embeddings: Any,
    sae: SparseAutoencoder,
    *,
    n_topics: int = 50,
    reducer: Reducer | None = None,
    vectorizer: CountVectorizer | None = None,
    word_vectors: np.ndarray | Callable[[Sequence[str]], np.ndarray] | None = None,
    background_weight: float = 0.3,
    top_p: float = 0.9,
    centroid_init: str = "auto",
    refine_iterations: int = 100,
    points_memory: int = 2**31,
    probabilities: bool = True,
    random_state: int | None = 42,
    verbose: bool = False,
) -> DistributedFit:
    """SAE-TM (encode, vocabulary, emission EM, merge, centroid assignment) on this rank's documents.

    Arguments:
        texts: this rank's documents.
        embeddings: their embeddings ``(n_local, d_in)``: an array, a memmap, or anything sliceable by rows
            (``X[a:b]``) with a ``shape``, read block by block.
        sae: the SAE (the same on every rank).
        n_topics: number of topics K.
        reducer: sums over ranks (:class:`TorchReducer`); None for one process.
        vectorizer: a ``CountVectorizer`` to take the parameters from (default: the project's vocabulary,
            ``min_df="auto"``).
        word_vectors: vectors of the shared vocabulary's words for the word merge, or a function from the
            words to them (the vocabulary is known only here); None merges decoder directions (what
            :class:`SAEAtomMerger` does without word vectors).
        background_weight: π of the emission model.
        top_p: share of an atom's emission mass whose words make its vector (word merge).
        centroid_init: where the topic centroids start, as in :class:`SAEAtomMerger`: ``"atoms"`` (the
            atom merge's topics), ``"documents"`` (k-means++ seeds drawn from every rank's documents) or
            ``"auto"`` (documents from :data:`~bertopic_sae.tm.assignment.DOCUMENT_START_FROM` topics).
        refine_iterations: spherical k-means steps of the centroid assignment.
        points_memory: bytes of document vectors (float16) kept in memory across those steps; above it
            they are read from ``embeddings`` again on every step (same values, slower).
        probabilities: also return each document's topic mixture (``n_local x n_topics`` floats; off when
            the caller recomputes it, to spare the memory).
        random_state: seed of the atom k-means (or of the document seeds).
        verbose: progress bars.
    """
    reducer = reducer or Reducer()
    start_from = centroid_start(centroid_init, n_topics)  # a bad value is refused before the encode and EM
    if len(texts) != embeddings.shape[0]:
        raise ValueError(f"This rank has {len(texts)} texts but {embeddings.shape[0]} embeddings.")
    n_docs = int(reducer.sum(np.array([len(texts)]))[0])
    clock = _Clock()
    codes = _encode(sae, embeddings, verbose)
    clock("encode")
    vectorizer, counts = shared_vocabulary(
        texts, vectorizer if vectorizer is not None else default_vectorizer(min_df="auto"), reducer, n_docs
    )
    emission = DistributedEmissionModel(reducer, n_docs, background_weight=background_weight,
                                        random_state=random_state, verbose=verbose and reducer.rank == 0)
    clock("vocabulary")
    emission.fit(normalize(codes, norm="l1"), counts)
    clock("emission")
    # θ̄ over all documents (merge.atom_prior of the union): per-rank sums of the normalised codes.
    mass = reducer.sum(np.asarray(normalize(codes, norm="l1").sum(axis=0)).ravel())
    atom_weights = mass / max(mass.sum(), 1e-12)
    if np.count_nonzero(atom_weights) < n_topics:
        raise ValueError(f"Only {np.count_nonzero(atom_weights)} atoms fire, fewer than n_topics={n_topics}.")
    if callable(word_vectors):
        word_vectors = word_vectors(list(vectorizer.get_feature_names_out()))
    vectors = atom_vectors(
        atom_weights, emission=emission.emission_ if word_vectors is not None else None,
        word_vectors=word_vectors, decoder=sae.atoms() if word_vectors is None else None, top_p=top_p,
    )
    points = _points(codes, embeddings, points_memory)
    if start_from == "documents":  # the atoms join their documents' topics below
        atom_topic = np.full(atom_weights.shape[0], -1, dtype=np.int64)
        start = document_seeds(points, codes.shape[0], n_topics, random_state,
                               max_points=max(1, SEED_SAMPLE // reducer.world), gather=reducer.gather)
        clock("merge")
        centroids = fit_centroids(points, None, codes.shape[0], sae.d_in, refine_iterations,
                                  reduce=reducer.sum, start=start)
    else:
        atom_topic = kmeans_atoms(vectors, atom_weights, n_topics, random_state)
        clock("merge")
        members = membership(atom_topic, n_topics)
        topic_weights = np.asarray(members.T @ atom_weights).ravel()
        centroids = fit_centroids(points, mixture(codes, members, topic_weights), codes.shape[0], sae.d_in,
                                  refine_iterations, reduce=reducer.sum)
    labels = np.concatenate([(block @ centroids.T).argmax(axis=1) for _, block in points()]).astype(np.int64)
    sizes = reducer.sum(np.bincount(labels, minlength=n_topics))
    if (sizes == 0).any():
        raise ValueError(f"Topics {np.flatnonzero(sizes == 0).tolist()} hold no document; lower n_topics.")
    atom_topic = realign_atoms(codes, labels, atom_topic, n_topics, reduce=reducer.sum)
    members = membership(atom_topic, n_topics)
    topic_weights = np.asarray(members.T @ atom_weights).ravel()
    mixtures = mixture(codes, members, topic_weights) if probabilities else None
    clock("assignment")
    words = vectorizer.get_feature_names_out()
    rows = emission.topic_word(atom_topic, n_topics)
    topic_words = [[str(words[j]) for j in np.argsort(-row, kind="stable")[:10]] for row in rows]
    return DistributedFit(codes, counts, vectorizer, emission, atom_weights, atom_topic, centroids, labels,
                          mixtures, topic_words, vectors,
                          "words" if word_vectors is not None else "decoder", clock.seconds, clock.peak_mb)
