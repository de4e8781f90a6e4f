"""Stage 3 of SAE-TM: atoms merged into topics by k-means over atom vectors, weighted by atom use.

Atom vectors come from the words an atom emits (the paper's merge: the top-p part of the emission row
B_k times the word vectors) or, without words, from the decoder directions. Changing the number of topics
re-runs only the k-means.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

__all__ = ["top_p_rows", "atom_prior", "atom_vectors", "consensus_centroids", "kmeans_atoms", "MergeInit",
           "AtomPrefix", "merge_prefix", "ATOMS_PER_TOPIC"]

MergeInit = Literal["consensus", "k-means++"]
"""How the k-means over atoms starts (see :func:`kmeans_atoms`)."""

AtomPrefix = int | Literal["auto", "all"]
"""Which leading atoms the merge clusters (see :func:`merge_prefix`)."""

ATOMS_PER_TOPIC = 8
"""``atom_prefix="auto"`` merges the smallest nested dictionary of a Matryoshka SAE with at least this many
atoms per topic (fixed before the development-corpus runs; benchmarks/foundation_sae.py measures it)."""


def merge_prefix(sae_cfg, n_topics: int, atom_prefix: AtomPrefix = "auto") -> int | None:
    """How many leading atoms the merge clusters into ``n_topics`` topics; None = all of them.

    The other atoms are not lost: after the documents are assigned, every atom joins the topic of the
    documents it fires on (:func:`~bertopic_sae.tm.assignment.realign_atoms`).

    Arguments:
        sae_cfg: the SAE's :class:`~bertopic_sae.SAEConfig` (None: an SAE-less merge, all atoms).
        n_topics: number of topics.
        atom_prefix: ``"auto"``: for a ``matryoshka-batchtopk`` SAE the smallest of its nested dictionaries
            (``sae_cfg.prefixes``) with at least ``ATOMS_PER_TOPIC * n_topics`` atoms, so few topics are
            built from its coarse atoms and many from the whole dictionary; all atoms for other SAEs.
            ``"all"``: every atom. An integer ``m``: the first ``m`` atoms.
    """
    if atom_prefix == "all" or sae_cfg is None:
        return None
    if atom_prefix == "auto":
        if sae_cfg.architecture != "matryoshka-batchtopk":
            return None
        fitting = [size for size in sae_cfg.prefixes if size >= ATOMS_PER_TOPIC * n_topics]
        return fitting[0] if fitting and fitting[0] < sae_cfg.d_sae else None
    if isinstance(atom_prefix, bool) or not isinstance(atom_prefix, (int, np.integer)) or \
            not 1 <= atom_prefix <= sae_cfg.d_sae:
        raise ValueError(
            f"atom_prefix must be 'auto', 'all' or an integer in 1..{sae_cfg.d_sae} (the SAE's atoms), "
            f"got {atom_prefix!r}."
        )
    return None if atom_prefix == sae_cfg.d_sae else int(atom_prefix)


def top_p_rows(matrix: np.ndarray, top_p: float) -> np.ndarray:
    """Keep, in every row of a row-stochastic matrix, the fewest largest entries whose sum exceeds
    ``top_p``; renormalise the kept entries to sum 1 (the paper's sparsification of B)."""
    order = np.argsort(-matrix, axis=1)
    sorted_rows = np.take_along_axis(matrix, order, axis=1)
    cumulative = np.cumsum(sorted_rows, axis=1)
    keep_sorted = np.concatenate(
        [np.ones((matrix.shape[0], 1), bool), cumulative[:, :-1] < top_p * cumulative[:, -1:]], axis=1
    )
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=1)
    kept = np.where(keep, matrix, 0.0)
    return kept / np.maximum(kept.sum(axis=1, keepdims=True), 1e-12)


def atom_prior(codes: sp.csr_matrix) -> np.ndarray:
    """θ̄: the mean L1-normalised activation of every atom over the documents (sums to 1)."""
    theta = normalize(codes, norm="l1")
    mass = np.asarray(theta.sum(axis=0)).ravel()
    return mass / max(mass.sum(), 1e-12)


def atom_vectors(
    atom_weights: np.ndarray,
    *,
    emission: np.ndarray | None = None,
    word_vectors: np.ndarray | None = None,
    decoder: np.ndarray | None = None,
    top_p: float = 0.9,
) -> np.ndarray:
    """Unit atom vectors ``(n_atoms, dim)``: ``top_p_rows(emission) @ word_vectors`` when words are given,
    else the ``decoder`` rows; the θ̄-weighted mean direction is removed first.

    Arguments:
        atom_weights: θ̄ of every atom (zero for atoms that never fire).
        emission: the emission matrix B ``(n_atoms, V)`` (the word merge).
        word_vectors: ``(V, dim)`` vectors of the vocabulary words (the word merge).
        decoder: ``(n_atoms, d_in)`` decoder directions (the decoder merge).
        top_p: share of an atom's emission mass whose words make its vector.
    """
    if word_vectors is not None and emission is not None:
        word_vectors = np.asarray(word_vectors, dtype=np.float32)
        if word_vectors.shape[0] != emission.shape[1]:
            raise ValueError(
                f"word_vectors has {word_vectors.shape[0]} rows but the vocabulary has {emission.shape[1]} "
                "words."
            )
        vectors = top_p_rows(emission, top_p) @ word_vectors
    elif decoder is not None:
        vectors = decoder
    else:
        raise ValueError("atom_vectors needs the emission matrix and word vectors, or the decoder.")
    # Every atom vector shares the corpus's common direction; removing it and comparing directions
    # keeps generic atoms from collapsing into one giant cluster.
    active = atom_weights > 0
    vectors = vectors - np.average(vectors[active], axis=0, weights=atom_weights[active])
    return normalize(vectors).astype(np.float32)


CONSENSUS_MAX_ATOMS = 4096
"""Most atoms whose co-association the consensus start clusters (memory grows with the square); beyond,
the heaviest ones."""


def _weighted_centroids(points: np.ndarray, weights: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    members = sp.csr_matrix((weights, (groups, np.arange(groups.size))), shape=(n, groups.size))
    return (np.asarray(members @ points) / np.maximum(np.asarray(members.sum(axis=1)), 1e-12)).astype(
        points.dtype
    )


def consensus_centroids(
    vectors: np.ndarray,
    atom_weights: np.ndarray,
    n_topics: int,
    n_runs: int = 30,
    max_atoms: int = CONSENSUS_MAX_ATOMS,
    verbose: bool = False,
) -> np.ndarray:
    """``(n_topics, dim)`` starting centroids that no seed chooses: ``n_runs`` θ̄-weighted k-means++ runs
    (seeds 0..n_runs-1), the share of runs in which two atoms share a cluster (co-association), an
    average-linkage clustering of that share, and the θ̄-weighted means of its groups.

    Arguments:
        vectors: ``(n, dim)`` vectors of the active atoms.
        atom_weights: their θ̄ (positive).
        n_topics: number of centroids.
        n_runs: k-means++ runs pooled.
        max_atoms: above this many atoms the co-association is clustered over the ``max_atoms`` heaviest.
        verbose: show a progress bar over the runs.
    """
    runs = [KMeans(n_clusters=n_topics, n_init=1, random_state=seed).fit(vectors, sample_weight=atom_weights)
            .labels_ for seed in tqdm(range(n_runs), desc="Merging atoms (consensus)", disable=not verbose)]
    keep = np.arange(vectors.shape[0])
    if keep.size > max_atoms:
        keep = np.sort(np.argsort(-atom_weights, kind="stable")[:max_atoms])
    rows, ones = np.arange(keep.size), np.ones(keep.size)
    together = sp.hstack([sp.csr_matrix((ones, (rows, labels[keep])), shape=(keep.size, n_topics))
                          for labels in runs]).tocsr()
    share = np.asarray((together @ together.T).todense()) / n_runs
    average = AgglomerativeClustering(n_clusters=n_topics, metric="precomputed", linkage="average")
    groups = average.fit_predict(1.0 - share)
    return _weighted_centroids(vectors[keep], atom_weights[keep], groups, n_topics)


def kmeans_atoms(
    vectors: np.ndarray,
    atom_weights: np.ndarray,
    n_topics: int,
    random_state: int | None = None,
    *,
    init: MergeInit = "consensus",
    n_init: int = 30,
    verbose: bool = False,
) -> np.ndarray:
    """Topic of every atom from θ̄-weighted k-means over the active atoms' vectors (-1: inactive atoms).

    Arguments:
        vectors: ``(n_atoms, dim)`` atom vectors (:func:`atom_vectors`).
        atom_weights: θ̄ of every atom; atoms at 0 are left out.
        n_topics: number of clusters.
        random_state: seed of the k-means++ starts (``init="k-means++"`` only).
        init: ``"consensus"``: one k-means run started from the consensus of ``n_init`` k-means++ runs
            with fixed seeds (:func:`consensus_centroids`), the same for every ``random_state``;
            ``"k-means++"``: ``n_init`` k-means++ starts seeded by ``random_state``, the lowest weighted
            inertia kept (0.1.0: one start).
        n_init: k-means++ runs pooled (``"consensus"``) or started (``"k-means++"``).
        verbose: show progress of the consensus runs.
    """
    if init not in ("consensus", "k-means++"):
        raise ValueError(f"init must be 'consensus' or 'k-means++', got {init!r}.")
    if isinstance(n_init, bool) or not isinstance(n_init, (int, np.integer)) or n_init < 1:
        raise ValueError(f"n_init must be a positive integer, got {n_init!r}.")
    active = np.flatnonzero(atom_weights > 0)
    points, weights = vectors[active], atom_weights[active]
    # A few thousand atoms: OpenMP threads cost more than they gain (10x slower on a busy 2-core machine),
    # and one thread makes the sums, hence the merge, the same on every machine.
    with threadpool_limits(1):
        if init == "consensus":
            start = consensus_centroids(points, weights, n_topics, int(n_init), verbose=verbose)
            kmeans = KMeans(n_clusters=n_topics, init=start, n_init=1)
        else:
            kmeans = KMeans(n_clusters=n_topics, n_init=int(n_init), random_state=random_state)
        kmeans.fit(points, sample_weight=weights)
    atom_topic = np.full(atom_weights.shape[0], -1, dtype=np.int64)
    atom_topic[active] = kmeans.labels_
    return atom_topic
